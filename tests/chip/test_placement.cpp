// Placement rules and the cap errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chip/chip.hpp"
#include "chip/placement.hpp"
#include "test_util.hpp"

namespace mcuemu::chip {
namespace {

using test::error_of;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// GAP9 with tiny memories: L2 1000 B, MRAM 2000 B, L3 5000 B usable.
Chip tiny_chip(int id = 7) {
  return Chip(id, load_profile("gap9",
                               {"memory.l2_bytes=1000", "memory.l2_reserved_bytes=0",
                                "memory.mram_bytes=2000", "memory.l3_bytes=5000"},
                               test::hw_dir()));
}

TEST(Placement, WeightLevelOrder) {
  // GAP9: L2 streams at 8 B/cycle, MRAM at 0.86: L2 first.
  EXPECT_THAT(weight_levels(load_profile("gap9", {}, test::hw_dir())),
              ElementsAre(Level::L2, Level::MRAM));
  // Siracusa: both at 8 B/cycle; L2 costs less energy per byte.
  EXPECT_THAT(weight_levels(load_profile("siracusa", {}, test::hw_dir())),
              ElementsAre(Level::L2, Level::MRAM));
  // A chip whose MRAM streams faster than L2 prefers MRAM; one without MRAM has only L2.
  EXPECT_THAT(weight_levels(load_profile("siracusa", {"dma.mram_mb_per_s=5000"}, test::hw_dir())),
              ElementsAre(Level::MRAM, Level::L2));
  EXPECT_THAT(weight_levels(load_profile("gap9", {"memory.mram_bytes=0"}, test::hw_dir())),
              ElementsAre(Level::L2));
}

TEST(Placement, KvAndActivationsFirstThenWeightsFirstFit) {
  Chip chip = tiny_chip();
  const Placement p = place_tensors(chip, {
                                              {"w_big", Tag::weights, 900},
                                              {"w_huge", Tag::weights, 2500},
                                              {"w_mid", Tag::weights, 1500},
                                              {"w_small", Tag::weights, 300},
                                              {"kv", Tag::kv_cache, 400},
                                              {"act", Tag::activations, 200},
                                          });
  // kv + act take 600 B of L2 although they come last; w_big (900) no longer fits L2 and goes
  // to MRAM; w_huge fits neither and goes to L3; w_mid falls to L3 too (MRAM has 1100 left);
  // w_small still finds room in L2 (400 left).
  EXPECT_EQ(p.level_of("kv"), Level::L2);
  EXPECT_EQ(p.level_of("act"), Level::L2);
  EXPECT_EQ(p.level_of("w_big"), Level::MRAM);
  EXPECT_EQ(p.level_of("w_huge"), Level::L3);
  EXPECT_EQ(p.level_of("w_mid"), Level::L3);
  EXPECT_EQ(p.level_of("w_small"), Level::L2);
  EXPECT_EQ(p.bytes_in(Level::L3), 4000);
  EXPECT_EQ(p.bytes_in(Level::L2, Tag::weights), 300);
  EXPECT_THAT(p.names_in(Level::L2), ElementsAre("w_small", "kv", "act"));
  EXPECT_EQ(p.tensors[0].name, "w_big");  // input order is kept
  EXPECT_EQ(chip.memory()[Level::L2].used(), 900);
  EXPECT_EQ(chip.memory()[Level::L3].high_water(), 4000);
}

TEST(Placement, PinnedTensorsGoWhereTheyAreTold) {
  Chip chip = tiny_chip();
  const Placement p = place_tensors(
      chip, {{"w", Tag::weights, 100, Level::L3}, {"s", Tag::scratch, 100, Level::L1}});
  EXPECT_EQ(p.level_of("w"), Level::L3);
  EXPECT_EQ(p.level_of("s"), Level::L1);
}

TEST(Placement, KvCacheThatDoesNotFitL2SpillsToL3) {
  Chip chip = tiny_chip(3);
  const Placement p = place_tensors(chip, {{"act", Tag::activations, 300},
                                           {"scratch", Tag::scratch, 200},
                                           {"kv.l0", Tag::kv_cache, 400},
                                           {"kv.l1", Tag::kv_cache, 400},
                                           {"w", Tag::weights, 50}});
  EXPECT_EQ(p.level_of("kv.l0"), Level::L2);
  EXPECT_EQ(p.level_of("kv.l1"), Level::L3);  // 900 B of 1000 B in L2 were taken
  EXPECT_EQ(p.level_of("w"), Level::L2);      // a weight may still use what is left
  EXPECT_EQ(chip.memory()[Level::L3].used(), 400);
}

TEST(Placement, KvCacheBeyondL3IsACapError) {
  Chip chip = tiny_chip(3);
  const std::string msg = error_of([&] {
    place_tensors(chip, {{"act", Tag::activations, 300}, {"kv", Tag::kv_cache, 6000}});
  });
  EXPECT_THAT(msg, HasSubstr("chip 3: L3 cannot hold 'kv' (kv-cache, 6000 B)"));
  EXPECT_THAT(msg, HasSubstr("of cap 5000 B"));
}

TEST(Placement, WeightsBeyondL3AreACapError) {
  Chip chip = tiny_chip(1);
  const std::string msg = error_of([&] {
    place_tensors(
        chip, {{"a", Tag::weights, 3000}, {"b", Tag::weights, 3000}, {"c", Tag::weights, 3000}});
  });
  // a -> L3 (too big for L2 and MRAM), b -> L3 would need 6000 > 5000.
  EXPECT_THAT(msg, HasSubstr("chip 1: L3 cannot hold 'b' (weights, 3000 B)"));
  EXPECT_THAT(msg, HasSubstr("of cap 5000 B"));
  EXPECT_THAT(msg, HasSubstr("largest: 'a' 3000 B (weights)"));
}

TEST(Placement, DuplicateNamesAreAnError) {
  Chip chip = tiny_chip();
  EXPECT_THAT(error_of([&] {
                place_tensors(chip, {{"w", Tag::weights, 10}, {"w", Tag::weights, 10}});
              }),
              HasSubstr("tensor name 'w' appears twice"));
  EXPECT_THAT(error_of([&] {
                Placement p;
                p.level_of("x");
              }),
              HasSubstr("no tensor named 'x'"));
}

}  // namespace
}  // namespace mcuemu::chip
