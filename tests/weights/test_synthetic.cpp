// Synthetic weights: determinism, independence of tensors, and the scales of the recipe.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "weights/model_file.hpp"
#include "weights/synthetic.hpp"
#include "weights/test_util.hpp"

namespace w = mcuemu::weights;

namespace {

struct Moments {
  double mean = 0, std = 0;
};

Moments moments(const std::vector<float> &v) {
  double s = 0, s2 = 0;
  for (float x : v) {
    s += x;
    s2 += static_cast<double>(x) * x;
  }
  const double n = static_cast<double>(v.size());
  const double mean = s / n;
  return {mean, std::sqrt(s2 / n - mean * mean)};
}

}  // namespace

TEST(WeightsSynthetic, RngIsReproducible) {
  // Golden values of this generator (xoshiro256** seeded by splitmix64 from (seed, stream)):
  // if they change, every synthetic model file changes; update them only on purpose.
  w::Rng a(42, 7), b(42, 7), c(43, 7), d(42, 8);
  const std::uint64_t first = a.next();
  EXPECT_EQ(first, b.next());
  EXPECT_NE(first, c.next());
  EXPECT_NE(first, d.next());
  w::Rng g(1, 0);
  std::vector<std::uint64_t> got;
  for (int i = 0; i < 3; ++i) got.push_back(g.next());
  EXPECT_THAT(got, ::testing::ElementsAre(0xb3f2af6d0fc710c5ULL, 0x853b559647364ceaULL,
                                          0x92f89756082a4514ULL));
  EXPECT_EQ(w::stream_of(""), 0xcbf29ce484222325ULL);   // FNV-1a offset basis
  EXPECT_EQ(w::stream_of("a"), 0xaf63dc4c8601ec8cULL);  // FNV-1a test vector
}

TEST(WeightsSynthetic, XoshiroReferenceVector) {
  // The reference implementation (prng.di.unimi.it) from state {1, 2, 3, 4}.
  w::Rng r(std::array<std::uint64_t, 4>{1, 2, 3, 4});
  EXPECT_EQ(r.next(), 11520u);
  EXPECT_EQ(r.next(), 0u);
  EXPECT_EQ(r.next(), 1509978240u);
  EXPECT_EQ(r.next(), 1215971899390074240u);
}

TEST(WeightsSynthetic, UniformIsInOpenZeroClosedOne) {
  w::Rng r(5, 5);
  for (int i = 0; i < 100000; ++i) {
    const double u = r.uniform_open0();
    ASSERT_GT(u, 0.0);
    ASSERT_LE(u, 1.0);
  }
}

TEST(WeightsSynthetic, NormalsHaveUnitMoments) {
  w::Rng r(9, 1);
  std::vector<float> v(1 << 20);
  w::fill_normal(v, 0.0, 1.0, r);
  const auto m = moments(v);
  EXPECT_NEAR(m.mean, 0.0, 0.005);
  EXPECT_NEAR(m.std, 1.0, 0.005);
  std::size_t beyond_3 = 0;
  for (float x : v) beyond_3 += std::fabs(x) > 3.0f;
  // P(|z| > 3) = 0.27%.
  EXPECT_NEAR(static_cast<double>(beyond_3) / static_cast<double>(v.size()), 0.0027, 0.0004);
}

TEST(WeightsSynthetic, SameSeedSameModel) {
  const auto c = w::config_by_name("tinyllama-tiny");
  auto a = w::synthetic_llama(c, 5), b = w::synthetic_llama(c, 5), d = w::synthetic_llama(c, 6);
  auto ta = w::tensors(a), tb = w::tensors(b), td = w::tensors(d);
  for (std::size_t i = 0; i < ta.size(); ++i) {
    EXPECT_TRUE(*ta[i].data == *tb[i].data) << ta[i].spec.name;
    EXPECT_FALSE(*ta[i].data == *td[i].data) << ta[i].spec.name;
  }
}

TEST(WeightsSynthetic, SameSeedSameFileBytes) {
  mcuemu::test::ScratchDir dir;
  const auto c = w::config_by_name("mobilebert-tiny");
  w::write_float_model(dir.file("a.h5"), w::synthetic_mobilebert(c, 2), "s");
  w::write_float_model(dir.file("b.h5"), w::synthetic_mobilebert(c, 2), "s");
  EXPECT_EQ(mcuemu::test::read_bytes(dir.file("a.h5")), mcuemu::test::read_bytes(dir.file("b.h5")));
}

TEST(WeightsSynthetic, TensorDependsOnlyOnSeedAndName) {
  auto c2 = w::config_by_name("tinyllama-tiny");
  auto c3 = c2;
  c3.n_layers = 3;
  c3.name = "three-layers";
  const auto a = w::synthetic_llama(c2, 8), b = w::synthetic_llama(c3, 8);
  EXPECT_EQ(a.layers[1].wq, b.layers[1].wq);
  EXPECT_EQ(a.token_embedding, b.token_embedding);
  // The residual projections scale with depth, so those differ by the factor sqrt(3/2).
  EXPECT_NEAR(a.layers[0].wo[0] / b.layers[0].wo[0], std::sqrt(3.0 / 2.0), 1e-5);
}

TEST(WeightsSynthetic, LlamaScalesFollowTheRecipe) {
  const auto c = w::config_by_name("tinyllama-tiny");
  const auto m = w::synthetic_llama(c, 1);
  const double residual = 0.02 / std::sqrt(2.0 * c.n_layers);
  EXPECT_NEAR(moments(m.token_embedding).std, 0.02, 0.0005);
  EXPECT_NEAR(moments(m.token_embedding).mean, 0.0, 0.0005);
  EXPECT_NEAR(moments(m.layers[0].w1).std, 0.02, 0.001);
  EXPECT_NEAR(moments(m.layers[0].wo).std, residual, 0.0005);
  EXPECT_NEAR(moments(m.layers[1].w2).std, residual, 0.0005);
  EXPECT_NEAR(moments(m.layers[0].rms_att).mean, 1.0, 0.02);
  EXPECT_NEAR(moments(m.layers[0].rms_att).std, 0.05, 0.015);
  EXPECT_TRUE(m.wcls.empty());
}

TEST(WeightsSynthetic, MobileBertScales) {
  const auto m = w::synthetic_mobilebert(w::config_by_name("mobilebert-tiny"), 1);
  EXPECT_NEAR(moments(m.word_embedding).std, 0.02, 0.0005);
  EXPECT_NEAR(moments(m.layers[0].ffn[3].w1).std, 0.02, 0.001);
  EXPECT_NEAR(moments(m.layers[1].bn_out_gamma).mean, 1.0, 0.02);
  EXPECT_NEAR(moments(m.layers[1].bn_out_b).std, 0.02, 0.005);
}

TEST(WeightsSynthetic, Stories42MIsFast) {
  // The full 42M model: generation must take seconds, not minutes (CI budget < 10 s).
  const auto t0 = std::chrono::steady_clock::now();
  const auto m = w::synthetic_llama(w::config_by_name("tinyllama-42m"), 1);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(m.token_embedding.size(), 32000u * 512u);
  EXPECT_LT(s, 8.0);
}
