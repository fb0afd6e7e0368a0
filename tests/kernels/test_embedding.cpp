#include "mcu_kernels.h"
#include "vectors.hpp"

using mcuemu::test::exact;
using mcuemu::test::load_cases;

TEST(Embedding, MatchesGolden) {
  for (const auto &c : load_cases("embedding")) {
    auto table = c.data<int8_t>("table");
    std::vector<int8_t> y(c.attr("dim"), 0);
    mcu_embedding_row_s8(table.data(), c.attr("dim"), c.attr("row"), y.data());
    EXPECT_TRUE(exact(y, c.data<int8_t>("want"))) << c.name();
  }
}
