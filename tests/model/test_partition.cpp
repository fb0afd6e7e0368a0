// The tensor-parallel partition plan.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/partition.hpp"

using namespace mcuemu;
using ::testing::HasSubstr;

TEST(Partition, SplitRangeCoversEverythingOnceFirstChipsGetTheExtra) {
  for (int n : {1, 7, 8, 172, 1376, 32000})
    for (int parts = 1; parts <= std::min(n, 9); ++parts) {
      int next = 0;
      for (int i = 0; i < parts; ++i) {
        const auto r = model::split_range(n, parts, i);
        EXPECT_EQ(r.begin, next);
        EXPECT_EQ(r.size(), n / parts + (i < n % parts ? 1 : 0));
        next = r.end;
      }
      EXPECT_EQ(next, n);
    }
}

TEST(Partition, EightChipsOwnOneHeadEach) {
  const auto c = weights::config_by_name("tinyllama-42m");
  const auto p = model::make_plan(c, 8);
  ASSERT_EQ(p.chips.size(), 8u);
  EXPECT_TRUE(p.even());
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(p.chips[i].heads.begin, i);
    EXPECT_EQ(p.chips[i].heads.size(), 1);
    EXPECT_EQ(p.chips[i].ffn.size(), 172);
    EXPECT_EQ(p.chips[i].vocab.size(), 4000);
  }
}

TEST(Partition, ThreeChipsAreUnevenButComplete) {
  const auto c = weights::config_by_name("tinyllama-42m");
  const auto p = model::make_plan(c, 3);
  EXPECT_FALSE(p.even());
  EXPECT_EQ(p.chips[0].heads.size(), 3);
  EXPECT_EQ(p.chips[1].heads.size(), 3);
  EXPECT_EQ(p.chips[2].heads.size(), 2);
  EXPECT_EQ(p.chips[0].ffn.size() + p.chips[1].ffn.size() + p.chips[2].ffn.size(), 1376);
  EXPECT_EQ(p.chips[2].vocab.end, 32000);
}

TEST(Partition, MoreChipsThanHeadsNamesTheScaledConfigurations) {
  const auto c = weights::config_by_name("tinyllama-42m");
  try {
    model::make_plan(c, 16);
    ADD_FAILURE() << "16 chips accepted for 8 heads";
  } catch (const std::invalid_argument &e) {
    EXPECT_THAT(e.what(), HasSubstr("at most 8 chips, not 16"));
    EXPECT_THAT(e.what(), HasSubstr("tinyllama-scaled-16"));
    EXPECT_THAT(e.what(), HasSubstr("tinyllama-scaled-64"));
  }
  EXPECT_THROW(model::make_plan(c, 0), std::invalid_argument);
  EXPECT_NO_THROW(model::make_plan(weights::config_by_name("tinyllama-scaled-64"), 64));
}
