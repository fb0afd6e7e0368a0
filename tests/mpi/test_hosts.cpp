// mpi/hosts.hpp under mpiexec: string collectives, the "file missing on some hosts" error, and
// ensure_on_every_host with emulated hosts (node communicators made by the test, each with its
// own directory standing in for a host's unshared filesystem).
#include "mpi/hosts.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace mcuemu::mpi {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

int sum(int v) {
  int s = 0;
  MPI_Allreduce(&v, &s, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  return s;
}

// A fresh directory made by rank 0 and known to every rank; removed at the end of the test.
class SharedTempDir {
 public:
  SharedTempDir() {
    if (world_rank() == 0) {
      std::string tmpl = (fs::temp_directory_path() / "mcuemu-hosts-XXXXXX").string();
      path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
    }
    broadcast_string(MPI_COMM_WORLD, path_);
  }
  ~SharedTempDir() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0 && !path_.empty()) fs::remove_all(path_);
  }
  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

// Emulated hosts: ranks [0, 1], [2, 3], ... (per_host ranks each).
MPI_Comm hosts_of(int per_host) {
  MPI_Comm node;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank() / per_host, world_rank(), &node);
  return node;
}

void write_bytes(const std::string &path, size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string bytes(n, '\0');
  for (auto &b : bytes) b = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary) << bytes;
}

// Every rank's hash of its own `path` equals rank 0's.
bool same_everywhere(const std::string &path) {
  const auto all = allgather_strings(MPI_COMM_WORLD, std::to_string(file_hash(path)));
  for (const auto &h : all)
    if (h != all[0]) return false;
  return true;
}

TEST(Hosts, RankRanges) {
  EXPECT_EQ(rank_ranges({}), "");
  EXPECT_EQ(rank_ranges({3}), "3");
  EXPECT_EQ(rank_ranges({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
}

TEST(Hosts, HostNameIsGethostname) {
  char name[256] = {};
  ASSERT_EQ(::gethostname(name, sizeof name - 1), 0);
  const std::string full = name, short_name = full.substr(0, full.find('.'));
  EXPECT_TRUE(host_name() == full || host_name() == short_name) << host_name() << " vs " << full;
}

TEST(Hosts, StringCollectives) {
  const auto all = allgather_strings(MPI_COMM_WORLD, std::string(world_rank(), 'x'));
  ASSERT_EQ(static_cast<int>(all.size()), world_size());
  for (int r = 0; r < world_size(); ++r) EXPECT_EQ(all[r], std::string(r, 'x'));
  std::string s = world_rank() == 0 ? "from rank 0" : "";
  broadcast_string(MPI_COMM_WORLD, s);
  EXPECT_EQ(s, "from rank 0");
}

TEST(Hosts, UnreadableFileNamesHostAndRanks) {
  SharedTempDir dir;
  // Odd ranks lack their file.
  const std::string mine = dir.path() + "/r" + std::to_string(world_rank());
  if (world_rank() % 2 == 0) std::ofstream(mine) << "x";
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_size() == 1) {
    EXPECT_NO_THROW(check_readable_everywhere(MPI_COMM_WORLD, "the file", mine));
    return;
  }
  try {
    check_readable_everywhere(MPI_COMM_WORLD, "the file", mine);
    ADD_FAILURE() << "no error";
  } catch (const CollectiveError &e) {
    EXPECT_EQ(e.reporter(), world_rank() == 0);
    const std::string msg = e.what();
    EXPECT_THAT(msg, HasSubstr("the file is not readable on host " + host_name() + " (rank"));
    EXPECT_THAT(msg, HasSubstr(dir.path() + "/r1: No such file or directory"));
    EXPECT_THAT(msg, HasSubstr("(rank 1: "));
    if (world_size() > 3) {
      EXPECT_THAT(msg, HasSubstr("(rank 3: " + dir.path() + "/r3: No such"));
    }
    // One host has the file for some ranks and not others: the hint about every host applies
    // only when another host has it.
    EXPECT_THAT(msg, Not(HasSubstr("every host needs it")));
  }
  // A directory is not a file.
  EXPECT_THROW(check_readable_everywhere(MPI_COMM_WORLD, "the dir", dir.path()), CollectiveError);
}

TEST(Hosts, EnsureMakesOnceAndCopiesToEveryHost) {
  SharedTempDir dir;
  MPI_Comm node = hosts_of(2);
  const int host = world_rank() / 2, hosts = (world_size() + 1) / 2;
  const bool leader = world_rank() % 2 == 0;
  // Each host has its own "filesystem" (directory); 9 MiB: the copy takes two chunks.
  const std::string path = dir.path() + "/host" + std::to_string(host) + "/cache/model.bin";
  int made = 0;
  auto make = [&](const std::string &tmp) {
    ++made;
    write_bytes(tmp, (9u << 20) + 5, 42);
  };
  EnsureResult r = ensure_on_every_host(MPI_COMM_WORLD, "the model", path, make, node);
  EXPECT_EQ(sum(made), 1);
  EXPECT_EQ(r.made, world_rank() == 0);
  EXPECT_EQ(r.hosts, hosts);
  EXPECT_EQ(r.received, leader && host != 0);
  EXPECT_FALSE(r.replaced);
  EXPECT_TRUE(same_everywhere(path));
  // Nothing left behind but the file itself.
  if (leader) {
    EXPECT_EQ(std::distance(fs::directory_iterator(fs::path(path).parent_path()), {}), 1);
  }

  // Again: everyone has it, nothing is made or sent.
  r = ensure_on_every_host(MPI_COMM_WORLD, "the model", path, make, node);
  EXPECT_EQ(sum(made), 1);
  EXPECT_FALSE(r.made || r.received || r.replaced);

  // The last host holds a different (e.g. truncated) copy: rank 0's replaces it.
  if (hosts > 1) {
    const int last = hosts - 1;
    if (leader && host == last) write_bytes(path, 1000, 7);
    MPI_Barrier(MPI_COMM_WORLD);
    r = ensure_on_every_host(MPI_COMM_WORLD, "the model", path, make, node);
    EXPECT_EQ(sum(made), 1);
    EXPECT_EQ(r.replaced, leader && host == last);
    EXPECT_EQ(r.received, leader && host == last);
    EXPECT_TRUE(same_everywhere(path));
  }
  MPI_Comm_free(&node);
}

TEST(Hosts, EnsureOnASharedFilesystemCopiesNothing) {
  SharedTempDir dir;
  MPI_Comm node = hosts_of(1);  // every rank its own host, one directory for all
  const std::string path = dir.path() + "/model.bin";
  int made = 0;
  const auto r = ensure_on_every_host(
      MPI_COMM_WORLD, "the model", path,
      [&](const std::string &tmp) { ++made, write_bytes(tmp, 1000, 1); }, node);
  EXPECT_EQ(sum(made), 1);
  EXPECT_EQ(r.hosts, world_size());
  EXPECT_FALSE(r.received);
  MPI_Comm_free(&node);
}

TEST(Hosts, EnsureWithHostsSharingADirectoryOtherThanRank0s) {
  // Hosts 1.. share one directory that rank 0's host does not see: their leaders all receive
  // the file and rename their copies onto the same path at about the same time.
  SharedTempDir dir;
  MPI_Comm node = hosts_of(1);
  const std::string path = dir.path() + (world_rank() == 0 ? "/a" : "/b") + "/model.bin";
  const auto r = ensure_on_every_host(
      MPI_COMM_WORLD, "the model", path, [&](const std::string &tmp) { write_bytes(tmp, 3000, 3); },
      node);
  EXPECT_EQ(r.received, world_rank() != 0);
  EXPECT_TRUE(same_everywhere(path));
  if (world_size() > 1 && world_rank() == world_size() - 1) {
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path() + "/b"), {}), 1);
  }
  MPI_Comm_free(&node);
}

TEST(Hosts, EnsureOnOneRealHost) {
  // The default grouping (MPI_COMM_TYPE_SHARED): one machine, one host, rank 0 makes the file.
  SharedTempDir dir;
  const auto r = ensure_on_every_host(MPI_COMM_WORLD, "the model", dir.path() + "/m",
                                      [](const std::string &tmp) { write_bytes(tmp, 10, 1); });
  EXPECT_EQ(r.hosts, 1);
  EXPECT_EQ(r.made, world_rank() == 0);
  EXPECT_FALSE(r.received);
}

TEST(Hosts, EnsureReportsWhereTheFileCannotBeRead) {
  // Rank 0 makes the file but another host's copy lands where its ranks cannot read it: here,
  // ranks other than the host leader look at a different path.
  if (world_size() < 2) GTEST_SKIP() << "needs 2 ranks";
  SharedTempDir dir;
  MPI_Comm node = hosts_of(world_size());  // one host
  const std::string path = dir.path() + (world_rank() == 1 ? "/elsewhere" : "/m");
  try {
    ensure_on_every_host(
        MPI_COMM_WORLD, "the model", path, [](const std::string &tmp) { write_bytes(tmp, 10, 1); },
        node);
    ADD_FAILURE() << "no error";
  } catch (const CollectiveError &e) {
    EXPECT_EQ(e.reporter(), world_rank() == 0);
    EXPECT_THAT(e.what(), HasSubstr("(rank 1: " + dir.path() + "/elsewhere: No such file"));
  }
  MPI_Comm_free(&node);
}

}  // namespace
}  // namespace mcuemu::mpi
