#include "mpi/hosts.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace fs = std::filesystem;

namespace mcuemu::mpi {
namespace {

constexpr size_t kChunkBytes = size_t{8} << 20;  // file bytes per MPI_Bcast

std::string absolute_of(const std::string &path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

// Empty if this process can open `path` for reading as a regular file, else why not.
std::string read_problem(const std::string &path) {
  if (path.empty()) return "empty path";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fmt::format("{}: {}", absolute_of(path), std::strerror(errno));
  struct stat st {};
  const bool dir = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  ::close(fd);
  return dir ? fmt::format("{}: is a directory", absolute_of(path)) : std::string();
}

// Writes `path` through make(tmp) + rename, so that no reader ever sees a partial file. The
// temporary name is unique per host and process: hosts sharing the directory do not collide.
void write_atomically(const std::string &path,
                      const std::function<void(const std::string &tmp)> &make) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  const std::string tmp = fmt::format("{}.tmp.{}.{}", path, host_name(), ::getpid());
  try {
    make(tmp);
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

// Rank 0 of `copy` sends the file `path` (`size` bytes) to the other ranks, which write it to
// their own `path` atomically.
void copy_file_over(MPI_Comm copy, const std::string &path, uint64_t size) {
  int rank = 0;
  MPI_Comm_rank(copy, &rank);
  std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(size, kChunkBytes)));
  if (rank == 0) {
    std::ifstream in(path, std::ios::binary);
    for (uint64_t off = 0; off < size; off += buf.size()) {
      const auto n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
      if (!in.read(buf.data(), static_cast<std::streamsize>(n)))
        throw std::runtime_error(fmt::format("cannot read {} to send it", path));
      MPI_Bcast(buf.data(), static_cast<int>(n), MPI_BYTE, 0, copy);
    }
    return;
  }
  write_atomically(path, [&](const std::string &tmp) {
    std::ofstream out(tmp, std::ios::binary);
    for (uint64_t off = 0; off < size; off += buf.size()) {
      const auto n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
      MPI_Bcast(buf.data(), static_cast<int>(n), MPI_BYTE, 0, copy);
      out.write(buf.data(), static_cast<std::streamsize>(n));
    }
    out.close();
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", tmp));
  });
}

}  // namespace

std::string host_name() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) {
    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int len = 0;
    if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS && len > 0) return std::string(name, len);
  }
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) == 0 && name[0]) return name;
  return "?";
}

void await_abort(const std::string &what, int seconds) {
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  abort_job(what);
}

std::vector<std::string> allgather_strings(MPI_Comm comm, const std::string &mine) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(size), displs(size);
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  int total = 0;
  for (int r = 0; r < size; ++r) displs[r] = total, total += counts[r];
  std::string all(static_cast<size_t>(total), '\0');
  MPI_Allgatherv(mine.data(), n, MPI_CHAR, all.data(), counts.data(), displs.data(), MPI_CHAR,
                 comm);
  std::vector<std::string> out;
  for (int r = 0; r < size; ++r) out.push_back(all.substr(displs[r], counts[r]));
  return out;
}

void broadcast_string(MPI_Comm comm, std::string &s, int root) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  uint64_t n = s.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm);
  if (rank != root) s.assign(static_cast<size_t>(n), '\0');
  MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, comm);
}

std::string rank_ranges(const std::vector<int> &ranks) {
  std::string out;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(ranks[i]) : fmt::format("{}-{}", ranks[i], ranks[j]);
    i = j + 1;
  }
  return out;
}

void check_readable_everywhere(MPI_Comm comm, const std::string &what, const std::string &path) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const std::string host = host_name();
  const auto all = allgather_strings(comm, host + '\n' + read_problem(path));
  // Failing ranks grouped by (host, problem), in the order of their lowest rank.
  struct Group {
    std::string host, problem;
    std::vector<int> ranks;
  };
  std::vector<Group> groups;
  std::map<std::string, bool> host_ok;
  for (int r = 0; r < static_cast<int>(all.size()); ++r) {
    const auto nl = all[r].find('\n');
    const std::string h = all[r].substr(0, nl), problem = all[r].substr(nl + 1);
    host_ok.emplace(h, true);
    if (problem.empty()) continue;
    host_ok[h] = false;
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const Group &x) { return x.host == h && x.problem == problem; });
    if (g == groups.end()) g = groups.insert(groups.end(), Group{h, problem, {}});
    g->ranks.push_back(r);
  }
  if (groups.empty()) return;
  std::string where;
  for (const auto &g : groups)
    where += fmt::format("{}host {} (rank{} {}: {})", where.empty() ? "" : "; ", g.host,
                         g.ranks.size() > 1 ? "s" : "", rank_ranges(g.ranks), g.problem);
  const bool some_hosts_have_it =
      std::any_of(host_ok.begin(), host_ok.end(), [](const auto &h) { return h.second; });
  throw CollectiveError(
      fmt::format("{} is not readable on {}{}", what, where,
                  some_hosts_have_it ? "; every host needs it: put it on a shared filesystem or "
                                       "copy it to the same path on every host"
                                     : ""),
      rank == 0);
}

uint64_t file_hash(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}", path));
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t h = 1469598103934665603ull, total = 0;
  std::vector<char> buf(size_t{1} << 20);  // a multiple of 8: only the file's tail is bytewise
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, buf.data() + i, 8);
      h = (h ^ w) * kPrime;
      h ^= h >> 29;
    }
    for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * kPrime;
    total += n;
  }
  if (in.bad()) throw std::runtime_error(fmt::format("cannot read {}", path));
  return (h ^ total) * kPrime;
}

EnsureResult ensure_on_every_host(MPI_Comm comm, const std::string &what, const std::string &path,
                                  const std::function<void(const std::string &tmp)> &make,
                                  MPI_Comm node) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm own_node = MPI_COMM_NULL;
  if (node == MPI_COMM_NULL) {
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &own_node);
    node = own_node;
  }
  int node_rank = 0;
  MPI_Comm_rank(node, &node_rank);
  if (rank == 0 && node_rank != 0)
    throw std::logic_error("ensure_on_every_host: rank 0 must lead its host");
  EnsureResult res;

  // 1. Made once, by rank 0, if it does not have it yet.
  if (rank == 0 && !fs::exists(path)) {
    write_atomically(path, make);
    res.made = true;
  }

  // 2. The other hosts' leaders compare their copy with rank 0's; who lacks it receives it.
  const int leader = node_rank == 0 ? 1 : 0;
  MPI_Allreduce(&leader, &res.hosts, 1, MPI_INT, MPI_SUM, comm);
  MPI_Comm leaders = MPI_COMM_NULL;
  MPI_Comm_split(comm, leader ? 0 : MPI_UNDEFINED, rank, &leaders);
  if (leaders != MPI_COMM_NULL) {
    if (res.hosts > 1) {
      uint64_t ref[2] = {0, 0};  // rank 0's size and hash
      if (rank == 0) ref[0] = fs::file_size(path), ref[1] = file_hash(path);
      MPI_Bcast(ref, 2, MPI_UINT64_T, 0, leaders);
      int need = 0;
      bool existed = false;
      if (rank != 0) {
        std::error_code ec;
        existed = fs::is_regular_file(path, ec);
        try {
          need = !existed || fs::file_size(path) != ref[0] || file_hash(path) != ref[1];
        } catch (const std::exception &) {
          need = 1;  // unreadable: overwrite it with rank 0's copy
        }
      }
      MPI_Comm copy = MPI_COMM_NULL;
      MPI_Comm_split(leaders, rank == 0 || need ? 0 : MPI_UNDEFINED, rank, &copy);
      if (copy != MPI_COMM_NULL) {
        int n = 1;
        MPI_Comm_size(copy, &n);
        if (n > 1) {
          if (need && existed)
            std::fprintf(stderr,
                         "mcuemu: host %s: %s at %s differs from rank 0's copy: replacing it\n",
                         host_name().c_str(), what.c_str(), path.c_str());
          copy_file_over(copy, path, ref[0]);
        }
        MPI_Comm_free(&copy);
      }
      res.received = need != 0;
      res.replaced = need != 0 && existed;
    }
    MPI_Comm_free(&leaders);
  }
  if (own_node != MPI_COMM_NULL) MPI_Comm_free(&own_node);

  // 3. Everyone reads it from its own view of the path.
  MPI_Barrier(comm);
  check_readable_everywhere(comm, what, path);
  return res;
}

}  // namespace mcuemu::mpi
