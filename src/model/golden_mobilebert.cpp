// fp32 golden forward of the MobileBERT encoder (HF MobileBertModel semantics, OpenBLAS GEMMs).
//
// Per block, with x the block input (seq, D) and NoNorm(v) = v * gamma + beta:
//   bn_in  = NoNorm(x Wbi^T + bbi)                 (seq, B)  residual of the attention
//   kq     = NoNorm(x Wkq^T + bkq)                 (seq, B)  shared key-query bottleneck
//   q = kq Wq^T + bq,  k = kq Wk^T + bk,  v = x Wv^T + bv
//   a      = softmax(q_h k_h^T / sqrt(head_dim)) v_h per head, bidirectional
//   h      = NoNorm(a Wo^T + bo + bn_in)
//   n_ffn times: h = NoNorm(relu(h W1^T + b1) W2^T + b2 + h)
//   out    = NoNorm(h Wbo^T + bbo + x)             (seq, D)
#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "model/golden.hpp"

namespace mcuemu::model {

namespace {

using std::size_t;

size_t z(int v) {
  return static_cast<size_t>(v);
}

// Y (n, out) = X (n, in) W^T + b, W (out, in) row-major.
void linear(std::vector<float> &Y, const std::vector<float> &X, const std::vector<float> &W,
            const std::vector<float> &b, int n, int in, int out) {
  Y.resize(z(n) * z(out));
  for (int r = 0; r < n; ++r)
    std::copy(b.begin(), b.end(), Y.begin() + static_cast<long>(z(r) * z(out)));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, X.data(), in, W.data(), in,
              1.0f, Y.data(), out);
}

// v = v * gamma + beta, per column.
void nonorm(std::vector<float> &v, const std::vector<float> &gamma,
            const std::vector<float> &beta) {
  const size_t w = gamma.size();
  for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] * gamma[i % w] + beta[i % w];
}

void add(std::vector<float> &a, const std::vector<float> &b) {
  for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
}

}  // namespace

FloatMobileBert::FloatMobileBert(const FloatMobileBertModel &m) : m_(m) {
  if (m.config.arch != weights::Arch::MobileBert) {
    throw std::invalid_argument("FloatMobileBert: not a mobilebert model");
  }
  weights::validate(m.config);
  weights::check_shapes(m);
}

std::vector<float> FloatMobileBert::forward(std::span<const int> tokens,
                                            std::span<const int> token_types,
                                            const Observer &observe) const {
  const auto &c = m_.config;
  const int n = static_cast<int>(tokens.size());
  if (n < 1 || n > c.seq_len) {
    throw std::out_of_range(fmt::format("sequence of {} tokens outside [1, {}]", n, c.seq_len));
  }
  if (!token_types.empty() && token_types.size() != tokens.size()) {
    throw std::invalid_argument(fmt::format("{} token types for {} tokens", token_types.size(), n));
  }
  for (int t = 0; t < n; ++t) {
    if (tokens[z(t)] < 0 || tokens[z(t)] >= c.vocab_size) {
      throw std::out_of_range(
          fmt::format("token {} at {} outside [0, {})", tokens[z(t)], t, c.vocab_size));
    }
    if (!token_types.empty() && (token_types[z(t)] < 0 || token_types[z(t)] >= c.type_vocab_size)) {
      throw std::out_of_range(fmt::format("token type {} at {} outside [0, {})", token_types[z(t)],
                                          t, c.type_vocab_size));
    }
  }
  const int D = c.dim, B = c.intra_bottleneck, E = c.embedding_size, H = c.hidden_dim;
  const int hs = c.head_dim();
  auto see = [&](int layer, const char *point, const std::vector<float> &v) {
    if (observe) observe(layer, point, std::span<const float>(v));
  };

  // Embeddings: trigram [emb(t+1), emb(t), emb(t-1)] (zeros past the ends), projection,
  // + position + token type, NoNorm.
  std::vector<float> tri(z(n) * z(3 * E), 0.0f);
  for (int t = 0; t < n; ++t) {
    float *row = tri.data() + z(t) * z(3 * E);
    auto emb = [&](int tok) { return m_.word_embedding.data() + z(tok) * z(E); };
    if (t + 1 < n) std::copy_n(emb(tokens[z(t + 1)]), E, row);
    std::copy_n(emb(tokens[z(t)]), E, row + E);
    if (t > 0) std::copy_n(emb(tokens[z(t - 1)]), E, row + 2 * E);
  }
  see(-1, "emb_trigram", tri);
  std::vector<float> x;
  linear(x, tri, m_.emb_w, m_.emb_b, n, 3 * E, D);
  see(-1, "emb_proj", x);
  for (int t = 0; t < n; ++t) {
    const int type = token_types.empty() ? 0 : token_types[z(t)];
    for (int i = 0; i < D; ++i) {
      x[z(t) * z(D) + z(i)] += m_.position_embedding[z(t) * z(D) + z(i)] +
                               m_.token_type_embedding[z(type) * z(D) + z(i)];
    }
  }
  see(-1, "emb_sum", x);
  nonorm(x, m_.emb_gamma, m_.emb_beta);
  see(-1, "embedding", x);

  std::vector<float> bn_in, kq, q, k, v, scores(z(c.n_heads) * z(n) * z(n)), ctx(z(n) * z(B));
  std::vector<float> h, up, down, tmp;
  const float inv_sqrt = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int l = 0; l < c.n_layers; ++l) {
    const auto &L = m_.layers[z(l)];
    see(l, "x", x);
    linear(bn_in, x, L.bn_in_w, L.bn_in_b, n, D, B);
    see(l, "bn_in_dense", bn_in);
    nonorm(bn_in, L.bn_in_gamma, L.bn_in_beta);
    see(l, "bn_in", bn_in);
    linear(kq, x, L.bn_kq_w, L.bn_kq_b, n, D, B);
    see(l, "bn_kq_dense", kq);
    nonorm(kq, L.bn_kq_gamma, L.bn_kq_beta);
    see(l, "bn_kq", kq);
    linear(q, kq, L.wq, L.bq, n, B, B);
    linear(k, kq, L.wk, L.bk, n, B, B);
    linear(v, x, L.wv, L.bv, n, D, B);
    see(l, "q", q);
    see(l, "k", k);
    see(l, "v", v);

    for (int hh = 0; hh < c.n_heads; ++hh) {
      // S_h (n, n) = Q_h (n, hs; stride B) K_h^T / sqrt(hs)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hs, inv_sqrt,
                  q.data() + z(hh) * z(hs), B, k.data() + z(hh) * z(hs), B, 0.0f,
                  scores.data() + z(hh) * z(n) * z(n), n);
    }
    see(l, "scores", scores);
    for (int hh = 0; hh < c.n_heads; ++hh) {
      float *S = scores.data() + z(hh) * z(n) * z(n);
      for (int r = 0; r < n; ++r) {
        float *row = S + z(r) * z(n);
        const float mx = *std::max_element(row, row + n);
        float sum = 0;
        for (int j = 0; j < n; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        for (int j = 0; j < n; ++j) row[j] /= sum;
      }
      // ctx_h (n, hs; stride B) = P_h (n, n) V_h (n, hs; stride B)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hs, n, 1.0f, S, n,
                  v.data() + z(hh) * z(hs), B, 0.0f, ctx.data() + z(hh) * z(hs), B);
    }
    see(l, "attn", ctx);
    linear(h, ctx, L.wo, L.bo, n, B, B);
    see(l, "wo", h);
    add(h, bn_in);
    see(l, "attn_sum", h);
    nonorm(h, L.attn_gamma, L.attn_beta);
    see(l, "attn_out", h);

    for (int j = 0; j < c.n_ffn; ++j) {
      const auto &F = L.ffn[z(j)];
      const std::string p = fmt::format("ffn{}_", j);
      linear(up, h, F.w1, F.b1, n, B, H);
      see(l, (p + "up").c_str(), up);
      for (auto &u : up) u = std::max(u, 0.0f);
      see(l, (p + "relu").c_str(), up);
      linear(down, up, F.w2, F.b2, n, H, B);
      see(l, (p + "down").c_str(), down);
      add(down, h);
      see(l, (p + "sum").c_str(), down);
      nonorm(down, F.gamma, F.beta);
      see(l, (p + "out").c_str(), down);
      h.swap(down);
    }

    linear(tmp, h, L.bn_out_w, L.bn_out_b, n, B, D);
    see(l, "bn_out_dense", tmp);
    add(tmp, x);
    see(l, "bn_out_sum", tmp);
    nonorm(tmp, L.bn_out_gamma, L.bn_out_beta);
    see(l, "out", tmp);
    x.swap(tmp);
  }
  return x;
}

}  // namespace mcuemu::model
