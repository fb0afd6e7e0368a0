// The fp32 golden forward (OpenBLAS), used for calibration and for measuring the accuracy of
// the int8 path. It never produces int8 results.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "weights/float_model.hpp"

namespace mcuemu::model {

using weights::FloatMobileBertModel;
using weights::FloatModel;

// Named activation points of one forward step, reported to an observer for calibration.
// layer is -1 for points outside the blocks ("embedding", "final_norm", "logits").
// Per block: "x" (residual stream entering the block), "attn_norm", "q", "k", "v" (q and k
// after RoPE), "scores" (q.k / sqrt(head_dim), only the valid positions), "attn" (softmax.v,
// all heads), "wo", "x_mid" (residual after attention), "ffn_norm", "h1" (w1 out), "h3"
// (w3 out), "silu" (silu(h1)), "gate" (silu * h3), "w2".
// Layouts: vectors of one token; "scores" is (n_heads, pos + 1) row-major.
using Observer = std::function<void(int layer, const char *point, std::span<const float> values)>;

// Autoregressive fp32 forward with a KV cache, one token at a time (llama2.c semantics):
// RMSNorm x * w / sqrt(mean(x^2) + eps); RoPE on pairs (2i, 2i+1) of each head with
// freq = 1 / theta^(2i / head_dim); softmax attention over positions 0..pos; SwiGLU FFN
// w2(silu(w1 x) * (w3 x)); final RMSNorm; classifier wcls (the embedding when shared).
class FloatLlama {
 public:
  // Keeps a reference to m, which must outlive this object. Checks the tensor shapes.
  explicit FloatLlama(const FloatModel &m);
  // Runs token `token` at position `pos` (0-based, pos < seq_len); returns the logits (vocab).
  // Positions must be run in order from 0 (the cache holds positions 0..pos-1). Throws
  // std::out_of_range for a bad token or position.
  std::span<const float> forward(int token, int pos, const Observer &observe = {});
  // Greedy decoding helper: prompt then n generated tokens; returns all generated ids.
  // The prompt is fed from position 0; each generated token is the arg-max of the logits
  // (the lowest index on ties). Needs prompt.size() + n_new - 1 <= seq_len.
  std::vector<int> generate(const std::vector<int> &prompt, int n_new);

 private:
  const FloatModel &m_;
  std::vector<float> x_, xb_, xb2_, hb_, hb2_, q_, att_, logits_;
  std::vector<float> key_cache_, value_cache_;  // (layer, seq_len, kv_dim)
};

// Named activation points of the MobileBERT encoder (whole sequence, rows = positions):
// layer -1: "emb_trigram" (seq, 3E) [emb(t+1), emb(t), emb(t-1)], "emb_proj" (seq, D) the
//   trigram projection with bias, "emb_sum" (+ position + token type), "embedding" (NoNorm).
// Per block: "x" (seq, D) block input; "bn_in_dense", "bn_in" (seq, B) input bottleneck before
//   and after its NoNorm; "bn_kq_dense", "bn_kq" the shared key-query bottleneck; "q", "k",
//   "v" (seq, B); "scores" (n_heads, seq, seq) q.k / sqrt(head_dim); "attn" (seq, B) softmax.v;
//   "wo" (seq, B) output projection with bias; "attn_sum" (wo + bn_in); "attn_out" (NoNorm);
//   for each FFN j = 0..n_ffn-1: "ffn<j>_up" (seq, H) w1 x + b1, "ffn<j>_relu",
//   "ffn<j>_down" (seq, B) w2 h + b2, "ffn<j>_sum" (+ FFN input), "ffn<j>_out" (NoNorm);
//   "bn_out_dense" (seq, D), "bn_out_sum" (+ block input x), "out" (NoNorm: the block output).
// D = dim, B = intra_bottleneck, E = embedding_size, H = hidden_dim.

// MobileBERT fp32 encoder forward (HF MobileBertModel semantics, bidirectional attention over
// the whole sequence, no padding mask).
class FloatMobileBert {
 public:
  // Keeps a reference to m, which must outlive this object. Checks the tensor shapes.
  explicit FloatMobileBert(const FloatMobileBertModel &m);
  // tokens: (seq) ids, 1 <= seq <= seq_len; token_types: (seq) in [0, type_vocab_size) or
  // empty for all zeros. Returns the final hidden states (seq, dim) row-major.
  std::vector<float> forward(std::span<const int> tokens, std::span<const int> token_types = {},
                             const Observer &observe = {}) const;

 private:
  const FloatMobileBertModel &m_;
};

}  // namespace mcuemu::model
