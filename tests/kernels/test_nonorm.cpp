#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(NoNorm, MatchesGolden) {
  for (const auto &c : load_cases("nonorm")) {
    auto mul = c.data<int32_t>("mul"), add = c.data<int32_t>("add");
    const mcu_nonorm_t p{mul.data(),  add.data(),  c.i32("zx"), c.i32("shift"),
                         c.i32("zy"), c.i32("lo"), c.i32("hi")};
    auto x = c.data<int8_t>("x");
    std::vector<int8_t> y(x.size(), 0);
    mcu_nonorm_s8(&p, x.data(), y.data(), c.attr("rows"), c.attr("D"));
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}
