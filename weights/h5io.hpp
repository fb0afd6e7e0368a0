// Generic HDF5 helpers for model files (fp32 and int8): checked reads, typed writes, scalar
// attributes and atomic output. Serial HDF5 C++ API.
//
// Every error is a FileError whose message names the file and, where there is one, the dataset
// or attribute, and says what was expected: "m.h5: dataset '/layers/0/wq': expected shape
// (64, 64), found (64, 32)". HDF5's own error-stack printing is switched off (quiet()), so a bad
// file gives one line, not a page of stack.
#pragma once

#include <H5Cpp.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "weights/file_error.hpp"

namespace mcuemu::weights {
namespace h5 {

using Shape = std::vector<std::size_t>;

// Turns off HDF5's automatic error printing (idempotent; every helper calls it).
void quiet();

// Opens an existing file read-only. Missing file, not an HDF5 file, truncated or corrupt file:
// FileError naming the file. Only files with checksummed metadata are read (superblock version
// kMinSuperblockVersion or later, what write_atomically writes): libhdf5 1.10 verifies those
// checksums before decoding, whereas damaged metadata of older-format files can crash it
// (found by fuzzing, docs/robustness.md).
H5::H5File open_read(const std::string &path);
// Hands memory that reading left behind back to the system (HDF5's free lists, the C library's
// freed heap): call it after a model is read, before the run allocates its own buffers.
void release_memory();

// The superblock version of an HDF5 file (-1 if no signature is found).
int superblock_version(const std::string &path);
inline constexpr int kMinSuperblockVersion = 2;
// Part of the cache key of generated model files: bumped when the HDF5 container written by
// write_atomically changes (2: HDF5 1.8+ format with checksummed, compact metadata).
inline constexpr int kContainerVersion = 2;

// Element types the typed helpers accept: float, double, int8/16/32/64, uint8/16/32.
// Stored little-endian (IEEE_F32LE, STD_I8LE, ...). dtype_name<T>() is "f32", "i8", ...
template <class T>
const char *dtype_name();

// Opens group `path` (relative to g, or absolute), creating every missing level.
H5::Group ensure_group(H5::Group &g, const std::string &path);

// Writes a dataset `name` (relative to g, or absolute; missing groups are created) holding
// `data` with the given shape (the product of shape must equal data.size()). Objects are written
// without modification times, so the same content gives a byte-identical file.
template <class T>
void write_dataset(H5::Group &g, const std::string &name, std::span<const T> data,
                   const Shape &shape);

// Reads dataset `path`, checking that it exists, that its element type is T's (class, size and
// signedness) and that its shape is expected_shape. FileError otherwise.
template <class T>
std::vector<T> read_dataset(const H5::H5File &f, const std::string &path,
                            const Shape &expected_shape);
// The same into caller memory (out.size() must equal the product of expected_shape).
template <class T>
void read_dataset_into(const H5::H5File &f, const std::string &path, const Shape &expected_shape,
                       std::span<T> out);

// A block of a 1-D or 2-D dataset (checked as above against expected_shape, the whole
// dataset's shape): rows [row_begin, row_end) and, for 2-D, columns [col_begin, col_end); col_end
// = -1 means every column. Only the block is read from the file (an HDF5 hyperslab).
template <class T>
std::vector<T> read_dataset_block(const H5::H5File &f, const std::string &path,
                                  const Shape &expected_shape, size_t row_begin, size_t row_end,
                                  size_t col_begin = 0, std::ptrdiff_t col_end = -1);

// The same block into caller memory (out.size() must be the block's element count).
template <class T>
void read_dataset_block_into(const H5::H5File &f, const std::string &path,
                             const Shape &expected_shape, size_t row_begin, size_t row_end,
                             size_t col_begin, std::ptrdiff_t col_end, std::span<T> out);

struct DatasetInfo {
  Shape shape;
  std::string dtype;  // "f32", "i8", "u8", "i32", "f64", "string", ... ("?" for other classes)
  std::size_t elem_size = 0;
  std::size_t numel() const;
  std::size_t bytes() const { return numel() * elem_size; }
};
// Shape and element type of an existing dataset (FileError when missing).
DatasetInfo dataset_info(const H5::H5File &f, const std::string &path);

// Whether a link path like "/layers/0/wq" exists (every intermediate group checked).
bool exists(const H5::H5File &f, const std::string &path);

// Absolute paths of every dataset in the file, in natural order ("/layers/2" before
// "/layers/10").
std::vector<std::string> list_datasets(const H5::H5File &f);

// "/layers/10/wq" vs "/layers/2/wq": compares digit runs as numbers.
bool natural_less(const std::string &a, const std::string &b);

// Scalar attributes. Integers are stored as int64, floats as float64, strings as fixed-length
// ASCII. Readers accept any integer width (int), any float or integer (float), fixed or
// variable-length strings, and throw FileError naming the file and attribute when the
// attribute is missing or has another class.
void write_int_attr(H5::H5Object &obj, const std::string &name, std::int64_t v);
void write_float_attr(H5::H5Object &obj, const std::string &name, double v);
void write_string_attr(H5::H5Object &obj, const std::string &name, const std::string &v);
bool has_attr(const H5::H5Object &obj, const std::string &name);
std::int64_t read_int_attr(const H5::H5Object &obj, const std::string &name);
double read_float_attr(const H5::H5Object &obj, const std::string &name);
std::string read_string_attr(const H5::H5Object &obj, const std::string &name);

// Runs `read` (a reader of the file at `path`) and turns any H5::Exception that escapes it into
// a FileError naming the file. The HDF5 C++ API throws H5::Exception, which is not a
// std::exception: without this, a damaged object header or a group where a dataset should be
// would end the program through std::terminate instead of one error line.
template <class F>
auto guard(const std::string &path, F &&read) {
  try {
    return read();
  } catch (const H5::Exception &e) {
    const std::string d = e.getDetailMsg();
    throw FileError(path + ": unexpected or corrupt HDF5 structure: " +
                    (d.empty() ? std::string("HDF5 error") : d));
  }
}

// "<path>.tmp.<pid>": where write_atomically writes before the rename.
std::string temp_path_for(const std::string &path);

// Creates `path` atomically: `fill` writes into a new HDF5 file at temp_path_for(path), which is
// closed and renamed onto path only when fill returns. The file uses the HDF5 1.8+ format
// (superblock v2, checksummed object headers, links and attributes stored compactly). On any
// exception the temporary file is removed and the exception propagates, so path is either the
// complete new file or untouched.
void write_atomically(const std::string &path, const std::function<void(H5::H5File &)> &fill);

}  // namespace h5
}  // namespace mcuemu::weights
