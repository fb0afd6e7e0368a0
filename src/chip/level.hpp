// The memory levels of one chip (DESIGN.md, "Memory").
//
//   L1    cluster scratchpad (TCDM), the only memory the cores compute from at full speed
//   L2    SoC SRAM: activations, KV cache, and weights when they fit
//   MRAM  on-chip non-volatile weight memory (on Siracusa: the Neural Memory Subsystem)
//   L3    off-chip RAM/flash on the HyperBus/OctoSPI; weights placed here are streamed per use
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace mcuemu::chip {

enum class Level { L1 = 0, L2 = 1, MRAM = 2, L3 = 3 };

inline constexpr std::size_t kNumLevels = 4;
inline constexpr std::array<Level, kNumLevels> kAllLevels = {Level::L1, Level::L2, Level::MRAM,
                                                             Level::L3};

constexpr std::size_t index(Level level) {
  return static_cast<std::size_t>(level);
}

constexpr std::string_view level_name(Level level) {
  switch (level) {
    case Level::L1:
      return "L1";
    case Level::L2:
      return "L2";
    case Level::MRAM:
      return "MRAM";
    case Level::L3:
      return "L3";
  }
  return "?";
}

// True for the levels that are on the chip (everything but L3).
constexpr bool on_chip(Level level) {
  return level != Level::L3;
}

// A value per level (bytes, energy, ...), indexed by Level.
template <typename T>
struct PerLevel {
  std::array<T, kNumLevels> v{};
  T &operator[](Level level) { return v[index(level)]; }
  const T &operator[](Level level) const { return v[index(level)]; }
};

}  // namespace mcuemu::chip
