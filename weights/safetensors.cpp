// safetensors reader and the HF MobileBERT name mapping (see safetensors.hpp).
//
// HF module structure (transformers/models/mobilebert/modeling_mobilebert.py, read for facts):
// embeddings.{word_embeddings, position_embeddings, token_type_embeddings,
// embedding_transformation, LayerNorm}; per layer: bottleneck.input.{dense, LayerNorm},
// bottleneck.attention.{dense, LayerNorm}, attention.self.{query, key, value},
// attention.output.{dense, LayerNorm}, ffn.<j>.intermediate.dense, ffn.<j>.output.{dense,
// LayerNorm} (j < num_feedforward_networks - 1), intermediate.dense, output.{dense, LayerNorm},
// output.bottleneck.{dense, LayerNorm}. A "LayerNorm" is a NoNorm with weight (gamma) and bias
// (beta) when normalization_type is no_norm.
#include "weights/safetensors.hpp"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "weights/file_error.hpp"

namespace mcuemu::weights {

static_assert(std::endian::native == std::endian::little,
              "the safetensors reader copies little-endian data directly");

namespace {

std::vector<unsigned char> read_all(const std::string &path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw FileError(fmt::format("{}: no such file", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(fmt::format("{}: cannot open", path));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  in.seekg(0);
  std::vector<unsigned char> bytes(size);
  if (size > 0 &&
      !in.read(reinterpret_cast<char *>(bytes.data()), static_cast<std::streamsize>(size))) {
    throw FileError(fmt::format("{}: read error", path));
  }
  return bytes;
}

std::size_t dtype_size(const std::string &dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2")
    return 1;
  return 0;
}

std::string shape_str(const std::vector<std::size_t> &s) {
  return shape_string(s);
}

}  // namespace

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // Inf / NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // normal: rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;  // +-0
  } else {
    // Subnormal half: normalise the mantissa.
    exp = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

float bfloat16_to_float(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

SafetensorsFile::SafetensorsFile(const std::string &path) : path_(path), bytes_(read_all(path)) {
  if (bytes_.size() < 8) {
    throw FileError(
        fmt::format("{}: truncated: {} bytes, a safetensors file starts with an "
                    "8-byte header length",
                    path, bytes_.size()));
  }
  std::uint64_t n = 0;
  std::memcpy(&n, bytes_.data(), 8);
  if (n > bytes_.size() - 8) {
    throw FileError(
        fmt::format("{}: truncated or not safetensors: header length {} but only {} "
                    "bytes follow",
                    path, n, bytes_.size() - 8));
  }
  data_start_ = 8 + static_cast<std::size_t>(n);
  const std::size_t data_size = bytes_.size() - data_start_;
  nlohmann::json header;
  try {
    header =
        nlohmann::json::parse(bytes_.begin() + 8, bytes_.begin() + static_cast<long>(data_start_));
  } catch (const nlohmann::json::exception &e) {
    throw FileError(fmt::format("{}: header is not valid JSON: {}", path, e.what()));
  }
  if (!header.is_object()) throw FileError(fmt::format("{}: header is not a JSON object", path));
  for (const auto &[name, v] : header.items()) {
    if (name == "__metadata__") continue;
    auto bad = [&, &tensor = name](const std::string &what) {  // (clang 14: no captured bindings)
      return FileError(fmt::format("{}: tensor '{}': {}", path, tensor, what));
    };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets")) {
      throw bad("entry needs dtype, shape and data_offsets");
    }
    Entry e;
    try {
      e.dtype = v.at("dtype").get<std::string>();
      e.shape = v.at("shape").get<std::vector<std::size_t>>();
      const auto off = v.at("data_offsets").get<std::vector<std::size_t>>();
      if (off.size() != 2) throw bad("data_offsets must be [begin, end]");
      e.begin = off[0];
      e.end = off[1];
    } catch (const nlohmann::json::exception &ex) {
      throw bad(fmt::format("malformed entry: {}", ex.what()));
    }
    if (e.begin > e.end || e.end > data_size) {
      throw bad(fmt::format("data_offsets [{}, {}] outside the {} data bytes (truncated file?)",
                            e.begin, e.end, data_size));
    }
    const std::size_t es = dtype_size(e.dtype);
    if (es == 0) throw bad(fmt::format("unknown dtype '{}'", e.dtype));
    std::size_t numel = 1;
    for (auto d : e.shape) numel *= d;
    if (numel * es != e.end - e.begin) {
      throw bad(
          fmt::format("{} bytes for shape {} of {}", e.end - e.begin, shape_str(e.shape), e.dtype));
    }
    entries_.emplace(name, std::move(e));
  }
}

std::vector<float> SafetensorsFile::read_f32(const std::string &name,
                                             const std::vector<std::size_t> &expected_shape) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw FileError(fmt::format("{}: tensor '{}' is missing", path_, name));
  const Entry &e = it->second;
  if (e.shape != expected_shape) {
    throw FileError(fmt::format("{}: tensor '{}': expected shape {}, found {}", path_, name,
                                shape_str(expected_shape), shape_str(e.shape)));
  }
  const unsigned char *p = bytes_.data() + data_start_ + e.begin;
  const std::size_t n = (e.end - e.begin) / dtype_size(e.dtype);
  std::vector<float> out(n);
  if (e.dtype == "F32") {
    std::memcpy(out.data(), p, n * 4);
  } else if (e.dtype == "F16" || e.dtype == "BF16") {
    const bool half = e.dtype == "F16";
    for (std::size_t i = 0; i < n; ++i) {
      std::uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = half ? half_to_float(h) : bfloat16_to_float(h);
    }
  } else {
    throw FileError(fmt::format("{}: tensor '{}': dtype {} is not supported (F32, F16, BF16)",
                                path_, name, e.dtype));
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(out[i])) {
      throw FileError(
          fmt::format("{}: tensor '{}': non-finite value {} at index {}", path_, name, out[i], i));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HF MobileBERT

std::map<std::string, std::string> hf_mobilebert_names(const ModelConfig &c) {
  std::map<std::string, std::string> n;
  n["/embedding/word"] = "embeddings.word_embeddings.weight";
  n["/embedding/position"] = "embeddings.position_embeddings.weight";
  n["/embedding/token_type"] = "embeddings.token_type_embeddings.weight";
  n["/embedding/w"] = "embeddings.embedding_transformation.weight";
  n["/embedding/b"] = "embeddings.embedding_transformation.bias";
  n["/embedding/gamma"] = "embeddings.LayerNorm.weight";
  n["/embedding/beta"] = "embeddings.LayerNorm.bias";
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = fmt::format("/layers/{}/", l);
    const std::string h = fmt::format("encoder.layer.{}.", l);
    auto linear = [&](const std::string &w, const std::string &b, const std::string &module) {
      n[p + w] = h + module + ".weight";
      n[p + b] = h + module + ".bias";
    };
    linear("bn_in_w", "bn_in_b", "bottleneck.input.dense");
    linear("bn_in_gamma", "bn_in_beta", "bottleneck.input.LayerNorm");
    linear("bn_kq_w", "bn_kq_b", "bottleneck.attention.dense");
    linear("bn_kq_gamma", "bn_kq_beta", "bottleneck.attention.LayerNorm");
    linear("wq", "bq", "attention.self.query");
    linear("wk", "bk", "attention.self.key");
    linear("wv", "bv", "attention.self.value");
    linear("wo", "bo", "attention.output.dense");
    linear("attn_gamma", "attn_beta", "attention.output.LayerNorm");
    for (int j = 0; j < c.n_ffn; ++j) {
      const bool last = j == c.n_ffn - 1;  // HF's intermediate/output pair
      const std::string f = fmt::format("ffn/{}/", j);
      const std::string hf = last ? "" : fmt::format("ffn.{}.", j);
      linear(f + "w1", f + "b1", hf + "intermediate.dense");
      linear(f + "w2", f + "b2", hf + "output.dense");
      linear(f + "gamma", f + "beta", hf + "output.LayerNorm");
    }
    linear("bn_out_w", "bn_out_b", "output.bottleneck.dense");
    linear("bn_out_gamma", "bn_out_beta", "output.bottleneck.LayerNorm");
  }
  return n;
}

namespace {

ModelConfig mobilebert_config_from_json(const nlohmann::json &j, const std::string &path) {
  // MobileBertConfig defaults (REFERENCES.md 3.2) for keys a saved config.json omits.
  auto get_int = [&](const char *key, int def) {
    if (!j.contains(key)) return def;
    if (!j.at(key).is_number_integer()) {
      throw FileError(fmt::format("{}: '{}' must be an integer", path, key));
    }
    return j.at(key).get<int>();
  };
  auto get_bool = [&](const char *key, bool def) {
    if (!j.contains(key)) return def;
    if (!j.at(key).is_boolean())
      throw FileError(fmt::format("{}: '{}' must be a boolean", path, key));
    return j.at(key).get<bool>();
  };
  auto get_str = [&](const char *key, const char *def) {
    if (!j.contains(key)) return std::string(def);
    if (!j.at(key).is_string())
      throw FileError(fmt::format("{}: '{}' must be a string", path, key));
    return j.at(key).get<std::string>();
  };
  auto require = [&](bool ok, const std::string &what) {
    if (!ok) throw FileError(fmt::format("{}: unsupported MobileBERT variant: {}", path, what));
  };
  if (j.contains("model_type") && get_str("model_type", "") != "mobilebert") {
    throw FileError(fmt::format("{}: model_type is '{}', expected 'mobilebert'", path,
                                get_str("model_type", "")));
  }
  require(get_bool("trigram_input", true), "trigram_input must be true");
  require(get_bool("use_bottleneck", true), "use_bottleneck must be true");
  require(!get_bool("use_bottleneck_attention", false), "use_bottleneck_attention must be false");
  require(get_bool("key_query_shared_bottleneck", true),
          "key_query_shared_bottleneck must be true");
  require(get_str("normalization_type", "no_norm") == "no_norm",
          "normalization_type must be no_norm");
  require(get_str("hidden_act", "relu") == "relu", "hidden_act must be relu");

  ModelConfig c;
  c.arch = Arch::MobileBert;
  c.vocab_size = get_int("vocab_size", 30522);
  c.dim = get_int("hidden_size", 512);
  c.n_layers = get_int("num_hidden_layers", 24);
  c.n_heads = get_int("num_attention_heads", 4);
  c.n_kv_heads = c.n_heads;
  c.hidden_dim = get_int("intermediate_size", 512);
  c.embedding_size = get_int("embedding_size", 128);
  c.intra_bottleneck = get_int("intra_bottleneck_size", 128);
  c.n_ffn = get_int("num_feedforward_networks", 4);
  c.seq_len = get_int("max_position_embeddings", 512);
  c.type_vocab_size = get_int("type_vocab_size", 2);
  c.shared_classifier = false;
  try {
    validate(c);
  } catch (const std::invalid_argument &e) {
    throw FileError(fmt::format("{}: {}", path, e.what()));
  }
  const std::string known = known_name_for(c);
  c.name = known.empty() ? "hf-mobilebert" : known;
  return c;
}

}  // namespace

HfMobileBert read_hf_mobilebert(const std::string &dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw FileError(
        fmt::format("{}: not a directory (expected a Hugging Face checkpoint "
                    "directory with config.json and model.safetensors)",
                    dir));
  }
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  const std::string st_path = (fs::path(dir) / "model.safetensors").string();
  if (!fs::exists(st_path, ec) && fs::exists(fs::path(dir) / "model.safetensors.index.json", ec)) {
    throw FileError(
        fmt::format("{}: sharded checkpoints (model.safetensors.index.json) are not "
                    "supported",
                    dir));
  }
  std::ifstream cfg_in(cfg_path);
  if (!cfg_in) throw FileError(fmt::format("{}: no such file", cfg_path));
  nlohmann::json cfg_json;
  try {
    cfg_in >> cfg_json;
  } catch (const nlohmann::json::exception &e) {
    throw FileError(fmt::format("{}: not valid JSON: {}", cfg_path, e.what()));
  }
  if (!cfg_json.is_object()) throw FileError(fmt::format("{}: not a JSON object", cfg_path));
  const ModelConfig c = mobilebert_config_from_json(cfg_json, cfg_path);

  const SafetensorsFile st(st_path);
  // Task models (MobileBertForMaskedLM, ...) prefix the encoder with "mobilebert.".
  const std::string prefix =
      st.has("mobilebert.embeddings.word_embeddings.weight") ? "mobilebert." : "";
  HfMobileBert out;
  out.model = make_float_mobilebert(c);
  const auto names = hf_mobilebert_names(c);
  std::map<std::string, bool> used;
  for (auto &r : tensors(out.model)) {
    const std::string hf = prefix + names.at(r.spec.name);
    *r.data = st.read_f32(hf, r.spec.shape);
    used[hf] = true;
    ++out.tensors_used;
  }
  for (const auto &[name, e] : st.entries()) {
    if (!used.count(name)) out.ignored.push_back(name);
  }
  return out;
}

}  // namespace mcuemu::weights
