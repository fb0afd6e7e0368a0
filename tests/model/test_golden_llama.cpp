// The Llama fp32 golden forward against a naive reference written here from llama2.c's maths
// (no BLAS, no KV cache: every position recomputed from scratch, double precision).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "model/golden.hpp"
#include "weights/synthetic.hpp"

namespace w = mcuemu::weights;
using mcuemu::model::FloatLlama;

namespace {

using Vec = std::vector<double>;

Vec matvec(const std::vector<float> &W, const Vec &x, int out) {
  const int in = static_cast<int>(x.size());
  Vec y(static_cast<std::size_t>(out), 0.0);
  for (int o = 0; o < out; ++o) {
    for (int i = 0; i < in; ++i)
      y[o] += static_cast<double>(W[static_cast<std::size_t>(o * in + i)]) * x[i];
  }
  return y;
}

Vec rmsnorm(const Vec &x, const std::vector<float> &w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double s = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  Vec o(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) o[i] = w[i] * x[i] * s;
  return o;
}

// q or k of one position after RoPE: pair (2j, 2j+1) of each head rotated by
// pos / theta^(2j / head_dim).
void rope(Vec &v, int pos, int head_dim, double theta) {
  for (std::size_t h = 0; h < v.size(); h += static_cast<std::size_t>(head_dim)) {
    for (int j = 0; j < head_dim / 2; ++j) {
      const double a = pos / std::pow(theta, 2.0 * j / head_dim);
      double &x0 = v[h + static_cast<std::size_t>(2 * j)];
      double &x1 = v[h + static_cast<std::size_t>(2 * j + 1)];
      const double r0 = x0 * std::cos(a) - x1 * std::sin(a),
                   r1 = x0 * std::sin(a) + x1 * std::cos(a);
      x0 = r0;
      x1 = r1;
    }
  }
}

// Logits of the last token of `tokens`, computing every position of every layer from scratch.
Vec reference_logits(const w::FloatModel &m, const std::vector<int> &tokens) {
  const auto &c = m.config;
  const int D = c.dim, hs = c.head_dim(), T = static_cast<int>(tokens.size());
  std::vector<Vec> x(static_cast<std::size_t>(T));
  for (int t = 0; t < T; ++t) {
    x[t].assign(m.token_embedding.begin() + static_cast<long>(tokens[t]) * D,
                m.token_embedding.begin() + static_cast<long>(tokens[t] + 1) * D);
  }
  for (const auto &L : m.layers) {
    std::vector<Vec> q(T), k(T), v(T);
    for (int t = 0; t < T; ++t) {
      const Vec xn = rmsnorm(x[t], L.rms_att, c.norm_eps);
      q[t] = matvec(L.wq, xn, D);
      k[t] = matvec(L.wk, xn, c.kv_dim());
      v[t] = matvec(L.wv, xn, c.kv_dim());
      rope(q[t], t, hs, c.rope_theta);
      rope(k[t], t, hs, c.rope_theta);
    }
    for (int t = 0; t < T; ++t) {
      Vec att(static_cast<std::size_t>(D), 0.0);
      for (int h = 0; h < c.n_heads; ++h) {
        Vec s(static_cast<std::size_t>(t + 1));
        for (int u = 0; u <= t; ++u) {
          double d = 0;
          for (int i = 0; i < hs; ++i) d += q[t][h * hs + i] * k[u][h * hs + i];
          s[u] = d / std::sqrt(static_cast<double>(hs));
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double sum = 0;
        for (double &e : s) sum += (e = std::exp(e - mx));
        for (int u = 0; u <= t; ++u) {
          for (int i = 0; i < hs; ++i) att[h * hs + i] += s[u] / sum * v[u][h * hs + i];
        }
      }
      const Vec o = matvec(L.wo, att, D);
      for (int i = 0; i < D; ++i) x[t][i] += o[i];
      const Vec xn = rmsnorm(x[t], L.rms_ffn, c.norm_eps);
      Vec g = matvec(L.w1, xn, c.hidden_dim);
      const Vec u3 = matvec(L.w3, xn, c.hidden_dim);
      for (std::size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u3[i];
      const Vec f = matvec(L.w2, g, D);
      for (int i = 0; i < D; ++i) x[t][i] += f[i];
    }
  }
  const Vec xn = rmsnorm(x[static_cast<std::size_t>(T - 1)], m.rms_final, c.norm_eps);
  return matvec(c.shared_classifier ? m.token_embedding : m.wcls, xn, c.vocab_size);
}

// A hand-sized model: dim 4, 1 layer, 2 heads of 2, FFN 6, vocab 5, with weights large enough
// that attention and the FFN matter.
w::FloatModel dim4_model(bool shared) {
  w::ModelConfig c;
  c.name = "dim4";
  c.dim = 4;
  c.hidden_dim = 6;
  c.n_layers = 1;
  c.n_heads = c.n_kv_heads = 2;
  c.vocab_size = 5;
  c.seq_len = 8;
  c.shared_classifier = shared;
  w::InitScales big;
  big.weight_std = 0.7;
  big.norm_jitter = 0.3;
  return w::synthetic_llama(c, 99, {}, big);
}

void expect_close(std::span<const float> got, const Vec &want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tol * (1.0 + std::fabs(want[i]))) << "index " << i;
  }
}

}  // namespace

TEST(GoldenLlama, Dim4MatchesNaiveReference) {
  for (bool shared : {true, false}) {
    const auto m = dim4_model(shared);
    FloatLlama g(m);
    const std::vector<int> tokens = {1, 4, 0, 3, 3, 2, 1, 4};  // the full context of 8
    for (std::size_t p = 0; p < tokens.size(); ++p) {
      const auto logits = g.forward(tokens[p], static_cast<int>(p));
      const std::vector<int> prefix(tokens.begin(), tokens.begin() + static_cast<long>(p) + 1);
      expect_close(logits, reference_logits(m, prefix), 1e-5);
    }
  }
}

TEST(GoldenLlama, TinyMatchesNaiveReference) {
  const auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 5);
  FloatLlama g(m);
  const std::vector<int> tokens = {1, 300, 7, 511, 42, 42};
  for (std::size_t p = 0; p < tokens.size(); ++p) {
    const auto logits = g.forward(tokens[p], static_cast<int>(p));
    if (p == 0 || p + 1 == tokens.size()) {
      const std::vector<int> prefix(tokens.begin(), tokens.begin() + static_cast<long>(p) + 1);
      expect_close(logits, reference_logits(m, prefix), 1e-4);
    }
  }
}

TEST(GoldenLlama, KvCacheMatchesRecomputation) {
  // The logits at position p with the cache filled step by step equal those of a fresh model
  // fed the same prefix (no state other than the cache carries over between positions).
  const auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 6);
  const std::vector<int> tokens = {3, 9, 27, 81, 243, 217, 139};
  FloatLlama run(m);
  for (std::size_t p = 0; p < tokens.size(); ++p) {
    const auto cached = run.forward(tokens[p], static_cast<int>(p));
    const std::vector<float> a(cached.begin(), cached.end());
    FloatLlama fresh(m);
    std::vector<float> b;
    for (std::size_t q = 0; q <= p; ++q) {
      const auto l = fresh.forward(tokens[q], static_cast<int>(q));
      b.assign(l.begin(), l.end());
    }
    EXPECT_EQ(a, b) << "position " << p;
  }
}

TEST(GoldenLlama, GreedyGenerationIsDeterministic) {
  const auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 7);
  const std::vector<int> prompt = {1, 17, 93};
  FloatLlama a(m), b(m);
  const auto ga = a.generate(prompt, 12);
  EXPECT_EQ(ga, b.generate(prompt, 12));
  ASSERT_EQ(ga.size(), 12u);
  // Each generated token is the arg-max of the reference logits of everything before it.
  std::vector<int> seq = prompt;
  for (int t : ga) {
    const Vec ref = reference_logits(m, seq);
    const auto best = static_cast<int>(std::max_element(ref.begin(), ref.end()) - ref.begin());
    EXPECT_EQ(t, best);
    seq.push_back(t);
  }
}

TEST(GoldenLlama, ObserverSeesEveryPointInOrder) {
  const auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 8);
  const auto &c = m.config;
  FloatLlama g(m);
  g.forward(5, 0);
  std::vector<std::string> seen;
  std::map<std::string, std::vector<float>> v0;  // layer 0 values
  g.forward(6, 1, [&](int layer, const char *point, std::span<const float> values) {
    seen.push_back(std::to_string(layer) + ":" + point);
    if (layer == 0) v0[point].assign(values.begin(), values.end());
  });
  std::vector<std::string> want = {"-1:embedding"};
  for (int l = 0; l < c.n_layers; ++l) {
    for (const char *p : {"x", "attn_norm", "q", "k", "v", "scores", "attn", "wo", "x_mid",
                          "ffn_norm", "h1", "h3", "silu", "gate", "w2"}) {
      want.push_back(std::to_string(l) + ":" + p);
    }
  }
  want.push_back("-1:final_norm");
  want.push_back("-1:logits");
  EXPECT_EQ(seen, want);
  // Shapes and the identities between points.
  EXPECT_EQ(v0["scores"].size(), static_cast<std::size_t>(c.n_heads * 2));  // positions 0, 1
  EXPECT_EQ(v0["h1"].size(), static_cast<std::size_t>(c.hidden_dim));
  for (int i = 0; i < c.dim; ++i) {
    EXPECT_FLOAT_EQ(v0["x_mid"][i], v0["x"][i] + v0["wo"][i]);
  }
  for (int i = 0; i < c.hidden_dim; ++i) {
    const float h = v0["h1"][i];
    EXPECT_NEAR(v0["silu"][i], h / (1.0f + std::exp(-h)), 1e-6f);
    EXPECT_FLOAT_EQ(v0["gate"][i], v0["silu"][i] * v0["h3"][i]);
  }
}

TEST(GoldenLlama, RejectsBadTokenPositionAndPrompt) {
  const auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 1);
  FloatLlama g(m);
  EXPECT_THROW(g.forward(-1, 0), std::out_of_range);
  EXPECT_THROW(g.forward(512, 0), std::out_of_range);
  EXPECT_THROW(g.forward(0, 128), std::out_of_range);
  EXPECT_THROW(g.generate({}, 3), std::invalid_argument);
  EXPECT_THROW(g.generate(std::vector<int>(100, 1), 30), std::invalid_argument);
  EXPECT_NO_THROW(g.generate(std::vector<int>(100, 1), 29));  // positions 0..127
}

TEST(GoldenLlama, RejectsWrongShapes) {
  auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 1);
  m.layers[0].w1.resize(10);
  EXPECT_THROW(FloatLlama g(m), std::invalid_argument);
}

TEST(GoldenLlama, Stories42MRuns) {
  // The full-size model: a few tokens, finite logits (about 1 s with generation).
  const auto m = w::synthetic_llama(w::config_by_name("tinyllama-42m"), 1);
  FloatLlama g(m);
  for (int p = 0; p < 3; ++p) {
    const auto logits = g.forward(100 + p, p);
    ASSERT_EQ(logits.size(), 32000u);
    EXPECT_TRUE(
        std::all_of(logits.begin(), logits.end(), [](float v) { return std::isfinite(v); }));
  }
}
