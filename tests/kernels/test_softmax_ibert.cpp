#include "mcu_kernels.h"
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
