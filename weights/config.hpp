// Model configurations: the shapes of the Transformers mcuemu runs.
//
// Names follow llama2.c (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)
// and, for MobileBERT, Hugging Face's MobileBertConfig. weights/CONFIGS.md lists the known
// configurations and why the scaled family looks the way it does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mcuemu::weights {

enum class Arch { Llama, MobileBert };

// "llama" / "mobilebert": the spelling of the `architecture` attribute in model files.
const char *arch_name(Arch a);
// Inverse of arch_name; throws std::invalid_argument for anything else.
Arch parse_arch(const std::string &s);

struct ModelConfig {
  std::string name;  // e.g. "tinyllama-42m"
  Arch arch = Arch::Llama;
  int dim = 0;         // model width (MobileBERT: hidden_size, 512)
  int hidden_dim = 0;  // FFN width (MobileBERT: intermediate_size)
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;  // == n_heads (no grouped-query attention in these models)
  int vocab_size = 0;
  int seq_len = 0;  // max context (MobileBERT: max_position_embeddings)
  bool shared_classifier =
      true;  // LM head = embedding table (llama2.c stories); MobileBERT: unused
  // MobileBERT only.
  int embedding_size = 0;       // 128: token embedding width before the trigram projection
  int intra_bottleneck = 0;     // 128: width inside a block (attention, FFNs)
  int n_ffn = 0;                // 4 stacked FFNs per block
  int type_vocab_size = 0;      // 2
  float norm_eps = 1e-5f;       // RMSNorm epsilon (llama2.c uses 1e-5); MobileBERT: unused (NoNorm)
  float rope_theta = 10000.0f;  // MobileBERT: unused (learned position embeddings)

  // Width of one attention head. Llama: dim / n_heads. MobileBERT attends inside the bottleneck:
  // intra_bottleneck / n_heads (128 / 4 = 32), as HF's true_hidden_size / num_attention_heads.
  int head_dim() const {
    return (arch == Arch::MobileBert ? intra_bottleneck : dim) / (n_heads > 0 ? n_heads : 1);
  }
  int kv_dim() const { return n_kv_heads * head_dim(); }  // width of K and V (Llama)
  // Width of Q, K, V and the attention output: dim (Llama), intra_bottleneck (MobileBERT).
  int attn_dim() const { return arch == Arch::MobileBert ? intra_bottleneck : dim; }

  bool operator==(const ModelConfig &) const = default;
  // Same shapes (every field except the name).
  bool same_shapes(const ModelConfig &o) const;
};

// Known configurations by name: "tinyllama-42m", "tinyllama-tiny" (fast tests), the scaled
// family "tinyllama-scaled-<N>" for N = 8, 16, 32, 64 (reaches 64 chips), "mobilebert",
// "mobilebert-tiny". Throws std::invalid_argument naming the known ones for an unknown name.
ModelConfig config_by_name(const std::string &name);
std::vector<std::string> known_configs();

// The name of the known configuration with the same shapes as c, or "" when there is none.
std::string known_name_for(const ModelConfig &c);

// Checks the invariants (dim % n_heads == 0, positive sizes, even head_dim for RoPE, ...);
// throws std::invalid_argument with a message naming the field. n_kv_heads != n_heads
// (grouped-query attention) is rejected: the partitioner and the runtime do not support it.
void validate(const ModelConfig &c);

// One line: "llama dim 512 hidden_dim 1376 n_layers 8 ...", for logs and errors.
std::string describe(const ModelConfig &c);

}  // namespace mcuemu::weights
