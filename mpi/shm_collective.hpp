// One collective round in shared memory, for a communicator whose ranks all share one host.
//
// Eight emulated chips on a 2-core workstation spend most of a collective being scheduled: a
// tree all-reduce is 2 log2(N) hops in a row, and every hop waits until the next rank gets a
// core. Here every rank writes its contribution into its slot of an MPI-3 shared-memory window
// (MPI_Win_allocate_shared) and arrives at a counter; the last to arrive combines the slots in
// rank order, publishes the result, and wakes the others with one futex call. One hop in a row
// whatever N, and no rank spins while another computes.
//
// Cluster uses it when every rank is on one host and keeps the point-to-point algorithms for
// their accounting (bytes and messages each chip puts on its link) and for multi-host runs:
// the results, including the simulated clocks, are the same either way (tests/mpi).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <span>

#include "mpi/doorbell.hpp"

namespace mcuemu::mpi {

class ShmCollective {
 public:
  using Combine = void (*)(std::span<std::byte> acc, std::span<const std::byte> in);

  // Collective over `comm`. nullptr if the ranks do not all share one host, or if there is one.
  static std::unique_ptr<ShmCollective> create(MPI_Comm comm, WaitPolicy policy);

  // Every rank passes the same number of bytes. With `combine`, data becomes the combination of
  // all ranks' data in rank order (rank 0's, then combine(acc, rank 1's), ...); without, it
  // becomes rank `root`'s. Returns the largest `clock` passed by any rank.
  int64_t round(std::span<std::byte> data, int64_t clock, Combine combine, int root = 0);

  int64_t sleeps() const { return sleeps_; }
  int64_t wait_ns() const { return wait_ns_; }  // host time spent waiting for the last arriver

  ShmCollective(const ShmCollective &) = delete;
  ShmCollective &operator=(const ShmCollective &) = delete;
  ~ShmCollective() = default;

 private:
  ShmCollective() = default;
  struct Header;
  std::byte *slot(int rank) const;
  void wait_for_generation(uint32_t seen, int to_come);

  int size_ = 1, rank_ = 0;
  bool spin_first_ = false, yield_spin_ = false;
  int cores_ = 1;
  std::byte *base_ = nullptr;
  MPI_Win win_ = MPI_WIN_NULL;
  int64_t sleeps_ = 0, wait_ns_ = 0;
};

}  // namespace mcuemu::mpi
