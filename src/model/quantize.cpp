#include "model/quantize.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "model/golden.hpp"
#include "model/quant_util.hpp"

namespace mcuemu::model {
namespace {

using weights::FloatModel;
using weights::QLinear;
using weights::QLlamaLayer;
using weights::QLlamaModel;
using weights::QRmsNorm;

using qutil::act_scale;
using qutil::add_rq;
using qutil::checked_i32;
using qutil::key;
using qutil::per_tensor_rqs;
using qutil::round_half_up_shift;

QLinear quantize_linear(const std::vector<float> &w, int out, int in, double s_in, double s_out) {
  return qutil::quantize_linear(w, out, in, s_in, s_out);
}

// y = tdiv(v * w, r) >> log2D with r ~ rms(v) * 2^k, so w = gamma / s_out * 2^(log2D + k).
QRmsNorm quantize_rmsnorm(const std::vector<float> &gamma, double s_out, int k) {
  QRmsNorm n;
  n.k = k;
  float gmax = 0;
  for (float g : gamma) gmax = std::max(gmax, std::abs(g));
  const double wmax = gmax / s_out;
  int log2D = 16;  // Deeploy's D = 2^16, lowered if gamma / s_out is too large for int32
  while (log2D > 0 && wmax * std::ldexp(1.0, log2D + k) > 2.0e9) --log2D;
  n.log2D = log2D;
  n.w.resize(gamma.size());
  for (size_t j = 0; j < gamma.size(); ++j)
    n.w[j] = checked_i32(gamma[j] / s_out * std::ldexp(1.0, log2D + k), "rmsnorm weight");
  return n;
}

}  // namespace

FixedPoint fixed_point(double M) {
  const int32_t shift = shared_shift({M});
  return {checked_i32(M * std::ldexp(1.0, shift), "fixed-point mul"), shift};
}

int32_t shared_shift(const std::vector<double> &Ms) {
  double m = 0;
  for (double v : Ms) {
    if (!(v > 0) || !std::isfinite(v))
      throw std::runtime_error(
          fmt::format("quantize: multiplier {} is not positive and finite", v));
    m = std::max(m, v);
  }
  // mul = M * 2^shift in [2^30, 2^31) for the largest M; shift limited to 0..31.
  int shift = 30 - static_cast<int>(std::floor(std::log2(m)));
  if (m * std::ldexp(1.0, shift) >= 2147483647.0) --shift;
  if (shift < 0) throw std::runtime_error(fmt::format("quantize: multiplier {} too large", m));
  return std::min(shift, 31);
}

float CalibrationStats::get(int layer, const std::string &point) const {
  auto it = max_abs.find(key(layer, point));
  if (it == max_abs.end())
    throw std::runtime_error("calibration has no statistics for " + key(layer, point));
  return it->second;
}

CalibrationStats calibrate(const FloatModel &m, const QuantizeOptions &opt) {
  const auto &c = m.config;
  if (opt.calib_tokens < 1 || opt.calib_tokens > c.seq_len)
    throw std::invalid_argument(
        fmt::format("--calib-tokens must be in 1..{} (the model's seq_len), got {}", c.seq_len,
                    opt.calib_tokens));
  CalibrationStats stats;
  std::vector<std::vector<float>> x_mid(c.n_layers);
  auto observe = [&](int layer, const char *point, std::span<const float> v) {
    float mx = 0;
    for (float a : v) mx = std::max(mx, std::abs(a));
    float &slot = stats.max_abs[key(layer, point)];
    slot = std::max(slot, mx);
    const std::string p = point;
    if (p == "x_mid") x_mid[layer].assign(v.begin(), v.end());
    if (p == "w2") {  // the residual leaving the block: x_mid + w2
      float mo = 0;
      for (size_t i = 0; i < v.size(); ++i) mo = std::max(mo, std::abs(x_mid[layer][i] + v[i]));
      float &out = stats.max_abs[key(layer, "x_out")];
      out = std::max(out, mo);
    }
  };
  FloatLlama fp(m);
  uint64_t s = opt.calib_seed * 0x9E3779B97F4A7C15ull + 1;
  for (int pos = 0; pos < opt.calib_tokens; ++pos) {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;  // xorshift64*: calibration token ids
    const int token = static_cast<int>((s * 2685821657736338717ull) % c.vocab_size);
    fp.forward(token, pos, observe);
  }
  return stats;
}

QLlamaModel quantize(const FloatModel &m, const CalibrationStats &st, const QuantizeOptions &opt) {
  const auto &c = m.config;
  const int D = c.dim, F = c.hidden_dim, hd = c.head_dim();
  QLlamaModel q;
  q.config = c;

  // Embedding / LM head: one scale for the whole table; the residual stream starts at it.
  float emax = 0;
  for (float v : m.token_embedding) emax = std::max(emax, std::abs(v));
  const double s_emb = emax > 0 ? emax / 127.0 : 1.0;
  q.token_embedding.resize(m.token_embedding.size());
  for (size_t i = 0; i < m.token_embedding.size(); ++i)
    q.token_embedding[i] =
        static_cast<int8_t>(std::clamp(std::lround(m.token_embedding[i] / s_emb), -127L, 127L));

  double s_x = s_emb;
  for (int l = 0; l < c.n_layers; ++l) {
    const auto &fl = m.layers[l];
    QLlamaLayer ql;
    const double s_an = act_scale(st.get(l, "attn_norm"));
    const double s_q = act_scale(st.get(l, "q")), s_k = act_scale(st.get(l, "k"));
    const double s_v = act_scale(st.get(l, "v"));
    // Scores feed the I-BERT softmax, whose ln2 constant must stay >= 8 steps for its
    // polynomial to be accurate: cap the scale at ln2/8 (scores clamp beyond +-11).
    const double s_s = std::min(act_scale(st.get(l, "scores")), std::log(2.0) / 8);
    const double s_att = act_scale(st.get(l, "attn"));
    const double s_d1 = act_scale(st.get(l, "wo"));
    const double s_xm = act_scale(st.get(l, "x_mid"));
    const double s_fn = act_scale(st.get(l, "ffn_norm"));
    const double s_h1 = act_scale(st.get(l, "h1")), s_h3 = act_scale(st.get(l, "h3"));
    const double s_silu = act_scale(st.get(l, "silu")), s_g = act_scale(st.get(l, "gate"));
    const double s_d2 = act_scale(st.get(l, "w2"));
    const double s_out = act_scale(st.get(l, "x_out"));

    ql.attn_norm = quantize_rmsnorm(fl.rms_att, s_an, opt.rmsnorm_k);
    ql.wq = quantize_linear(fl.wq, D, D, s_an, s_q);
    ql.wk = quantize_linear(fl.wk, D, D, s_an, s_k);
    ql.wv = quantize_linear(fl.wv, D, D, s_an, s_v);
    // q.k in int32 is at s_q * s_k; the real score is that / sqrt(head_dim).
    ql.scores = per_tensor_rqs(s_q * s_k / (std::sqrt(static_cast<double>(hd)) * s_s));
    // I-BERT: exp(p) ~ 0.3585 (p + 1.353)^2 + 0.344 with p = d * s_s (Kim et al. 2021).
    ql.softmax = {1, checked_i32(std::floor(1.353 / s_s), "softmax B"),
                  checked_i32(std::floor(0.344 / (0.3585 * s_s * s_s)), "softmax C"),
                  checked_i32(std::floor(std::log(2.0) / s_s), "softmax log2")};
    // probs are (p + 128) / 255 in real units, so probs.v (a_off = 128) is at s_v / 255.
    ql.attn = per_tensor_rqs(s_v / (255.0 * s_att));
    ql.wo = quantize_linear(fl.wo, D, D, s_att, s_d1);
    ql.resid_attn = add_rq(s_x, s_d1, s_xm);
    ql.ffn_norm = quantize_rmsnorm(fl.rms_ffn, s_fn, opt.rmsnorm_k);
    ql.w1 = quantize_linear(fl.w1, F, D, s_fn, s_h1);
    ql.w3 = quantize_linear(fl.w3, F, D, s_fn, s_h3);
    // hswish(v) = v * clamp(v + 3, 0, 6) / 6: the int32 v*t is at s_h1^2 before the / 6.
    const int32_t three = std::max(1, checked_i32(3.0 / s_h1, "hswish three"));
    ql.hswish = {0, three, 2 * three};
    ql.silu = per_tensor_rqs(s_h1 * s_h1 / (6.0 * s_silu));
    {
      const FixedPoint f = fixed_point(s_silu * s_h3 / s_g);
      ql.gate = {0, 0, f.mul, round_half_up_shift(f.shift), f.shift, 0, -128, 127};
    }
    ql.w2 = quantize_linear(fl.w2, D, F, s_g, s_d2);
    ql.resid_ffn = add_rq(s_xm, s_d2, s_out);
    q.layers.push_back(std::move(ql));
    s_x = s_out;
  }
  const double s_ff = act_scale(st.get(-1, "final_norm"));
  q.final_norm = quantize_rmsnorm(m.rms_final, s_ff, opt.rmsnorm_k);
  q.logit_scale = static_cast<float>(s_emb * s_ff);

  // RoPE: Q`frac` tables made here, offline; the rotation keeps the input scale, so the
  // requant is a rounding shift by `frac`.
  q.rope_frac = opt.rope_frac;
  q.rope = {0, 1, round_half_up_shift(opt.rope_frac), opt.rope_frac, 0, -128, 127};
  const int half = hd / 2;
  q.rope_cos.resize(static_cast<size_t>(c.seq_len) * half);
  q.rope_sin.resize(static_cast<size_t>(c.seq_len) * half);
  const double one = std::ldexp(1.0, opt.rope_frac);
  for (int pos = 0; pos < c.seq_len; ++pos)
    for (int i = 0; i < half; ++i) {
      const double freq = 1.0 / std::pow(static_cast<double>(c.rope_theta), 2.0 * i / hd);
      const double a = pos * freq;
      q.rope_cos[static_cast<size_t>(pos) * half + i] =
          static_cast<int16_t>(std::lround(std::cos(a) * one));
      q.rope_sin[static_cast<size_t>(pos) * half + i] =
          static_cast<int16_t>(std::lround(std::sin(a) * one));
    }
  return q;
}

}  // namespace mcuemu::model
