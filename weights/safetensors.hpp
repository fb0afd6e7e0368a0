// Reader of Hugging Face safetensors files and of HF MobileBERT checkpoints, the input of
// `mcuemu convert --from safetensors DIR`.
//
// safetensors layout: u64 little-endian N, then N bytes of JSON
//   {"<name>": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {...} (optional)}
// then the raw little-endian data; offsets are relative to the first byte after the JSON.
// Element types converted to fp32: F32, F16, BF16 (exactly: every half/bfloat16 is a float).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "weights/float_model.hpp"

namespace mcuemu::weights {

class SafetensorsFile {
 public:
  struct Entry {
    std::string dtype;  // "F32", "F16", "BF16", "I64", ...
    std::vector<std::size_t> shape;
    std::size_t begin = 0, end = 0;  // byte range in the data area
  };

  // Reads the whole file and checks the header: JSON valid, every entry with a dtype, a shape
  // and data_offsets inside the file, whose length matches shape and dtype. FileError otherwise.
  explicit SafetensorsFile(const std::string &path);

  const std::string &path() const { return path_; }
  const std::map<std::string, Entry> &entries() const { return entries_; }
  bool has(const std::string &name) const { return entries_.count(name) != 0; }
  // The tensor converted to fp32, checking its shape against expected_shape (FileError naming
  // the file and the tensor when missing, of another shape or of an unsupported dtype).
  std::vector<float> read_f32(const std::string &name,
                              const std::vector<std::size_t> &expected_shape) const;

 private:
  std::string path_;
  std::vector<unsigned char> bytes_;
  std::size_t data_start_ = 0;
  std::map<std::string, Entry> entries_;
};

// Float value of an IEEE half / bfloat16 bit pattern (exact).
float half_to_float(std::uint16_t h);
float bfloat16_to_float(std::uint16_t b);

struct HfMobileBert {
  FloatMobileBertModel model;
  std::size_t tensors_used = 0;
  std::vector<std::string> ignored;  // checkpoint tensors outside the encoder (heads, pooler)
};

// Reads DIR/config.json (missing keys take MobileBertConfig's defaults) and
// DIR/model.safetensors. Only the MobileBERT variant of REFERENCES.md 3.2 is supported:
// trigram_input, use_bottleneck, key_query_shared_bottleneck, no use_bottleneck_attention,
// normalization_type no_norm, hidden_act relu; anything else is a FileError saying which key.
// Tensor names may carry the "mobilebert." prefix (task models) or not (bare MobileBertModel).
HfMobileBert read_hf_mobilebert(const std::string &dir);

// The HF tensor name of each of our MobileBERT tensors (without the "mobilebert." prefix), e.g.
// "/layers/0/wq" -> "encoder.layer.0.attention.self.query.weight".
std::map<std::string, std::string> hf_mobilebert_names(const ModelConfig &c);

}  // namespace mcuemu::weights
