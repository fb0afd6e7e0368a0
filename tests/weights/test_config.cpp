// Model configurations: the known ones, the scaled family, and validate()'s rejections.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "weights/config.hpp"
#include "weights/float_model.hpp"

namespace w = mcuemu::weights;
using ::testing::HasSubstr;

namespace {

// Block weights of one Llama layer (the matrices, no norms).
std::int64_t llama_block_params(const w::ModelConfig &c) {
  return 4LL * c.dim * c.dim + 3LL * c.dim * c.hidden_dim;
}

std::string error_of(const w::ModelConfig &c) {
  try {
    w::validate(c);
  } catch (const std::invalid_argument &e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ConfigTest, EveryKnownConfigIsValid) {
  for (const auto &name : w::known_configs()) {
    const auto c = w::config_by_name(name);
    EXPECT_EQ(c.name, name);
    EXPECT_NO_THROW(w::validate(c)) << name;
  }
}

TEST(ConfigTest, Stories42MShapes) {
  // llama2.c model table and REFERENCES.md 3.1.
  const auto c = w::config_by_name("tinyllama-42m");
  EXPECT_EQ(c.arch, w::Arch::Llama);
  EXPECT_EQ(c.dim, 512);
  EXPECT_EQ(c.hidden_dim, 1376);
  EXPECT_EQ(c.n_layers, 8);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(c.seq_len, 1024);
  EXPECT_TRUE(c.shared_classifier);
  EXPECT_EQ(c.head_dim(), 64);
  EXPECT_EQ(llama_block_params(c), 3162112);
  EXPECT_EQ(w::parameter_count(c), 41689600);  // the "42M", with the shared classifier
}

TEST(ConfigTest, TinyConfigSplitsOverEightChips) {
  const auto c = w::config_by_name("tinyllama-tiny");
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.dim % c.n_heads, 0);
  EXPECT_LT(w::parameter_count(c), 200000);
}

TEST(ConfigTest, ScaledFamilyKeepsPerChipBytesConstant) {
  const auto base = w::config_by_name("tinyllama-42m");
  const std::int64_t per_chip_at_8 = llama_block_params(base) * base.n_layers / 8;
  for (int n : {8, 16, 32, 64}) {
    const auto c = w::config_by_name("tinyllama-scaled-" + std::to_string(n));
    EXPECT_EQ(c.n_heads, n);
    EXPECT_EQ(c.head_dim(), 64);
    EXPECT_EQ(c.n_layers * n, 64);
    EXPECT_EQ(llama_block_params(c) * c.n_layers / n, per_chip_at_8) << n;
    EXPECT_EQ(1LL * c.vocab_size * c.dim / n, 1LL * base.vocab_size * base.dim / 8) << n;
  }
  EXPECT_TRUE(w::config_by_name("tinyllama-scaled-8").same_shapes(base));
  // The largest member must stay sane to generate: about 1.3 GB of fp32.
  EXPECT_LT(w::parameter_count(w::config_by_name("tinyllama-scaled-64")) * 4, 1'500'000'000LL);
}

TEST(ConfigTest, MobileBertShapes) {
  // HF MobileBertConfig defaults (REFERENCES.md 3.2).
  const auto c = w::config_by_name("mobilebert");
  EXPECT_EQ(c.arch, w::Arch::MobileBert);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.dim, 512);
  EXPECT_EQ(c.n_layers, 24);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.hidden_dim, 512);
  EXPECT_EQ(c.embedding_size, 128);
  EXPECT_EQ(c.intra_bottleneck, 128);
  EXPECT_EQ(c.n_ffn, 4);
  EXPECT_EQ(c.seq_len, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.head_dim(), 32);  // attention runs inside the 128-wide bottleneck
  // Weight matrices of one block = its MACs per token: 835,584 (REFERENCES.md 3.2).
  std::int64_t block_matrices = 0;
  for (const auto &s : w::tensor_specs(c)) {
    if (s.name.rfind("/layers/0/", 0) == 0 && s.shape.size() == 2) {
      block_matrices += static_cast<std::int64_t>(s.numel());
    }
  }
  EXPECT_EQ(block_matrices, 835584);
}

TEST(ConfigTest, UnknownNameListsTheKnownOnes) {
  try {
    w::config_by_name("tinyllama-43m");
    FAIL() << "no exception";
  } catch (const std::invalid_argument &e) {
    EXPECT_THAT(e.what(), HasSubstr("tinyllama-43m"));
    EXPECT_THAT(e.what(), HasSubstr("tinyllama-42m"));
    EXPECT_THAT(e.what(), HasSubstr("mobilebert-tiny"));
  }
  EXPECT_THROW(w::config_by_name("tinyllama-scaled-12"), std::invalid_argument);
}

TEST(ConfigTest, KnownNameForShapes) {
  auto c = w::config_by_name("tinyllama-tiny");
  c.name = "whatever";
  EXPECT_EQ(w::known_name_for(c), "tinyllama-tiny");
  c.vocab_size = 513;
  EXPECT_EQ(w::known_name_for(c), "");
}

TEST(ConfigTest, ValidateRejectsDimsThatDoNotDivide) {
  auto c = w::config_by_name("tinyllama-tiny");
  c.n_heads = c.n_kv_heads = 7;
  EXPECT_THAT(error_of(c), HasSubstr("dim 64 is not divisible by n_heads 7"));
  EXPECT_THAT(error_of(c), HasSubstr("tinyllama-tiny"));
}

TEST(ConfigTest, ValidateRejectsOddHeadDim) {
  auto c = w::config_by_name("tinyllama-tiny");
  c.dim = 72;
  c.n_heads = c.n_kv_heads = 8;  // head_dim 9
  EXPECT_THAT(error_of(c), HasSubstr("head_dim 9"));
  EXPECT_THAT(error_of(c), HasSubstr("even"));
}

TEST(ConfigTest, ValidateRejectsNonPositiveSizes) {
  for (auto field : {&w::ModelConfig::dim, &w::ModelConfig::hidden_dim, &w::ModelConfig::n_layers,
                     &w::ModelConfig::vocab_size, &w::ModelConfig::seq_len}) {
    auto c = w::config_by_name("tinyllama-tiny");
    c.*field = 0;
    EXPECT_THAT(error_of(c), HasSubstr("must be positive"));
  }
  auto c = w::config_by_name("tinyllama-tiny");
  c.seq_len = -4;
  EXPECT_THAT(error_of(c), HasSubstr("seq_len must be positive, got -4"));
}

TEST(ConfigTest, ValidateRejectsGroupedQueryAttention) {
  auto c = w::config_by_name("tinyllama-tiny");
  c.n_kv_heads = 4;
  EXPECT_THAT(error_of(c), HasSubstr("grouped-query attention is not supported"));
}

TEST(ConfigTest, ValidateRejectsMobileBertHeadsThatDoNotDivide) {
  auto c = w::config_by_name("mobilebert-tiny");
  c.n_heads = c.n_kv_heads = 3;
  EXPECT_THAT(error_of(c), HasSubstr("intra_bottleneck 32 is not divisible by n_heads 3"));
  c = w::config_by_name("mobilebert-tiny");
  c.n_ffn = 0;
  EXPECT_THAT(error_of(c), HasSubstr("n_ffn must be positive"));
}

TEST(ConfigTest, ValidateRejectsAbsurdSizes) {
  auto c = w::config_by_name("tinyllama-tiny");
  c.n_layers = 1 << 30;
  EXPECT_THAT(error_of(c), HasSubstr("unreasonably large"));
}

TEST(ConfigTest, ArchNames) {
  EXPECT_EQ(w::parse_arch(w::arch_name(w::Arch::Llama)), w::Arch::Llama);
  EXPECT_EQ(w::parse_arch(w::arch_name(w::Arch::MobileBert)), w::Arch::MobileBert);
  EXPECT_THROW(w::parse_arch("gpt2"), std::invalid_argument);
}
