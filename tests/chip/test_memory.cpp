// Arenas: capacity, use, high-water mark, first-fit reuse, and the overflow message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chip/memory.hpp"
#include "chip/profile.hpp"
#include "test_util.hpp"

namespace mcuemu::chip {
namespace {

using test::error_of;
using ::testing::HasSubstr;

TEST(Arena, TracksUseAndHighWater) {
  Arena a(Level::L2, 1000, 3);
  EXPECT_EQ(a.capacity(), 1000);
  const Allocation x = a.alloc("x", Tag::weights, 300);
  const Allocation y = a.alloc("y", Tag::activations, 201);  // charged 204 (4-byte aligned)
  EXPECT_EQ(x.offset, 0);
  EXPECT_EQ(y.offset, 300);
  EXPECT_EQ(y.level, Level::L2);
  EXPECT_EQ(a.used(), 504);
  EXPECT_EQ(a.high_water(), 504);
  EXPECT_EQ(a.used_by(Tag::weights), 300);
  a.free("x");
  EXPECT_EQ(a.used(), 204);
  EXPECT_EQ(a.high_water(), 504);
  // First fit reuses the freed range at offset 0.
  EXPECT_EQ(a.alloc("z", Tag::scratch, 100).offset, 0);
  EXPECT_EQ(a.find("z")->bytes, 100);
  EXPECT_EQ(a.find("x"), nullptr);
  EXPECT_EQ(a.allocations().size(), 2u);
}

TEST(Arena, FillsExactlyToCapacity) {
  Arena a(Level::L1, 1024, 0);
  a.alloc("all", Tag::scratch, 1024);
  EXPECT_EQ(a.available(), 0);
  EXPECT_FALSE(a.fits(1));
  EXPECT_TRUE(a.fits(0));
  EXPECT_FALSE(a.try_alloc("more", Tag::scratch, 4).has_value());
}

TEST(Arena, TopConsumersLargestFirst) {
  Arena a(Level::MRAM, 10000, 0);
  a.alloc("small", Tag::weights, 10);
  a.alloc("big", Tag::weights, 5000);
  a.alloc("mid", Tag::kv_cache, 700);
  a.alloc("mid2", Tag::kv_cache, 700);
  const auto top = a.top_consumers(3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].name, "big");
  EXPECT_EQ(top[1].name, "mid");
  EXPECT_EQ(top[2].name, "mid2");
}

TEST(Arena, OverflowNamesChipLevelNeedCapAndTopThree) {
  Arena a(Level::L2, 10000, 5);
  a.alloc("wq", Tag::weights, 4000);
  a.alloc("kv", Tag::kv_cache, 3000);
  a.alloc("act", Tag::activations, 2000);
  a.alloc("tmp", Tag::scratch, 100);
  const std::string msg = error_of([&] { a.alloc("w1", Tag::weights, 1000); });
  EXPECT_THAT(msg, HasSubstr("chip 5: L2 cannot hold 'w1' (weights, 1000 B)"));
  EXPECT_THAT(msg, HasSubstr("9100 B of cap 10000 B in use, 900 B free"));
  EXPECT_THAT(msg, HasSubstr("largest: 'wq' 4000 B (weights), 'kv' 3000 B (kv-cache), "
                             "'act' 2000 B (activations)"));
  EXPECT_THAT(msg, ::testing::Not(HasSubstr("'tmp'")));
  EXPECT_EQ(msg.find('\n'), std::string::npos);  // one line
}

TEST(Arena, OverflowSaysWhenFragmented) {
  Arena a(Level::L2, 1000, 0);
  a.alloc("a", Tag::scratch, 400);
  a.alloc("b", Tag::scratch, 200);
  a.alloc("c", Tag::scratch, 400);
  a.free("a");
  a.free("c");
  const std::string msg = error_of([&] { a.alloc("d", Tag::scratch, 500); });
  EXPECT_THAT(msg, HasSubstr("fragmented: largest free range 400 B"));
}

TEST(Arena, MisuseIsAnError) {
  Arena a(Level::L2, 1000, 1);
  a.alloc("x", Tag::scratch, 10);
  EXPECT_THAT(error_of([&] { a.alloc("x", Tag::scratch, 10); }), HasSubstr("already in use"));
  EXPECT_THAT(error_of([&] { a.free("nope"); }), HasSubstr("free of unknown allocation 'nope'"));
  EXPECT_THAT(error_of([&] { a.alloc("neg", Tag::scratch, -1); }), HasSubstr("negative size"));
}

TEST(Memory, ArenasHaveTheUsableBytesOfTheProfile) {
  const Profile p = load_profile("gap9", {}, test::hw_dir());
  const Memory m(p, 0);
  for (Level l : kAllLevels) {
    EXPECT_EQ(m[l].capacity(), p.usable_bytes(l)) << level_name(l);
    EXPECT_EQ(m[l].level(), l);
  }
}

}  // namespace
}  // namespace mcuemu::chip
