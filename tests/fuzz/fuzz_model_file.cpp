// libFuzzer target: the HDF5 model file readers (fuzz_entries.hpp).
#include "fuzz_entries.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  mcuemu::fuzz::model_file(data, size);
  return 0;
}
