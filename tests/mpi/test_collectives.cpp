// Collectives of mpi/cluster.hpp on the real MPI ranks of this job: data, virtual time, counts.
#include <gtest/gtest.h>
#include <sched.h>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <numeric>
#include <string>
#include <thread>
#include <utility>

#include "mpi/cluster.hpp"

using mcuemu::mpi::AllreduceAlgo;
using mcuemu::mpi::Cluster;
using mcuemu::mpi::LinkModel;

namespace {

// The CPUs the launcher gave this process, taken before any test made a Cluster (which pins a
// rank to one CPU when ranks outnumber CPUs: every later Cluster would then see single-CPU masks).
const cpu_set_t kLaunchAffinity = [] {
  cpu_set_t s;
  CPU_ZERO(&s);
  if (sched_getaffinity(0, sizeof s, &s) != 0) CPU_ZERO(&s);
  return s;
}();

const LinkModel kLink{2.0, 100};  // 2 B/cycle, 100 cycles per message

int ceil_log2(int n) {
  int s = 0;
  while ((1 << s) < n) ++s;
  return s;
}

// Rank r contributes value(r, i); the expected sum is computed locally for every rank.
int32_t value(int r, size_t i) {
  return static_cast<int32_t>((r + 1) * 1000003 + i * (r % 3 - 1));
}

class Collectives : public ::testing::TestWithParam<AllreduceAlgo> {};

TEST_P(Collectives, AllreduceSumsEveryRanksPartial) {
  Cluster c(MPI_COMM_WORLD, kLink);
  for (size_t n : {1u, 3u, 7u, 64u, 512u, 1377u}) {
    std::vector<int32_t> data(n), want(n, 0);
    for (size_t i = 0; i < n; ++i) {
      data[i] = value(c.rank(), i);
      for (int r = 0; r < c.size(); ++r) want[i] += value(r, i);
    }
    c.allreduce_sum(data, 0, GetParam());
    ASSERT_EQ(data, want) << "n=" << n << " algo " << mcuemu::mpi::algo_name(GetParam());
  }
}

TEST_P(Collectives, AllreduceEndsAtLatestArrivalPlusLinkCost) {
  Cluster c(MPI_COMM_WORLD, kLink);
  const size_t n = 512;
  std::vector<int32_t> data(n, 1);
  const int64_t mine = 1000 * (c.rank() + 1), latest = 1000 * c.size();
  auto t = c.allreduce_sum(data, mine, GetParam());
  const int N = c.size();
  int64_t link = 0;
  const int64_t full = kLink.latency_cycles + (n * 4 + 1) / 2;
  if (N > 1) {
    switch (GetParam()) {
      case AllreduceAlgo::Tree:
        link = 2 * ceil_log2(N) * full;
        break;
      case AllreduceAlgo::Ring: {
        const int64_t chunk = (n + N - 1) / N * 4;
        link = 2 * (N - 1) * (kLink.latency_cycles + (chunk + 1) / 2);
        break;
      }
      case AllreduceAlgo::Direct:
        link = (N - 1) * full;
        break;
    }
  }
  EXPECT_EQ(t.arrival, mine);
  EXPECT_EQ(t.latest, latest);
  EXPECT_EQ(t.idle_cycles, latest - mine);
  EXPECT_EQ(t.link_cycles, link);
  EXPECT_EQ(t.end, latest + link);
  if (N > 1) {
    EXPECT_GT(t.bytes_sent, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, Collectives,
                         ::testing::Values(AllreduceAlgo::Tree, AllreduceAlgo::Ring,
                                           AllreduceAlgo::Direct),
                         [](const auto &info) {
                           return std::string(mcuemu::mpi::algo_name(info.param));
                         });

// The shared-memory transport (every rank on this host) and MPI point-to-point along the
// algorithm's hops must agree on everything: data, clocks, bytes and messages on the link.
void expect_same_timing(const mcuemu::mpi::CollectiveTiming &a,
                        const mcuemu::mpi::CollectiveTiming &b, const std::string &what) {
  EXPECT_EQ(a.arrival, b.arrival) << what;
  EXPECT_EQ(a.latest, b.latest) << what;
  EXPECT_EQ(a.end, b.end) << what;
  EXPECT_EQ(a.idle_cycles, b.idle_cycles) << what;
  EXPECT_EQ(a.link_cycles, b.link_cycles) << what;
  EXPECT_EQ(a.bytes_sent, b.bytes_sent) << what;
  EXPECT_EQ(a.messages_sent, b.messages_sent) << what;
}

TEST(Transports, SharedMemoryAndPointToPointAgree) {
  using mcuemu::mpi::WaitPolicy;
  Cluster shm(MPI_COMM_WORLD, kLink, WaitPolicy::Auto, Cluster::Transport::Auto);
  Cluster p2p(MPI_COMM_WORLD, kLink, WaitPolicy::Sleep, Cluster::Transport::PointToPoint);
  if (shm.size() > 1) {
    EXPECT_TRUE(shm.shared_memory());  // every rank of this test runs on one host
  }
  EXPECT_FALSE(p2p.shared_memory());
  const int r = shm.rank();
  // 70000 int32 is more than one shared-memory round (64 KiB) and many eager-sized chunks.
  for (size_t n : {1u, 5u, 512u, 16500u, 70000u})
    for (auto algo : {AllreduceAlgo::Tree, AllreduceAlgo::Ring, AllreduceAlgo::Direct})
      for (int wire : {4, 2}) {
        std::vector<int32_t> a(n), b(n);
        for (size_t i = 0; i < n; ++i) a[i] = b[i] = value(r, i);
        const int64_t clock = 777 * ((r * 5) % 7) + static_cast<int64_t>(n);
        const auto ta = shm.allreduce_sum(a, clock, algo, wire);
        const auto tb = p2p.allreduce_sum(b, clock, algo, wire);
        const std::string what = fmt::format("allreduce n={} {} wire {}", n, algo_name(algo), wire);
        ASSERT_EQ(a, b) << what;
        expect_same_timing(ta, tb, what);
      }
  for (int root = 0; root < shm.size(); ++root)
    for (size_t n : {0u, 512u, 70000u}) {
      std::vector<int8_t> a(n, static_cast<int8_t>(r)), b(n, static_cast<int8_t>(r));
      const int64_t clock = 100 * (r + 3 * root);
      const auto ta = shm.broadcast(a, root, clock);
      const auto tb = p2p.broadcast(b, root, clock);
      const std::string what = fmt::format("broadcast root {} n={}", root, n);
      ASSERT_EQ(a, b) << what;
      ASSERT_EQ(a, std::vector<int8_t>(n, static_cast<int8_t>(root))) << what;
      expect_same_timing(ta, tb, what);
    }
  for (int ties : {0, 1}) {
    int32_t va = ties ? 5 : 10 * r, vb = va;
    int64_t ia = 1000 - r, ib = ia;
    const auto ta = shm.argmax(va, ia, 50 * r);
    const auto tb = p2p.argmax(vb, ib, 50 * r);
    EXPECT_EQ(va, vb);
    EXPECT_EQ(ia, ib);
    expect_same_timing(ta, tb, "argmax");
    // With a payload (shared memory only): every rank gets the winner's payload, the timing,
    // bytes and messages stay those of the value and index. A rank in the middle wins (by its
    // value, or by its index among equal values), so neither the first nor the last record
    // combined is the answer.
    const int w = shm.size() / 2;
    for (size_t n : {size_t{1}, size_t{520}, mcuemu::mpi::ShmCollective::kRoundBytes - 16}) {
      int32_t vc = ties ? 5 : (r == w ? 1000 : r), vp = vc;
      int64_t ic = ties ? 1000 + std::abs(r - w) : 1000 - r, ip = ic;
      const auto tp = p2p.argmax(vp, ip, 50 * r);
      std::vector<std::byte> pay(n, static_cast<std::byte>(r + 1));
      if (!shm.shared_memory()) {
        if (shm.size() > 1) {
          EXPECT_THROW(shm.argmax(vc, ic, 50 * r, pay), std::logic_error);
        }
        continue;
      }
      const auto tc = shm.argmax(vc, ic, 50 * r, pay);
      EXPECT_EQ(vc, vp);
      EXPECT_EQ(ic, ip);
      EXPECT_EQ(ic, ties ? 1000 : 1000 - w);
      EXPECT_EQ(pay, std::vector<std::byte>(n, static_cast<std::byte>(w + 1))) << n;
      expect_same_timing(tc, tp, "argmax with a payload");
    }
  }
  if (shm.shared_memory()) {
    // A record (value, index, payload) must fit one round: the combine reads its header.
    int32_t v = r;
    int64_t i = r;
    std::vector<std::byte> pay(mcuemu::mpi::ShmCollective::kRoundBytes - 15);
    EXPECT_THROW(shm.argmax(v, i, 0, pay), std::logic_error);
  }
  if (p2p.size() > 1) {
    int32_t v = 0;
    int64_t i = 0;
    std::vector<std::byte> pay(4);
    EXPECT_THROW(p2p.argmax(v, i, 0, pay), std::logic_error);
  }
}

// A chip's share of a collective (bytes, messages, link cycles), worked out without
// communicating, is what the collective itself reports on either transport; its clocks are
// those of a chip arriving alone at 0. Nothing moves: a share changes no data.
TEST(Shares, EqualWhatTheCollectiveReports) {
  using mcuemu::mpi::WaitPolicy;
  for (auto transport : {Cluster::Transport::Auto, Cluster::Transport::PointToPoint}) {
    Cluster c(MPI_COMM_WORLD, kLink, WaitPolicy::Auto, transport);
    const int r = c.rank();
    auto expect_share = [&](const mcuemu::mpi::CollectiveTiming &share,
                            const mcuemu::mpi::CollectiveTiming &real, const std::string &what) {
      EXPECT_EQ(share.bytes_sent, real.bytes_sent) << what;
      EXPECT_EQ(share.messages_sent, real.messages_sent) << what;
      EXPECT_EQ(share.link_cycles, real.link_cycles) << what;
      EXPECT_EQ(share.arrival, 0) << what;
      EXPECT_EQ(share.latest, 0) << what;
      EXPECT_EQ(share.idle_cycles, 0) << what;
      EXPECT_EQ(share.end, share.link_cycles) << what;
    };
    for (size_t n : {1u, 5u, 512u, 16500u})
      for (auto algo : {AllreduceAlgo::Tree, AllreduceAlgo::Ring, AllreduceAlgo::Direct})
        for (int wire : {4, 2, 1}) {
          std::vector<int32_t> data(n, r);
          const auto real = c.allreduce_sum(data, 10 * r, algo, wire);
          const std::string what =
              fmt::format("allreduce n={} {} wire {}", n, algo_name(algo), wire);
          expect_share(c.allreduce_share(n, algo, wire), real, what);
          expect_share(c.allreduce_share(n, algo, wire), real, what + " (memoized)");
        }
    for (int root = 0; root < c.size(); ++root)
      for (size_t n : {0u, 64u, 512u}) {
        std::vector<int8_t> data(n, static_cast<int8_t>(r));
        const auto real = c.broadcast(data, root, 5 * r);
        expect_share(c.broadcast_share(n, root), real,
                     fmt::format("broadcast root {} n={}", root, n));
      }
    int32_t v = r;
    int64_t i = r;
    const auto real = c.argmax(v, i, 7 * r);
    expect_share(c.argmax_share(), real, "argmax");
    EXPECT_THROW(c.allreduce_share(8, AllreduceAlgo::Tree, 5), std::invalid_argument);
  }
}

// The bookkeeping max over ranks (cost-only runs settle their clocks with it).
TEST(MaxOverRanks, EveryRankGetsTheElementwiseMaximum) {
  using mcuemu::mpi::WaitPolicy;
  for (auto transport : {Cluster::Transport::Auto, Cluster::Transport::PointToPoint})
    for (size_t n : {1u, 3u, 9000u}) {  // 9000 x 8 B: more than one shared-memory round
      Cluster c(MPI_COMM_WORLD, kLink, WaitPolicy::Auto, transport);
      std::vector<int64_t> v(n);
      for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<int64_t>((c.rank() * 7919 + i * 104729) % 1000) - 500;
      c.max_over_ranks(v);
      for (size_t i = 0; i < n; ++i) {
        int64_t want = INT64_MIN;
        for (int r = 0; r < c.size(); ++r)
          want = std::max(want, static_cast<int64_t>((r * 7919 + i * 104729) % 1000) - 500);
        ASSERT_EQ(v[i], want) << "element " << i << " of " << n;
      }
    }
}

TEST(Broadcast, EveryRootReachesEveryone) {
  Cluster c(MPI_COMM_WORLD, kLink);
  for (int root = 0; root < c.size(); ++root) {
    std::vector<int8_t> data(37, 0);
    if (c.rank() == root)
      for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<int8_t>(root * 7 + i);
    auto t = c.broadcast(data, root, 10 * c.rank());
    for (size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], static_cast<int8_t>(root * 7 + i));
    EXPECT_EQ(t.latest, 10 * (c.size() - 1));
  }
}

TEST(Argmax, LargestValueLowestIndexWins) {
  Cluster c(MPI_COMM_WORLD, kLink);
  // Every rank holds the same maximum 50 at index 100 + rank: the lowest index, 100, wins.
  int32_t v = 50;
  int64_t idx = 100 + c.rank();
  c.argmax(v, idx, 0);
  EXPECT_EQ(v, 50);
  EXPECT_EQ(idx, 100);
  // A unique maximum on the last rank wins.
  v = c.rank() == c.size() - 1 ? 70 : 60;
  idx = 1000 - c.rank();
  c.argmax(v, idx, 0);
  EXPECT_EQ(v, 70);
  EXPECT_EQ(idx, 1000 - (c.size() - 1));
}

TEST(Options, MismatchIsDetected) {
  Cluster c(MPI_COMM_WORLD, kLink);
  EXPECT_NO_THROW(c.check_same_everywhere("options", "--tokens 8"));
  if (c.size() > 1) {
    const std::string mine = c.rank() == 1 ? "--tokens 9" : "--tokens 8";
    try {
      c.check_same_everywhere("options", mine);
      ADD_FAILURE() << "no error for mismatched options";
    } catch (const std::exception &e) {
      EXPECT_NE(std::string(e.what()).find("rank(s) 1 do not match rank 0"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace

// The core-aware waiting of the shared-memory rounds (pinned groups that hand their core on with
// sched_yield, or that sleep on a futex; pollers) gives the same data and clocks as one group
// that only sleeps, whatever order the ranks arrive in, including rounds where a rank comes so
// late that the pollers and the yielding ranks give up and sleep.
TEST(Transports, PinnedGroupsAgreeWithPlainSleeping) {
  using mcuemu::mpi::WaitPolicy;
  // As launched: the pinning of the first Cluster of a run, or the launcher's binding.
  if (CPU_COUNT(&kLaunchAffinity) > 0)
    sched_setaffinity(0, sizeof kLaunchAffinity, &kLaunchAffinity);
  Cluster yielding(MPI_COMM_WORLD, kLink, WaitPolicy::Auto, Cluster::Transport::Auto);
  Cluster sleeping(MPI_COMM_WORLD, kLink, WaitPolicy::GroupSleep, Cluster::Transport::Auto);
  ::setenv("MCUEMU_NO_PIN", "1", 1);
  Cluster plain(MPI_COMM_WORLD, kLink, WaitPolicy::Auto, Cluster::Transport::Auto);
  ::unsetenv("MCUEMU_NO_PIN");
  const int r = yielding.rank(), N = yielding.size();
  EXPECT_FALSE(plain.pinned_to_cores());
  EXPECT_EQ(plain.pinned_cpu(), -1);
  const bool oversubscribed = N > 1 && N > sysconf(_SC_NPROCESSORS_ONLN);
  if (oversubscribed) {
    EXPECT_TRUE(yielding.pinned_to_cores()) << N << " ranks on fewer cores";
    EXPECT_TRUE(sleeping.pinned_to_cores()) << N << " ranks on fewer cores";
  }
  // A pinned rank reports the CPU it runs on (the summary's host diagnostics); others -1.
  if (yielding.pinned_to_cores()) {
    EXPECT_EQ(yielding.pinned_cpu(), sched_getcpu());
    EXPECT_EQ(sleeping.pinned_cpu(), yielding.pinned_cpu());
  } else {
    EXPECT_EQ(yielding.pinned_cpu(), -1);
  }
  for (int round = 0; round < 300; ++round) {
    // A different rank is late each round; every 50th round it is late by milliseconds.
    const int late = round % N;
    std::vector<int32_t> a(64 + round % 5), b, c;
    for (size_t i = 0; i < a.size(); ++i) a[i] = value(r, i + round);
    b = c = a;
    const int64_t clock = 1000 * round + 37 * ((r + round) % N);
    const auto lateness = std::chrono::microseconds(round % 50 == 0 ? 3000 : round % 7);
    if (r == late) std::this_thread::sleep_for(lateness);
    const auto ta = yielding.allreduce_sum(a, clock, AllreduceAlgo::Tree);
    if (r == late) std::this_thread::sleep_for(lateness);
    const auto tb = sleeping.allreduce_sum(b, clock, AllreduceAlgo::Tree);
    const auto tc = plain.allreduce_sum(c, clock, AllreduceAlgo::Tree);
    ASSERT_EQ(a, c) << "round " << round;
    ASSERT_EQ(b, c) << "round " << round;
    for (size_t i = 0; i < a.size(); ++i) {
      int32_t want = 0;
      for (int q = 0; q < N; ++q) want += value(q, i + round);
      ASSERT_EQ(c[i], want) << "round " << round << " element " << i;
    }
    expect_same_timing(ta, tc, fmt::format("round {} (yielding)", round));
    expect_same_timing(tb, tc, fmt::format("round {} (sleeping)", round));
  }
  // Each group waited the way its policy says: with a rank late by 3 ms every 50 rounds, the
  // others of its group arrived before it and handed the core on (yielding) or slept.
  int64_t yields[2] = {yielding.host_time().yields, sleeping.host_time().yields}, all[2] = {};
  MPI_Allreduce(yields, all, 2, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  const bool groups_of_two = oversubscribed && N >= 2 * sysconf(_SC_NPROCESSORS_ONLN);
  if (groups_of_two) {
    EXPECT_GT(all[0], 0) << "no rank of a pinned group handed its core on";
  }
  EXPECT_EQ(all[1], 0) << "a group-sleep rank yielded";
  int64_t sleeps = sleeping.host_time().sleeps, all_sleeps = 0;
  MPI_Allreduce(&sleeps, &all_sleeps, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  if (groups_of_two) {
    EXPECT_GT(all_sleeps, 0) << "no rank of a group-sleep group slept";
  }
}

TEST(Transports, WaitPolicyFromTheEnvironment) {
  using mcuemu::mpi::wait_policy_from_env;
  using mcuemu::mpi::WaitPolicy;
  const std::pair<const char *, WaitPolicy> known[] = {{"auto", WaitPolicy::Auto},
                                                       {"group-sleep", WaitPolicy::GroupSleep},
                                                       {"sleep", WaitPolicy::Sleep},
                                                       {"yield", WaitPolicy::Yield}};
  for (const auto &[name, policy] : known) {
    ::setenv("MCUEMU_MPI_WAIT", name, 1);
    EXPECT_EQ(wait_policy_from_env(), policy) << name;
  }
  ::setenv("MCUEMU_MPI_WAIT", "nap", 1);
  try {
    wait_policy_from_env();
    ADD_FAILURE() << "no error for MCUEMU_MPI_WAIT=nap";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("MCUEMU_MPI_WAIT=nap: expected auto, group-sleep"),
              std::string::npos)
        << e.what();
  }
  ::unsetenv("MCUEMU_MPI_WAIT");
  EXPECT_EQ(wait_policy_from_env(), WaitPolicy::Auto);
}
