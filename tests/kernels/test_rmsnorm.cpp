#include <cmath>

#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(RmsNorm, MatchesGolden) {
  for (const auto &c : load_cases("rmsnorm")) {
    auto w = c.data<int32_t>("w");
    const mcu_rmsnorm_t p{w.data(), c.i32("zx"), c.i32("log2D"), c.i32("zy"), c.i32("k")};
    auto x = c.data<int8_t>("x");
    std::vector<int8_t> y(x.size(), 0);
    mcu_rmsnorm_s8(&p, x.data(), y.data(), c.attr("rows"), c.attr("D"));
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}

// isqrt is floor(sqrt(v)) by definition: r*r <= v < (r+1)^2, checked around every square.
TEST(RmsNorm, IsqrtIsFloorOfSquareRoot) {
  for (uint64_t r = 0; r < 70000; ++r) {
    for (uint64_t v : {r * r, r * r + r, r * r + 2 * r}) {
      ASSERT_EQ(mcu_isqrt_u64(v), r) << "v=" << v;
    }
  }
  const uint64_t big = (uint64_t{1} << 62) + 12345;
  const uint64_t r = mcu_isqrt_u64(big);
  EXPECT_LE(r * r, big);
  EXPECT_GT((r + 1) * (r + 1), big);
}
