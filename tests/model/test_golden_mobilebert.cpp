// The MobileBERT fp32 golden forward against a naive reference written here from HF
// MobileBertModel's semantics (plain loops, double precision).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "model/golden.hpp"
#include "weights/synthetic.hpp"

namespace w = mcuemu::weights;
using mcuemu::model::FloatMobileBert;

namespace {

using Mat = std::vector<std::vector<double>>;  // (rows = positions, cols)

Mat linear(const Mat &X, const std::vector<float> &W, const std::vector<float> &b) {
  const std::size_t out = b.size(), in = X[0].size();
  Mat Y(X.size(), std::vector<double>(out));
  for (std::size_t r = 0; r < X.size(); ++r) {
    for (std::size_t o = 0; o < out; ++o) {
      double s = b[o];
      for (std::size_t i = 0; i < in; ++i) s += static_cast<double>(W[o * in + i]) * X[r][i];
      Y[r][o] = s;
    }
  }
  return Y;
}

Mat nonorm(Mat X, const std::vector<float> &g, const std::vector<float> &b) {
  for (auto &row : X) {
    for (std::size_t i = 0; i < row.size(); ++i) row[i] = row[i] * g[i] + b[i];
  }
  return X;
}

Mat add(Mat A, const Mat &B) {
  for (std::size_t r = 0; r < A.size(); ++r) {
    for (std::size_t i = 0; i < A[r].size(); ++i) A[r][i] += B[r][i];
  }
  return A;
}

Mat reference(const w::FloatMobileBertModel &m, const std::vector<int> &tok,
              const std::vector<int> &types) {
  const auto &c = m.config;
  const std::size_t n = tok.size(), E = static_cast<std::size_t>(c.embedding_size),
                    D = static_cast<std::size_t>(c.dim);
  const int hs = c.head_dim();
  Mat tri(n, std::vector<double>(3 * E, 0.0));
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t i = 0; i < E; ++i) {
      if (t + 1 < n) tri[t][i] = m.word_embedding[static_cast<std::size_t>(tok[t + 1]) * E + i];
      tri[t][E + i] = m.word_embedding[static_cast<std::size_t>(tok[t]) * E + i];
      if (t > 0) tri[t][2 * E + i] = m.word_embedding[static_cast<std::size_t>(tok[t - 1]) * E + i];
    }
  }
  Mat x = linear(tri, m.emb_w, m.emb_b);
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t i = 0; i < D; ++i) {
      x[t][i] += m.position_embedding[t * D + i] +
                 m.token_type_embedding[static_cast<std::size_t>(types[t]) * D + i];
    }
  }
  x = nonorm(x, m.emb_gamma, m.emb_beta);
  for (const auto &L : m.layers) {
    const Mat bn_in = nonorm(linear(x, L.bn_in_w, L.bn_in_b), L.bn_in_gamma, L.bn_in_beta);
    const Mat kq = nonorm(linear(x, L.bn_kq_w, L.bn_kq_b), L.bn_kq_gamma, L.bn_kq_beta);
    const Mat q = linear(kq, L.wq, L.bq), k = linear(kq, L.wk, L.bk), v = linear(x, L.wv, L.bv);
    Mat ctx(n, std::vector<double>(q[0].size(), 0.0));
    for (int h = 0; h < c.n_heads; ++h) {
      for (std::size_t r = 0; r < n; ++r) {
        std::vector<double> s(n);
        for (std::size_t u = 0; u < n; ++u) {
          double d = 0;
          for (int i = 0; i < hs; ++i) d += q[r][h * hs + i] * k[u][h * hs + i];
          s[u] = d / std::sqrt(static_cast<double>(hs));
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double sum = 0;
        for (double &e : s) sum += (e = std::exp(e - mx));
        for (std::size_t u = 0; u < n; ++u) {
          for (int i = 0; i < hs; ++i) ctx[r][h * hs + i] += s[u] / sum * v[u][h * hs + i];
        }
      }
    }
    Mat hcur = nonorm(add(linear(ctx, L.wo, L.bo), bn_in), L.attn_gamma, L.attn_beta);
    for (const auto &F : L.ffn) {
      Mat up = linear(hcur, F.w1, F.b1);
      for (auto &row : up) {
        for (double &e : row) e = std::max(e, 0.0);
      }
      hcur = nonorm(add(linear(up, F.w2, F.b2), hcur), F.gamma, F.beta);
    }
    x = nonorm(add(linear(hcur, L.bn_out_w, L.bn_out_b), x), L.bn_out_gamma, L.bn_out_beta);
  }
  return x;
}

// |got - want| <= tol * max |want|: fp32 rounding scales with the largest activations (NoNorm
// does not normalise), and small outputs come from cancellations of large terms.
void expect_close(const std::vector<float> &got, const Mat &want, double tol) {
  const std::size_t D = want[0].size();
  ASSERT_EQ(got.size(), want.size() * D);
  double scale = 0;
  for (const auto &row : want) {
    for (double v : row) scale = std::max(scale, std::fabs(v));
  }
  for (std::size_t r = 0; r < want.size(); ++r) {
    for (std::size_t i = 0; i < D; ++i) {
      ASSERT_NEAR(got[r * D + i], want[r][i], tol * scale) << "position " << r << " column " << i;
    }
  }
}

// Larger weights than the training init so that attention and the FFNs move the output.
w::FloatMobileBertModel model(int seed) {
  w::InitScales s;
  s.weight_std = 0.15;
  s.norm_jitter = 0.2;
  s.bias_std = 0.1;
  return w::synthetic_mobilebert(w::config_by_name("mobilebert-tiny"), static_cast<unsigned>(seed),
                                 {}, s);
}

}  // namespace

TEST(GoldenMobileBert, MatchesNaiveReference) {
  const auto m = model(1);
  const FloatMobileBert g(m);
  const std::vector<int> tokens = {101, 7, 999, 0, 42, 42, 500, 102};
  const std::vector<int> types = {0, 0, 0, 0, 1, 1, 1, 1};
  expect_close(g.forward(tokens, types), reference(m, tokens, types), 1e-5);
  // Default token types are zeros; a single token has no neighbours in the trigram.
  expect_close(g.forward(tokens), reference(m, tokens, std::vector<int>(8, 0)), 1e-5);
  expect_close(g.forward(std::vector<int>{5}), reference(m, {5}, {0}), 1e-5);
}

TEST(GoldenMobileBert, TrigramOrderIsNextCurrentPrevious) {
  const auto m = model(2);
  const FloatMobileBert g(m);
  const std::vector<int> tokens = {10, 20, 30};
  std::vector<float> tri;
  g.forward(tokens, {}, [&](int layer, const char *point, std::span<const float> v) {
    if (layer == -1 && std::string(point) == "emb_trigram") tri.assign(v.begin(), v.end());
  });
  const std::size_t E = static_cast<std::size_t>(m.config.embedding_size);
  ASSERT_EQ(tri.size(), 3 * 3 * E);
  auto emb = [&](int t, std::size_t i) {
    return m.word_embedding[static_cast<std::size_t>(t) * E + i];
  };
  for (std::size_t i = 0; i < E; ++i) {
    // Row 1 (token 20): [emb(30), emb(20), emb(10)].
    EXPECT_EQ(tri[3 * E + i], emb(30, i));
    EXPECT_EQ(tri[3 * E + E + i], emb(20, i));
    EXPECT_EQ(tri[3 * E + 2 * E + i], emb(10, i));
    // Row 0 has no previous token, row 2 no next one.
    EXPECT_EQ(tri[2 * E + i], 0.0f);
    EXPECT_EQ(tri[6 * E + i], 0.0f);
  }
}

TEST(GoldenMobileBert, AttentionIsBidirectional) {
  const auto m = model(3);
  const FloatMobileBert g(m);
  const auto a = g.forward(std::vector<int>{1, 2, 3, 4, 5, 6});
  const auto b = g.forward(std::vector<int>{1, 2, 3, 4, 5, 7});  // only the last token differs
  const std::size_t D = static_cast<std::size_t>(m.config.dim);
  // Position 0 is neither in the trigram window of token 5 nor causal: it still changes.
  EXPECT_NE(std::vector<float>(a.begin(), a.begin() + static_cast<long>(D)),
            std::vector<float>(b.begin(), b.begin() + static_cast<long>(D)));
}

TEST(GoldenMobileBert, ObserverSeesEveryPointInOrder) {
  const auto m = model(4);
  const auto &c = m.config;
  const FloatMobileBert g(m);
  std::vector<std::string> seen;
  std::map<std::string, std::size_t> sizes;
  g.forward(std::vector<int>{3, 1, 4}, {},
            [&](int layer, const char *point, std::span<const float> v) {
              seen.push_back(std::to_string(layer) + ":" + point);
              if (layer == 0) sizes[point] = v.size();
            });
  std::vector<std::string> want = {"-1:emb_trigram", "-1:emb_proj", "-1:emb_sum", "-1:embedding"};
  for (int l = 0; l < c.n_layers; ++l) {
    for (const char *p : {"x", "bn_in_dense", "bn_in", "bn_kq_dense", "bn_kq", "q", "k", "v",
                          "scores", "attn", "wo", "attn_sum", "attn_out"}) {
      want.push_back(std::to_string(l) + ":" + p);
    }
    for (int j = 0; j < c.n_ffn; ++j) {
      for (const char *p : {"up", "relu", "down", "sum", "out"}) {
        want.push_back(std::to_string(l) + ":ffn" + std::to_string(j) + "_" + p);
      }
    }
    for (const char *p : {"bn_out_dense", "bn_out_sum", "out"})
      want.push_back(std::to_string(l) + ":" + p);
  }
  EXPECT_EQ(seen, want);
  EXPECT_EQ(sizes["scores"], static_cast<std::size_t>(c.n_heads * 3 * 3));
  EXPECT_EQ(sizes["v"], static_cast<std::size_t>(3 * c.intra_bottleneck));
  EXPECT_EQ(sizes["ffn2_up"], static_cast<std::size_t>(3 * c.hidden_dim));
  EXPECT_EQ(sizes["out"], static_cast<std::size_t>(3 * c.dim));
}

TEST(GoldenMobileBert, RejectsBadInput) {
  const auto m = model(5);
  const FloatMobileBert g(m);
  EXPECT_THROW(g.forward(std::vector<int>{}), std::out_of_range);
  EXPECT_THROW(g.forward(std::vector<int>(65, 1)), std::out_of_range);  // seq_len 64
  EXPECT_THROW(g.forward(std::vector<int>{1000}), std::out_of_range);
  EXPECT_THROW(g.forward(std::vector<int>{1, 2}, std::vector<int>{0, 2}), std::out_of_range);
  EXPECT_THROW(g.forward(std::vector<int>{1, 2}, std::vector<int>{0}), std::invalid_argument);
}

TEST(GoldenMobileBert, FullSizeEncoderRuns) {
  const auto m = w::synthetic_mobilebert(w::config_by_name("mobilebert"), 1);
  const FloatMobileBert g(m);
  std::vector<int> tokens(128);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int>(i * 211 % 30522);
  const auto out = g.forward(tokens);
  ASSERT_EQ(out.size(), 128u * 512u);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](float v) { return std::isfinite(v); }));
}
