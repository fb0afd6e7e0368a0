#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(LayerNorm, MatchesGolden) {
  for (const auto &c : load_cases("layernorm")) {
    auto w = c.data<int32_t>("w"), bias = c.data<int32_t>("bias");
    const mcu_layernorm_t p{w.data(),       bias.data(), c.i32("zx"),
                            c.i32("log2D"), c.i32("zy"), c.i32("k")};
    auto x = c.data<int8_t>("x");
    std::vector<int8_t> y(x.size(), 0);
    mcu_layernorm_s8(&p, x.data(), y.data(), c.attr("rows"), c.attr("D"));
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}
