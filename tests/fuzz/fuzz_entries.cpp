#include "fuzz_entries.hpp"

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "chip/profile.hpp"
#include "weights/model_file.hpp"
#include "weights/qmodel_io.hpp"

namespace mcuemu::fuzz {
namespace {

std::string g_error;

// One scratch file per process, rewritten for every input.
const std::string &scratch_path() {
  static const std::string path =
      (std::filesystem::temp_directory_path() /
       ("mcuemu-fuzz-" + std::to_string(static_cast<long>(::getpid())) + ".h5"))
          .string();
  return path;
}

bool write_all(const std::string &path, const std::uint8_t *data, std::size_t size) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = (size == 0 || std::fwrite(data, 1, size, f) == size);
  return std::fclose(f) == 0 && ok;
}

}  // namespace

const std::string &last_error() {
  return g_error;
}

int model_file(const std::uint8_t *data, std::size_t size) {
  const std::string &path = scratch_path();
  if (!write_all(path, data, size)) {
    std::perror("fuzz: cannot write the scratch file");
    std::abort();  // a broken harness must not look like a clean run
  }
  g_error.clear();
  int rc = 0;
  try {
    const weights::FileInfo info = weights::read_file_info(path);
    const bool llama = info.config.arch == weights::Arch::Llama;
    if (info.kind == "int8") {
      if (llama)
        (void)weights::read_qllama(path);
      else
        (void)weights::read_qmobilebert(path);
    } else {
      if (llama)
        (void)weights::read_float_model(path);
      else
        (void)weights::read_float_mobilebert(path);
    }
  } catch (const std::exception &e) {
    g_error = e.what();
    rc = 1;
  }
  std::remove(path.c_str());
  return rc;
}

int profile(const std::uint8_t *data, std::size_t size) {
  const std::string input(reinterpret_cast<const char *>(data), size);
  std::string text = input;
  std::vector<std::string> sets;
  if (const auto mark = input.find("\n--set\n"); mark != std::string::npos) {
    text = input.substr(0, mark + 1);
    std::size_t pos = mark + 7;
    while (pos < input.size()) {
      const auto nl = input.find('\n', pos);
      sets.push_back(input.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
      pos = nl == std::string::npos ? input.size() : nl + 1;
    }
  }
  g_error.clear();
  try {
    (void)chip::parse_profile(text, "fuzz.ini", sets);
    return 0;
  } catch (const std::exception &e) {
    g_error = e.what();
    return 1;
  }
}

}  // namespace mcuemu::fuzz
