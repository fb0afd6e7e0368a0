#include "weights/atomic_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "weights/file_error.hpp"

namespace fs = std::filesystem;

namespace mcuemu::weights {

std::string temp_path_for(const std::string &path) {
  return fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
}

void write_file_atomically(const std::string &path, std::string_view content) {
  const std::string tmp = temp_path_for(path);
  auto fail = [&](const std::string &what, int err) {
    ::unlink(tmp.c_str());
    throw FileError(fmt::format("{}: {}: {}", path, what, std::strerror(err)));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    const int err = errno;
    throw FileError(fmt::format("{}: cannot create {}: {}", path, tmp, std::strerror(err)));
  }
  const char *p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      fail("write failed", err);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::close(fd) != 0) fail("cannot finish writing", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename " + tmp + " onto it", errno);
}

namespace {

void check_writable_dir(const fs::path &dir, const std::string &what, const std::string &given) {
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    const int err = errno;
    throw FileError(fmt::format("{} {}: directory {} is not writable: {}", what, given,
                                dir.string(), std::strerror(err)));
  }
}

}  // namespace

void check_output_file(const std::string &path, const std::string &what) {
  if (path.empty()) throw FileError(fmt::format("{}: empty path", what));
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec))
    throw FileError(fmt::format("{} {}: is a directory, not a file", what, path));
  const fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  check_output_dir(parent.string(), what + " " + path + ": directory");
}

void ensure_parent_dir(const std::string &path) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec)
    throw FileError(
        fmt::format("{}: cannot create its directory {}: {}", path, parent.string(), ec.message()));
}

void check_output_dir(const std::string &dir, const std::string &what) {
  if (dir.empty()) throw FileError(fmt::format("{}: empty path", what));
  std::error_code ec;
  fs::path p(dir);
  if (fs::exists(p, ec)) {
    if (!fs::is_directory(p, ec))
      throw FileError(fmt::format("{} {}: exists and is not a directory", what, dir));
    check_writable_dir(p, what, dir);
    return;
  }
  // Walk up to the nearest existing ancestor: it must be a writable directory.
  fs::path up = p.has_parent_path() ? p.parent_path() : fs::path(".");
  while (!up.empty() && !fs::exists(up, ec)) up = up.has_parent_path() ? up.parent_path() : "";
  if (up.empty()) up = ".";
  if (!fs::is_directory(up, ec))
    throw FileError(
        fmt::format("{} {}: cannot be created, {} is not a directory", what, dir, up.string()));
  check_writable_dir(up, what, dir);
}

}  // namespace mcuemu::weights
