#include "model/partition.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace mcuemu::model {

Range split_range(int n, int parts, int index) {
  const int base = n / parts, extra = n % parts;
  const int begin = index * base + (index < extra ? index : extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

bool PartitionPlan::even() const {
  for (const auto &c : chips)
    if (c.heads.size() != chips[0].heads.size() || c.ffn.size() != chips[0].ffn.size())
      return false;
  return true;
}

PartitionPlan make_plan(const weights::ModelConfig &config, int n_chips) {
  if (n_chips < 1)
    throw std::invalid_argument(fmt::format("need at least 1 chip, got {}", n_chips));
  if (n_chips > config.n_heads) {
    std::string scaled;
    for (const auto &name : weights::known_configs()) {
      const auto c = weights::config_by_name(name);
      if (c.arch == config.arch && c.n_heads >= n_chips)
        scaled += (scaled.empty() ? "" : ", ") + name;
    }
    throw std::invalid_argument(fmt::format(
        "{} has {} heads and a head is never split, so it runs on at most {} chips, not {}; "
        "configurations with at least {} heads: {}",
        config.name, config.n_heads, config.n_heads, n_chips, n_chips,
        scaled.empty() ? "none" : scaled));
  }
  PartitionPlan plan;
  plan.n_chips = n_chips;
  for (int c = 0; c < n_chips; ++c) {
    plan.chips.push_back({c, split_range(config.n_heads, n_chips, c),
                          split_range(config.hidden_dim, n_chips, c),
                          split_range(config.vocab_size, n_chips, c)});
  }
  return plan;
}

}  // namespace mcuemu::model
