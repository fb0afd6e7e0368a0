// Every input the fuzzers ever crashed on (tests/fuzz/regressions/<target>/), fed to the same
// entry point as the fuzz target: each must now be accepted or rejected with a clean error.
// A crash or a sanitizer report here is a regression of a fixed bug.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_entries.hpp"

namespace {

namespace fs = std::filesystem;

std::vector<std::string> inputs(const std::string &target) {
  std::vector<std::string> files;
  const fs::path dir = fs::path(MCUEMU_FUZZ_REGRESSIONS) / target;
  if (fs::is_directory(dir))
    for (const auto &e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().filename() != "README.md")
        files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

template <class Entry>
void run_all(const std::string &target, Entry entry) {
  const auto files = inputs(target);
  for (const auto &f : files) {
    SCOPED_TRACE(f);
    const std::string bytes = slurp(f);
    const int rc = entry(reinterpret_cast<const std::uint8_t *>(bytes.data()), bytes.size());
    EXPECT_TRUE(rc == 0 || rc == 1);
    std::printf("  %s: %s%s\n", fs::path(f).filename().c_str(),
                rc == 0 ? "accepted" : "rejected: ", mcuemu::fuzz::last_error().c_str());
  }
  std::printf("%zu %s regression inputs\n", files.size(), target.c_str());
}

TEST(FuzzRegressions, ModelFile) {
  run_all("model_file", mcuemu::fuzz::model_file);
}

TEST(FuzzRegressions, Profile) {
  run_all("profile", mcuemu::fuzz::profile);
}

}  // namespace
