#include "chip/placement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "chip/chip.hpp"
#include "chip/error.hpp"

namespace mcuemu::chip {

Level Placement::level_of(const std::string &name) const {
  for (const Allocation &a : tensors) {
    if (a.name == name) return a.level;
  }
  throw ChipError(fmt::format("placement: no tensor named '{}'", name));
}

std::int64_t Placement::bytes_in(Level level, std::optional<Tag> tag) const {
  std::int64_t sum = 0;
  for (const Allocation &a : tensors) {
    if (a.level == level && (!tag || a.tag == *tag)) sum += a.bytes;
  }
  return sum;
}

std::vector<std::string> Placement::names_in(Level level) const {
  std::vector<std::string> names;
  for (const Allocation &a : tensors) {
    if (a.level == level) names.push_back(a.name);
  }
  return names;
}

std::vector<Level> weight_levels(const Profile &profile) {
  const CostModel model(profile);
  std::vector<Level> levels;
  for (Level l : {Level::L2, Level::MRAM}) {
    if (profile.usable_bytes(l) > 0) levels.push_back(l);
  }
  std::stable_sort(levels.begin(), levels.end(), [&](Level a, Level b) {
    const double bw_a = model.stream_bytes_per_cycle(a);
    const double bw_b = model.stream_bytes_per_cycle(b);
    if (bw_a != bw_b) return bw_a > bw_b;
    return model.stream_pj_per_byte(a) < model.stream_pj_per_byte(b);
  });
  return levels;
}

Placement place_tensors(Chip &chip, const std::vector<TensorSpec> &tensors) {
  Memory &memory = chip.memory();
  std::set<std::string> names;
  for (const TensorSpec &t : tensors) {
    if (!names.insert(t.name).second) {
      throw ChipError(
          fmt::format("chip {}: placement: tensor name '{}' appears twice", chip.id(), t.name));
    }
  }
  std::vector<std::optional<Allocation>> placed(tensors.size());

  // 1 and 2: pinned tensors and everything that must live in L2.
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorSpec &t = tensors[i];
    if (t.pin) {
      placed[i] = memory[*t.pin].alloc(t.name, t.tag, t.bytes);
    } else if (t.tag == Tag::kv_cache) {
      // A KV cache too large for L2 (one chip, a long context) spills to L3: the attention then
      // streams it from there every token, and the cost model charges it at L3's price.
      placed[i] = memory[Level::L2].try_alloc(t.name, t.tag, t.bytes);
      if (!placed[i]) placed[i] = memory[Level::L3].alloc(t.name, t.tag, t.bytes);
    } else if (t.tag != Tag::weights) {
      placed[i] = memory[Level::L2].alloc(t.name, t.tag, t.bytes);
    }
  }
  // 3: weights, on chip while they fit, else L3.
  const std::vector<Level> on_chip_levels = weight_levels(chip.profile());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (placed[i]) continue;
    const TensorSpec &t = tensors[i];
    for (Level l : on_chip_levels) {
      if ((placed[i] = memory[l].try_alloc(t.name, t.tag, t.bytes))) break;
    }
    if (!placed[i]) placed[i] = memory[Level::L3].alloc(t.name, t.tag, t.bytes);
  }

  Placement result;
  result.tensors.reserve(tensors.size());
  for (auto &a : placed) result.tensors.push_back(std::move(*a));
  return result;
}

}  // namespace mcuemu::chip
