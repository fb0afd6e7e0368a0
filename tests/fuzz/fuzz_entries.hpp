// The entry points the fuzz targets drive (tests/fuzz/README.md): each takes raw bytes, calls
// the real reader, and returns 0 when the input was accepted or 1 when it was rejected with an
// error (a std::exception, i.e. one clear message). Anything else — a crash, a sanitizer
// report, an exception that is not a std::exception — is a bug in the reader.
// The same functions run every saved crash input in the normal test suite
// (test_fuzz_regressions.cpp), so a fixed crash stays fixed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mcuemu::fuzz {

// The HDF5 model file readers: the bytes are written to a temporary file, whose root
// attributes are read first (read_file_info), then the whole model with the reader its kind
// and architecture select (read_qllama, read_qmobilebert, read_float_model,
// read_float_mobilebert), as `mcuemu run --weights` and `mcuemu quantize` do.
int model_file(const std::uint8_t *data, std::size_t size);

// The hardware profile parser (chip::parse_profile). The input is the INI text; lines after a
// line "--set" are --set overrides (key=value), so the fuzzer explores those too.
int profile(const std::uint8_t *data, std::size_t size);

// Last error message of the calling entry point (for the regression test's log).
const std::string &last_error();

}  // namespace mcuemu::fuzz
