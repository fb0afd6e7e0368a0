// The region of populated memory on a huge page (runtime/populated.hpp).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>

#include "runtime/populated.hpp"

// A transparent huge page.
constexpr size_t kHugePage = size_t(2) << 20;

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
