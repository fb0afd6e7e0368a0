#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(SoftmaxItamax, MatchesGolden) {
  for (const auto &c : load_cases("softmax_itamax")) {
    auto x = c.data<int8_t>("x");
    std::vector<int8_t> y(x.size(), 0);
    mcu_softmax_itamax_s8(x.data(), y.data(), c.attr("rows"), c.attr("n"), c.attr("ld"));
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}
