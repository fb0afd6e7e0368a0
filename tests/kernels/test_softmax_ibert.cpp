#include "mcu_kernels.h"
#include "runtime/kernels.hpp"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(SoftmaxIbert, MatchesGolden) {
  for (const auto &c : load_cases("softmax_ibert")) {
    const mcu_softmax_ibert_t p{c.i32("A"), c.i32("B"), c.i32("C"), c.i32("log2")};
    auto x = c.data<int8_t>("x");
    std::vector<int8_t> y(x.size(), 0);
    mcu_softmax_ibert_s8(&p, x.data(), y.data(), c.attr("rows"), c.attr("n"), c.attr("ld"));
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}

// The looked-up exponentials (the host's path, kernels::SoftmaxIbert) against the golden vectors
// and against the per-element kernel on every spread of scores from 0 to 255.
TEST(SoftmaxIbert, TableMatchesGolden) {
  for (const auto &c : load_cases("softmax_ibert")) {
    const mcu_softmax_ibert_t p{c.i32("A"), c.i32("B"), c.i32("C"), c.i32("log2")};
    auto x = c.data<int8_t>("x");
    std::vector<int8_t> y(x.size(), 0);
    const mcuemu::kernels::SoftmaxIbert softmax(p);
    softmax(x, y, c.attr("rows"), c.attr("n"), c.attr("ld"));
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}

TEST(SoftmaxIbert, TableEqualsPerElementOnEverySpread) {
  const mcu_softmax_ibert_t params[] = {
      {-1, 0, 0, 1}, {350, 58, 1193, 11}, {91, 40, 8000, 29}, {1, 1, 1, 255}};
  uint32_t s = 99;
  for (const auto &p : params) {
    int64_t table[256];
    mcu_softmax_ibert_table(&p, table);
    for (int spread = 0; spread <= 255; ++spread) {
      const size_t n = 1 + static_cast<size_t>(spread) % 37, ld = n + 2;
      std::vector<int8_t> x(2 * ld);
      for (auto &v : x) {
        s = s * 1664525u + 1013904223u;
        v = static_cast<int8_t>(127 - static_cast<int>((s >> 8) % (spread + 1)));
      }
      x[0] = 127, x[n - 1] = static_cast<int8_t>(127 - spread);  // the widest d in the first row
      std::vector<int8_t> want(x.size(), 5), got(x.size(), 5);
      mcu_softmax_ibert_s8(&p, x.data(), want.data(), 2, n, ld);
      mcu_softmax_ibert_s8_table(table, x.data(), got.data(), 2, n, ld);
      ASSERT_EQ(got, want) << "spread " << spread << " A " << p.A;
    }
  }
}

TEST(SoftmaxIbert, TableChecksItsParametersAndShapes) {
  using mcuemu::kernels::KernelError;
  EXPECT_THROW(mcuemu::kernels::SoftmaxIbert({1, 1, 1, 0}), KernelError);  // log2 must be > 0
  std::vector<int8_t> x(4), y(4);
  const mcuemu::kernels::SoftmaxIbert none;
  EXPECT_THROW(none(x, y, 1, 4, 4), KernelError);  // no parameters given
  const mcuemu::kernels::SoftmaxIbert s({350, 58, 1193, 11});
  EXPECT_THROW(s(x, std::span<int8_t>(y).first(3), 1, 4, 4), KernelError);
  EXPECT_NO_THROW(s(x, y, 1, 4, 4));
}
