// Placement: decides in which level each of a chip's tensors lives, and allocates it there.
//
// Rules, applied in this order:
//   1. Tensors with a pinned level go there (an error if they do not fit).
//   2. KV cache, activations and scratch go to L2: they are read and written every token.
//      They are placed before any weight, so weights never crowd them out. A KV cache that does
//      not fit in L2 (one chip with a long context) spills to L3 (the off-chip RAM), where the
//      attention streams it from (placed in the order given: the KV cache comes first, so it
//      takes L2 if anything does).
//   3. Weights, in the order given (the caller puts the most valuable first), each as a whole
//      tensor: into the first on-chip level of weight_levels(profile) with room for it, else L3.
//      "With room" is first fit, so a large tensor that falls to L3 does not stop a smaller later
//      one from taking what is left on chip.
// A tensor that cannot fit where it must go (a pinned or L2-only tensor, or a weight when L3 is
// full) throws ChipError naming the chip, the level, the need, the cap and the three largest
// consumers. Allocations made before the error stay in the arenas.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chip/level.hpp"
#include "chip/memory.hpp"
#include "chip/profile.hpp"

namespace mcuemu::chip {

class Chip;

struct TensorSpec {
  std::string name;
  Tag tag = Tag::weights;
  std::int64_t bytes = 0;
  std::optional<Level> pin;  // force a level

  TensorSpec() = default;
  TensorSpec(std::string name_, Tag tag_, std::int64_t bytes_,
             std::optional<Level> pin_ = std::nullopt)
      : name(std::move(name_)), tag(tag_), bytes(bytes_), pin(pin_) {}
};

struct Placement {
  std::vector<Allocation> tensors;  // in the order of the input list

  // Level of a placed tensor; throws ChipError if the name is unknown.
  Level level_of(const std::string &name) const;
  // Bytes placed in a level, of one tag or (no tag) of all.
  std::int64_t bytes_in(Level level, std::optional<Tag> tag = std::nullopt) const;
  // Tensors placed in a level (names), in input order.
  std::vector<std::string> names_in(Level level) const;
};

// The on-chip levels weights may use, best first: fastest stream to L1, then least energy per
// byte, then L2 before MRAM. Levels with no usable bytes are left out.
std::vector<Level> weight_levels(const Profile &profile);

// Places `tensors` in `chip`'s arenas (see the rules above).
Placement place_tensors(Chip &chip, const std::vector<TensorSpec> &tensors);

}  // namespace mcuemu::chip
