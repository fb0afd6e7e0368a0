#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(Relu, MatchesGolden) {
  for (const auto &c : load_cases("relu")) {
    auto x = c.data<int8_t>("x");
    std::vector<int8_t> y(x.size(), 0);
    mcu_relu_s8(x.data(), y.data(), x.size(), static_cast<int8_t>(c.attr("z")));
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}
