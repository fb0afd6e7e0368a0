#include "mpi/doorbell.hpp"

#include <fmt/format.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>

namespace mcuemu::mpi {

// One cache line per rank, so that ringing one rank does not disturb its neighbours.
struct alignas(64) Doorbells::Slot {
  uint32_t seq;           // bumped by every ring; the futex word
  uint32_t sleeping;      // 1 while the owner sleeps (or is about to) on seq
  uint32_t send_pending;  // 1 while it sleeps with an unfinished send among its requests
  uint32_t pad[13];
};
static_assert(sizeof(Doorbells::Slot) == 64);

namespace {

// How long a sleeping rank waits before it looks again without being rung. Rings are not lost
// (see wait()), so this only bounds the cost of a case the protocol does not cover, such as a
// transport that needs both sides to make progress several times for one message.
constexpr long kSleepTimeoutNs = 10'000'000;  // 10 ms
// With at least one core per rank, poll this long before sleeping: a message from a rank that
// runs on another core usually arrives within microseconds, sooner than a wake-up.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(50);

long futex(uint32_t *word, int op, uint32_t value, const timespec *timeout) {
  return syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

}  // namespace

WaitPolicy wait_policy_from_env() {
  const char *v = std::getenv("MCUEMU_MPI_WAIT");
  if (!v || !*v || std::strcmp(v, "auto") == 0) return WaitPolicy::Auto;
  if (std::strcmp(v, "group-sleep") == 0) return WaitPolicy::GroupSleep;
  if (std::strcmp(v, "sleep") == 0) return WaitPolicy::Sleep;
  if (std::strcmp(v, "yield") == 0) return WaitPolicy::Yield;
  throw std::invalid_argument(fmt::format(
      "MCUEMU_MPI_WAIT={}: expected auto, group-sleep, sleep or yield", std::string(v)));
}

Doorbells::Doorbells(MPI_Comm comm, WaitPolicy policy) : policy_(policy) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  if (size == 1) return;
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int nlocal = 1, me = 0;
  MPI_Comm_size(node, &nlocal);
  MPI_Comm_rank(node, &me);

  // Which ranks of `comm` share this host, and their index in its window.
  MPI_Group world_group, node_group;
  MPI_Comm_group(comm, &world_group);
  MPI_Comm_group(node, &node_group);
  std::vector<int> ranks(size);
  for (int r = 0; r < size; ++r) ranks[r] = r;
  local_index_.assign(size, -1);
  MPI_Group_translate_ranks(world_group, size, ranks.data(), node_group, local_index_.data());
  for (int &i : local_index_)
    if (i == MPI_UNDEFINED) i = -1;
  MPI_Group_free(&world_group);
  MPI_Group_free(&node_group);

  // One contiguous segment owned by the host's first rank; the others map it.
  void *mine = nullptr;
  // One slot more than needed: the window's base is not cache-line aligned (Open MPI puts its
  // own header first), so it is rounded up to the next line (the same offset in every process).
  const MPI_Aint bytes = me == 0 ? static_cast<MPI_Aint>(nlocal + 1) * sizeof(Slot) : 0;
  MPI_Win_allocate_shared(bytes, 1, MPI_INFO_NULL, node, &mine, &win_);
  MPI_Aint seg = 0;
  int disp = 1;
  void *first = nullptr;
  MPI_Win_shared_query(win_, 0, &seg, &disp, &first);
  {
    const auto a = reinterpret_cast<std::uintptr_t>(first);
    base_ = static_cast<std::byte *>(first) + (sizeof(Slot) - a % sizeof(Slot)) % sizeof(Slot);
  }
  if (me == 0) std::memset(base_, 0, static_cast<size_t>(nlocal) * sizeof(Slot));
  MPI_Barrier(node);
  my_index_ = me;
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  spin_first_ = core_aware(policy_) && cores >= nlocal;
  // The window and `node` live until MPI_Finalize: freeing them is collective, and a rank
  // that leaves on an error must not make the others wait for it.
}

Doorbells::Slot *Doorbells::slot_of(int rank) const {
  return reinterpret_cast<Slot *>(base_) + local_index_[rank];
}

// Open MPI's MPI_Testall looks at the requests first and drives progress (reads the shared-
// memory queues) only afterwards, so a message that has arrived completes its request on the
// next call, and a long one (several chunks) may take a few calls. Test until the calls stop
// making a difference: a handful of calls, each about 100 ns when nothing has arrived.
bool Doorbells::test(int count, MPI_Request *reqs) {
  constexpr int kProgressCalls = 8;
  for (int i = 0; i < kProgressCalls; ++i) {
    int flag = 0;
    MPI_Testall(count, reqs, &flag, MPI_STATUSES_IGNORE);
    if (flag) return true;
  }
  return false;
}

void Doorbells::wait(int count, MPI_Request *reqs, std::initializer_list<int> peers, bool sends) {
  if (count == 0 || test(count, reqs)) return;
  bool all_local = policy_ != WaitPolicy::Yield && base_ != nullptr;
  for (int p : peers) all_local = all_local && local(p);
  if (!all_local) {
    // A peer on another host cannot ring: poll, yielding the core between polls.
    do sched_yield();
    while (!test(count, reqs));
    return;
  }
  if (spin_first_) {
    const auto until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
    for (int i = 1;; ++i) {
      if (test(count, reqs)) return;
      if (i % 16 == 0 && std::chrono::steady_clock::now() > until) break;
    }
  }
  Slot *me = reinterpret_cast<Slot *>(base_) + my_index_;
  std::atomic_ref<uint32_t> seq(me->seq), sleeping(me->sleeping), send_pending(me->send_pending);
  const timespec timeout{0, kSleepTimeoutNs};
  for (;;) {
    // Announce the sleep before the last look: a peer that rings after this sees the flag and
    // wakes us; a ring before it changed seq, and the look below sees its message.
    send_pending.store(sends ? 1 : 0);
    sleeping.store(1);
    const uint32_t seen = seq.load();
    if (test(count, reqs)) break;
    const long rc = futex(&me->seq, FUTEX_WAIT, seen, &timeout);
    ++sleeps_;
    if (rc != 0 && errno == ETIMEDOUT) ++timeouts_;
    sleeping.store(0);
    if (test(count, reqs)) break;
  }
  sleeping.store(0);
  send_pending.store(0);
}

void Doorbells::ring(int peer) {
  if (!base_ || !local(peer)) return;
  Slot *p = slot_of(peer);
  std::atomic_ref<uint32_t>(p->seq).fetch_add(1);
  if (std::atomic_ref<uint32_t>(p->sleeping).load()) futex(&p->seq, FUTEX_WAKE, 1, nullptr);
}

void Doorbells::ring_sender(int peer) {
  if (!base_ || !local(peer)) return;
  if (std::atomic_ref<uint32_t>(slot_of(peer)->send_pending).load()) ring(peer);
}

}  // namespace mcuemu::mpi
