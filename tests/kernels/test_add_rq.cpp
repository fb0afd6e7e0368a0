#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(AddRq, MatchesGolden) {
  for (const auto &c : load_cases("add_rq")) {
    const mcu_add_rq_t p{c.i32("za"),    c.i32("zb"), c.i32("mul_a"), c.i32("mul_b"), c.i32("add"),
                         c.i32("shift"), c.i32("zy"), c.i32("lo"),    c.i32("hi")};
    auto a = c.data<int8_t>("a"), b = c.data<int8_t>("b");
    std::vector<int8_t> y(a.size(), 0);
    mcu_add_rq_s8(&p, a.data(), b.data(), y.data(), a.size());
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}
