// fp32 golden forward of the Llama models (llama2.c run.c semantics, OpenBLAS GEMVs).
#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "model/golden.hpp"

namespace mcuemu::model {

namespace {

using std::size_t;

size_t z(int v) {
  return static_cast<size_t>(v);
}

// y (out) = W (out, in) x (in)
void matvec(float *y, const std::vector<float> &W, const float *x, int out, int in) {
  cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, W.data(), in, x, 1, 0.0f, y, 1);
}

// o = w * x / sqrt(mean(x^2) + eps); the sum of squares in double.
void rmsnorm(float *o, const float *x, const std::vector<float> &w, int n, float eps) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int i = 0; i < n; ++i) o[i] = w[z(i)] * (scale * x[i]);
}

void softmax(float *x, int n) {
  const float mx = *std::max_element(x, x + n);
  float sum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  for (int i = 0; i < n; ++i) x[i] /= sum;
}

}  // namespace

FloatLlama::FloatLlama(const FloatModel &m) : m_(m) {
  const auto &c = m.config;
  if (c.arch != weights::Arch::Llama) throw std::invalid_argument("FloatLlama: not a llama model");
  weights::validate(c);
  weights::check_shapes(m);
  x_.resize(z(c.dim));
  xb_.resize(z(c.dim));
  xb2_.resize(z(c.dim));
  hb_.resize(z(c.hidden_dim));
  hb2_.resize(z(c.hidden_dim));
  q_.resize(z(c.dim));
  att_.resize(z(c.n_heads) * z(c.seq_len));
  logits_.resize(z(c.vocab_size));
  const size_t cache = z(c.n_layers) * z(c.seq_len) * z(c.kv_dim());
  key_cache_.assign(cache, 0.0f);
  value_cache_.assign(cache, 0.0f);
}

std::span<const float> FloatLlama::forward(int token, int pos, const Observer &observe) {
  const auto &c = m_.config;
  if (token < 0 || token >= c.vocab_size) {
    throw std::out_of_range(fmt::format("token {} outside [0, {})", token, c.vocab_size));
  }
  if (pos < 0 || pos >= c.seq_len) {
    throw std::out_of_range(fmt::format("position {} outside [0, {})", pos, c.seq_len));
  }
  const int dim = c.dim, kv_dim = c.kv_dim(), hidden = c.hidden_dim, hs = c.head_dim();
  const int n_pos = pos + 1;
  auto see = [&](int layer, const char *point, const float *v, size_t n) {
    if (observe) observe(layer, point, std::span<const float>(v, n));
  };
  float *x = x_.data();

  std::copy_n(m_.token_embedding.data() + z(token) * z(dim), dim, x);
  see(-1, "embedding", x, z(dim));

  for (int l = 0; l < c.n_layers; ++l) {
    const auto &L = m_.layers[z(l)];
    see(l, "x", x, z(dim));

    // Attention: pre-norm, q k v, RoPE, causal softmax over 0..pos, output projection.
    rmsnorm(xb_.data(), x, L.rms_att, dim, c.norm_eps);
    see(l, "attn_norm", xb_.data(), z(dim));
    const size_t layer_off = z(l) * z(c.seq_len) * z(kv_dim);
    float *k = key_cache_.data() + layer_off + z(pos) * z(kv_dim);
    float *v = value_cache_.data() + layer_off + z(pos) * z(kv_dim);
    matvec(q_.data(), L.wq, xb_.data(), dim, dim);
    matvec(k, L.wk, xb_.data(), kv_dim, dim);
    matvec(v, L.wv, xb_.data(), kv_dim, dim);
    // RoPE as llama2.c: element pair (i, i+1), i even, of each head rotates by pos * freq with
    // freq = 1 / theta^((i mod head_dim) / head_dim).
    for (int i = 0; i < dim; i += 2) {
      const int hd = i % hs;
      const float freq =
          1.0f / std::pow(c.rope_theta, static_cast<float>(hd) / static_cast<float>(hs));
      const float val = static_cast<float>(pos) * freq;
      const float fcr = std::cos(val), fci = std::sin(val);
      const int n_rot = i < kv_dim ? 2 : 1;  // q always, k while i < kv_dim
      for (int r = 0; r < n_rot; ++r) {
        float *vec = r == 0 ? q_.data() : k;
        const float v0 = vec[i], v1 = vec[i + 1];
        vec[i] = v0 * fcr - v1 * fci;
        vec[i + 1] = v0 * fci + v1 * fcr;
      }
    }
    see(l, "q", q_.data(), z(dim));
    see(l, "k", k, z(kv_dim));
    see(l, "v", v, z(kv_dim));

    const float inv_sqrt = 1.0f / std::sqrt(static_cast<float>(hs));
    for (int h = 0; h < c.n_heads; ++h) {
      // scores (n_pos) = K[0..pos, head h] (n_pos, hs; row stride kv_dim) . q_h / sqrt(hs)
      const float *kh = key_cache_.data() + layer_off + z(h) * z(hs);
      cblas_sgemv(CblasRowMajor, CblasNoTrans, n_pos, hs, inv_sqrt, kh, kv_dim,
                  q_.data() + z(h) * z(hs), 1, 0.0f, att_.data() + z(h) * z(n_pos), 1);
    }
    see(l, "scores", att_.data(), z(c.n_heads) * z(n_pos));
    for (int h = 0; h < c.n_heads; ++h) {
      float *a = att_.data() + z(h) * z(n_pos);
      softmax(a, n_pos);
      // out_h (hs) = V[0..pos, head h]^T (hs, n_pos) . a
      const float *vh = value_cache_.data() + layer_off + z(h) * z(hs);
      cblas_sgemv(CblasRowMajor, CblasTrans, n_pos, hs, 1.0f, vh, kv_dim, a, 1, 0.0f,
                  xb_.data() + z(h) * z(hs), 1);
    }
    see(l, "attn", xb_.data(), z(dim));
    matvec(xb2_.data(), L.wo, xb_.data(), dim, dim);
    see(l, "wo", xb2_.data(), z(dim));
    for (int i = 0; i < dim; ++i) x[i] += xb2_[z(i)];
    see(l, "x_mid", x, z(dim));

    // FFN: pre-norm, SwiGLU.
    rmsnorm(xb_.data(), x, L.rms_ffn, dim, c.norm_eps);
    see(l, "ffn_norm", xb_.data(), z(dim));
    matvec(hb_.data(), L.w1, xb_.data(), hidden, dim);
    matvec(hb2_.data(), L.w3, xb_.data(), hidden, dim);
    see(l, "h1", hb_.data(), z(hidden));
    see(l, "h3", hb2_.data(), z(hidden));
    for (int i = 0; i < hidden; ++i) hb_[z(i)] = hb_[z(i)] / (1.0f + std::exp(-hb_[z(i)]));
    see(l, "silu", hb_.data(), z(hidden));
    for (int i = 0; i < hidden; ++i) hb_[z(i)] *= hb2_[z(i)];
    see(l, "gate", hb_.data(), z(hidden));
    matvec(xb_.data(), L.w2, hb_.data(), dim, hidden);
    see(l, "w2", xb_.data(), z(dim));
    for (int i = 0; i < dim; ++i) x[i] += xb_[z(i)];
  }

  rmsnorm(x, x, m_.rms_final, dim, c.norm_eps);
  see(-1, "final_norm", x, z(dim));
  const auto &wcls = c.shared_classifier ? m_.token_embedding : m_.wcls;
  matvec(logits_.data(), wcls, x, c.vocab_size, dim);
  see(-1, "logits", logits_.data(), logits_.size());
  return logits_;
}

std::vector<int> FloatLlama::generate(const std::vector<int> &prompt, int n_new) {
  const auto &c = m_.config;
  if (prompt.empty()) throw std::invalid_argument("generate: empty prompt");
  if (n_new < 0) throw std::invalid_argument("generate: n_new < 0");
  if (prompt.size() + static_cast<size_t>(n_new) > z(c.seq_len) + 1) {
    throw std::invalid_argument(fmt::format("generate: {} prompt + {} new tokens exceed seq_len {}",
                                            prompt.size(), n_new, c.seq_len));
  }
  std::vector<int> out;
  if (n_new == 0) return out;
  int token = prompt[0];
  for (int pos = 0;; ++pos) {
    const auto logits = forward(token, pos);
    if (z(pos) + 1 < prompt.size()) {
      token = prompt[z(pos) + 1];
      continue;
    }
    token = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(token);
    if (out.size() == z(n_new)) break;
  }
  return out;
}

}  // namespace mcuemu::model
