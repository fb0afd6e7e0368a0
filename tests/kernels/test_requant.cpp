#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

static mcu_rqs_t rqs_params(const mcuemu::test::Case &c) {
  return {c.i32("zx"), c.i32("mul"), c.i32("add"), c.i32("shift"),
          c.i32("zy"), c.i32("lo"),  c.i32("hi")};
}

TEST(Requant, PerTensorMatchesGolden) {
  for (const auto &c : load_cases("rqs")) {
    const mcu_rqs_t p = rqs_params(c);
    auto x = c.data<int32_t>("x");
    std::vector<int8_t> y(x.size(), 0);
    mcu_rqs_s32_s8(&p, x.data(), y.data(), x.size());
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}

TEST(Requant, PerChannelMatchesGolden) {
  for (const auto &c : load_cases("rqs_per_channel")) {
    auto mul = c.data<int32_t>("mul"), add = c.data<int32_t>("add");
    const mcu_rqs_pc_t p{mul.data(),  add.data(),  c.i32("zx"), c.i32("shift"),
                         c.i32("zy"), c.i32("lo"), c.i32("hi")};
    auto x = c.data<int32_t>("x");
    std::vector<int8_t> y(x.size(), 0);
    mcu_rqs_s32_s8_per_channel(&p, x.data(), y.data(), c.attr("rows"), c.attr("channels"));
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}

TEST(Requant, OverflowCountMatchesGolden) {
  for (const auto &c : load_cases("rqs_overflow")) {
    const mcu_rqs_t p = rqs_params(c);
    auto x = c.data<int32_t>("x");
    const size_t got = mcu_rqs_count_i32_overflow(&p, x.data(), x.size());
    EXPECT_EQ(static_cast<int64_t>(got), c.data<int64_t>("want").at(0)) << c.name();
  }
}
