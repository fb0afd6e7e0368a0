// What handing a core from one process to another costs on this host: the floor under every
// round of an oversubscribed run (scripts/bench.sh reports it next to the 8-chip figures).
//
// P processes (or P threads of one process) pinned to one CPU hand it on with sched_yield, N
// times each; a hand-off costs the wall time over P x N. With 8 ranks on 2 cores every round of
// every token needs each core to pass through its 4 ranks, so a token costs at least
// (rounds x (ranks per core - 1)) hand-offs per core on top of the arithmetic. Threads share an
// address space: the difference between the two is what switching page tables costs here (on
// the reference VM, a PVM guest with page-table isolation and no PCID: ~7 us against ~2 us).
//
//   bench_switch [CPU=0] [HANDOFFS=20000]
// prints one JSON line: {"cpu": C, "process_ns": {"1": ..., "2": ..., "4": ...},
//                        "thread_ns": {"2": ..., "4": ...}}   (ns per hand-off; "1": a yield
// with nothing to switch to, the system call alone)
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <new>
#include <string>
#include <vector>

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  return sched_setaffinity(0, sizeof s, &s) == 0;
}

// Everyone starts together: the last party to arrive notes the time and lets the others go;
// each notes when it is done. The timed stretch, first start to last end, is the hand-offs alone
// (not the fork, the start line or the reaping).
struct Start {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> abandon{false};  // a party could not be made: the others leave
  std::atomic<int64_t> t0{0}, t1{0};
};

void yields(Start *start, int parties, long n) {
  if (start->ready.fetch_add(1) == parties - 1) {
    start->t0 = now_ns();
    start->go = true;
  }
  while (!start->go.load())
    if (start->abandon.load())
      return;
    else
      sched_yield();
  for (long i = 0; i < n; ++i) sched_yield();
  const int64_t t = now_ns();
  int64_t seen = start->t1.load();
  while (seen < t && !start->t1.compare_exchange_weak(seen, t)) {
  }
}

// ns per hand-off with `p` processes on this process's CPU.
double processes(int p, long n) {
  void *mem =
      mmap(nullptr, sizeof(Start), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return -1;
  auto *start = new (mem) Start;
  std::vector<pid_t> kids;
  for (int i = 0; i < p; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {  // (pinned as its parent is)
      yields(start, p, n);
      _exit(0);
    }
    if (pid < 0) {
      start->abandon = true;
      break;
    }
    kids.push_back(pid);
  }
  bool ok = static_cast<int>(kids.size()) == p;
  for (pid_t k : kids) {
    int status = 0;
    waitpid(k, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  const int64_t t = start->t1 - start->t0;
  munmap(mem, sizeof(Start));
  return ok ? static_cast<double>(t) / (static_cast<double>(p) * static_cast<double>(n)) : -1;
}

struct ThreadArg {
  Start *start;
  int parties;
  long n;
};

void *thread_main(void *a) {  // (pinned as the thread that made it is)
  auto *t = static_cast<ThreadArg *>(a);
  yields(t->start, t->parties, t->n);
  return nullptr;
}

// ns per hand-off with `p` threads of this process on its CPU.
double threads(int p, long n) {
  Start start;
  ThreadArg arg{&start, p, n};
  std::vector<pthread_t> ts(p);
  int made = 0;
  for (; made < p; ++made)
    if (pthread_create(&ts[made], nullptr, thread_main, &arg) != 0) {
      start.abandon = true;
      break;
    }
  for (int i = 0; i < made; ++i) pthread_join(ts[i], nullptr);
  if (made != p) return -1;
  return static_cast<double>(start.t1 - start.t0) /
         (static_cast<double>(p) * static_cast<double>(n));
}

}  // namespace

int main(int argc, char **argv) {
  if (argc > 3 || (argc > 1 && (!std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")))) {
    std::fprintf(stderr, "usage: bench_switch [CPU=0] [HANDOFFS=20000]\n");
    return argc > 3 ? 2 : 0;
  }
  char *end = nullptr;
  const long cpu = argc > 1 ? std::strtol(argv[1], &end, 10) : 0;
  if (argc > 1 && (*end || cpu < 0 || cpu >= CPU_SETSIZE)) {
    std::fprintf(stderr, "bench_switch: CPU '%s' is not a CPU number\n", argv[1]);
    return 2;
  }
  const long n = argc > 2 ? std::strtol(argv[2], &end, 10) : 20000;
  if (argc > 2 && (*end || n < 1)) {
    std::fprintf(stderr, "bench_switch: HANDOFFS '%s' must be a positive integer\n", argv[2]);
    return 2;
  }
  if (!pin(static_cast<int>(cpu))) {
    std::fprintf(stderr, "bench_switch: cannot run on CPU %ld: %s\n", cpu, std::strerror(errno));
    return 1;
  }
  // {"2": ns, "4": ns, ...} for `parties`, measured by `handoff_ns`; empty if one failed.
  auto series = [&](const char *what, std::initializer_list<int> parties, auto handoff_ns) {
    std::string json = "{";
    for (int p : parties) {
      const double ns = handoff_ns(p, n);
      if (ns < 0) {
        std::fprintf(stderr, "bench_switch: %d %s on CPU %ld failed\n", p, what, cpu);
        return std::string();
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s\"%d\": %.0f", json.size() > 1 ? ", " : "", p, ns);
      json += buf;
    }
    return json + "}";
  };
  const std::string procs = series("processes", {1, 2, 4}, processes);
  const std::string thrds = procs.empty() ? "" : series("threads", {2, 4}, threads);
  if (thrds.empty()) return 1;
  std::string out = "{\"cpu\": " + std::to_string(cpu) + ", \"process_ns\": " + procs +
                    ", \"thread_ns\": " + thrds;
  out += "}";
  std::puts(out.c_str());
  return 0;
}
