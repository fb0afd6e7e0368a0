#include "mpi/shm_collective.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace mcuemu::mpi {
namespace {

// Bytes of one rank's contribution per round; a larger payload goes in several rounds. 64 KiB
// holds the all-reduce of a decode step (dim x 4 B) many times over; prompt-mode and encoder
// partials (S x dim x 4 B) take a few rounds.
constexpr size_t kCapacity = 64 * 1024;
constexpr size_t kLine = 64;
constexpr size_t kSlotBytes = kLine + kCapacity;  // clock in the first line, then the bytes
// A sleeping rank looks again after this long even if nobody woke it (a safety net only: the
// last arriver always wakes the sleepers it can see).
constexpr long kSleepTimeoutNs = 100'000'000;
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(50);
constexpr auto kYieldBeforeSleep = std::chrono::microseconds(30);

std::byte *align_up(std::byte *p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  return p + ((kLine - a % kLine) % kLine);
}

long futex(uint32_t *word, int op, uint32_t value, const timespec *timeout) {
  return syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

}  // namespace

struct alignas(64) ShmCollective::Header {
  uint32_t arrived;     // ranks that have written their slot this round
  uint32_t generation;  // bumped when a round's result is out; the futex word
  uint32_t sleepers;    // ranks asleep (or about to be) on generation
};

std::unique_ptr<ShmCollective> ShmCollective::create(MPI_Comm comm, WaitPolicy policy) {
  int size = 1, rank = 0;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  if (size == 1) return nullptr;
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int nlocal = 0;
  MPI_Comm_size(node, &nlocal);
  int all_local = nlocal == size ? 1 : 0, everywhere = 0;
  MPI_Allreduce(&all_local, &everywhere, 1, MPI_INT, MPI_MIN, comm);
  if (!everywhere) {
    MPI_Comm_free(&node);
    return nullptr;
  }
  std::unique_ptr<ShmCollective> s(new ShmCollective);
  s->size_ = size;
  s->rank_ = rank;
  // Header, the result slot, then one slot per rank; allocated by rank 0, mapped by all.
  const size_t bytes = kLine + kSlotBytes * (static_cast<size_t>(size) + 1);
  void *mine = nullptr;
  int node_rank = 0;
  MPI_Comm_rank(node, &node_rank);
  // 64 bytes more than needed: the window's base is not cache-line aligned (Open MPI puts its
  // own header first), so every rank rounds it up to the next line (the same offset in every
  // process: the segment is mapped at page boundaries).
  MPI_Win_allocate_shared(node_rank == 0 ? static_cast<MPI_Aint>(bytes + kLine) : 0, 1,
                          MPI_INFO_NULL, node, &mine, &s->win_);
  MPI_Aint seg = 0;
  int disp = 1;
  void *first = nullptr;
  MPI_Win_shared_query(s->win_, 0, &seg, &disp, &first);
  s->base_ = align_up(static_cast<std::byte *>(first));
  if (node_rank == 0) std::memset(s->base_, 0, bytes);
  MPI_Barrier(comm);
  s->cores_ = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  s->spin_first_ = policy == WaitPolicy::Auto && s->cores_ >= size;
  s->yield_spin_ = policy == WaitPolicy::Auto && std::getenv("MCUEMU_NO_YIELD_SPIN") == nullptr;
  // Like the doorbells' window, this one lives until MPI_Finalize (freeing it is collective).
  return s;
}

// Slot -1 is the result; 0 .. N-1 the ranks'.
std::byte *ShmCollective::slot(int rank) const {
  return base_ + kLine + kSlotBytes * static_cast<size_t>(rank + 1);
}

void ShmCollective::wait_for_generation(uint32_t seen, int to_come) {
  auto *h = reinterpret_cast<Header *>(base_);
  std::atomic_ref<uint32_t> generation(h->generation), sleepers(h->sleepers);
  if (generation.load() != seen) return;
  const auto t0 = std::chrono::steady_clock::now();
  struct Charge {
    int64_t &ns;
    std::chrono::steady_clock::time_point t0;
    ~Charge() {
      ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                 t0)
                .count();
    }
  } charge{wait_ns_, t0};
  if (spin_first_) {
    const auto until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
    for (int i = 1;; ++i) {
      if (generation.load() != seen) return;
      if (i % 64 == 0 && std::chrono::steady_clock::now() > until) break;
    }
  } else if (yield_spin_ && to_come <= cores_) {
    // Oversubscribed, but the ranks still to come are no more than the cores: they are most
    // likely running right now. Look again after each sched_yield (which hands the core to
    // any rank waiting for it here) for a short while before paying for a sleep and a wake-up.
    const auto until = std::chrono::steady_clock::now() + kYieldBeforeSleep;
    while (std::chrono::steady_clock::now() < until) {
      if (generation.load() != seen) return;
      sched_yield();
    }
  }
  const timespec timeout{0, kSleepTimeoutNs};
  sleepers.fetch_add(1);
  while (generation.load() == seen) {
    futex(&h->generation, FUTEX_WAIT, seen, &timeout);
    ++sleeps_;
  }
  sleepers.fetch_sub(1);
}

int64_t ShmCollective::round(std::span<std::byte> data, int64_t clock, Combine combine, int root) {
  auto *h = reinterpret_cast<Header *>(base_);
  std::atomic_ref<uint32_t> arrived(h->arrived), generation(h->generation), sleepers(h->sleepers);
  int64_t latest = clock;
  size_t off = 0;
  do {
    const size_t n = std::min(kCapacity, data.size() - off);
    std::byte *mine = slot(rank_);
    std::memcpy(mine, &clock, sizeof clock);
    if (n > 0) std::memcpy(mine + kLine, data.data() + off, n);
    const uint32_t seen = generation.load();
    const int to_come = size_ - 1 - static_cast<int>(arrived.fetch_add(1));
    if (to_come == 0) {
      // The last to arrive: every slot is written (each rank wrote before it arrived).
      std::byte *result = slot(-1);
      int64_t max_clock = INT64_MIN;
      for (int r = 0; r < size_; ++r) {
        int64_t c;
        std::memcpy(&c, slot(r), sizeof c);
        max_clock = std::max(max_clock, c);
      }
      std::memcpy(result, &max_clock, sizeof max_clock);
      if (combine) {
        std::memcpy(result + kLine, slot(0) + kLine, n);
        for (int r = 1; r < size_; ++r)
          combine(std::span(result + kLine, n), std::span<const std::byte>(slot(r) + kLine, n));
      } else {
        std::memcpy(result + kLine, slot(root) + kLine, n);
      }
      arrived.store(0);
      generation.fetch_add(1);
      if (sleepers.load() > 0) futex(&h->generation, FUTEX_WAKE, INT_MAX, nullptr);
    } else {
      wait_for_generation(seen, to_come);
    }
    const std::byte *result = slot(-1);
    std::memcpy(&latest, result, sizeof latest);
    if (n > 0) std::memcpy(data.data() + off, result + kLine, n);
    off += n;
  } while (off < data.size());
  return latest;
}

}  // namespace mcuemu::mpi
