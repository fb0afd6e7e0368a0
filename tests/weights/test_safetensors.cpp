// Hugging Face safetensors and MobileBERT checkpoints: the test writes a tiny MobileBERT-shaped
// model.safetensors + config.json itself (HF tensor names) and checks the import is exact.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "weights/model_file.hpp"
#include "weights/safetensors.hpp"
#include "weights/synthetic.hpp"
#include "weights/test_util.hpp"

namespace w = mcuemu::weights;
using ::testing::HasSubstr;
using json = nlohmann::json;

namespace {

struct RawTensor {
  std::string dtype;
  std::vector<std::size_t> shape;
  std::vector<char> data;
};

RawTensor f32(const std::vector<float> &v, std::vector<std::size_t> shape) {
  RawTensor t{"F32", std::move(shape), {}};
  const auto *p = reinterpret_cast<const char *>(v.data());
  t.data.assign(p, p + v.size() * 4);
  return t;
}

RawTensor u16(const char *dtype, const std::vector<std::uint16_t> &v,
              std::vector<std::size_t> shape) {
  RawTensor t{dtype, std::move(shape), {}};
  const auto *p = reinterpret_cast<const char *>(v.data());
  t.data.assign(p, p + v.size() * 2);
  return t;
}

// The safetensors encoding of a set of named tensors.
std::vector<char> safetensors_bytes(const std::map<std::string, RawTensor> &ts) {
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<char> data;
  for (const auto &[name, t] : ts) {
    header[name] = {{"dtype", t.dtype},
                    {"shape", t.shape},
                    {"data_offsets", {data.size(), data.size() + t.data.size()}}};
    data.insert(data.end(), t.data.begin(), t.data.end());
  }
  const std::string h = header.dump();
  const std::uint64_t n = h.size();
  std::string out(reinterpret_cast<const char *>(&n), 8);  // u64 little-endian
  out += h;
  out.append(data.begin(), data.end());
  return std::vector<char>(out.begin(), out.end());
}

json hf_config(const w::ModelConfig &c) {
  return {{"model_type", "mobilebert"},
          {"vocab_size", c.vocab_size},
          {"hidden_size", c.dim},
          {"num_hidden_layers", c.n_layers},
          {"num_attention_heads", c.n_heads},
          {"intermediate_size", c.hidden_dim},
          {"hidden_act", "relu"},
          {"embedding_size", c.embedding_size},
          {"trigram_input", true},
          {"use_bottleneck", true},
          {"intra_bottleneck_size", c.intra_bottleneck},
          {"use_bottleneck_attention", false},
          {"key_query_shared_bottleneck", true},
          {"num_feedforward_networks", c.n_ffn},
          {"normalization_type", "no_norm"},
          {"max_position_embeddings", c.seq_len},
          {"type_vocab_size", c.type_vocab_size}};
}

// The HF tensors of m, named as HF names them (prefix "mobilebert." for task models), plus a
// few tensors outside the encoder.
std::map<std::string, RawTensor> hf_tensors(w::FloatMobileBertModel &m, const std::string &prefix) {
  const auto names = w::hf_mobilebert_names(m.config);
  std::map<std::string, RawTensor> ts;
  for (auto &r : w::tensors(m)) ts[prefix + names.at(r.spec.name)] = f32(*r.data, r.spec.shape);
  ts["cls.predictions.bias"] = f32(std::vector<float>(m.config.vocab_size, 0.5f),
                                   {static_cast<std::size_t>(m.config.vocab_size)});
  ts[prefix + "pooler.dense.weight"] = f32(std::vector<float>(4, 1.0f), {2, 2});
  return ts;
}

void write_checkpoint(const mcuemu::test::ScratchDir &dir, const json &cfg,
                      const std::map<std::string, RawTensor> &ts) {
  std::ofstream(dir.file("config.json")) << cfg.dump(2);
  mcuemu::test::write_bytes(dir.file("model.safetensors"), safetensors_bytes(ts));
}

template <class F>
std::string file_error(F &&f) {
  try {
    f();
  } catch (const w::FileError &e) {
    return e.what();
  }
  return "";
}

void expect_same(w::FloatMobileBertModel &a, w::FloatMobileBertModel &b) {
  auto ta = w::tensors(a), tb = w::tensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) {
    EXPECT_TRUE(*ta[i].data == *tb[i].data) << ta[i].spec.name;
  }
}

}  // namespace

TEST(ConvertSafetensors, MobileBertRoundTripIsExact) {
  for (const std::string prefix : {"mobilebert.", ""}) {
    mcuemu::test::ScratchDir dir;
    auto m = w::synthetic_mobilebert(w::config_by_name("mobilebert-tiny"), 4);
    write_checkpoint(dir, hf_config(m.config), hf_tensors(m, prefix));
    auto hf = w::read_hf_mobilebert(dir.path().string());
    EXPECT_TRUE(hf.model.config.same_shapes(m.config));
    EXPECT_EQ(hf.model.config.name, "mobilebert-tiny");
    EXPECT_EQ(hf.tensors_used, w::tensor_specs(m.config).size());
    EXPECT_THAT(hf.ignored, ::testing::UnorderedElementsAre("cls.predictions.bias",
                                                            prefix + "pooler.dense.weight"));
    expect_same(m, hf.model);
    // And through the model file, as `mcuemu convert` does.
    w::write_float_model(dir.file("out.h5"), hf.model, "convert");
    auto r = w::read_float_mobilebert(dir.file("out.h5"));
    expect_same(m, r);
  }
}

TEST(ConvertSafetensors, NameMappingFollowsHf) {
  const auto names = w::hf_mobilebert_names(w::config_by_name("mobilebert"));
  EXPECT_EQ(names.at("/embedding/word"), "embeddings.word_embeddings.weight");
  EXPECT_EQ(names.at("/embedding/w"), "embeddings.embedding_transformation.weight");
  EXPECT_EQ(names.at("/layers/0/wq"), "encoder.layer.0.attention.self.query.weight");
  EXPECT_EQ(names.at("/layers/23/bv"), "encoder.layer.23.attention.self.value.bias");
  EXPECT_EQ(names.at("/layers/1/bn_kq_w"), "encoder.layer.1.bottleneck.attention.dense.weight");
  EXPECT_EQ(names.at("/layers/1/bn_in_gamma"), "encoder.layer.1.bottleneck.input.LayerNorm.weight");
  EXPECT_EQ(names.at("/layers/2/ffn/0/w1"), "encoder.layer.2.ffn.0.intermediate.dense.weight");
  EXPECT_EQ(names.at("/layers/2/ffn/2/beta"), "encoder.layer.2.ffn.2.output.LayerNorm.bias");
  EXPECT_EQ(names.at("/layers/2/ffn/3/w1"), "encoder.layer.2.intermediate.dense.weight");
  EXPECT_EQ(names.at("/layers/2/ffn/3/w2"), "encoder.layer.2.output.dense.weight");
  EXPECT_EQ(names.at("/layers/2/bn_out_w"), "encoder.layer.2.output.bottleneck.dense.weight");
  EXPECT_EQ(names.size(), w::tensor_specs(w::config_by_name("mobilebert")).size());
}

TEST(ConvertSafetensors, HalfAndBfloat16Conversions) {
  EXPECT_EQ(w::half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(w::half_to_float(0xc000), -2.0f);
  EXPECT_EQ(w::half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(w::half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(w::half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(w::half_to_float(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(w::half_to_float(0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(w::half_to_float(0x8000)));
  EXPECT_TRUE(std::isinf(w::half_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(w::half_to_float(0x7e00)));
  EXPECT_EQ(w::bfloat16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(w::bfloat16_to_float(0xc0a0), -5.0f);
  // Every finite half converts and back to the same value through double.
  for (std::uint32_t h = 0; h < 0x7c00; ++h) {
    const float f = w::half_to_float(static_cast<std::uint16_t>(h));
    ASSERT_TRUE(std::isfinite(f));
  }
}

TEST(ConvertSafetensors, ReadsHalfPrecisionTensors) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("h.safetensors");
  mcuemu::test::write_bytes(path,
                            safetensors_bytes({{"a", u16("F16", {0x3c00, 0xc000}, {2})},
                                               {"b", u16("BF16", {0x3f80, 0xc0a0}, {1, 2})}}));
  const w::SafetensorsFile st(path);
  EXPECT_THAT(st.read_f32("a", {2}), ::testing::ElementsAre(1.0f, -2.0f));
  EXPECT_THAT(st.read_f32("b", {1, 2}), ::testing::ElementsAre(1.0f, -5.0f));
  EXPECT_THAT(file_error([&] { st.read_f32("b", {2}); }),
              HasSubstr(path + ": tensor 'b': expected shape (2), found (1, 2)"));
  EXPECT_THAT(file_error([&] { st.read_f32("c", {2}); }), HasSubstr("tensor 'c' is missing"));
}

TEST(ConvertSafetensors, MissingTensor) {
  mcuemu::test::ScratchDir dir;
  auto m = w::synthetic_mobilebert(w::config_by_name("mobilebert-tiny"), 4);
  auto ts = hf_tensors(m, "mobilebert.");
  ts.erase("mobilebert.encoder.layer.1.ffn.2.output.dense.bias");
  write_checkpoint(dir, hf_config(m.config), ts);
  const auto msg = file_error([&] { w::read_hf_mobilebert(dir.path().string()); });
  EXPECT_THAT(msg, HasSubstr(dir.file("model.safetensors")));
  EXPECT_THAT(msg,
              HasSubstr("tensor 'mobilebert.encoder.layer.1.ffn.2.output.dense.bias' is missing"));
}

TEST(ConvertSafetensors, WrongShape) {
  mcuemu::test::ScratchDir dir;
  auto m = w::synthetic_mobilebert(w::config_by_name("mobilebert-tiny"), 4);
  auto ts = hf_tensors(m, "mobilebert.");
  ts["mobilebert.encoder.layer.0.attention.self.value.weight"].shape = {128, 32};  // transposed
  write_checkpoint(dir, hf_config(m.config), ts);
  EXPECT_THAT(file_error([&] { w::read_hf_mobilebert(dir.path().string()); }),
              HasSubstr("'mobilebert.encoder.layer.0.attention.self.value.weight': expected shape "
                        "(32, 128), found (128, 32)"));
}

TEST(ConvertSafetensors, TruncatedFile) {
  mcuemu::test::ScratchDir dir;
  auto m = w::synthetic_mobilebert(w::config_by_name("mobilebert-tiny"), 4);
  write_checkpoint(dir, hf_config(m.config), hf_tensors(m, ""));
  const auto st = dir.file("model.safetensors");
  mcuemu::test::truncate_file(st, std::filesystem::file_size(st) - 8);
  const auto msg = file_error([&] { w::read_hf_mobilebert(dir.path().string()); });
  EXPECT_THAT(msg, HasSubstr(st));
  EXPECT_THAT(msg, HasSubstr("truncated"));
  mcuemu::test::write_bytes(st, {1, 0, 0, 0});
  EXPECT_THAT(file_error([&] { w::SafetensorsFile f(st); }), HasSubstr("truncated"));
  mcuemu::test::write_bytes(st, {100, 0, 0, 0, 0, 0, 0, 0, '{'});
  EXPECT_THAT(file_error([&] { w::SafetensorsFile f(st); }), HasSubstr("header length 100"));
}

TEST(ConvertSafetensors, BadHeader) {
  mcuemu::test::ScratchDir dir;
  const auto st = dir.file("x.safetensors");
  const std::string h = "{\"a\": [1, 2]}";
  const std::uint64_t n = h.size();
  const std::string b = std::string(reinterpret_cast<const char *>(&n), 8) + h;
  mcuemu::test::write_bytes(st, std::vector<char>(b.begin(), b.end()));
  EXPECT_THAT(file_error([&] { w::SafetensorsFile f(st); }),
              HasSubstr("tensor 'a': entry needs dtype, shape and data_offsets"));
}

TEST(ConvertSafetensors, UnsupportedVariant) {
  mcuemu::test::ScratchDir dir;
  auto m = w::synthetic_mobilebert(w::config_by_name("mobilebert-tiny"), 4);
  auto cfg = hf_config(m.config);
  cfg["normalization_type"] = "layer_norm";
  write_checkpoint(dir, cfg, hf_tensors(m, ""));
  EXPECT_THAT(file_error([&] { w::read_hf_mobilebert(dir.path().string()); }),
              HasSubstr("unsupported MobileBERT variant: normalization_type must be no_norm"));
}

TEST(ConvertSafetensors, MissingConfigKeysTakeHfDefaults) {
  mcuemu::test::ScratchDir dir;
  auto m = w::synthetic_mobilebert(w::config_by_name("mobilebert-tiny"), 4);
  auto cfg = hf_config(m.config);
  for (const char *key : {"hidden_act", "trigram_input", "use_bottleneck", "normalization_type",
                          "key_query_shared_bottleneck", "use_bottleneck_attention",
                          "num_feedforward_networks", "type_vocab_size", "model_type"}) {
    cfg.erase(key);  // all equal to MobileBertConfig's defaults here
  }
  write_checkpoint(dir, cfg, hf_tensors(m, "mobilebert."));
  auto hf = w::read_hf_mobilebert(dir.path().string());
  EXPECT_EQ(hf.model.config.n_ffn, 4);
  expect_same(m, hf.model);
}

TEST(ConvertSafetensors, NotADirectory) {
  mcuemu::test::ScratchDir dir;
  EXPECT_THAT(file_error([&] { w::read_hf_mobilebert(dir.file("nothing")); }),
              HasSubstr("not a directory"));
  EXPECT_THAT(file_error([&] { w::read_hf_mobilebert(dir.path().string()); }),
              HasSubstr("config.json: no such file"));
}
