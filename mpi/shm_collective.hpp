// One collective round in shared memory, for a communicator whose ranks all share one host.
//
// Eight emulated chips on a 2-core workstation spend most of a collective being scheduled: a
// tree all-reduce is 2 log2(N) hops in a row, and every hop waits until the next rank gets a
// core. Here every rank writes its contribution into its slot of an MPI-3 shared-memory window
// (MPI_Win_allocate_shared) and arrives at a counter; the last to arrive combines the slots in
// rank order and publishes the result. One hop in a row whatever N.
//
// How the others wait is what decides the speed when ranks outnumber cores (measured on the
// 2-core VM of docs/host-speed.md: a system call costs ~1.2 us, a futex hand-off between two
// processes on one core ~6.5 us, a wake-up of an idle core from the other ~45 us):
//   - Oversubscribed (more ranks than the CPUs they may use): the ranks are pinned in
//     contiguous groups, one group per CPU, and switched to SCHED_BATCH (a woken rank does not
//     preempt the running one). A rank that arrives while others of its group have yet to run
//     hands the core on with sched_yield and looks again when the core comes back (policy
//     Auto): every rank of the group stays runnable, so nobody has to be woken. The group's
//     last arriver polls instead (its core has nothing else to run; sleeping would idle the
//     core and cost a cross-core wake-up). So each rank runs once per round, back to back, and
//     no wake-up crosses cores. Measured (docs/host-speed.md, session 7): a round of four
//     processes on one core 22.6 us yielding against 25.5 us sleeping on a futex and woken by
//     the last (one FUTEX_WAKE per round and a futex wait per switch), and 8 chips 8-10 %
//     faster. A yield or a poll that lasts longer than kPinnedSpin (a core lent to another job)
//     ends in a futex sleep, and the last arriver then wakes that group. WaitPolicy::GroupSleep
//     (MCUEMU_MPI_WAIT=group-sleep) makes the group sleep on its futex at once, as before
//     session 7. If the launcher already bound each rank to one CPU, the groups follow its
//     binding. MCUEMU_NO_PIN=1 turns pinning off (one group, futex sleeps).
//   - Not oversubscribed: a waiting rank polls for up to kSpinBeforeSleep, then sleeps.
//
// Cluster uses it when every rank is on one host and keeps the point-to-point algorithms for
// their accounting (bytes and messages each chip puts on its link) and for multi-host runs:
// the results, including the simulated clocks, are the same either way (tests/mpi).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "mpi/doorbell.hpp"

namespace mcuemu::mpi {

class ShmCollective {
 public:
  using Combine = void (*)(std::span<std::byte> acc, std::span<const std::byte> in);

  // Collective over `comm`. nullptr if the ranks do not all share one host, or if there is one.
  static std::unique_ptr<ShmCollective> create(MPI_Comm comm, WaitPolicy policy);

  // Every rank passes the same number of bytes. With `combine`, data becomes the combination of
  // all ranks' data: each group's in rank order (its first rank's, then combine(acc, the
  // next's), ...), then the groups' in group order. So `combine` must be associative and
  // commutative (the groups of a launcher's binding need not be ranges of ranks), as every
  // combine here is: sums mod 2^32, maxima. Without `combine`, data becomes rank `root`'s.
  // Returns the largest `clock` passed by any rank.
  int64_t round(std::span<std::byte> data, int64_t clock, Combine combine, int root = 0);
  // Bytes of one rank's contribution per round; a larger payload goes in several rounds, each
  // combined on its own (so a combine that reads a record's header needs the record in one).
  static constexpr size_t kRoundBytes = 64 * 1024;

  int64_t sleeps() const { return sleeps_; }
  int64_t yields() const { return yields_; }
  // Whether the ranks were pinned (or found bound) to cores, several to a core, and wait for
  // each other core-aware (see round()).
  bool pinned() const { return pinned_; }
  // The CPU this rank is pinned (or was found bound) to; -1 when not pinned().
  int cpu() const { return cpu_; }
  int64_t wait_ns() const { return wait_ns_; }  // host time spent waiting for the last arriver

  ShmCollective(const ShmCollective &) = delete;
  ShmCollective &operator=(const ShmCollective &) = delete;

 private:
  ShmCollective() = default;
  struct Header;
  struct Group;
  std::byte *slot(int rank) const;
  std::byte *group_sum(int g) const;  // a group's combined slots (clock line, then the bytes)
  Group *group(int g) const;
  void assign_groups(MPI_Comm comm, WaitPolicy policy);
  void release_group(int g);
  template <class At>
  static void gather(std::byte *dst, int k, At at, size_t n, Combine combine);
  void wait_for_generation(uint32_t seen, bool last_of_group);

  int size_ = 1, rank_ = 0;
  bool spin_first_ = false;
  bool yield_in_group_ = true;
  bool pinned_ = false;  // ranks grouped by the core they are pinned to
  int cpu_ = -1;         // ... and this rank's
  int cores_ = 1;        // CPUs this rank may use (before pinning)
  int n_groups_ = 1, my_group_ = 0;
  std::vector<int> group_of_;
  std::vector<std::vector<int>> members_;              // each group's ranks, in rank order
  size_t groups_at_ = 0, slots_at_ = 0, sums_at_ = 0;  // byte offsets in the window
  std::byte *base_ = nullptr;
  MPI_Win win_ = MPI_WIN_NULL;
  int64_t sleeps_ = 0, yields_ = 0, wait_ns_ = 0;
};

}  // namespace mcuemu::mpi
