// Known model configurations and their invariants (weights/CONFIGS.md explains the choices).
#include "weights/config.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace mcuemu::weights {

const char *arch_name(Arch a) {
  return a == Arch::MobileBert ? "mobilebert" : "llama";
}

Arch parse_arch(const std::string &s) {
  if (s == "llama") return Arch::Llama;
  if (s == "mobilebert") return Arch::MobileBert;
  throw std::invalid_argument(
      fmt::format("unknown architecture '{}' (known: llama, mobilebert)", s));
}

bool ModelConfig::same_shapes(const ModelConfig &o) const {
  ModelConfig a = *this;
  a.name = o.name;
  return a == o;
}

namespace {

ModelConfig llama(std::string name, int dim, int hidden_dim, int n_layers, int n_heads,
                  int vocab_size, int seq_len) {
  ModelConfig c;
  c.name = std::move(name);
  c.arch = Arch::Llama;
  c.dim = dim;
  c.hidden_dim = hidden_dim;
  c.n_layers = n_layers;
  c.n_heads = n_heads;
  c.n_kv_heads = n_heads;
  c.vocab_size = vocab_size;
  c.seq_len = seq_len;
  c.shared_classifier = true;
  return c;
}

// The scaled TinyLlama family (CONFIGS.md): head_dim 64 and n_heads = N chips, so every chip
// owns one head; dim = 64 N; hidden_dim = 172 N, the FFN/dim ratio of stories42M (1376 / 512
// = 2.6875; 11008 at dim 4096, as Llama-2-7B); n_layers = 64 / N so that each chip holds
// exactly the block bytes of stories42M on 8 chips (3.16 MB int8), and the vocab-sliced
// embedding is also constant per chip. N = 8 has exactly the shapes of tinyllama-42m.
ModelConfig scaled(int n_chips) {
  return llama(fmt::format("tinyllama-scaled-{}", n_chips), 64 * n_chips, 172 * n_chips,
               64 / n_chips, n_chips, 32000, 1024);
}

ModelConfig mobilebert(std::string name, int vocab_size, int dim, int n_layers, int n_heads,
                       int hidden_dim, int embedding_size, int intra_bottleneck, int n_ffn,
                       int seq_len) {
  ModelConfig c;
  c.name = std::move(name);
  c.arch = Arch::MobileBert;
  c.dim = dim;
  c.hidden_dim = hidden_dim;
  c.n_layers = n_layers;
  c.n_heads = n_heads;
  c.n_kv_heads = n_heads;
  c.vocab_size = vocab_size;
  c.seq_len = seq_len;
  c.shared_classifier = false;  // the encoder has no LM head here
  c.embedding_size = embedding_size;
  c.intra_bottleneck = intra_bottleneck;
  c.n_ffn = n_ffn;
  c.type_vocab_size = 2;
  return c;
}

const int kScaledChips[] = {8, 16, 32, 64};

}  // namespace

std::vector<std::string> known_configs() {
  std::vector<std::string> names = {"tinyllama-42m", "tinyllama-tiny"};
  for (int n : kScaledChips) names.push_back(fmt::format("tinyllama-scaled-{}", n));
  names.push_back("mobilebert");
  names.push_back("mobilebert-tiny");
  return names;
}

ModelConfig config_by_name(const std::string &name) {
  // stories42M (llama2.c model table; REFERENCES.md 3.1).
  if (name == "tinyllama-42m") return llama(name, 512, 1376, 8, 8, 32000, 1024);
  // Small enough for unit tests, 8 heads so that tests can split it over up to 8 chips.
  if (name == "tinyllama-tiny") return llama(name, 64, 172, 2, 8, 512, 128);
  for (int n : kScaledChips) {
    if (name == fmt::format("tinyllama-scaled-{}", n)) return scaled(n);
  }
  // HF MobileBertConfig defaults (REFERENCES.md 3.2).
  if (name == "mobilebert") return mobilebert(name, 30522, 512, 24, 4, 512, 128, 128, 4, 512);
  // Same structure, every width divided by 4, 2 layers, vocab 1000.
  if (name == "mobilebert-tiny") return mobilebert(name, 1000, 128, 2, 4, 128, 32, 32, 4, 64);
  std::string known;
  for (const auto &k : known_configs()) known += (known.empty() ? "" : ", ") + k;
  throw std::invalid_argument(fmt::format("unknown model '{}' (known: {})", name, known));
}

std::string known_name_for(const ModelConfig &c) {
  for (const auto &k : known_configs()) {
    if (config_by_name(k).same_shapes(c)) return k;
  }
  return "";
}

void validate(const ModelConfig &c) {
  const std::string who = c.name.empty() ? std::string("model config") : "model '" + c.name + "'";
  auto fail = [&](const std::string &what) {
    throw std::invalid_argument(fmt::format("{}: {}", who, what));
  };
  auto positive = [&](const char *field, long long v) {
    if (v <= 0) fail(fmt::format("{} must be positive, got {}", field, v));
  };
  positive("dim", c.dim);
  positive("hidden_dim", c.hidden_dim);
  positive("n_layers", c.n_layers);
  positive("n_heads", c.n_heads);
  positive("n_kv_heads", c.n_kv_heads);
  positive("vocab_size", c.vocab_size);
  positive("seq_len", c.seq_len);
  if (c.n_kv_heads != c.n_heads) {
    fail(fmt::format("n_kv_heads {} != n_heads {}: grouped-query attention is not supported",
                     c.n_kv_heads, c.n_heads));
  }
  if (c.arch == Arch::Llama) {
    if (c.dim % c.n_heads != 0) {
      fail(fmt::format("dim {} is not divisible by n_heads {}", c.dim, c.n_heads));
    }
    if (c.head_dim() % 2 != 0) {
      fail(fmt::format("head_dim {} (dim / n_heads) must be even for RoPE", c.head_dim()));
    }
    if (!(c.norm_eps > 0.0f)) fail(fmt::format("norm_eps must be positive, got {}", c.norm_eps));
    if (!(c.rope_theta > 0.0f)) {
      fail(fmt::format("rope_theta must be positive, got {}", c.rope_theta));
    }
  } else {
    positive("embedding_size", c.embedding_size);
    positive("intra_bottleneck", c.intra_bottleneck);
    positive("n_ffn", c.n_ffn);
    positive("type_vocab_size", c.type_vocab_size);
    if (c.intra_bottleneck % c.n_heads != 0) {
      fail(fmt::format("intra_bottleneck {} is not divisible by n_heads {}", c.intra_bottleneck,
                       c.n_heads));
    }
  }
  // Element counts must fit the size arithmetic used everywhere with a wide margin (and a
  // corrupt header must not make a reader allocate petabytes): at most 2^40 parameters.
  const double d = c.dim, h = c.hidden_dim, w = c.attn_dim();
  const double params = static_cast<double>(c.n_layers) * (4.0 * w * d + 3.0 * d * h) +
                        2.0 * c.vocab_size * d + static_cast<double>(c.seq_len) * d +
                        3.0 * d * c.embedding_size + static_cast<double>(c.type_vocab_size) * d;
  if (params > 0x1.0p40) fail(fmt::format("unreasonably large ({:.3g} parameters)", params));
}

std::string describe(const ModelConfig &c) {
  std::string s = fmt::format(
      "{} dim {} hidden_dim {} n_layers {} n_heads {} n_kv_heads {} head_dim {} vocab_size {} "
      "seq_len {}",
      arch_name(c.arch), c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim(),
      c.vocab_size, c.seq_len);
  if (c.arch == Arch::Llama) {
    s += fmt::format(" shared_classifier {}", c.shared_classifier ? 1 : 0);
  } else {
    s += fmt::format(" embedding_size {} intra_bottleneck {} n_ffn {} type_vocab_size {}",
                     c.embedding_size, c.intra_bottleneck, c.n_ffn, c.type_vocab_size);
  }
  return s;
}

}  // namespace mcuemu::weights
