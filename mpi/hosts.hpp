// The hosts under the emulated cluster: one `mcuemu run` may span several machines (mpirun
// --hostfile, docs/multihost.md). Nothing here touches the emulated chips or simulated time;
// these helpers make sure every rank, on every host, sees the files it needs, or that the job
// ends with one error line naming the hosts that do not.
//
// A "host" is what MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) groups together: the ranks that
// share memory, hence (we assume) one filesystem view. Its "leader" is its lowest rank.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpi/cluster.hpp"

namespace mcuemu::mpi {

// This process's host name: MPI_Get_processor_name once MPI is up, gethostname() before.
std::string host_name();

// An error detected by all the ranks of a communicator together (e.g. a file that some hosts
// lack). Exactly one rank is its reporter: it prints the error and aborts the job; the others
// must not race it with their own abort (see await_abort).
class CollectiveError : public std::runtime_error {
 public:
  CollectiveError(const std::string &what, bool reporter)
      : std::runtime_error(what), reporter_(reporter) {}
  bool reporter() const { return reporter_; }

 private:
  bool reporter_;
};

// For the non-reporting ranks of a CollectiveError: wait for the reporter's MPI_Abort to end
// this process; if it has not come after `seconds`, abort with `what` ourselves.
[[noreturn]] void await_abort(const std::string &what, int seconds = 30);

// Every rank's string, in rank order, on every rank of `comm` (outside the modelled schedule).
std::vector<std::string> allgather_strings(MPI_Comm comm, const std::string &mine);
// `root`'s string on every rank of `comm`.
void broadcast_string(MPI_Comm comm, std::string &s, int root = 0);

// "0-2,5,7-8" for a sorted list of ranks.
std::string rank_ranges(const std::vector<int> &ranks);

// Collective over `comm`: every rank checks that it can open `path` (its own view: a relative
// path is resolved against its own working directory) for reading as a regular file. If any
// rank cannot, every rank throws a CollectiveError (rank 0 reports) whose message names `what`,
// each host that lacks it, its ranks and the reason, e.g.
//   "--weights q.h5 is not readable on host h3 (ranks 6-7: /home/u/q.h5: No such file or
//    directory); every host needs it: a shared filesystem or a copy at the same path"
void check_readable_everywhere(MPI_Comm comm, const std::string &what, const std::string &path);

// 64-bit content hash of a file (FNV-style over 8-byte words, with the size); throws if the file
// cannot be read.
uint64_t file_hash(const std::string &path);

// What ensure_on_every_host did on this rank (for messages and tests).
struct EnsureResult {
  bool made = false;      // this rank ran `make` (only rank 0 ever does)
  bool received = false;  // this rank is a host leader that received rank 0's copy
  bool replaced = false;  // ... and its host had a different file at that path before
  int hosts = 1;          // number of hosts (node communicators) in the job
};

// Collective over `comm`: makes sure the file `path` exists on every host and is the same there
// as on rank 0, made at most once per job. `path` is each rank's own view (it may differ between
// hosts, e.g. a per-host cache directory).
//  1. Rank 0 makes it if it cannot see it: make(tmp) writes a temporary file next to `path`,
//     which is then renamed into place (atomic: no rank, job or host ever reads half a file).
//  2. With more than one host, the leader of every other host compares its copy (size and
//     file_hash) with rank 0's; a host that lacks the file or has a different one receives rank
//     0's bytes over MPI and writes them the same way (tmp + rename). Hosts that share rank 0's
//     filesystem find the same file and copy nothing.
//  3. Every rank checks that it can read the file (check_readable_everywhere).
// `node` groups the ranks of a host (default: MPI_Comm_split_type(MPI_COMM_TYPE_SHARED));
// tests pass their own to emulate hosts. An error while making or writing the file is thrown on
// the rank that hit it (which then aborts the job, naming its host).
EnsureResult ensure_on_every_host(MPI_Comm comm, const std::string &what, const std::string &path,
                                  const std::function<void(const std::string &tmp)> &make,
                                  MPI_Comm node = MPI_COMM_NULL);

}  // namespace mcuemu::mpi
