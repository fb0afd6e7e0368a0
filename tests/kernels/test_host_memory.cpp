// Host memory on huge pages: the 2 MB-aligned mapping both use (runtime/populated.hpp), the weight
// arena (runtime/weight_arena.hpp: blocks, capacity, the huge-page advice, the check that a read
// filled it, the switch) and the region of populated memory (runtime/populated.hpp).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/kernels.hpp"
#include "runtime/populated.hpp"
#include "runtime/weight_arena.hpp"
#include "weights/config.hpp"

using mcuemu::runtime::kHugePage;
using mcuemu::runtime::WeightArena;

TEST(HugeAlignedMapping, StartsOnAHugePageAndAdvisesWholePagesOnly) {
  using mcuemu::runtime::HugeAlignedMapping;
  HugeAlignedMapping none(0);
  EXPECT_EQ(none.data(), nullptr);
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.advise_huge(kHugePage), 0u);
  HugeAlignedMapping m(3 * kHugePage - 5000);
  EXPECT_EQ(m.size(), 3 * kHugePage - 4096);  // whole 4 KB pages
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.data()) % kHugePage, 0u);
  m.data()[0] = 1;
  m.data()[m.size() - 1] = 2;                         // writable to its last byte
  EXPECT_EQ(m.advise_huge(kHugePage - 1), 0u);        // no whole page
  const size_t got = m.advise_huge(100 * kHugePage);  // at most what it has: 2 whole pages
  if (got == 0) GTEST_SKIP() << "no THP in this kernel";
  EXPECT_EQ(got, 2 * kHugePage);
  EXPECT_EQ(m.advise_huge(kHugePage + 5), kHugePage);
  EXPECT_EQ(m.data()[0], 1);
  EXPECT_EQ(m.data()[m.size() - 1], 2);
}

TEST(WeightArena, BlocksAreAlignedConsecutiveAndKept) {
  const size_t sizes[] = {1, 63, 64, 65, 4096, 100000, 7};
  size_t total = 0;
  for (size_t n : sizes) total += WeightArena::round_up(n);
  WeightArena a(total, false);
  EXPECT_EQ(a.capacity(), total);
  int8_t *prev_end = nullptr;
  std::vector<std::span<int8_t>> blocks;
  for (size_t n : sizes) {
    auto b = a.take(n);
    ASSERT_EQ(b.size(), n);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % WeightArena::kAlign, 0u);
    if (prev_end) {
      EXPECT_GE(b.data(), prev_end);  // never overlaps the block before
    }
    prev_end = b.data() + n;
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<int8_t>(blocks.size() * 31 + i);
    blocks.push_back(b);
  }
  EXPECT_EQ(a.used(), a.capacity());
  for (size_t k = 0; k < blocks.size(); ++k)  // each block still holds what was written to it
    for (size_t i = 0; i < blocks[k].size(); ++i)
      ASSERT_EQ(blocks[k][i], static_cast<int8_t>(k * 31 + i)) << "block " << k << " byte " << i;
  // The first block starts on a huge-page boundary (huge pages must be aligned).
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(blocks[0].data()) % kHugePage, 0u);
}

TEST(WeightArena, RefusesABlockOverItsCapacity) {
  WeightArena a(128, false);
  a.take(64);
  EXPECT_THROW(a.take(65), std::length_error);  // 65 rounds up to 128: 64 are left
  EXPECT_EQ(a.used(), 64u);
  a.take(64);
  EXPECT_THROW(a.take(1), std::length_error);
  WeightArena none(0, true);
  EXPECT_EQ(none.take(0).size(), 0u);
  EXPECT_THROW(none.take(1), std::length_error);
}

TEST(WeightArena, AdvisesOnlyTheWholeHugePages) {
  const size_t mb2 = kHugePage;
  struct Case {
    size_t bytes;
    bool huge;
    size_t advised;
  } cases[] = {{mb2 / 2, true, 0},
               {mb2, true, mb2},
               {2 * mb2 + 4096, true, 2 * mb2},
               {5 * mb2 - 64, true, 4 * mb2},
               {5 * mb2, false, 0}};
  for (const auto &c : cases) {
    WeightArena a(c.bytes, c.huge);
    // A kernel without transparent huge pages refuses the advice; then nothing is advised.
    if (c.huge && c.advised > 0 && a.huge_advised() == 0) GTEST_SKIP() << "no THP in this kernel";
    EXPECT_EQ(a.huge_advised(), c.advised) << c.bytes << " bytes, huge " << c.huge;
    a.take(c.bytes)[c.bytes - 1] = 1;  // the whole capacity is there to write
  }
}

// The arena for a chip's slice holds exactly its matrices; check_filled refuses a read that left
// part of it empty (the arena sized for other shapes than the reader placed).
TEST(WeightArena, SizedForASliceAndCheckedFilled) {
  using namespace mcuemu;
  const auto c = weights::config_by_name("tinyllama-tiny");  // dim 64, ffn 172, 2 layers
  const weights::LlamaSlice s{.head_rows_begin = 8,
                              .head_rows_end = 24,
                              .ffn_begin = 43,
                              .ffn_end = 86,
                              .vocab_begin = 128,
                              .vocab_end = 256};
  const auto p = runtime::weight_arena_for(c, s, false);
  const int D = c.dim, H = 16, F = 43, V = 128;
  const std::pair<int, int> order[] = {{V, D}, {H, D}, {H, D}, {H, D},
                                       {D, H}, {F, D}, {F, D}, {D, F}};
  size_t want = WeightArena::round_up(kernels::GemvMatrix::host_weight_bytes(V, D));
  for (int l = 0; l < c.n_layers; ++l)
    for (int k = 1; k < 8; ++k)
      want += WeightArena::round_up(
          kernels::GemvMatrix::host_weight_bytes(order[k].first, order[k].second));
  EXPECT_EQ(p.arena->capacity(), want);
  EXPECT_THROW(p.check_filled(), std::logic_error);  // nothing placed yet
  auto room = p.place(V, D);
  EXPECT_GE(room.size(), static_cast<size_t>(V * D));
  for (int l = 0; l < c.n_layers; ++l)
    for (int k = 1; k < 8; ++k) {
      if (l == c.n_layers - 1 && k == 7) {  // all but the last matrix
        try {
          p.check_filled();
          ADD_FAILURE() << "an arena one matrix short of full accepted";
        } catch (const std::logic_error &e) {
          EXPECT_NE(std::string(e.what()).find(std::to_string(want)), std::string::npos)
              << e.what();
        }
      }
      p.place(static_cast<size_t>(order[k].first), static_cast<size_t>(order[k].second));
    }
  EXPECT_NO_THROW(p.check_filled());
  EXPECT_THROW(p.place(1, 1), std::length_error);  // nothing more fits
}

TEST(WeightArena, HugePagesFromTheEnvironment) {
  const char *old = std::getenv("MCUEMU_HUGE_PAGES");
  const std::string saved = old ? old : "";
  unsetenv("MCUEMU_HUGE_PAGES");
  EXPECT_TRUE(mcuemu::runtime::huge_pages_from_env());
  setenv("MCUEMU_HUGE_PAGES", "on", 1);
  EXPECT_TRUE(mcuemu::runtime::huge_pages_from_env());
  setenv("MCUEMU_HUGE_PAGES", "off", 1);
  EXPECT_FALSE(mcuemu::runtime::huge_pages_from_env());
  setenv("MCUEMU_HUGE_PAGES", "no", 1);
  try {
    mcuemu::runtime::huge_pages_from_env();
    ADD_FAILURE() << "MCUEMU_HUGE_PAGES=no accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("MCUEMU_HUGE_PAGES=no"), std::string::npos) << e.what();
  }
  if (old)
    setenv("MCUEMU_HUGE_PAGES", saved.c_str(), 1);
  else
    unsetenv("MCUEMU_HUGE_PAGES");
}

// ctest runs each test in a process of its own: the region is set up here for the first time.
TEST(PopulatedRegion, ServesAllocationsWhileItHasRoom) {
  using namespace mcuemu::runtime;
  EXPECT_EQ(huge_page_region_size(), 0u);
  void *before = allocate_populated(100);  // no region yet: operator new
  EXPECT_EQ(huge_page_region_used(), 0u);
  use_huge_page_region(1);  // rounded up to one huge page
  ASSERT_EQ(huge_page_region_size(), kHugePage);
  use_huge_page_region(8 * kHugePage);  // set up once: nothing changes
  ASSERT_EQ(huge_page_region_size(), kHugePage);

  auto *a = static_cast<char *>(allocate_populated(100));
  auto *b = static_cast<char *>(allocate_populated(64 * 1024));
  EXPECT_EQ(huge_page_region_used(), 128u + 64 * 1024);  // cache lines, in order
  EXPECT_EQ(b - a, 128);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % kHugePage, 0u);  // aligned start
  for (size_t i = 0; i < 64 * 1024; ++i) b[i] = static_cast<char>(i);
  a[99] = 1;
  free_populated(a, 100);  // kept: the region hands nothing back
  EXPECT_EQ(huge_page_region_used(), 128u + 64 * 1024);
  // More than is left: from elsewhere, and handed back as before.
  const size_t big = kHugePage;
  auto *c = static_cast<char *>(allocate_populated(big));
  EXPECT_TRUE(c + big <= a || c >= a + kHugePage) << "outside the region";
  EXPECT_EQ(huge_page_region_used(), 128u + 64 * 1024);
  c[big - 1] = 1;
  free_populated(c, big);
  // The rest of the region, exactly.
  const size_t rest = kHugePage - huge_page_region_used();
  auto *d = static_cast<char *>(allocate_populated(rest));
  EXPECT_EQ(d, b + 64 * 1024);
  EXPECT_EQ(huge_page_region_used(), kHugePage);
  d[rest - 1] = 1;
  for (size_t i = 0; i < 64 * 1024; ++i) ASSERT_EQ(b[i], static_cast<char>(i));
  free_populated(b, 64 * 1024);
  free_populated(d, rest);
  free_populated(before, 100);
}
