// llama2.c checkpoints: the test writes both layouts itself, byte by byte in the order of
// llama2.c's export.py (legacy_export, version1_export), and checks that the reader gives back
// exactly the model it started from, and that bad files fail with a message naming the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "weights/llama2c.hpp"
#include "weights/model_file.hpp"
#include "weights/synthetic.hpp"
#include "weights/test_util.hpp"

namespace w = mcuemu::weights;
using ::testing::HasSubstr;

namespace {

struct Bytes {
  std::vector<char> b;
  template <class T>
  void put(T v) {
    const auto *p = reinterpret_cast<const char *>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  void put(const std::vector<float> &v) {
    const auto *p = reinterpret_cast<const char *>(v.data());
    b.insert(b.end(), p, p + v.size() * sizeof(float));
  }
};

// A llama2.c checkpoint of m: version 0 (legacy) or 1.
std::vector<char> llama2c_bytes(const w::FloatModel &m, int version) {
  const auto &c = m.config;
  Bytes o;
  auto header7 = [&](int vocab) {
    for (int v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, vocab, c.seq_len}) {
      o.put<std::int32_t>(v);
    }
  };
  auto all = [&](std::vector<float> w::FloatLayer::*f) {
    for (const auto &L : m.layers) o.put(L.*f);
  };
  if (version == 0) {
    header7(c.shared_classifier ? c.vocab_size : -c.vocab_size);
    o.put(m.token_embedding);
    all(&w::FloatLayer::rms_att);
    all(&w::FloatLayer::wq);
    all(&w::FloatLayer::wk);
    all(&w::FloatLayer::wv);
    all(&w::FloatLayer::wo);
    all(&w::FloatLayer::rms_ffn);
    all(&w::FloatLayer::w1);
    all(&w::FloatLayer::w2);
    all(&w::FloatLayer::w3);
    o.put(m.rms_final);
    // freq_cis_real and freq_cis_imag, (seq_len, head_dim / 2) each: values the reader skips.
    o.put(std::vector<float>(static_cast<std::size_t>(c.seq_len * c.head_dim() / 2), 123.0f));
    o.put(std::vector<float>(static_cast<std::size_t>(c.seq_len * c.head_dim() / 2), -456.0f));
  } else {
    o.put<std::uint32_t>(0x616b3432);
    o.put<std::int32_t>(version);
    header7(c.vocab_size);
    o.put<std::uint8_t>(c.shared_classifier ? 1 : 0);
    o.b.resize(256, 0);
    all(&w::FloatLayer::rms_att);
    all(&w::FloatLayer::rms_ffn);
    o.put(m.rms_final);
    o.put(m.token_embedding);
    all(&w::FloatLayer::wq);
    all(&w::FloatLayer::wk);
    all(&w::FloatLayer::wv);
    all(&w::FloatLayer::wo);
    all(&w::FloatLayer::w1);
    all(&w::FloatLayer::w2);
    all(&w::FloatLayer::w3);
  }
  if (!c.shared_classifier) o.put(m.wcls);
  return o.b;
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

void expect_same(w::FloatModel &a, w::FloatModel &b) {
  EXPECT_TRUE(a.config.same_shapes(b.config));
  auto ta = w::tensors(a), tb = w::tensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) {
    EXPECT_TRUE(*ta[i].data == *tb[i].data) << ta[i].spec.name;
  }
}

w::FloatModel tiny(bool shared) {
  auto c = w::config_by_name("tinyllama-tiny");
  c.shared_classifier = shared;
  return w::synthetic_llama(c, shared ? 21 : 22);
}

class ConvertLlama2c : public ::testing::TestWithParam<std::tuple<int, bool>> {};

}  // namespace

TEST_P(ConvertLlama2c, RoundTripIsExact) {
  const auto [version, shared] = GetParam();
  mcuemu::test::ScratchDir dir;
  auto m = tiny(shared);
  const auto bin = dir.file("stories-tiny.bin");
  mcuemu::test::write_bytes(bin, llama2c_bytes(m, version));
  auto ck = w::read_llama2c(bin);
  EXPECT_EQ(ck.version, version);
  EXPECT_EQ(ck.model.config.shared_classifier, shared);
  expect_same(m, ck.model);
  // The shapes of tinyllama-tiny are recognised; an unshared variant has no known name.
  EXPECT_EQ(ck.model.config.name, shared ? "tinyllama-tiny" : "llama2c-stories-tiny");
  // And through the model file, as `mcuemu convert` does.
  w::write_float_model(dir.file("out.h5"), ck.model, "convert");
  auto r = w::read_float_model(dir.file("out.h5"));
  expect_same(m, r);
}

INSTANTIATE_TEST_SUITE_P(Layouts, ConvertLlama2c,
                         ::testing::Combine(::testing::Values(0, 1), ::testing::Bool()),
                         [](const auto &info) {
                           return std::string(std::get<0>(info.param) == 0 ? "Legacy" : "V1") +
                                  (std::get<1>(info.param) ? "Shared" : "Unshared");
                         });

TEST(ConvertLlama2cErrors, TruncatedWeights) {
  mcuemu::test::ScratchDir dir;
  for (int version : {0, 1}) {
    auto bytes = llama2c_bytes(tiny(true), version);
    bytes.resize(bytes.size() - 4);
    const auto bin = dir.file("cut.bin");
    mcuemu::test::write_bytes(bin, bytes);
    const auto msg = file_error([&] { w::read_llama2c(bin); });
    EXPECT_THAT(msg, HasSubstr(bin + ": truncated"));
    EXPECT_THAT(msg, HasSubstr(std::to_string(bytes.size())));
  }
}

TEST(ConvertLlama2cErrors, TruncatedHeader) {
  mcuemu::test::ScratchDir dir;
  const auto bin = dir.file("h.bin");
  auto v1 = llama2c_bytes(tiny(true), 1);
  v1.resize(100);
  mcuemu::test::write_bytes(bin, v1);
  EXPECT_THAT(file_error([&] { w::read_llama2c(bin); }), HasSubstr("truncated llama2.c header"));
  mcuemu::test::write_bytes(bin, {1, 2, 3});
  EXPECT_THAT(file_error([&] { w::read_llama2c(bin); }), HasSubstr("truncated llama2.c header"));
}

TEST(ConvertLlama2cErrors, Oversized) {
  mcuemu::test::ScratchDir dir;
  auto bytes = llama2c_bytes(tiny(true), 0);
  bytes.resize(bytes.size() + 12, 0);
  const auto bin = dir.file("big.bin");
  mcuemu::test::write_bytes(bin, bytes);
  EXPECT_THAT(file_error([&] { w::read_llama2c(bin); }), HasSubstr(bin + ": 12 trailing bytes"));
}

TEST(ConvertLlama2cErrors, QuantizedVersionRejected) {
  mcuemu::test::ScratchDir dir;
  auto bytes = llama2c_bytes(tiny(true), 1);
  const std::int32_t two = 2;
  std::memcpy(bytes.data() + 4, &two, 4);
  const auto bin = dir.file("q80.bin");
  mcuemu::test::write_bytes(bin, bytes);
  EXPECT_THAT(file_error([&] { w::read_llama2c(bin); }), HasSubstr("version 2 is not supported"));
}

TEST(ConvertLlama2cErrors, HeaderThatDoesNotValidate) {
  mcuemu::test::ScratchDir dir;
  auto bytes = llama2c_bytes(tiny(true), 0);
  const std::int32_t heads = 6;  // 64 % 6 != 0
  std::memcpy(bytes.data() + 12, &heads, 4);
  std::memcpy(bytes.data() + 16, &heads, 4);
  const auto bin = dir.file("bad.bin");
  mcuemu::test::write_bytes(bin, bytes);
  const auto msg = file_error([&] { w::read_llama2c(bin); });
  EXPECT_THAT(msg, HasSubstr(bin + ": not a supported llama2.c float checkpoint"));
  EXPECT_THAT(msg, HasSubstr("not divisible by n_heads 6"));
}

TEST(ConvertLlama2cErrors, NaNInCheckpoint) {
  mcuemu::test::ScratchDir dir;
  auto m = tiny(true);
  m.layers[1].w2[9] = std::numeric_limits<float>::quiet_NaN();
  const auto bin = dir.file("nan.bin");
  mcuemu::test::write_bytes(bin, llama2c_bytes(m, 1));
  EXPECT_THAT(file_error([&] { w::read_llama2c(bin); }),
              HasSubstr(bin + ": tensor '/layers/1/w2': non-finite value nan at index 9"));
}

TEST(ConvertLlama2cErrors, MissingFile) {
  mcuemu::test::ScratchDir dir;
  EXPECT_THAT(file_error([&] { w::read_llama2c(dir.file("none.bin")); }),
              HasSubstr("no such file"));
}
