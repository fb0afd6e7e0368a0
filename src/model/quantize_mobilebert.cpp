// Post-training int8 quantization of the MobileBERT encoder (quantize.hpp).
//
// The int8 forward this quantizer makes constants for (runtime/mobilebert_chip.hpp), with the
// calibration point that sets each scale (golden.hpp names):
//   trigram of int8 word embeddings (table scale) -> proj (+ bias) -> requant   "emb_proj"
//   + position (table scale)                      -> add_rq                    proj + position
//   + token type (table scale)                    -> add_rq                    "emb_sum"
//   NoNorm                                        -> per-channel requant       "embedding"
// per block, x at the scale of the previous block's "out":
//   bn_in  = requant(Wbi x + b) with the NoNorm folded (gamma into mul, beta into add) "bn_in"
//   kq     = the same for the shared key-query bottleneck                            "bn_kq"
//   q, k   = requant(W kq + b), v = requant(Wv x + b)                         "q", "k", "v"
//   scores = rqs(q.k), 1/sqrt(head_dim) folded in; I-BERT softmax; rqs(p.v)  "scores", "attn"
//   wo     = requant(Wo a + b)                                                "wo"
//   h      = NoNorm(add_rq(wo, bn_in))                                        "attn_sum",
//   "attn_out" each FFN j: r = requant(W1 h + b1) clamped at 0 (the ReLU) "ffn<j>_relu"
//               d = requant(W2 r + b2)                                        "ffn<j>_down"
//               h = NoNorm(add_rq(d, h))                                      "ffn<j>_sum",
//               "ffn<j>_out"
//   o      = requant(Wbo h + b); x = NoNorm(add_rq(o, x))          "bn_out_dense", "bn_out_sum",
//   "out"
// Linear biases are int32 in accumulator units (round(b / (s_in s_w))), added to the int32 sum,
// so they survive a split of the sum over chips (only one chip adds them).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "model/golden.hpp"
#include "model/quant_util.hpp"
#include "model/quantize.hpp"

namespace mcuemu::model {
namespace {

using weights::FloatMobileBertModel;
using weights::QMobileBertFfn;
using weights::QMobileBertLayer;
using weights::QMobileBertModel;
using weights::QNoNorm;

// NoNorm of an int8 input at s_in into s_out: M_c = gamma_c s_in / s_out, A_c = beta_c / s_out.
QNoNorm quantize_nonorm(const std::vector<float> &gamma, const std::vector<float> &beta,
                        double s_in, double s_out, const std::string &what) {
  std::vector<double> M(gamma.size()), A(beta.size());
  for (size_t c = 0; c < gamma.size(); ++c) {
    M[c] = gamma[c] * s_in / s_out;
    A[c] = beta[c] / s_out;
  }
  const auto r = qutil::channel_requant(M, A, what);
  return {r.mul, r.add, r.shift};
}

}  // namespace

std::vector<int> calibration_tokens(int vocab_size, int n, uint64_t seed) {
  // The xorshift64* sequence of the Llama calibration (quantize.cpp).
  std::vector<int> ids;
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int i = 0; i < n; ++i) {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    ids.push_back(
        static_cast<int>((s * 2685821657736338717ull) % static_cast<uint64_t>(vocab_size)));
  }
  return ids;
}

CalibrationStats calibrate(const FloatMobileBertModel &m, const QuantizeOptions &opt) {
  const auto &c = m.config;
  if (opt.calib_tokens < 1 || opt.calib_tokens > c.seq_len)
    throw std::invalid_argument(
        fmt::format("--calib-tokens must be in 1..{} (the model's seq_len), got {}", c.seq_len,
                    opt.calib_tokens));
  CalibrationStats stats;
  auto record = [&](int layer, const std::string &point, float mx) {
    float &slot = stats.max_abs[qutil::key(layer, point)];
    slot = std::max(slot, mx);
  };
  auto observe = [&](int layer, const char *point, std::span<const float> v) {
    float mx = 0;
    for (float a : v) mx = std::max(mx, std::abs(a));
    record(layer, point, mx);
    if (layer < 0 && std::string(point) == "emb_proj") {
      // The int8 path adds the position embedding and the token type in two steps: the scale
      // of the intermediate sum (projection + position) is calibrated here.
      float mp = 0;
      for (size_t i = 0; i < v.size(); ++i)
        mp = std::max(mp, std::abs(v[i] + m.position_embedding[i]));
      record(-1, "emb_proj_pos", mp);
    }
  };
  FloatMobileBert fp(m);
  const auto tokens = calibration_tokens(c.vocab_size, opt.calib_tokens, opt.calib_seed);
  fp.forward(tokens, {}, observe);
  return stats;
}

QMobileBertModel quantize(const FloatMobileBertModel &m, const CalibrationStats &st,
                          const QuantizeOptions &) {
  using qutil::act_scale;
  using qutil::add_rq;
  using qutil::quantize_linear;
  const auto &c = m.config;
  const int D = c.dim, B = c.intra_bottleneck, E = c.embedding_size, H = c.hidden_dim;
  const int hd = c.head_dim();
  QMobileBertModel q;
  q.config = c;

  // Embeddings: one scale per table; the trigram input has the word table's scale (zeros past
  // the ends are exact).
  const double s_we = qutil::quantize_table(m.word_embedding, q.word_embedding);
  const double s_pos = qutil::quantize_table(m.position_embedding, q.position_embedding);
  const double s_type = qutil::quantize_table(m.token_type_embedding, q.token_type_embedding);
  const double s_proj = act_scale(st.get(-1, "emb_proj"));
  const double s_pp = act_scale(st.get(-1, "emb_proj_pos"));
  const double s_sum = act_scale(st.get(-1, "emb_sum"));
  double s_x = act_scale(st.get(-1, "embedding"));
  q.emb_proj = quantize_linear(m.emb_w, D, 3 * E, s_we, s_proj, {&m.emb_b, nullptr, nullptr},
                               "embedding projection");
  q.emb_pos = add_rq(s_proj, s_pos, s_pp);
  q.emb_type = add_rq(s_pp, s_type, s_sum);
  q.emb_norm = quantize_nonorm(m.emb_gamma, m.emb_beta, s_sum, s_x, "embedding NoNorm");

  for (int l = 0; l < c.n_layers; ++l) {
    const auto &fl = m.layers[l];
    QMobileBertLayer ql;
    const std::string who = fmt::format("layer {} ", l);
    const double s_bnin = act_scale(st.get(l, "bn_in")), s_kq = act_scale(st.get(l, "bn_kq"));
    const double s_q = act_scale(st.get(l, "q")), s_k = act_scale(st.get(l, "k"));
    const double s_v = act_scale(st.get(l, "v"));
    // The I-BERT polynomial needs ln2 >= 8 steps: cap the score scale at ln2/8, as for Llama.
    // Floor it at ln2/64 (Deeploy's microLlama softmax uses log2 = 64): tiny scores (untrained
    // weights) would otherwise make C = 0.344 / (0.3585 s^2) overflow int32; below 127 ln2/64 =
    // 1.38 the softmax is that close to uniform that the coarser step costs nothing.
    const double s_s =
        std::clamp(act_scale(st.get(l, "scores")), std::log(2.0) / 64, std::log(2.0) / 8);
    const double s_att = act_scale(st.get(l, "attn"));
    const double s_wo = act_scale(st.get(l, "wo"));
    const double s_asum = act_scale(st.get(l, "attn_sum"));
    double s_h = act_scale(st.get(l, "attn_out"));

    ql.bn_in = quantize_linear(fl.bn_in_w, B, D, s_x, s_bnin,
                               {&fl.bn_in_b, &fl.bn_in_gamma, &fl.bn_in_beta}, who + "bn_in");
    ql.bn_kq = quantize_linear(fl.bn_kq_w, B, D, s_x, s_kq,
                               {&fl.bn_kq_b, &fl.bn_kq_gamma, &fl.bn_kq_beta}, who + "bn_kq");
    ql.wq = quantize_linear(fl.wq, B, B, s_kq, s_q, {&fl.bq, nullptr, nullptr}, who + "wq");
    ql.wk = quantize_linear(fl.wk, B, B, s_kq, s_k, {&fl.bk, nullptr, nullptr}, who + "wk");
    ql.wv = quantize_linear(fl.wv, B, D, s_x, s_v, {&fl.bv, nullptr, nullptr}, who + "wv");
    ql.scores = qutil::per_tensor_rqs(s_q * s_k / (std::sqrt(static_cast<double>(hd)) * s_s));
    ql.softmax = qutil::ibert_softmax(s_s);
    // probs are (p + 128) / 255 in real units, so probs.v (a_off = 128) is at s_v / 255.
    ql.attn = qutil::per_tensor_rqs(s_v / (255.0 * s_att));
    ql.wo = quantize_linear(fl.wo, B, B, s_att, s_wo, {&fl.bo, nullptr, nullptr}, who + "wo");
    ql.attn_resid = add_rq(s_wo, s_bnin, s_asum);
    ql.attn_norm =
        quantize_nonorm(fl.attn_gamma, fl.attn_beta, s_asum, s_h, who + "attention NoNorm");

    for (int j = 0; j < c.n_ffn; ++j) {
      const auto &F = fl.ffn[j];
      const std::string p = fmt::format("ffn{}_", j);
      const double s_relu = act_scale(st.get(l, p + "relu"));
      const double s_down = act_scale(st.get(l, p + "down"));
      const double s_fsum = act_scale(st.get(l, p + "sum"));
      const double s_fout = act_scale(st.get(l, p + "out"));
      QMobileBertFfn qf;
      qf.w1 = quantize_linear(F.w1, H, B, s_h, s_relu, {&F.b1, nullptr, nullptr}, who + p + "w1");
      qf.w2 =
          quantize_linear(F.w2, B, H, s_relu, s_down, {&F.b2, nullptr, nullptr}, who + p + "w2");
      qf.resid = add_rq(s_down, s_h, s_fsum);
      qf.norm = quantize_nonorm(F.gamma, F.beta, s_fsum, s_fout, who + p + "NoNorm");
      ql.ffn.push_back(std::move(qf));
      s_h = s_fout;
    }

    const double s_bod = act_scale(st.get(l, "bn_out_dense"));
    const double s_osum = act_scale(st.get(l, "bn_out_sum"));
    const double s_out = act_scale(st.get(l, "out"));
    ql.bn_out = quantize_linear(fl.bn_out_w, D, B, s_h, s_bod, {&fl.bn_out_b, nullptr, nullptr},
                                who + "bn_out");
    ql.out_resid = add_rq(s_bod, s_x, s_osum);
    ql.out_norm =
        quantize_nonorm(fl.bn_out_gamma, fl.bn_out_beta, s_osum, s_out, who + "output NoNorm");
    q.layers.push_back(std::move(ql));
    s_x = s_out;
  }
  q.output_scale = static_cast<float>(s_x);
  return q;
}

}  // namespace mcuemu::model
