// The quantizer's integer constants and the int8 model file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "model/quantize.hpp"
#include "weights/file_error.hpp"
#include "weights/model_file.hpp"
#include "weights/qmodel_io.hpp"
#include "weights/synthetic.hpp"

using namespace mcuemu;
using ::testing::HasSubstr;

namespace {

const weights::FloatModel &tiny_fp32() {
  static const auto m = weights::synthetic_llama(weights::config_by_name("tinyllama-tiny"), 5);
  return m;
}

const weights::QLlamaModel &tiny_q() {
  static const auto q = [] {
    model::QuantizeOptions o;
    o.calib_tokens = 12;
    return model::quantize(tiny_fp32(), model::calibrate(tiny_fp32(), o), o);
  }();
  return q;
}

std::string tmp(const std::string &name) {
  return (std::filesystem::temp_directory_path() / ("mcuemu_test_quantize_" + name)).string();
}

}  // namespace

// mul * 2^-shift approximates M to 2^-30 relative whenever the shift is not clamped at 31.
TEST(Quantize, FixedPointIsPreciseAndInRange) {
  for (double M : {1e-6, 3.7e-4, 0.0123, 0.5, 0.999999, 1.0, 1.5, 37.0, 1000.0}) {
    const auto f = model::fixed_point(M);
    EXPECT_GE(f.shift, 0);
    EXPECT_LE(f.shift, 31);
    EXPECT_GT(f.mul, 0);
    const double back = f.mul * std::ldexp(1.0, -f.shift);
    const double tol = f.shift < 31 ? std::ldexp(M, -29) : std::ldexp(1.0, -31);
    EXPECT_NEAR(back, M, tol) << "M=" << M;
    if (f.shift < 31) {
      EXPECT_GE(f.mul, 1 << 30) << "most precision for M=" << M;
    }
  }
  EXPECT_THROW(model::fixed_point(0.0), std::runtime_error);
  EXPECT_THROW(model::fixed_point(-1.0), std::runtime_error);
  EXPECT_THROW(model::fixed_point(std::nan("")), std::runtime_error);
  EXPECT_THROW(model::fixed_point(3e9), std::runtime_error);
}

TEST(Quantize, SharedShiftFitsTheLargestMultiplier) {
  const int32_t s = model::shared_shift({0.001, 0.2, 0.7});
  EXPECT_LT(0.7 * std::ldexp(1.0, s), 2147483647.0);
  EXPECT_GE(0.7 * std::ldexp(1.0, s), std::ldexp(1.0, 30));
}

TEST(Quantize, WeightsArePerChannelSymmetricInt8) {
  const auto &q = tiny_q();
  const auto &c = q.config;
  for (const auto &L : q.layers) {
    for (const auto *lin : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w1, &L.w3, &L.w2}) {
      ASSERT_EQ(lin->w.size(), static_cast<size_t>(lin->out) * lin->in);
      for (int o = 0; o < lin->out; ++o) {
        int mx = 0;
        for (int i = 0; i < lin->in; ++i)
          mx = std::max(mx, std::abs(int{lin->w[static_cast<size_t>(o) * lin->in + i]}));
        EXPECT_EQ(mx, 127) << "each output channel's largest weight maps to 127";
        EXPECT_GT(lin->rq_mul[o], 0);
        EXPECT_EQ(lin->rq_add[o], 1 << (lin->rq_shift - 1)) << "round half up";
      }
    }
    EXPECT_GE(L.softmax.log2, 8) << "I-BERT softmax needs ln2 >= 8 steps";
    EXPECT_EQ(L.hswish.six, 2 * L.hswish.three);
  }
  EXPECT_EQ(static_cast<int>(q.rope_cos.size()), c.seq_len * c.head_dim() / 2);
  EXPECT_EQ(q.rope_cos[0], 1 << q.rope_frac) << "cos(0) in Q14";
  EXPECT_EQ(q.rope_sin[0], 0);
}

TEST(Quantize, CalibrationRejectsBadTokenCounts) {
  model::QuantizeOptions o;
  o.calib_tokens = 0;
  EXPECT_THROW(model::calibrate(tiny_fp32(), o), std::invalid_argument);
  o.calib_tokens = tiny_fp32().config.seq_len + 1;
  EXPECT_THROW(model::calibrate(tiny_fp32(), o), std::invalid_argument);
}

TEST(Quantize, Int8FileRoundTripsEveryConstant) {
  const std::string path = tmp("rt.h5");
  weights::write_qllama(path, tiny_q(), "test");
  const auto back = weights::read_qllama(path);
  const auto &a = tiny_q();
  EXPECT_EQ(back.config.name, a.config.name);
  EXPECT_EQ(back.token_embedding, a.token_embedding);
  EXPECT_EQ(back.rope_cos, a.rope_cos);
  EXPECT_EQ(back.rope_sin, a.rope_sin);
  EXPECT_EQ(back.final_norm.w, a.final_norm.w);
  EXPECT_FLOAT_EQ(back.logit_scale, a.logit_scale);
  ASSERT_EQ(back.layers.size(), a.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const auto &x = a.layers[l], &y = back.layers[l];
    EXPECT_EQ(x.w2.w, y.w2.w);
    EXPECT_EQ(x.w2.rq_mul, y.w2.rq_mul);
    EXPECT_EQ(x.wq.rq_shift, y.wq.rq_shift);
    EXPECT_EQ(x.softmax.C, y.softmax.C);
    EXPECT_EQ(x.resid_ffn.mul_b, y.resid_ffn.mul_b);
    EXPECT_EQ(x.gate.mul, y.gate.mul);
    EXPECT_EQ(x.attn_norm.w, y.attn_norm.w);
    EXPECT_EQ(x.hswish.three, y.hswish.three);
  }
  std::filesystem::remove(path);
}

TEST(Quantize, Int8ReaderRejectsFp32AndMissingData) {
  const std::string fp = tmp("fp.h5");
  weights::write_float_model(fp, tiny_fp32(), "test");
  try {
    weights::read_qllama(fp);
    ADD_FAILURE() << "fp32 file accepted as int8";
  } catch (const weights::FileError &e) {
    EXPECT_THAT(e.what(), HasSubstr("expected an int8 model"));
  }
  // An int8 file with one dataset removed.
  const std::string q = tmp("q.h5");
  weights::write_qllama(q, tiny_q(), "test");
  {
    H5::H5File f(q, H5F_ACC_RDWR);
    f.unlink("/layers/1/w3/rq_mul");
  }
  try {
    weights::read_qllama(q);
    ADD_FAILURE() << "missing dataset accepted";
  } catch (const weights::FileError &e) {
    EXPECT_THAT(e.what(), HasSubstr("/layers/1/w3/rq_mul"));
  }
  std::filesystem::remove(fp);
  std::filesystem::remove(q);
}

// read_qllama_slice reads only the given rows / columns: the same integers as slicing the whole.
TEST(Quantize, SliceReadEqualsSlicingTheWholeModel) {
  const std::string path = tmp("slice.h5");
  weights::write_qllama(path, tiny_q(), "test");
  const auto &a = tiny_q();
  const int D = a.config.dim, F = a.config.hidden_dim;
  const weights::LlamaSlice s{.head_rows_begin = 8,
                              .head_rows_end = 24,
                              .ffn_begin = 5,
                              .ffn_end = 17,
                              .vocab_begin = 3,
                              .vocab_end = 11};
  const auto b = weights::read_qllama_slice(path, s);
  ASSERT_TRUE(b.slice.has_value());
  EXPECT_EQ(*b.slice, s);
  EXPECT_EQ(b.token_embedding, std::vector<int8_t>(a.token_embedding.begin() + 3 * D,
                                                   a.token_embedding.begin() + 11 * D));
  EXPECT_EQ(b.rope_cos, a.rope_cos);
  EXPECT_FLOAT_EQ(b.logit_scale, a.logit_scale);
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const auto &x = a.layers[l], &y = b.layers[l];
    EXPECT_EQ(y.wq.out, 16);
    EXPECT_EQ(y.wq.in, D);
    EXPECT_EQ(y.wk.w, std::vector<int8_t>(x.wk.w.begin() + 8 * D, x.wk.w.begin() + 24 * D));
    EXPECT_EQ(y.wv.rq_mul, std::vector<int32_t>(x.wv.rq_mul.begin() + 8, x.wv.rq_mul.begin() + 24));
    EXPECT_EQ(y.w1.rq_add, std::vector<int32_t>(x.w1.rq_add.begin() + 5, x.w1.rq_add.begin() + 17));
    EXPECT_EQ(y.w3.w, std::vector<int8_t>(x.w3.w.begin() + 5 * D, x.w3.w.begin() + 17 * D));
    // Column slices keep every row and the whole requant.
    ASSERT_EQ(y.wo.in, 16);
    ASSERT_EQ(y.w2.in, 12);
    for (int o = 0; o < D; ++o) {
      for (int i = 0; i < 16; ++i) ASSERT_EQ(y.wo.w[o * 16 + i], x.wo.w[o * D + 8 + i]);
      for (int i = 0; i < 12; ++i) ASSERT_EQ(y.w2.w[o * 12 + i], x.w2.w[o * F + 5 + i]);
    }
    EXPECT_EQ(y.w2.rq_mul, x.w2.rq_mul);
    EXPECT_EQ(y.attn_norm.w, x.attn_norm.w);
  }
  weights::LlamaSlice bad = s;
  bad.ffn_end = F + 1;
  EXPECT_THROW(weights::read_qllama_slice(path, bad), std::invalid_argument);

  // Placed (a weight arena's way): each matrix read into the memory the placer gives, in the
  // documented order, the same integers as the plain read; no vector is filled.
  std::vector<std::vector<int8_t>> rooms;
  std::vector<std::pair<size_t, size_t>> asked;
  const weights::WeightPlacer place = [&](size_t out, size_t in) {
    asked.emplace_back(out, in);
    rooms.emplace_back(out * in + 7, int8_t{0x5a});  // room beyond the matrix: left alone
    return std::span<int8_t>(rooms.back());
  };
  rooms.reserve(1 + 7 * a.layers.size());
  auto keep = std::make_shared<int>(1);
  const auto c = weights::read_qllama_slice(path, s, place, keep);
  EXPECT_EQ(c.placed_storage, keep);
  ASSERT_EQ(asked.size(), 1 + 7 * a.layers.size());
  EXPECT_EQ(asked[0], (std::pair<size_t, size_t>{8, D}));  // the embedding first
  EXPECT_TRUE(c.token_embedding.empty());
  ASSERT_EQ(c.token_embedding_placed.size(), 8 * D + 7u);
  EXPECT_TRUE(std::equal(b.token_embedding.begin(), b.token_embedding.end(),
                         c.token_embedding_placed.begin()));
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const auto &y = b.layers[l], &z = c.layers[l];
    const weights::QLinear *want[] = {&y.wq, &y.wk, &y.wv, &y.wo, &y.w1, &y.w3, &y.w2};
    const weights::QLinear *got[] = {&z.wq, &z.wk, &z.wv, &z.wo, &z.w1, &z.w3, &z.w2};
    for (int k = 0; k < 7; ++k) {
      EXPECT_EQ(asked[1 + 7 * l + k],
                (std::pair<size_t, size_t>{size_t(want[k]->out), size_t(want[k]->in)}));
      EXPECT_TRUE(got[k]->w.empty());
      EXPECT_EQ(got[k]->rq_mul, want[k]->rq_mul);
      ASSERT_EQ(got[k]->placed.size(), want[k]->w.size() + 7) << "layer " << l << " matrix " << k;
      EXPECT_TRUE(std::equal(want[k]->w.begin(), want[k]->w.end(), got[k]->placed.begin()));
      EXPECT_TRUE(std::all_of(got[k]->placed.end() - 7, got[k]->placed.end(),
                              [](int8_t v) { return v == 0x5a; }));
    }
  }
  // A placer that gives less than the matrix is refused, naming the matrix.
  const weights::WeightPlacer stingy = [&](size_t out, size_t in) {
    rooms.emplace_back(out * in - 1);
    return std::span<int8_t>(rooms.back());
  };
  try {
    weights::read_qllama_slice(path, s, stingy, nullptr);
    ADD_FAILURE() << "a short placement accepted";
  } catch (const std::logic_error &e) {
    EXPECT_NE(std::string(e.what()).find("/token_embedding"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}
