// Small helpers shared by the subcommands: byte formatting and a progress printer.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace mcuemu::cli {

// "166.8 MB" (decimal megabytes, like the paper's "3.16 MB per chip").
inline std::string mb(double bytes) {
  return fmt::format("{:.2f} MB", bytes / 1e6);
}

// Prints "<what> 10% 20% ..." to stderr for large jobs (above min_bytes), at most every 10%.
class ProgressPrinter {
 public:
  ProgressPrinter(std::string what, std::size_t total, bool enabled)
      : what_(std::move(what)), enabled_(enabled && total >= kMinBytes) {}
  void operator()(std::size_t done, std::size_t total) {
    if (!enabled_ || total == 0) return;
    const int pct =
        static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
    if (pct / 10 <= last_ / 10) return;
    last_ = pct;
    if (first_) fmt::print(stderr, "{}:", what_);
    first_ = false;
    fmt::print(stderr, " {}%", pct);
    if (done >= total) fmt::print(stderr, "\n");
    std::fflush(stderr);
  }
  static constexpr std::size_t kMinBytes = 64u << 20;

 private:
  std::string what_;
  bool enabled_;
  bool first_ = true;
  int last_ = -1;
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace mcuemu::cli
