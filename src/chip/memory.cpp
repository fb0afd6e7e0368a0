#include "chip/memory.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "chip/error.hpp"
#include "chip/profile.hpp"

namespace mcuemu::chip {
namespace {

std::int64_t round_up(std::int64_t bytes) {
  return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

}  // namespace

Arena::Arena(Level level, std::int64_t capacity, int chip_id)
    : level_(level), capacity_(capacity), chip_id_(chip_id) {}

std::optional<std::int64_t> Arena::find_offset(std::int64_t charged) const {
  std::int64_t cursor = 0;
  for (const auto &[offset, a] : by_offset_) {
    if (offset - cursor >= charged) return cursor;
    cursor = offset + round_up(a.bytes);
  }
  if (capacity_ - cursor >= charged) return cursor;
  return std::nullopt;
}

std::int64_t Arena::largest_hole() const {
  std::int64_t cursor = 0;
  std::int64_t best = 0;
  for (const auto &[offset, a] : by_offset_) {
    best = std::max(best, offset - cursor);
    cursor = offset + round_up(a.bytes);
  }
  return std::max(best, capacity_ - cursor);
}

bool Arena::fits(std::int64_t bytes) const {
  return bytes >= 0 && find_offset(round_up(bytes)).has_value();
}

std::optional<Allocation> Arena::try_alloc(const std::string &name, Tag tag, std::int64_t bytes) {
  if (bytes < 0) {
    throw ChipError(fmt::format("chip {}: {}: allocation '{}' of negative size {} B", chip_id_,
                                level_name(level_), name, bytes));
  }
  if (offset_of_.count(name) != 0) {
    throw ChipError(fmt::format("chip {}: {}: allocation name '{}' is already in use", chip_id_,
                                level_name(level_), name));
  }
  const std::int64_t charged = round_up(bytes);
  const auto offset = find_offset(charged);
  if (!offset) return std::nullopt;
  Allocation a{name, tag, level_, *offset, bytes};
  by_offset_.emplace(*offset, a);
  offset_of_.emplace(name, *offset);
  used_ += charged;
  high_water_ = std::max(high_water_, used_);
  return a;
}

Allocation Arena::alloc(const std::string &name, Tag tag, std::int64_t bytes) {
  if (auto a = try_alloc(name, tag, bytes)) return *a;
  throw ChipError(overflow_message(name, tag, bytes));
}

void Arena::free(const std::string &name) {
  const auto it = offset_of_.find(name);
  if (it == offset_of_.end()) {
    throw ChipError(fmt::format("chip {}: {}: free of unknown allocation '{}'", chip_id_,
                                level_name(level_), name));
  }
  const auto a = by_offset_.find(it->second);
  used_ -= round_up(a->second.bytes);
  by_offset_.erase(a);
  offset_of_.erase(it);
}

std::vector<Allocation> Arena::allocations() const {
  std::vector<Allocation> out;
  out.reserve(by_offset_.size());
  for (const auto &[offset, a] : by_offset_) out.push_back(a);
  return out;
}

std::vector<Allocation> Arena::top_consumers(std::size_t n) const {
  std::vector<Allocation> all = allocations();
  std::sort(all.begin(), all.end(), [](const Allocation &a, const Allocation &b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.name < b.name;
  });
  if (all.size() > n) all.resize(n);
  return all;
}

const Allocation *Arena::find(const std::string &name) const {
  const auto it = offset_of_.find(name);
  return it == offset_of_.end() ? nullptr : &by_offset_.at(it->second);
}

std::int64_t Arena::used_by(Tag tag) const {
  std::int64_t sum = 0;
  for (const auto &[offset, a] : by_offset_) {
    if (a.tag == tag) sum += round_up(a.bytes);
  }
  return sum;
}

std::string Arena::overflow_message(const std::string &name, Tag tag, std::int64_t bytes) const {
  std::string largest;
  for (const Allocation &a : top_consumers(3)) {
    largest += fmt::format("{}'{}' {} B ({})", largest.empty() ? "" : ", ", a.name, a.bytes,
                           tag_name(a.tag));
  }
  if (largest.empty()) largest = "none";
  const std::int64_t free_bytes = capacity_ - used_;
  const std::string fragmented =
      free_bytes >= round_up(bytes)
          ? fmt::format(" (fragmented: largest free range {} B)", largest_hole())
          : std::string();
  return fmt::format(
      "chip {}: {} cannot hold '{}' ({}, {} B): {} B of cap {} B in use, {} B free{}; "
      "largest: {}",
      chip_id_, level_name(level_), name, tag_name(tag), bytes, used_, capacity_, free_bytes,
      fragmented, largest);
}

Memory::Memory(const Profile &profile, int chip_id) {
  arenas_.reserve(kNumLevels);
  for (Level level : kAllLevels) arenas_.emplace_back(level, profile.usable_bytes(level), chip_id);
}

}  // namespace mcuemu::chip
