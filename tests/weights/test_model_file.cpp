// fp32 model files: round trips of both architectures and every kind of bad input, each giving
// one FileError that names the file and the dataset, and writes that leave nothing behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "weights/h5io.hpp"
#include "weights/model_file.hpp"
#include "weights/synthetic.hpp"
#include "weights/test_util.hpp"

namespace w = mcuemu::weights;
namespace h5 = mcuemu::weights::h5;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

template <class F>
std::string file_error(F &&f) {
  try {
    f();
  } catch (const w::FileError &e) {
    return e.what();
  }
  return "";
}

template <class M>
void expect_same_tensors(M &a, M &b) {
  auto ta = w::tensors(a), tb = w::tensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) {
    EXPECT_EQ(ta[i].spec.name, tb[i].spec.name);
    EXPECT_TRUE(*ta[i].data == *tb[i].data) << ta[i].spec.name;
  }
}

// Writes tinyllama-tiny (seed 7) to path.
void write_tiny(const std::string &path) {
  const auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 7);
  w::write_float_model(path, m, "test");
}

// Edits an existing file in place (to make the bad inputs).
void edit(const std::string &path, const std::function<void(H5::H5File &)> &f) {
  H5::H5File file(path, H5F_ACC_RDWR);
  f(file);
}

void set_float(const std::string &path, const std::string &dataset, std::size_t index, float v) {
  edit(path, [&](H5::H5File &f) {
    H5::DataSet ds = f.openDataSet(dataset);
    const auto n = static_cast<std::size_t>(ds.getSpace().getSimpleExtentNpoints());
    std::vector<float> data(n);
    ds.read(data.data(), H5::PredType::NATIVE_FLOAT);
    data[index] = v;
    ds.write(data.data(), H5::PredType::NATIVE_FLOAT);
  });
}

}  // namespace

TEST(WeightsFile, LlamaRoundTripIsExact) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 7);
  w::write_float_model(path, m, "test source");
  auto r = w::read_float_model(path);
  EXPECT_EQ(r.config, m.config);
  expect_same_tensors(m, r);
  const auto info = w::read_file_info(path);
  EXPECT_EQ(info.kind, "fp32");
  EXPECT_EQ(info.format_version, w::kFormatVersion);
  EXPECT_EQ(info.source, "test source");
  EXPECT_THAT(dir.entries(), ElementsAre("tiny.h5"));
}

TEST(WeightsFile, LlamaUnsharedClassifierRoundTrip) {
  mcuemu::test::ScratchDir dir;
  auto c = w::config_by_name("tinyllama-tiny");
  c.shared_classifier = false;
  c.name = "tiny-unshared";
  auto m = w::synthetic_llama(c, 3);
  ASSERT_EQ(m.wcls.size(), static_cast<std::size_t>(c.vocab_size * c.dim));
  w::write_float_model(dir.file("u.h5"), m, "");
  auto r = w::read_float_model(dir.file("u.h5"));
  EXPECT_FALSE(r.config.shared_classifier);
  EXPECT_EQ(r.config.name, "tiny-unshared");
  expect_same_tensors(m, r);
}

TEST(WeightsFile, MobileBertRoundTripIsExact) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("mb.h5");
  auto m = w::synthetic_mobilebert(w::config_by_name("mobilebert-tiny"), 11);
  w::write_float_model(path, m, "");
  auto r = w::read_float_mobilebert(path);
  EXPECT_EQ(r.config, m.config);
  expect_same_tensors(m, r);
  // Reading it as the other architecture is a clear error.
  EXPECT_THAT(file_error([&] { w::read_float_model(path); }),
              HasSubstr("architecture is 'mobilebert', expected 'llama'"));
}

TEST(WeightsFile, AttributesDescribeTheConfig) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  const H5::H5File f = h5::open_read(path);
  const H5::Group root = f.openGroup("/");
  EXPECT_EQ(h5::read_string_attr(root, "architecture"), "llama");
  EXPECT_EQ(h5::read_string_attr(root, "kind"), "fp32");
  EXPECT_EQ(h5::read_int_attr(root, "dim"), 64);
  EXPECT_EQ(h5::read_int_attr(root, "n_heads"), 8);
  EXPECT_EQ(h5::read_int_attr(root, "shared_classifier"), 1);
  EXPECT_FLOAT_EQ(static_cast<float>(h5::read_float_attr(root, "norm_eps")), 1e-5f);
  EXPECT_EQ(h5::dataset_info(f, "/layers/1/w2").shape, (h5::Shape{64, 172}));
}

TEST(WeightsFile, TruncatedFile) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  mcuemu::test::truncate_file(path, std::filesystem::file_size(path) - 1000);
  const auto msg = file_error([&] { w::read_float_model(path); });
  EXPECT_THAT(msg, HasSubstr(path));
  EXPECT_THAT(msg, HasSubstr("truncated"));
}

TEST(WeightsFile, NotHdf5) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("model.h5");
  mcuemu::test::write_bytes(path, std::vector<char>(4096, 'x'));
  EXPECT_THAT(file_error([&] { w::read_float_model(path); }),
              HasSubstr(path + ": not an HDF5 file"));
}

TEST(WeightsFile, WrongFormatVersion) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  edit(path, [](H5::H5File &f) {
    H5::Group root = f.openGroup("/");
    h5::write_int_attr(root, "format_version", 2);
  });
  EXPECT_THAT(file_error([&] { w::read_float_model(path); }),
              HasSubstr(path + ": format_version 2 is not supported (this build reads 1)"));
}

TEST(WeightsFile, MissingFormatVersion) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  edit(path, [](H5::H5File &f) { f.openGroup("/").removeAttr("format_version"); });
  EXPECT_THAT(file_error([&] { w::read_float_model(path); }),
              HasSubstr(path + ": attribute 'format_version' is missing"));
}

TEST(WeightsFile, WrongKind) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  edit(path, [](H5::H5File &f) {
    H5::Group root = f.openGroup("/");
    h5::write_string_attr(root, "kind", "int8");
  });
  EXPECT_THAT(file_error([&] { w::read_float_model(path); }),
              HasSubstr("kind is 'int8', expected an fp32 model file"));
}

TEST(WeightsFile, MissingDataset) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  edit(path, [](H5::H5File &f) { f.unlink("/layers/1/wq"); });
  EXPECT_THAT(file_error([&] { w::read_float_model(path); }),
              HasSubstr(path + ": dataset '/layers/1/wq' is missing"));
}

TEST(WeightsFile, WrongDtype) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  edit(path, [](H5::H5File &f) {
    f.unlink("/rms_final");
    h5::write_dataset<double>(f, "/rms_final", std::vector<double>(64, 1.0), {64});
  });
  EXPECT_THAT(file_error([&] { w::read_float_model(path); }),
              HasSubstr(path + ": dataset '/rms_final': expected element type f32, found f64"));
}

TEST(WeightsFile, WrongShape) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  edit(path, [](H5::H5File &f) {
    f.unlink("/layers/0/w1");
    h5::write_dataset<float>(f, "/layers/0/w1", std::vector<float>(64 * 172), {64, 172});
  });
  EXPECT_THAT(
      file_error([&] { w::read_float_model(path); }),
      HasSubstr(path + ": dataset '/layers/0/w1': expected shape (172, 64), found (64, 172)"));
}

TEST(WeightsFile, NaNInWeights) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  set_float(path, "/layers/1/wv", 77, std::numeric_limits<float>::quiet_NaN());
  EXPECT_THAT(file_error([&] { w::read_float_model(path); }),
              HasSubstr(path + ": dataset '/layers/1/wv': non-finite value nan at index 77"));
}

TEST(WeightsFile, InfInWeights) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  set_float(path, "/token_embedding", 3, -std::numeric_limits<float>::infinity());
  EXPECT_THAT(file_error([&] { w::read_float_model(path); }),
              HasSubstr(path + ": dataset '/token_embedding': non-finite value -inf at index 3"));
}

TEST(WeightsFile, DimsThatDoNotDivide) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  write_tiny(path);
  edit(path, [](H5::H5File &f) {
    H5::Group root = f.openGroup("/");
    h5::write_int_attr(root, "n_heads", 5);
    h5::write_int_attr(root, "n_kv_heads", 5);
  });
  const auto msg = file_error([&] { w::read_float_model(path); });
  EXPECT_THAT(msg, HasSubstr(path + ": invalid configuration"));
  EXPECT_THAT(msg, HasSubstr("dim 64 is not divisible by n_heads 5"));
}

TEST(WeightsFile, WriteRefusesNaNAndLeavesNothing) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("out.h5");
  auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 1);
  m.layers[0].w3[5] = std::numeric_limits<float>::infinity();
  const auto msg = file_error([&] { w::write_float_model(path, m, ""); });
  EXPECT_THAT(msg, HasSubstr("tensor '/layers/0/w3': non-finite value inf at index 5"));
  EXPECT_TRUE(dir.entries().empty());
}

TEST(WeightsFile, WriteRefusesWrongSizes) {
  mcuemu::test::ScratchDir dir;
  auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 1);
  m.layers[1].wk.pop_back();
  EXPECT_THROW(w::write_float_model(dir.file("out.h5"), m, ""), std::invalid_argument);
  EXPECT_TRUE(dir.entries().empty());
}

TEST(WeightsFile, ProgressReachesTotal) {
  mcuemu::test::ScratchDir dir;
  const auto m = w::synthetic_llama(w::config_by_name("tinyllama-tiny"), 1);
  std::size_t last = 0, total = 0, calls = 0;
  w::write_float_model(dir.file("p.h5"), m, "", [&](std::size_t d, std::size_t t) {
    EXPECT_GE(d, last);
    last = d;
    total = t;
    ++calls;
  });
  EXPECT_EQ(calls, w::tensor_specs(m.config).size());
  EXPECT_EQ(last, total);
  EXPECT_EQ(total, static_cast<std::size_t>(w::parameter_count(m.config)) * 4);
}
