// The error type for bad input and output files.
#pragma once

#include <stdexcept>

namespace mcuemu::weights {

// A problem with an input or output file (missing, truncated, wrong type or shape, NaN, ...);
// what() is one line that names the file and, where there is one, the dataset or tensor.
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mcuemu::weights
