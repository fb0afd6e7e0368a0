// The int8 model in memory: int8 weights plus every integer constant of the int8 forward.
//
// Made offline by the quantizer (src/model/quantize.hpp) from an fp32 model and calibration
// runs; stored in the int8 model file (weights/FORMAT.md, kind = "int8"); read by the runtime,
// which never sees a float. All matrices are (out, in) row-major like the fp32 model.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "mcu_kernels.h"
#include "weights/config.hpp"

namespace mcuemu::weights {

// A linear layer: int8 weights (symmetric, per-output-channel scale) and the per-channel
// RequantShift that maps its int32 outputs to the int8 scale of the next activation.
struct QLinear {
  int out = 0, in = 0;
  std::vector<int8_t> w;  // (out, in); empty when placed
  // Read into memory the reader was given (WeightPlacer, qmodel_io.hpp): the (out, in) weights
  // at its start, room after them; whoever gave it keeps it (QLlamaModel::placed_storage).
  std::span<int8_t> placed;
  std::vector<int32_t> rq_mul;  // (out)
  std::vector<int32_t> rq_add;  // (out), rounding folded in
  int32_t rq_shift = 0;
  // MobileBERT only (Llama has no biases; empty = none): the bias in accumulator units, added to
  // the int32 sum before the requant (rq_mul may then also carry a NoNorm gamma, sign included,
  // and rq_add its beta; see QMobileBertLayer).
  std::vector<int32_t> bias;  // (out) or empty
};

// An RMSNorm: fixed-point gamma and the output shift (kernels/README.md, RMSNorm).
struct QRmsNorm {
  std::vector<int32_t> w;  // (dim)
  int32_t log2D = 0;
  int32_t k = 0;
};

struct QLlamaLayer {
  QRmsNorm attn_norm;
  QLinear wq, wk, wv;             // (dim, dim) each, output at the q / k / v scales
  mcu_rqs_t scores{};             // q.k int32 -> int8 scores, 1/sqrt(head_dim) folded in
  mcu_softmax_ibert_t softmax{};  // I-BERT constants at the score scale
  mcu_rqs_t attn{};               // probs.v int32 -> int8 (probs have zero point -128)
  QLinear wo;                     // (dim, dim), requant applied after the all-reduce
  mcu_add_rq_t resid_attn{};      // x + attention delta -> x_mid
  QRmsNorm ffn_norm;
  QLinear w1, w3;            // (hidden_dim, dim)
  mcu_hswish_t hswish{};     // SiLU stand-in on w1's output
  mcu_rqs_t silu{};          // hswish int32 -> int8 (1/6 folded in)
  mcu_mul_rq_t gate{};       // silu * h3 -> int8
  QLinear w2;                // (dim, hidden_dim), requant applied after the all-reduce
  mcu_add_rq_t resid_ffn{};  // x_mid + ffn delta -> next x
};

// The rows one chip holds of a Llama model (model/partition.hpp's ChipPlan in tensor rows):
// rows [head_rows_begin, head_rows_end) of wq/wk/wv and those columns of wo, rows
// [ffn_begin, ffn_end) of w1/w3 and those columns of w2, rows [vocab_begin, vocab_end) of the
// embedding. Norms, RoPE tables and requant parameters of wo/w2 stay whole.
struct LlamaSlice {
  int head_rows_begin = 0, head_rows_end = 0;
  int ffn_begin = 0, ffn_end = 0;
  int vocab_begin = 0, vocab_end = 0;
  bool operator==(const LlamaSlice &) const = default;
};

struct QLlamaModel {
  ModelConfig config;
  // Set when only one chip's slice was read (read_qllama_slice): the tensors then hold just
  // those rows / columns, and each QLinear's out / in says the slice's shape.
  std::optional<LlamaSlice> slice;
  std::vector<int8_t> token_embedding;  // (vocab_size, dim), per-tensor scale; also the LM head
  std::span<int8_t> token_embedding_placed;  // instead of token_embedding (see QLinear::placed)
  std::shared_ptr<void> placed_storage;      // keeps the placed weights' memory
  std::vector<QLlamaLayer> layers;
  QRmsNorm final_norm;
  mcu_rope_t rope{};              // int8 -> int8 at the same scale
  int32_t rope_frac = 14;         // cos/sin are Q14
  std::vector<int16_t> rope_cos;  // (seq_len, head_dim / 2)
  std::vector<int16_t> rope_sin;  // (seq_len, head_dim / 2)
  // Scales, for reports and the fp32 comparison only: the int8 path never reads them.
  float logit_scale = 0;  // real logit = int32 logit * logit_scale
};

// ---------------------------------------------------------------------------------------------
// MobileBERT (the encoder of weights/float_model.hpp, int8). D = dim, B = intra_bottleneck,
// E = embedding_size, H = hidden_dim. Every linear carries its bias (QLinear::bias).

// MobileBERT's NoNorm y = gamma * x + beta on int8 x, per channel (kernels/README.md, NoNorm):
// y = clamp(((x * mul[c] + add[c]) >> shift), -128, 127), beta and rounding folded into add.
struct QNoNorm {
  std::vector<int32_t> mul, add;  // (channels)
  int32_t shift = 0;
};

// One of the stacked FFNs: h' = NoNorm(w2 relu(w1 h + b1) + b2 + h).
struct QMobileBertFfn {
  QLinear w1;            // (H, B): its requant clamps at 0, which is the ReLU (zero point 0)
  QLinear w2;            // (B, H): requant to the scale of `down`
  mcu_add_rq_t resid{};  // down + h
  QNoNorm norm;          // -> h'
};

struct QMobileBertLayer {
  // Input bottleneck and shared key-query bottleneck D -> B: their NoNorm is folded into the
  // requant (rq_mul = gamma-scaled, may be negative; rq_add holds beta), one rounding.
  QLinear bn_in, bn_kq;             // (B, D) each
  QLinear wq, wk;                   // (B, B), read bn_kq
  QLinear wv;                       // (B, D), reads the block input
  mcu_rqs_t scores{};               // q.k int32 -> int8 scores, 1/sqrt(head_dim) folded in
  mcu_softmax_ibert_t softmax{};    // I-BERT constants at the score scale
  mcu_rqs_t attn{};                 // probs.v int32 -> int8 (probs have zero point -128)
  QLinear wo;                       // (B, B)
  mcu_add_rq_t attn_resid{};        // wo + bn_in
  QNoNorm attn_norm;                // -> attention output h
  std::vector<QMobileBertFfn> ffn;  // (n_ffn)
  QLinear bn_out;                   // (D, B)
  mcu_add_rq_t out_resid{};         // bn_out + block input
  QNoNorm out_norm;                 // -> block output
};

struct QMobileBertModel {
  ModelConfig config;
  std::vector<int8_t> word_embedding;        // (vocab_size, E), one scale for the table
  std::vector<int8_t> position_embedding;    // (seq_len, D), one scale
  std::vector<int8_t> token_type_embedding;  // (type_vocab_size, D), one scale
  QLinear emb_proj;                          // (D, 3E): trigram [emb(t+1), emb(t), emb(t-1)] -> D
  mcu_add_rq_t emb_pos{}, emb_type{};        // + position, then + token type
  QNoNorm emb_norm;                          // -> block input of layer 0
  std::vector<QMobileBertLayer> layers;
  // For reports and the fp32 comparison only: real hidden state = int8 * output_scale.
  float output_scale = 0;
};

}  // namespace mcuemu::weights
