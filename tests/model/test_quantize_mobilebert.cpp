// The MobileBERT quantizer, its int8 file and its partition plan (the distributed run itself is
// tested under MPI in tests/mpi/test_mobilebert_shard.cpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "model/partition.hpp"
#include "model/quant_util.hpp"
#include "model/quantize.hpp"
#include "weights/file_error.hpp"
#include "weights/h5io.hpp"
#include "weights/qmodel_io.hpp"
#include "weights/synthetic.hpp"

namespace w = mcuemu::weights;
namespace m = mcuemu::model;
using ::testing::HasSubstr;

namespace {

const w::QMobileBertModel &tiny() {
  static const w::QMobileBertModel q = [] {
    const auto fp = w::synthetic_mobilebert(w::config_by_name("mobilebert-tiny"), 3);
    m::QuantizeOptions o;
    o.calib_tokens = 32;
    return m::quantize(fp, m::calibrate(fp, o), o);
  }();
  return q;
}

struct TempFile {
  std::string path;
  explicit TempFile(const char *name)
      : path((std::filesystem::temp_directory_path() / name).string()) {}
  ~TempFile() { std::filesystem::remove(path); }
};

void expect_same(const w::QLinear &a, const w::QLinear &b) {
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.in, b.in);
  EXPECT_EQ(a.w, b.w);
  EXPECT_EQ(a.bias, b.bias);
  EXPECT_EQ(a.rq_mul, b.rq_mul);
  EXPECT_EQ(a.rq_add, b.rq_add);
  EXPECT_EQ(a.rq_shift, b.rq_shift);
}

void expect_same(const w::QNoNorm &a, const w::QNoNorm &b) {
  EXPECT_EQ(a.mul, b.mul);
  EXPECT_EQ(a.add, b.add);
  EXPECT_EQ(a.shift, b.shift);
}

template <class T>
void expect_same_params(const T &a, const T &b) {
  EXPECT_EQ(0, std::memcmp(&a, &b, sizeof(T)));
}

}  // namespace

TEST(QuantizeMobileBert, ShapesAndConstantsAreSane) {
  const auto &q = tiny();
  const auto &c = q.config;
  ASSERT_EQ(q.layers.size(), static_cast<size_t>(c.n_layers));
  EXPECT_EQ(q.word_embedding.size(), static_cast<size_t>(c.vocab_size) * c.embedding_size);
  EXPECT_EQ(q.emb_proj.out, c.dim);
  EXPECT_EQ(q.emb_proj.in, 3 * c.embedding_size);
  EXPECT_GT(q.output_scale, 0.0f);
  for (const auto &L : q.layers) {
    ASSERT_EQ(L.ffn.size(), static_cast<size_t>(c.n_ffn));
    for (const w::QLinear *lin : {&L.bn_in, &L.bn_kq, &L.wq, &L.wk, &L.wv, &L.wo, &L.bn_out}) {
      EXPECT_EQ(lin->bias.size(), static_cast<size_t>(lin->out));
      EXPECT_GE(lin->rq_shift, 0);
      EXPECT_LE(lin->rq_shift, 31);
    }
    EXPECT_EQ(L.attn_norm.mul.size(), static_cast<size_t>(c.intra_bottleneck));
    EXPECT_EQ(L.out_norm.mul.size(), static_cast<size_t>(c.dim));
    EXPECT_GT(L.softmax.log2, 0);
    EXPECT_EQ(L.softmax.A, 1);
  }
}

// A NoNorm folded into a requant: y = gamma (acc s + b) + beta, with negative gammas too.
TEST(QuantizeMobileBert, ChannelRequantMatchesTheRealAffineMap) {
  const std::vector<double> M = {0.0123, -0.0456, 1e-4, 0.7};
  const std::vector<double> A = {3.25, -17.5, 0.0, 90.0};
  const auto r = m::qutil::channel_requant(M, A, "test");
  for (size_t ch = 0; ch < M.size(); ++ch)
    for (int64_t x : {-20000, -137, 0, 1, 999, 12345}) {
      const int64_t y = (x * r.mul[ch] + r.add[ch]) >> r.shift;
      EXPECT_NEAR(static_cast<double>(y), std::floor(x * M[ch] + A[ch] + 0.5), 1.0)
          << "channel " << ch << " x " << x;
    }
  EXPECT_THROW(m::qutil::channel_requant({0.0, 0.0}, {}, "zero"), std::runtime_error);
}

TEST(QuantizeMobileBert, Int8FileRoundTripIsExact) {
  TempFile f("mcuemu_test_qmobilebert.h5");
  const auto &q = tiny();
  w::write_qmobilebert(f.path, q, "test");
  const auto r = w::read_qmobilebert(f.path);
  EXPECT_TRUE(r.config == q.config);
  EXPECT_EQ(r.output_scale, q.output_scale);
  EXPECT_EQ(r.word_embedding, q.word_embedding);
  EXPECT_EQ(r.position_embedding, q.position_embedding);
  EXPECT_EQ(r.token_type_embedding, q.token_type_embedding);
  expect_same(r.emb_proj, q.emb_proj);
  expect_same_params(r.emb_pos, q.emb_pos);
  expect_same_params(r.emb_type, q.emb_type);
  expect_same(r.emb_norm, q.emb_norm);
  ASSERT_EQ(r.layers.size(), q.layers.size());
  for (size_t l = 0; l < q.layers.size(); ++l) {
    const auto &a = r.layers[l], &b = q.layers[l];
    for (auto lin : {&w::QMobileBertLayer::bn_in, &w::QMobileBertLayer::bn_kq,
                     &w::QMobileBertLayer::wq, &w::QMobileBertLayer::wk, &w::QMobileBertLayer::wv,
                     &w::QMobileBertLayer::wo, &w::QMobileBertLayer::bn_out})
      expect_same(a.*lin, b.*lin);
    expect_same_params(a.scores, b.scores);
    expect_same_params(a.softmax, b.softmax);
    expect_same_params(a.attn, b.attn);
    expect_same_params(a.attn_resid, b.attn_resid);
    expect_same_params(a.out_resid, b.out_resid);
    expect_same(a.attn_norm, b.attn_norm);
    expect_same(a.out_norm, b.out_norm);
    ASSERT_EQ(a.ffn.size(), b.ffn.size());
    for (size_t j = 0; j < a.ffn.size(); ++j) {
      expect_same(a.ffn[j].w1, b.ffn[j].w1);
      expect_same(a.ffn[j].w2, b.ffn[j].w2);
      expect_same_params(a.ffn[j].resid, b.ffn[j].resid);
      expect_same(a.ffn[j].norm, b.ffn[j].norm);
    }
  }
}

TEST(QuantizeMobileBert, ReadersRefuseTheOtherArchitectureAndNameMissingData) {
  TempFile f("mcuemu_test_qmobilebert_arch.h5");
  w::write_qmobilebert(f.path, tiny(), "test");
  try {
    w::read_qllama(f.path);
    ADD_FAILURE() << "a MobileBERT file read as Llama";
  } catch (const w::FileError &e) {
    EXPECT_THAT(e.what(), HasSubstr("holds a mobilebert model, not a Llama model"));
  }
  {
    H5::H5File h(f.path, H5F_ACC_RDWR);
    h.unlink("/layers/1/ffn/3/w2/bias");
  }
  try {
    w::read_qmobilebert(f.path);
    ADD_FAILURE() << "a file without /layers/1/ffn/3/w2/bias was read";
  } catch (const w::FileError &e) {
    EXPECT_THAT(e.what(), HasSubstr("/layers/1/ffn/3/w2/bias"));
  }
}

TEST(PartitionMobileBert, FourChipsSplitHeadsFfnAndResidualColumns) {
  const auto c = w::config_by_name("mobilebert");
  const auto p = m::make_plan(c, 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(p.chips[i].heads.size(), 1);
    EXPECT_EQ(p.chips[i].ffn.size(), 128);
    EXPECT_EQ(p.chips[i].dim.begin, 128 * i);
    EXPECT_EQ(p.chips[i].dim.size(), 128);
  }
  const auto p3 = m::make_plan(c, 3);  // uneven but valid
  EXPECT_EQ(p3.chips[0].dim.size() + p3.chips[1].dim.size() + p3.chips[2].dim.size(), 512);
  EXPECT_FALSE(p3.even());
}

TEST(PartitionMobileBert, MoreChipsThanHeadsSaysNoMobileBertGoesFurther) {
  try {
    m::make_plan(w::config_by_name("mobilebert"), 8);
    ADD_FAILURE() << "8 chips accepted for 4 heads";
  } catch (const std::invalid_argument &e) {
    EXPECT_THAT(e.what(), HasSubstr("mobilebert has 4 heads"));
    EXPECT_THAT(e.what(), HasSubstr("at most 4 chips, not 8"));
    EXPECT_THAT(e.what(), HasSubstr("no mobilebert configuration has 8 or more heads"));
    EXPECT_THAT(e.what(), HasSubstr("tinyllama-scaled-8"));
  }
}
