// Quiet waiting for MPI point-to-point messages on oversubscribed hosts.
//
// Eight emulated chips often share two host cores. Open MPI's shared-memory transport has no
// blocking wait: a rank waiting for a message polls its queue, and with mpi_yield_when_idle it
// calls sched_yield between polls. When four ranks share a core, the three waiting ones keep
// yielding to one another and starve the one that computes (measured: about half of all CPU
// time in sched_yield, issue 9).
//
// A Doorbells object gives every rank of a communicator that shares a host with others one
// 64-byte slot in an MPI-3 shared-memory window: a sequence word and a "sleeping" flag. A
// waiting rank tests its MPI requests, and if they are not complete it sleeps on a futex on its
// own sequence word. A rank that posts a send to a peer on the same host (or completes a
// receive from one, which lets a large send finish) rings the peer's bell: it bumps the
// sequence word and, only if the peer sleeps, wakes it. The futex sleep has a timeout, so a
// missed ring can cost latency but never correctness; peers on other hosts (multi-host runs)
// cannot be rung and are polled with sched_yield as before.
//
// The data still moves through MPI; the doorbells only decide when a rank is worth scheduling.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace mcuemu::mpi {

enum class WaitPolicy {
  Auto,        // sleep when the host has fewer cores than ranks on it, else spin briefly first;
               // in shared-memory rounds on an oversubscribed host, the ranks are pinned one
               // group per core and hand their core on with sched_yield (mpi/shm_collective.hpp)
  GroupSleep,  // as Auto, but a pinned group's waiting ranks sleep on a futex (sessions 2-6)
  Sleep,       // always sleep on the doorbell when a message is not there yet
  Yield        // MPI_Test + sched_yield (what Open MPI's blocking calls do with yield_when_idle)
};
// Auto and GroupSleep: the waits that know how many cores the ranks share (and pin groups).
inline bool core_aware(WaitPolicy p) {
  return p == WaitPolicy::Auto || p == WaitPolicy::GroupSleep;
}
// From MCUEMU_MPI_WAIT (auto | group-sleep | sleep | yield; default auto). Throws on anything
// else.
WaitPolicy wait_policy_from_env();

class Doorbells {
 public:
  // Collective over `comm` (every rank must call it). A communicator of one rank needs no bells.
  explicit Doorbells(MPI_Comm comm, WaitPolicy policy);
  Doorbells(const Doorbells &) = delete;
  Doorbells &operator=(const Doorbells &) = delete;

  // Completes `reqs` without spinning on a busy host. `peers` are the ranks (in the
  // communicator) the requests talk to; `sends` says whether any request is a send (a sleeping
  // sender asks its receivers to ring back when they have taken a message).
  void wait(int count, MPI_Request *reqs, std::initializer_list<int> peers, bool sends);
  // Tells `peer` that a message for it has been posted.
  void ring(int peer);
  // Tells `peer` that its message has been taken, if it sleeps on an unfinished send.
  void ring_sender(int peer);

  int64_t sleeps() const { return sleeps_; }
  int64_t timeouts() const { return timeouts_; }

 public:
  struct Slot;  // one rank's bell (public only for the layout check in doorbell.cpp)

 private:
  Slot *slot_of(int rank) const;
  bool local(int rank) const {
    return rank >= 0 && rank < static_cast<int>(local_index_.size()) && local_index_[rank] >= 0;
  }
  bool test(int count, MPI_Request *reqs);

  WaitPolicy policy_;
  bool spin_first_ = false;
  std::vector<int> local_index_;  // communicator rank -> index in the host's window, or -1
  std::byte *base_ = nullptr;     // this host's slots (shared memory)
  int my_index_ = -1;
  MPI_Win win_ = MPI_WIN_NULL;
  int64_t sleeps_ = 0, timeouts_ = 0;
};

}  // namespace mcuemu::mpi
