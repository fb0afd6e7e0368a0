#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::load_cases;

TEST(Argmax, MatchesGolden) {
  for (const auto &c : load_cases("argmax")) {
    auto x = c.data<int32_t>("x");
    int32_t value = 0;
    const size_t index = mcu_argmax_s32(x.data(), x.size(), &value);
    auto want = c.data<int64_t>("want");
    EXPECT_EQ(static_cast<int64_t>(index), want.at(0)) << c.name();
    EXPECT_EQ(value, want.at(1)) << c.name();
  }
}
