// The fp32 model in memory, as read from or written to a model file (weights/FORMAT.md).
//
// Two architectures: Llama (llama2.c layout) and MobileBERT (Hugging Face MobileBertModel
// semantics). Every matrix is (out, in) row-major, as nn.Linear stores it. The tensor table
// (tensors(), tensor_specs()) lists every tensor once, with its file name, shape, how synthetic
// weights initialise it and how a tensor-parallel plan slices it; the file reader, the writer,
// the synthetic generator and `mcuemu inspect` all walk that one table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "weights/config.hpp"

namespace mcuemu::weights {

// ---------------------------------------------------------------------------------------------
// Llama

// Llama weights, llama2.c layout; every matrix is (out, in) row-major.
struct FloatLayer {
  std::vector<float> rms_att;  // (dim)
  std::vector<float> wq;       // (dim, dim)
  std::vector<float> wk;       // (n_kv_heads * head_dim, dim)
  std::vector<float> wv;       // (n_kv_heads * head_dim, dim)
  std::vector<float> wo;       // (dim, dim)
  std::vector<float> rms_ffn;  // (dim)
  std::vector<float> w1;       // (hidden_dim, dim)  gate
  std::vector<float> w3;       // (hidden_dim, dim)  up
  std::vector<float> w2;       // (dim, hidden_dim)  down
};

struct FloatModel {
  ModelConfig config;
  std::vector<float> token_embedding;  // (vocab_size, dim); also the classifier when shared
  std::vector<FloatLayer> layers;      // (n_layers)
  std::vector<float> rms_final;        // (dim)
  std::vector<float> wcls;             // (vocab_size, dim), empty when shared_classifier
};

// ---------------------------------------------------------------------------------------------
// MobileBERT (HF MobileBertModel with trigram input, bottlenecks, shared key-query bottleneck,
// NoNorm y = x * gamma + beta, ReLU). D = dim (512), B = intra_bottleneck (128),
// E = embedding_size (128), H = hidden_dim (intermediate_size, 512).

// One of the n_ffn stacked FFNs of a block: y = NoNorm(w2 relu(w1 x + b1) + b2 + x).
// ffn[0 .. n_ffn-2] are HF's `ffn.<j>`; ffn[n_ffn-1] is HF's `intermediate` + `output`, whose
// result then goes through the output bottleneck.
struct FloatMobileBertFfn {
  std::vector<float> w1, b1;       // (H, B), (H)
  std::vector<float> w2, b2;       // (B, H), (B)
  std::vector<float> gamma, beta;  // (B) NoNorm after the residual add
};

struct FloatMobileBertLayer {
  // Input bottleneck D -> B: the residual of the attention block (HF bottleneck.input).
  std::vector<float> bn_in_w, bn_in_b;         // (B, D), (B)
  std::vector<float> bn_in_gamma, bn_in_beta;  // (B)
  // Shared key-query bottleneck D -> B: input of Q and K (HF bottleneck.attention).
  std::vector<float> bn_kq_w, bn_kq_b;         // (B, D), (B)
  std::vector<float> bn_kq_gamma, bn_kq_beta;  // (B)
  std::vector<float> wq, bq;                   // (B, B), (B)  from the key-query bottleneck
  std::vector<float> wk, bk;                   // (B, B), (B)  from the key-query bottleneck
  std::vector<float> wv, bv;                   // (B, D), (B)  from the block input (D wide)
  std::vector<float> wo, bo;                   // (B, B), (B)  HF attention.output.dense
  std::vector<float> attn_gamma, attn_beta;    // (B) NoNorm(wo + bn_in output)
  std::vector<FloatMobileBertFfn> ffn;         // (n_ffn)
  // Output bottleneck B -> D, then NoNorm(. + block input) (HF output.bottleneck).
  std::vector<float> bn_out_w, bn_out_b;         // (D, B), (D)
  std::vector<float> bn_out_gamma, bn_out_beta;  // (D)
};

struct FloatMobileBertModel {
  ModelConfig config;
  std::vector<float> word_embedding;        // (vocab_size, E)
  std::vector<float> position_embedding;    // (seq_len, D)
  std::vector<float> token_type_embedding;  // (type_vocab_size, D)
  // Trigram projection 3E -> D; input = [emb(t+1), emb(t), emb(t-1)] (zeros past the ends),
  // the order of HF MobileBertEmbeddings.
  std::vector<float> emb_w, emb_b;           // (D, 3E), (D)
  std::vector<float> emb_gamma, emb_beta;    // (D) NoNorm of (projection + position + type)
  std::vector<FloatMobileBertLayer> layers;  // (n_layers)
};

// ---------------------------------------------------------------------------------------------
// The tensor table

// How synthetic weights initialise a tensor (weights/synthetic.hpp documents the scales).
enum class Init {
  Normal,          // linear weights and embeddings: N(0, 0.02)
  ResidualNormal,  // projections into the residual stream (wo, w2): N(0, 0.02 / sqrt(2 L))
  NormWeight,      // RMSNorm weight and NoNorm gamma: 1 + N(0, 0.05)
  Bias,            // biases and NoNorm beta: N(0, 0.02)
};

// How a tensor-parallel plan slices a tensor over chips (for byte estimates; the partition plan
// of src/model is the authority). axis -1: replicated on every chip. Otherwise the tensor is cut
// along `axis` into `units` equal indivisible units (heads, FFN columns, vocab rows, ...) and
// chip c of N owns units/N of them, one more for c < units % N.
struct Split {
  int axis = -1;
  std::int64_t units = 0;
  const char *what = "replicated";  // "heads", "ffn", "vocab", ...
};

struct TensorSpec {
  std::string name;                // dataset path in the model file, e.g. "/layers/0/wq"
  std::vector<std::size_t> shape;  // (out, in) for matrices
  Init init = Init::Normal;
  Split split;
  std::size_t numel() const;
};

struct TensorRef {
  TensorSpec spec;
  std::vector<float> *data;
};

// Every tensor of the model, in file order. The model's layer vectors must already have
// config.n_layers entries (make_float_model does that); vectors may be empty (not allocated).
std::vector<TensorRef> tensors(FloatModel &m);
std::vector<TensorRef> tensors(FloatMobileBertModel &m);
// The same list for a configuration, without data.
std::vector<TensorSpec> tensor_specs(const ModelConfig &c);

// A model of the right architecture with every tensor allocated and zero. Validates c.
FloatModel make_float_model(const ModelConfig &c);
FloatMobileBertModel make_float_mobilebert(const ModelConfig &c);

// Throws std::invalid_argument naming the first tensor whose size does not match its shape.
void check_shapes(const FloatModel &m);
void check_shapes(const FloatMobileBertModel &m);

// Throws FileError naming `source` (a file), the tensor and the first NaN/Inf element.
void check_finite(const FloatModel &m, const std::string &source);
void check_finite(const FloatMobileBertModel &m, const std::string &source);

// Total number of parameters of a configuration (every tensor of the table).
std::int64_t parameter_count(const ModelConfig &c);

// "(a, b)" for error messages and listings.
std::string shape_string(const std::vector<std::size_t> &shape);

}  // namespace mcuemu::weights
