#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(Gelu, MatchesGolden) {
  for (const auto &c : load_cases("gelu")) {
    const mcu_gelu_t p{c.i32("zx"), c.i32("b"), c.i32("one")};
    auto x = c.data<int8_t>("x");
    std::vector<int32_t> y(x.size(), 0);
    mcu_gelu_s8_s32(&p, x.data(), y.data(), x.size());
    EXPECT_TRUE(exact(y, c.data<int32_t>("want"))) << c.name();
  }
}
