// The generic HDF5 helpers: typed round trips, checked reads, attributes, atomic writes.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "weights/h5io.hpp"
#include "weights/test_util.hpp"

namespace w = mcuemu::weights;
namespace h5 = mcuemu::weights::h5;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

// The message of the FileError that f throws ("" when it does not throw).
template <class F>
std::string file_error(F &&f) {
  try {
    f();
  } catch (const w::FileError &e) {
    return e.what();
  }
  return "";
}

// A file with a few datasets of different types.
void write_sample(const std::string &path) {
  h5::write_atomically(path, [](H5::H5File &f) {
    const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 1e-7f, -1e7f};
    const std::vector<std::int8_t> b = {-128, -1, 0, 1, 127, 5};
    const std::vector<std::int32_t> c = {-2147483647 - 1, 2147483647};
    h5::write_dataset<float>(f, "/a", a, {2, 3});
    h5::write_dataset<std::int8_t>(f, "/g/h/b", b, {6});
    h5::write_dataset<std::int32_t>(f, "g/c", c, {2});
    H5::Group root = f.openGroup("/");
    h5::write_int_attr(root, "n", -42);
    h5::write_float_attr(root, "x", 0.125);
    h5::write_string_attr(root, "s", "hello");
  });
}

}  // namespace

TEST(WeightsH5io, TypedRoundTrip) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  const H5::H5File f = h5::open_read(path);
  EXPECT_THAT(h5::read_dataset<float>(f, "/a", {2, 3}),
              ElementsAre(1.5f, -2.0f, 3.25f, 0.0f, 1e-7f, -1e7f));
  EXPECT_THAT(h5::read_dataset<std::int8_t>(f, "/g/h/b", {6}), ElementsAre(-128, -1, 0, 1, 127, 5));
  EXPECT_THAT(h5::read_dataset<std::int32_t>(f, "/g/c", {2}),
              ElementsAre(-2147483647 - 1, 2147483647));
  const H5::Group root = f.openGroup("/");
  EXPECT_EQ(h5::read_int_attr(root, "n"), -42);
  EXPECT_EQ(h5::read_float_attr(root, "x"), 0.125);
  EXPECT_EQ(h5::read_float_attr(root, "n"), -42.0);  // integers read as numbers
  EXPECT_EQ(h5::read_string_attr(root, "s"), "hello");
  EXPECT_TRUE(h5::has_attr(root, "s"));
  EXPECT_FALSE(h5::has_attr(root, "t"));
  const auto info = h5::dataset_info(f, "/g/h/b");
  EXPECT_EQ(info.dtype, "i8");
  EXPECT_EQ(info.bytes(), 6u);
  EXPECT_EQ(h5::dtype_name<std::int16_t>(), std::string("i16"));
}

// Blocks (hyperslabs) of 2-D and 1-D datasets, into a new vector or into caller memory.
TEST(WeightsH5io, BlockReads) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  const H5::H5File f = h5::open_read(path);
  // /a is {{1.5, -2, 3.25}, {0, 1e-7, -1e7}}.
  EXPECT_THAT(h5::read_dataset_block<float>(f, "/a", {2, 3}, 0, 2, 1, 3),
              ElementsAre(-2.0f, 3.25f, 1e-7f, -1e7f));
  EXPECT_THAT(h5::read_dataset_block<float>(f, "/a", {2, 3}, 1, 2),
              ElementsAre(0.0f, 1e-7f, -1e7f));
  EXPECT_THAT(h5::read_dataset_block<float>(f, "/a", {2, 3}, 0, 2, 2, 2), ElementsAre());
  EXPECT_THAT(h5::read_dataset_block<std::int8_t>(f, "/g/h/b", {6}, 2, 5), ElementsAre(0, 1, 127));
  std::vector<float> room(2, -9.0f);
  h5::read_dataset_block_into<float>(f, "/a", {2, 3}, 0, 2, 0, 1, std::span<float>(room));
  EXPECT_THAT(room, ElementsAre(1.5f, 0.0f));
  // A block outside the dataset, and room of another size than the block, are refused and
  // nothing is written.
  EXPECT_THROW(h5::read_dataset_block<float>(f, "/a", {2, 3}, 1, 3), std::invalid_argument);
  EXPECT_THROW(h5::read_dataset_block<float>(f, "/a", {2, 3}, 0, 1, 2, 4), std::invalid_argument);
  EXPECT_THROW(h5::read_dataset_block<float>(f, "/a", {2, 3}, 0, 1, 2, 1), std::invalid_argument);
  for (size_t n : {1, 3}) {
    std::vector<float> wrong(n, -9.0f);
    try {
      h5::read_dataset_block_into<float>(f, "/a", {2, 3}, 0, 2, 0, 1, std::span<float>(wrong));
      ADD_FAILURE() << n << " elements of room accepted for a block of 2";
    } catch (const std::invalid_argument &e) {
      EXPECT_THAT(e.what(), HasSubstr(fmt::format("{} elements of room for a block of 2", n)));
    }
    EXPECT_THAT(wrong, ::testing::Each(-9.0f));
  }
  // The file is checked first: a wrong expected shape is a FileError, as for whole reads.
  EXPECT_THAT(file_error([&] {
                h5::read_dataset_block<float>(f, "/a", {3, 2}, 0, 1);
              }),
              HasSubstr("expected shape"));
}

TEST(WeightsH5io, MoreElementTypes) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("t.h5");
  h5::write_atomically(path, [](H5::H5File &f) {
    h5::write_dataset<double>(f, "d", std::vector<double>{0.1, 0.2}, {2});
    h5::write_dataset<std::uint8_t>(f, "u8", std::vector<std::uint8_t>{0, 255}, {2});
    h5::write_dataset<std::int16_t>(f, "i16", std::vector<std::int16_t>{-32768, 32767}, {2});
    h5::write_dataset<std::int64_t>(f, "i64", std::vector<std::int64_t>{1LL << 40}, {1});
  });
  const H5::H5File f = h5::open_read(path);
  EXPECT_THAT(h5::read_dataset<double>(f, "d", {2}), ElementsAre(0.1, 0.2));
  EXPECT_THAT(h5::read_dataset<std::uint8_t>(f, "u8", {2}), ElementsAre(0, 255));
  EXPECT_THAT(h5::read_dataset<std::int16_t>(f, "i16", {2}), ElementsAre(-32768, 32767));
  EXPECT_THAT(h5::read_dataset<std::int64_t>(f, "i64", {1}), ElementsAre(1LL << 40));
  // Signedness is part of the type: u8 is not i8.
  EXPECT_THAT(file_error([&] { h5::read_dataset<std::int8_t>(f, "u8", {2}); }),
              HasSubstr("expected element type i8, found u8"));
}

TEST(WeightsH5io, MissingDatasetNamesFileAndDataset) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  const H5::H5File f = h5::open_read(path);
  const auto msg = file_error([&] { h5::read_dataset<float>(f, "/layers/3/wq", {2, 3}); });
  EXPECT_THAT(msg, HasSubstr(path));
  EXPECT_THAT(msg, HasSubstr("dataset '/layers/3/wq' is missing"));
  EXPECT_FALSE(h5::exists(f, "/layers/3/wq"));
  EXPECT_TRUE(h5::exists(f, "/g/h/b"));
}

TEST(WeightsH5io, WrongDtypeNamesExpectedAndFound) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  const H5::H5File f = h5::open_read(path);
  const auto msg = file_error([&] { h5::read_dataset<float>(f, "/g/h/b", {6}); });
  EXPECT_THAT(msg, HasSubstr(path));
  EXPECT_THAT(msg, HasSubstr("dataset '/g/h/b': expected element type f32, found i8"));
}

TEST(WeightsH5io, WrongShapeNamesExpectedAndFound) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  const H5::H5File f = h5::open_read(path);
  const auto msg = file_error([&] { h5::read_dataset<float>(f, "/a", {3, 2}); });
  EXPECT_THAT(msg, HasSubstr(path));
  EXPECT_THAT(msg, HasSubstr("dataset '/a': expected shape (3, 2), found (2, 3)"));
}

TEST(WeightsH5io, AttributeErrors) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  const H5::H5File f = h5::open_read(path);
  const H5::Group root = f.openGroup("/");
  EXPECT_THAT(file_error([&] { h5::read_int_attr(root, "dim"); }),
              HasSubstr(path + ": attribute 'dim' is missing"));
  EXPECT_THAT(file_error([&] { h5::read_int_attr(root, "s"); }),
              HasSubstr("attribute 's': expected an integer"));
  EXPECT_THAT(file_error([&] { h5::read_string_attr(root, "n"); }),
              HasSubstr("attribute 'n': expected a string"));
}

TEST(WeightsH5io, OpenMissingFile) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("nope.h5");
  EXPECT_THAT(file_error([&] { h5::open_read(path); }), HasSubstr(path + ": no such file"));
}

TEST(WeightsH5io, OpenNotHdf5) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("text.h5");
  mcuemu::test::write_bytes(path, {'n', 'o', 't', ' ', 'h', 'd', 'f', '5', '\n'});
  EXPECT_THAT(file_error([&] { h5::open_read(path); }), HasSubstr(path + ": not an HDF5 file"));
  EXPECT_THAT(file_error([&] { h5::open_read(dir.path().string()); }), HasSubstr("is a directory"));
}

TEST(WeightsH5io, OpenTruncated) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  mcuemu::test::truncate_file(path, std::filesystem::file_size(path) / 2);
  EXPECT_THAT(file_error([&] { h5::open_read(path); }), HasSubstr(path + ": cannot open"));
  EXPECT_THAT(file_error([&] { h5::open_read(path); }), HasSubstr("truncated"));
}

TEST(WeightsH5io, AtomicWriteLeavesOnlyTheFile) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  write_sample(path);
  EXPECT_THAT(dir.entries(), ElementsAre("a.h5"));
}

TEST(WeightsH5io, AtomicWriteFailureLeavesNothing) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  EXPECT_THROW(h5::write_atomically(path,
                                    [](H5::H5File &f) {
                                      h5::write_dataset<float>(f, "x", std::vector<float>(10),
                                                               {10});
                                      throw std::runtime_error("stop half-way");
                                    }),
               std::runtime_error);
  EXPECT_TRUE(dir.entries().empty());
  // An existing file at the path survives a failed rewrite untouched.
  write_sample(path);
  const auto before = mcuemu::test::read_bytes(path);
  EXPECT_THROW(h5::write_atomically(path, [](H5::H5File &) { throw std::runtime_error("no"); }),
               std::runtime_error);
  EXPECT_EQ(mcuemu::test::read_bytes(path), before);
  EXPECT_THAT(dir.entries(), ElementsAre("a.h5"));
}

TEST(WeightsH5io, AtomicWriteHdf5ErrorBecomesFileError) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  const auto msg = file_error([&] {
    h5::write_atomically(path, [](H5::H5File &f) {
      h5::write_dataset<float>(f, "x", std::vector<float>(2), {2});
      h5::write_dataset<float>(f, "x", std::vector<float>(2), {2});  // exists already
    });
  });
  EXPECT_THAT(msg, HasSubstr("cannot write dataset 'x'"));
  EXPECT_TRUE(dir.entries().empty());
}

TEST(WeightsH5io, AtomicWriteIntoMissingDirectory) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("no/such/dir/a.h5");
  EXPECT_THAT(file_error([&] { h5::write_atomically(path, [](H5::H5File &) {}); }),
              HasSubstr(path + ": cannot create the output file"));
}

TEST(WeightsH5io, SameContentSameBytes) {
  mcuemu::test::ScratchDir dir;
  write_sample(dir.file("a.h5"));
  write_sample(dir.file("b.h5"));
  EXPECT_EQ(mcuemu::test::read_bytes(dir.file("a.h5")), mcuemu::test::read_bytes(dir.file("b.h5")));
}

TEST(WeightsH5io, ListDatasetsInNaturalOrder) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("a.h5");
  h5::write_atomically(path, [](H5::H5File &f) {
    for (int l : {10, 2, 1}) {
      h5::write_dataset<float>(f, "/layers/" + std::to_string(l) + "/w", std::vector<float>(1),
                               {1});
    }
    h5::write_dataset<float>(f, "/emb", std::vector<float>(1), {1});
  });
  const H5::H5File f = h5::open_read(path);
  EXPECT_THAT(h5::list_datasets(f),
              ElementsAre("/emb", "/layers/1/w", "/layers/2/w", "/layers/10/w"));
}

TEST(WeightsH5io, NaturalLess) {
  EXPECT_TRUE(h5::natural_less("/layers/2/wq", "/layers/10/wq"));
  EXPECT_FALSE(h5::natural_less("/layers/10/wq", "/layers/2/wq"));
  EXPECT_TRUE(h5::natural_less("a", "b"));
  EXPECT_TRUE(h5::natural_less("a", "a1"));
  EXPECT_FALSE(h5::natural_less("a1", "a1"));
  EXPECT_TRUE(h5::natural_less("x007", "x8"));
}
