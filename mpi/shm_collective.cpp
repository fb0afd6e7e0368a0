#include "mpi/shm_collective.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace mcuemu::mpi {
namespace {

// 64 KiB per round holds the all-reduce of a decode step (dim x 4 B) many times over;
// prompt-mode and encoder partials (S x dim x 4 B) take a few rounds.
constexpr size_t kCapacity = ShmCollective::kRoundBytes;
constexpr size_t kLine = 64;
constexpr size_t kSlotBytes = kLine + kCapacity;  // clock in the first line, then the bytes
// A sleeping rank looks again after this long even if nobody woke it (a safety net only: the
// last arriver always wakes the sleepers it can see).
constexpr long kSleepTimeoutNs = 100'000'000;
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(50);
// How long the last arriver of a pinned core's group polls before it sleeps: longer than the
// other cores normally take to finish a round's work (a few tens of microseconds per rank), short
// enough that a core lent to another job is not held for long.
constexpr auto kPinnedSpin = std::chrono::microseconds(300);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

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
  uint32_t generation;  // bumped when a round's result is out
};

// One core's group of ranks (a line each, so that cores do not share the line they poll).
struct alignas(64) ShmCollective::Group {
  uint32_t arrived;   // ranks of this group that have arrived this round
  uint32_t word;      // the futex word the group's sleepers wait on; bumped to release them
  uint32_t sleepers;  // ranks of the group asleep (or about to be) on word
  uint32_t spinner;   // generation + 1 while the group's last arriver polls for the round's end
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
  s->assign_groups(comm, policy);
  // Header, one line per group, the result slot, then one slot per rank; allocated by rank 0,
  // mapped by all.
  s->groups_at_ = kLine;
  s->slots_at_ = kLine + kLine * static_cast<size_t>(s->n_groups_);
  s->sums_at_ = s->slots_at_ + kSlotBytes * (static_cast<size_t>(size) + 1);
  const size_t bytes = s->sums_at_ + kSlotBytes * static_cast<size_t>(s->n_groups_);
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
#ifdef MADV_POPULATE_WRITE
  // Map the whole window into this process now (one call) rather than a page fault at a time in
  // the first rounds (11-16 us each on the reference VM). Best effort: an older kernel refuses.
  {
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto lo = reinterpret_cast<uintptr_t>(first) & ~(page - 1);
    const auto hi = (reinterpret_cast<uintptr_t>(s->base_) + bytes + page - 1) & ~(page - 1);
    madvise(reinterpret_cast<void *>(lo), hi - lo, MADV_POPULATE_WRITE);
  }
#endif
  // Like the doorbells' window, this one lives until MPI_Finalize (freeing it is collective).
  return s;
}

// Slot -1 is the result; 0 .. N-1 the ranks'.
std::byte *ShmCollective::slot(int rank) const {
  return base_ + slots_at_ + kSlotBytes * static_cast<size_t>(rank + 1);
}

std::byte *ShmCollective::group_sum(int g) const {
  return base_ + sums_at_ + kSlotBytes * static_cast<size_t>(g);
}

ShmCollective::Group *ShmCollective::group(int g) const {
  return reinterpret_cast<Group *>(base_ + groups_at_ + kLine * static_cast<size_t>(g));
}

void ShmCollective::assign_groups(MPI_Comm comm, WaitPolicy policy) {
  // Which CPUs may each rank use? If every rank may use the same set and the ranks outnumber
  // its CPUs, pin them in contiguous groups, one group per CPU (ranks r*C/N ...); if the
  // launcher already bound every rank to one CPU, the groups follow that binding. Otherwise
  // (fewer ranks than CPUs, mixed masks, another wait policy, MCUEMU_NO_PIN=1) there is one
  // group and no pinning.
  cpu_set_t mine;
  CPU_ZERO(&mine);
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) CPU_ZERO(&mine);
  std::vector<cpu_set_t> all(static_cast<size_t>(size_));
  MPI_Allgather(&mine, sizeof mine, MPI_BYTE, all.data(), sizeof mine, MPI_BYTE, comm);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &mine)) cpus.push_back(c);
  cores_ = std::max<int>(1, static_cast<int>(cpus.size()));
  group_of_.assign(static_cast<size_t>(size_), 0);
  n_groups_ = 1;
  const bool pinning = core_aware(policy) && std::getenv("MCUEMU_NO_PIN") == nullptr;
  bool same = true, single = true;
  for (const auto &m : all) {
    same = same && CPU_EQUAL(&m, &all[0]);
    single = single && CPU_COUNT(&m) == 1;
  }
  if (pinning && same && !cpus.empty() && size_ > cores_) {
    const int C = cores_;
    for (int r = 0; r < size_; ++r) group_of_[static_cast<size_t>(r)] = r * C / size_;
    n_groups_ = C;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[static_cast<size_t>(group_of_[static_cast<size_t>(rank_)])], &one);
    // Every rank must agree on the groups (the window's layout and the round's counter of
    // groups depend on them): if any rank could not be pinned, none is.
    int ok = sched_setaffinity(0, sizeof one, &one) == 0 ? 1 : 0, everyone = 0;
    MPI_Allreduce(&ok, &everyone, 1, MPI_INT, MPI_MIN, comm);
    pinned_ = everyone == 1;
    if (pinned_) cpu_ = cpus[static_cast<size_t>(group_of_[static_cast<size_t>(rank_)])];
    if (!pinned_) {
      if (ok) sched_setaffinity(0, sizeof mine, &mine);  // back to the CPUs it had
      n_groups_ = 1, group_of_.assign(static_cast<size_t>(size_), 0);
    }
  } else if (pinning && single && size_ > 1) {
    std::vector<int> cpu_of(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r)
      for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &all[static_cast<size_t>(r)])) cpu_of[static_cast<size_t>(r)] = c;
    std::vector<int> distinct = cpu_of;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    if (distinct.size() < static_cast<size_t>(size_)) {  // oversubscribed cores
      for (int r = 0; r < size_; ++r)
        group_of_[static_cast<size_t>(r)] = static_cast<int>(
            std::lower_bound(distinct.begin(), distinct.end(), cpu_of[static_cast<size_t>(r)]) -
            distinct.begin());
      n_groups_ = static_cast<int>(distinct.size());
      pinned_ = true;
      cpu_ = cpu_of[static_cast<size_t>(rank_)];
    }
  }
  if (pinned_ && std::getenv("MCUEMU_NO_BATCH") == nullptr) {
    // SCHED_BATCH: a woken rank does not preempt the one running on its core. The group's
    // poller wakes its sleepers and computes on; each sleeper then runs its whole share of the
    // round when the core comes free, instead of cutting into the others' (every preemption
    // is one more switch, and a switch is what costs most on a VM).
    sched_param none{};
    none.sched_priority = 0;
    sched_setscheduler(0, SCHED_BATCH, &none);
  }
  members_.assign(static_cast<size_t>(n_groups_), {});
  for (int r = 0; r < size_; ++r)
    members_[static_cast<size_t>(group_of_[static_cast<size_t>(r)])].push_back(r);
  my_group_ = group_of_[static_cast<size_t>(rank_)];
  yield_in_group_ = policy == WaitPolicy::Auto;
  spin_first_ = core_aware(policy) && !pinned_ && cores_ >= size_;
}

void ShmCollective::release_group(int g) {
  Group *grp = group(g);
  std::atomic_ref<uint32_t> word(grp->word), sleepers(grp->sleepers);
  word.fetch_add(1);
  if (sleepers.load() > 0) futex(&grp->word, FUTEX_WAKE, INT_MAX, nullptr);
}

void ShmCollective::wait_for_generation(uint32_t seen, bool last_of_group) {
  auto *h = reinterpret_cast<Header *>(base_);
  Group *grp = group(my_group_);
  std::atomic_ref<uint32_t> generation(h->generation), sleepers(grp->sleepers), word(grp->word),
      spinner(grp->spinner);
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
  if (pinned_ && last_of_group) {
    // Nobody else of this core's group is left to run: keep the core busy polling (a core that
    // goes idle costs a wake-up from another core, far dearer on a VM than a short poll), and
    // when the round ends, wake this group's sleepers from here, on their own core.
    spinner.store(seen + 1);
    const auto until = std::chrono::steady_clock::now() + kPinnedSpin;
    for (int i = 1;; ++i) {
      if (generation.load() != seen) {
        release_group(my_group_);
        return;
      }
      cpu_relax();
      if (i % 256 == 0 && std::chrono::steady_clock::now() > until) break;
    }
    // Waited too long (the other cores are busy elsewhere): sleep like the others. The last
    // arriver releases every group whose spinner it does not see; whichever of us looks last
    // sees the other's write.
    spinner.store(0);
    if (generation.load() != seen) {
      release_group(my_group_);
      return;
    }
  } else if (pinned_ && yield_in_group_) {
    // Others of this core's group have yet to run: hand them the core with sched_yield and look
    // again when it comes back (every rank of the group stays runnable, so no wake-up is needed).
    const auto until = std::chrono::steady_clock::now() + kPinnedSpin;
    for (;;) {
      if (generation.load() != seen) return;
      sched_yield();
      ++yields_;
      if (std::chrono::steady_clock::now() > until) break;
    }
  } else if (spin_first_) {
    const auto until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
    for (int i = 1;; ++i) {
      if (generation.load() != seen) return;
      cpu_relax();
      if (i % 64 == 0 && std::chrono::steady_clock::now() > until) break;
    }
  }
  const timespec timeout{0, kSleepTimeoutNs};
  sleepers.fetch_add(1);
  for (;;) {
    const uint32_t w = word.load();
    if (generation.load() != seen) break;
    futex(&grp->word, FUTEX_WAIT, w, &timeout);
    ++sleeps_;
  }
  sleepers.fetch_sub(1);
}

// Into dst: the largest clock of the blocks at(0) .. at(k-1), and with `combine` their first n
// bytes combined in that order (without, the bytes are not touched).
template <class At>
void ShmCollective::gather(std::byte *dst, int k, At at, size_t n, Combine combine) {
  int64_t max_clock = INT64_MIN;
  for (int i = 0; i < k; ++i) {
    int64_t c;
    std::memcpy(&c, at(i), sizeof c);
    max_clock = std::max(max_clock, c);
  }
  std::memcpy(dst, &max_clock, sizeof max_clock);
  if (!combine || n == 0) return;
  std::memcpy(dst + kLine, at(0) + kLine, n);
  for (int i = 1; i < k; ++i)
    combine(std::span(dst + kLine, n), std::span<const std::byte>(at(i) + kLine, n));
}

int64_t ShmCollective::round(std::span<std::byte> data, int64_t clock, Combine combine, int root) {
  auto *h = reinterpret_cast<Header *>(base_);
  std::atomic_ref<uint32_t> arrived(h->arrived), generation(h->generation);
  std::atomic_ref<uint32_t> group_arrived(group(my_group_)->arrived);
  const std::vector<int> &members = members_[static_cast<size_t>(my_group_)];
  int64_t latest = clock;
  size_t off = 0;
  do {
    const size_t n = std::min(kCapacity, data.size() - off);
    std::byte *mine = slot(rank_);
    std::memcpy(mine, &clock, sizeof clock);
    if (n > 0) std::memcpy(mine + kLine, data.data() + off, n);
    const uint32_t seen = generation.load();
    const bool last_of_group =
        static_cast<int>(group_arrived.fetch_add(1)) + 1 == static_cast<int>(members.size());
    if (!last_of_group) {
      wait_for_generation(seen, false);
    } else {
      // The group's last to arrive (every member wrote its slot before it arrived): combine the
      // group's slots, in rank order, into the group's sum, on the core that wrote them. The
      // slots never leave their core; only the groups' sums and the result cross cores. With
      // one group, its sum is the result.
      gather(
          n_groups_ == 1 ? slot(-1) : group_sum(my_group_), static_cast<int>(members.size()),
          [&](int i) { return slot(members[static_cast<size_t>(i)]); }, n, combine);
      const int to_come = n_groups_ - 1 - static_cast<int>(arrived.fetch_add(1));
      if (to_come == 0) {
        // The last group to arrive: combine the groups' sums in group order.
        std::byte *result = slot(-1);
        if (n_groups_ > 1)
          gather(
              result, n_groups_, [&](int g) { return group_sum(g); }, n, combine);
        if (!combine && n > 0) std::memcpy(result + kLine, slot(root) + kLine, n);
        for (int g = 0; g < n_groups_; ++g) std::atomic_ref<uint32_t>(group(g)->arrived).store(0);
        arrived.store(0);
        generation.store(seen + 1);
        // Wake this group's sleepers, and those of every group without a poller of this round
        // (a poller wakes its own group, on its own core).
        for (int g = 0; g < n_groups_; ++g)
          if (g == my_group_ || std::atomic_ref<uint32_t>(group(g)->spinner).load() != seen + 1)
            release_group(g);
      } else {
        wait_for_generation(seen, true);
      }
    }
    const std::byte *result = slot(-1);
    std::memcpy(&latest, result, sizeof latest);
    if (n > 0) std::memcpy(data.data() + off, result + kLine, n);
    off += n;
  } while (off < data.size());
  return latest;
}

}  // namespace mcuemu::mpi
