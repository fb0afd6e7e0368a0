// Memory of one chip: an arena per level with a capacity, current use and high-water mark.
//
// Every allocation is named and tagged (weights, kv-cache, activations, scratch) so that a level
// that overflows can say who holds it. An allocation that does not fit throws ChipError with one
// line naming the chip, the level, the need, the cap and the three largest consumers, e.g.
//   chip 0: L2 cannot hold 'kv_cache' (kv-cache, 1048576 B): 1020000 B of 1536000 B in use,
//   516000 B free; largest: 'w1.l0' 704512 B (weights), ...
//
// Arenas hand out offsets in a contiguous range [0, capacity) with first-fit placement and
// 4-byte alignment (the cores' word size); freeing makes the range reusable. The offsets are the
// emulator's bookkeeping of where a tensor would live on the chip, not host addresses.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chip/level.hpp"

namespace mcuemu::chip {

struct Profile;

enum class Tag { weights, kv_cache, activations, scratch };

constexpr std::string_view tag_name(Tag tag) {
  switch (tag) {
    case Tag::weights:
      return "weights";
    case Tag::kv_cache:
      return "kv-cache";
    case Tag::activations:
      return "activations";
    case Tag::scratch:
      return "scratch";
  }
  return "?";
}

// One live allocation. `bytes` is what was asked for; the arena charges it rounded up to
// kArenaAlignment.
struct Allocation {
  std::string name;
  Tag tag = Tag::scratch;
  Level level = Level::L2;
  std::int64_t offset = 0;
  std::int64_t bytes = 0;
};

inline constexpr std::int64_t kArenaAlignment = 4;

class Arena {
 public:
  Arena(Level level, std::int64_t capacity, int chip_id);

  // Allocates `bytes` (> 0; 0 is allowed and takes no space) named `name` (unique within the
  // arena). Throws ChipError if it does not fit or the name is taken.
  Allocation alloc(const std::string &name, Tag tag, std::int64_t bytes);
  // Same, but returns nothing instead of throwing when the bytes do not fit.
  std::optional<Allocation> try_alloc(const std::string &name, Tag tag, std::int64_t bytes);
  // Releases an allocation by name; throws ChipError if there is none.
  void free(const std::string &name);

  Level level() const { return level_; }
  std::int64_t capacity() const { return capacity_; }
  std::int64_t used() const { return used_; }
  std::int64_t available() const { return capacity_ - used_; }
  std::int64_t high_water() const { return high_water_; }
  // Largest contiguous free range (what a single allocation can get).
  std::int64_t largest_hole() const;
  bool fits(std::int64_t bytes) const;

  // Live allocations, largest first (ties by name), at most n of them.
  std::vector<Allocation> top_consumers(std::size_t n) const;
  // Live allocations in offset order.
  std::vector<Allocation> allocations() const;
  const Allocation *find(const std::string &name) const;
  // Bytes held per tag.
  std::int64_t used_by(Tag tag) const;

 private:
  std::optional<std::int64_t> find_offset(std::int64_t charged) const;
  std::string overflow_message(const std::string &name, Tag tag, std::int64_t bytes) const;

  Level level_;
  std::int64_t capacity_;
  int chip_id_;
  std::int64_t used_ = 0;
  std::int64_t high_water_ = 0;
  std::map<std::int64_t, Allocation> by_offset_;
  std::map<std::string, std::int64_t> offset_of_;
};

// The four arenas of a chip, sized from the profile's usable bytes.
class Memory {
 public:
  Memory(const Profile &profile, int chip_id);
  Arena &operator[](Level level) { return arenas_[index(level)]; }
  const Arena &operator[](Level level) const { return arenas_[index(level)]; }

 private:
  std::vector<Arena> arenas_;
};

}  // namespace mcuemu::chip
