#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(Gemm, MatchesGolden) {
  for (const auto &c : load_cases("gemm")) {
    const mcu_gemm_t p{c.i32("a_off"), c.i32("b_off")};
    auto A = c.data<int8_t>("A");
    auto B = c.data<int8_t>("B");
    std::vector<int32_t> bias =
        c.attr("has_bias") ? c.data<int32_t>("bias") : std::vector<int32_t>{};
    const size_t M = c.attr("M"), N = c.attr("N"), K = c.attr("K"), ldy = c.attr("ldy");
    std::vector<int32_t> Y(M * ldy, 0);
    mcu_gemm_s8_s32(&p, A.data(), c.attr("lda"), B.data(), c.attr("ldb"),
                    bias.empty() ? nullptr : bias.data(), Y.data(), ldy, M, N, K);
    EXPECT_TRUE(exact(Y, c.data<int32_t>("want"))) << c.name();
  }
}
