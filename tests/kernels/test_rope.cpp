#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(Rope, MatchesGolden) {
  for (const auto &c : load_cases("rope")) {
    const mcu_rope_t p{c.i32("zx"), c.i32("mul"), c.i32("add"), c.i32("shift"),
                       c.i32("zy"), c.i32("lo"),  c.i32("hi")};
    auto x = c.data<int8_t>("x");
    auto cs = c.data<int16_t>("cos"), sn = c.data<int16_t>("sin");
    std::vector<int8_t> y(x.size(), 0);
    mcu_rope_s8(&p, x.data(), cs.data(), sn.data(), y.data(), c.attr("n_heads"),
                c.attr("head_dim"));
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}
