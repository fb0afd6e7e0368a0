// Per-chip byte estimates: whole heads per chip, FFN and vocab sliced, nothing duplicated
// except the norm weights.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "weights/sharding.hpp"

namespace w = mcuemu::weights;
using ::testing::HasSubstr;

namespace {

// The tensors of a configuration as stored with elem_size bytes per element.
std::vector<w::StoredTensor> stored(const w::ModelConfig &c, std::size_t elem_size) {
  std::vector<w::StoredTensor> out;
  for (const auto &s : w::tensor_specs(c)) out.push_back({s.name, s.shape, elem_size, s.split});
  return out;
}

}  // namespace

TEST(WeightsSharding, UnitsOfChip) {
  EXPECT_EQ(w::units_of_chip(8, 3, 0), 3);
  EXPECT_EQ(w::units_of_chip(8, 3, 1), 3);
  EXPECT_EQ(w::units_of_chip(8, 3, 2), 2);
  for (int n = 1; n <= 8; ++n) {
    std::int64_t sum = 0;
    for (int c = 0; c < n; ++c) sum += w::units_of_chip(1376, n, c);
    EXPECT_EQ(sum, 1376);
  }
}

TEST(WeightsSharding, Stories42MOnEightChips) {
  const auto c = w::config_by_name("tinyllama-42m");
  const auto per_chip = w::chip_bytes(c, stored(c, 1), 8);  // int8: 1 byte per weight
  ASSERT_EQ(per_chip.size(), 8u);
  for (const auto &cb : per_chip) {
    // Blocks 25,296,896 / 8 + embedding 16,384,000 / 8 (REFERENCES.md 3.1).
    EXPECT_EQ(cb.sliced, 3162112 + 2048000);
    EXPECT_EQ(cb.replicated, (2 * 8 + 1) * 512);  // rms_att, rms_ffn per layer, rms_final
  }
}

TEST(WeightsSharding, NothingDuplicatedButNorms) {
  for (const char *name : {"tinyllama-tiny", "mobilebert"}) {
    const auto c = w::config_by_name(name);
    const auto ts = stored(c, 4);
    std::int64_t sliced_total = 0, replicated_total = 0;
    for (const auto &t : ts) {
      const auto bytes =
          static_cast<std::int64_t>(t.shape[0] * (t.shape.size() > 1 ? t.shape[1] : 1) * 4);
      (t.split.axis < 0 ? replicated_total : sliced_total) += bytes;
      // Only vectors are ever replicated.
      if (t.split.axis < 0 && c.arch == w::Arch::Llama) {
        EXPECT_EQ(t.shape.size(), 1u) << t.name;
      }
    }
    for (int n : {1, 2, 3, 4}) {
      std::int64_t sum = 0;
      for (const auto &cb : w::chip_bytes(c, ts, n)) {
        sum += cb.sliced;
        EXPECT_EQ(cb.replicated, replicated_total);
      }
      EXPECT_EQ(sum, sliced_total) << name << " on " << n;
    }
  }
}

TEST(WeightsSharding, UnevenSplitIsVisible) {
  const auto c = w::config_by_name("tinyllama-tiny");
  const auto cb = w::chip_bytes(c, stored(c, 4), 3);
  EXPECT_GT(cb[0].sliced, cb[2].sliced);
  EXPECT_GT(cb[1].sliced, cb[2].sliced);
}

TEST(WeightsSharding, ScaledFamilyHoldsTheSameBlockBytesPerChip) {
  std::int64_t expected = -1;
  for (int n : {8, 16, 32, 64}) {
    const auto c = w::config_by_name("tinyllama-scaled-" + std::to_string(n));
    const auto cb = w::chip_bytes(c, stored(c, 1), n);
    if (expected < 0) expected = cb[0].sliced;
    EXPECT_EQ(cb[0].sliced, expected) << n;
    EXPECT_EQ(cb[static_cast<std::size_t>(n - 1)].sliced, expected) << n;
  }
}

TEST(WeightsSharding, MoreChipsThanHeadsNamesTheScaledModels) {
  const auto c = w::config_by_name("tinyllama-42m");
  try {
    w::chip_bytes(c, stored(c, 4), 16);
    FAIL() << "no exception";
  } catch (const std::invalid_argument &e) {
    EXPECT_THAT(e.what(), HasSubstr("16 chips but 'tinyllama-42m' has 8 heads"));
    EXPECT_THAT(e.what(), HasSubstr("tinyllama-scaled-16"));
    EXPECT_THAT(e.what(), HasSubstr("tinyllama-scaled-64"));
    EXPECT_THAT(e.what(), ::testing::Not(HasSubstr("tinyllama-scaled-8,")));
  }
  EXPECT_THROW(w::chip_bytes(c, {}, 0), std::invalid_argument);
}

TEST(WeightsSharding, RulesForNestedInt8Datasets) {
  const auto c = w::config_by_name("tinyllama-tiny");
  const w::SplitRules rules(c);
  EXPECT_EQ(rules.split_for("/layers/0/wq", {64, 64}).axis, 0);
  EXPECT_EQ(rules.split_for("/layers/0/wq/w", {64, 64}).axis, 0);
  EXPECT_EQ(rules.split_for("/layers/0/wq/rq_mul", {64}).axis, 0);  // per output channel
  EXPECT_EQ(rules.split_for("/layers/0/w2/w", {64, 172}).axis, 1);
  EXPECT_EQ(rules.split_for("/layers/0/w2/rq_mul", {64}).axis, -1);  // after the all-reduce
  EXPECT_EQ(rules.split_for("/layers/0/wqx", {64, 64}).axis, -1);    // not inside "wq"
  EXPECT_EQ(rules.split_for("/rope/cos", {128, 4}).axis, -1);
  EXPECT_STREQ(rules.split_for("/token_embedding", {512, 64}).what, "vocab");
}

// An int8 MobileBERT file stores the bottleneck "bn_in_w" of the fp32 table as "bn_in/w".
TEST(WeightsSharding, RulesForInt8MobileBertBottlenecks) {
  const auto c = w::config_by_name("mobilebert");
  const w::SplitRules rules(c);
  EXPECT_EQ(rules.split_for("/layers/0/bn_in_w", {128, 512}).axis, 1);
  EXPECT_EQ(rules.split_for("/layers/0/bn_in/w", {128, 512}).axis, 1);  // residual columns
  EXPECT_EQ(rules.split_for("/layers/0/bn_kq/w", {128, 512}).axis, 1);
  EXPECT_EQ(rules.split_for("/layers/0/bn_out/w", {512, 128}).axis, 0);  // residual rows
  EXPECT_EQ(rules.split_for("/layers/0/bn_out/rq_mul", {512}).axis, 0);  // sliced with its rows
  EXPECT_EQ(rules.split_for("/layers/0/bn_in/rq_mul", {128}).axis, -1);  // after the all-reduce
}
