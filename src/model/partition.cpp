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
    std::string scaled, other;
    for (const auto &name : weights::known_configs()) {
      const auto c = weights::config_by_name(name);
      if (c.n_heads < n_chips) continue;
      std::string &list = c.arch == config.arch ? scaled : other;
      list += (list.empty() ? "" : ", ") + name;
    }
    const std::string name = config.name.empty() ? weights::arch_name(config.arch) : config.name;
    if (!scaled.empty() || other.empty())
      throw std::invalid_argument(fmt::format(
          "{} has {} heads and a head is never split, so it runs on at most {} chips, not {}; "
          "configurations with at least {} heads: {}",
          name, config.n_heads, config.n_heads, n_chips, n_chips,
          scaled.empty() ? "none" : scaled));
    // No configuration of this architecture goes that far (MobileBERT: 4 heads in all of them).
    throw std::invalid_argument(fmt::format(
        "{} has {} heads and a head is never split, so it runs on at most {} chips, not {}; no "
        "{} configuration has {} or more heads (those that do: {})",
        name, config.n_heads, config.n_heads, n_chips, weights::arch_name(config.arch), n_chips,
        other));
  }
  PartitionPlan plan;
  plan.n_chips = n_chips;
  for (int c = 0; c < n_chips; ++c) {
    plan.chips.push_back(
        {c, split_range(config.n_heads, n_chips, c), split_range(config.hidden_dim, n_chips, c),
         split_range(config.vocab_size, n_chips, c), split_range(config.dim, n_chips, c)});
  }
  return plan;
}

}  // namespace mcuemu::model
