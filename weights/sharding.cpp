// Per-chip byte estimates (see sharding.hpp).
#include "weights/sharding.hpp"

#include <fmt/format.h>

#include <map>
#include <stdexcept>

namespace mcuemu::weights {

std::int64_t units_of_chip(std::int64_t units, int n_chips, int chip) {
  return units / n_chips + (chip < units % n_chips ? 1 : 0);
}

SplitRules::SplitRules(const ModelConfig &c) : specs_(tensor_specs(c)) {}

Split SplitRules::split_for(const std::string &dataset,
                            const std::vector<std::size_t> &shape) const {
  const TensorSpec *best = nullptr;
  // An int8 file keeps a MobileBERT bottleneck's weight "bn_in_w" as "bn_in/w" (beside its
  // requant constants "bn_in/rq_mul", ...): the dataset's group + "_w" names its table tensor.
  const auto slash = dataset.rfind('/');
  const std::string grouped = slash == std::string::npos ? "" : dataset.substr(0, slash) + "_w";
  for (const auto &s : specs_) {
    const bool exact = dataset == s.name || s.name == grouped;
    const bool inside = dataset.size() > s.name.size() &&
                        dataset.compare(0, s.name.size(), s.name) == 0 &&
                        dataset[s.name.size()] == '/';
    if (exact || inside) {
      if (!best || s.name.size() > best->name.size()) best = &s;
    }
  }
  if (!best || best->split.axis < 0) return {};
  const auto axis = static_cast<std::size_t>(best->split.axis);
  if (axis < shape.size() && shape[axis] == best->shape[axis]) return best->split;
  return {};
}

std::vector<ChipBytes> chip_bytes(const ModelConfig &c, const std::vector<StoredTensor> &tensors,
                                  int n_chips) {
  if (n_chips < 1)
    throw std::invalid_argument(fmt::format("--chips must be >= 1, got {}", n_chips));
  if (n_chips > c.n_heads) {
    std::string scaled;
    for (const auto &k : known_configs()) {
      if (k.rfind("tinyllama-scaled-", 0) == 0 && config_by_name(k).n_heads >= n_chips) {
        scaled += (scaled.empty() ? "" : ", ") + k;
      }
    }
    throw std::invalid_argument(fmt::format(
        "{} chips but '{}' has {} heads: a chip must own at least one whole head; models with "
        "enough heads: {}",
        n_chips, c.name, c.n_heads, scaled.empty() ? "none" : scaled));
  }
  std::vector<ChipBytes> out(static_cast<std::size_t>(n_chips));
  for (const auto &t : tensors) {
    std::size_t numel = 1;
    for (auto d : t.shape) numel *= d;
    const std::int64_t bytes = static_cast<std::int64_t>(numel * t.elem_size);
    const bool sliced = t.split.axis >= 0 &&
                        static_cast<std::size_t>(t.split.axis) < t.shape.size() &&
                        t.split.units > 0 && t.shape[static_cast<std::size_t>(t.split.axis)] > 0;
    for (int chip = 0; chip < n_chips; ++chip) {
      auto &cb = out[static_cast<std::size_t>(chip)];
      if (!sliced) {
        cb.replicated += bytes;
        continue;
      }
      // Share of the units along the axis; units need not divide the extent exactly (a
      // stored tensor might be padded), so scale by extent / units in exact integer steps.
      const std::int64_t extent =
          static_cast<std::int64_t>(t.shape[static_cast<std::size_t>(t.split.axis)]);
      const std::int64_t first =
          chip * (t.split.units / n_chips) + std::min<std::int64_t>(chip, t.split.units % n_chips);
      const std::int64_t mine = units_of_chip(t.split.units, n_chips, chip);
      const std::int64_t lo = first * extent / t.split.units,
                         hi = (first + mine) * extent / t.split.units;
      cb.sliced += bytes / extent * (hi - lo);
    }
  }
  return out;
}

}  // namespace mcuemu::weights
