// The HDF5 model file (weights/FORMAT.md): root attributes carry the configuration, datasets
// carry the tensors of the tensor table (float_model.hpp).
//
// Readers check format_version, kind, every attribute, every dataset's presence, element type
// and shape, and reject NaN/Inf in fp32 weights; every error is a FileError naming the file and
// the dataset. Writers are atomic (h5io.hpp): on failure nothing is left at the output path.
#pragma once

#include <H5Cpp.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "weights/float_model.hpp"
#include "weights/h5io.hpp"

namespace mcuemu::weights {

// The version of the layout described in FORMAT.md that this build reads and writes.
inline constexpr std::int64_t kFormatVersion = 1;

// Called after each tensor with the bytes written (or generated) so far and the total.
using Progress = std::function<void(std::size_t done_bytes, std::size_t total_bytes)>;

// Root attributes shared by every model file (fp32 and int8): format_version, kind, the
// configuration (architecture, dim, ...) and `source` (free text: how the file was made).
void write_config_attrs(H5::H5File &f, const ModelConfig &c, const std::string &kind,
                        const std::string &source);

struct FileInfo {
  std::string path;
  std::int64_t format_version = 0;
  std::string kind;    // "fp32" or "int8"
  std::string source;  // "" when absent
  ModelConfig config;
};
// Reads and checks the root attributes: format_version must be kFormatVersion, every
// configuration attribute present and the configuration valid (validate()).
FileInfo read_file_info(const H5::H5File &f);
FileInfo read_file_info(const std::string &path);

// fp32 files (kind = "fp32").
void write_float_model(const std::string &path, const FloatModel &m, const std::string &source,
                       const Progress &progress = {});
void write_float_model(const std::string &path, const FloatMobileBertModel &m,
                       const std::string &source, const Progress &progress = {});
FloatModel read_float_model(const std::string &path);                 // architecture llama
FloatMobileBertModel read_float_mobilebert(const std::string &path);  // architecture mobilebert

}  // namespace mcuemu::weights
