// Helpers shared by the tests of src/chip.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chip/error.hpp"

namespace mcuemu::chip::test {

inline std::string source_dir() {
  return MCUEMU_SOURCE_DIR;
}
inline std::string hw_dir() {
  return source_dir() + "/experiments/hw";
}

inline std::string read_text(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A per-process scratch directory for temporary profiles, removed when the process exits.
inline std::filesystem::path temp_dir() {
  struct Dir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("mcuemu_test_chip_" + std::to_string(::getpid()));
    ~Dir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Dir dir;
  std::filesystem::create_directories(dir.path);
  return dir.path;
}

inline std::string write_temp(const std::string &name, const std::string &text) {
  const auto path = temp_dir() / name;
  std::ofstream(path) << text;
  return path.string();
}

// 1-based line number of the first line that starts with `prefix` (after leading blanks).
inline int line_of(const std::string &text, const std::string &prefix) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const auto b = line.find_first_not_of(" \t");
    if (b != std::string::npos && line.compare(b, prefix.size(), prefix) == 0) return n;
  }
  return -1;
}

// Replaces the first occurrence of `from` (which must exist) by `to`.
inline std::string replace_once(std::string text, const std::string &from, const std::string &to) {
  const auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << "test setup: '" << from << "' not found";
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

// Runs `f`, expects a ChipError, and returns its message ("" if none was thrown).
template <typename F>
std::string error_of(F &&f) {
  try {
    f();
  } catch (const ChipError &e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ChipError";
  return "";
}

}  // namespace mcuemu::chip::test
