// libFuzzer target: the INI hardware profile parser (fuzz_entries.hpp).
#include "fuzz_entries.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  mcuemu::fuzz::profile(data, size);
  return 0;
}
