#include "runtime/fault.hpp"

#include <fmt/format.h>
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace mcuemu::runtime {
namespace detail {
bool g_fault_armed = false;
}  // namespace detail

namespace {

FaultSpec g_fault;

const char *const kKinds[] = {"throw", "abort", "segv", "kill", "exit", "hang"};

int parse_int(const std::string &key, const std::string &v, const std::string &text) {
  char *end = nullptr;
  errno = 0;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n < 0 || n > 1'000'000'000)
    throw std::invalid_argument(fmt::format(
        "MCUEMU_FAULT='{}': {} must be a non-negative integer, got '{}'", text, key, v));
  return static_cast<int>(n);
}

}  // namespace

FaultSpec parse_fault_spec(const std::string &text) {
  FaultSpec f;
  bool have_rank = false, have_kind = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string item =
        text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq),
                      value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "rank") {
      f.rank = parse_int(key, value, text);
      have_rank = true;
    } else if (key == "step") {
      f.step = parse_int(key, value, text);
    } else if (key == "kind") {
      bool known = false;
      for (const char *k : kKinds) known = known || value == k;
      if (!known)
        throw std::invalid_argument(fmt::format(
            "MCUEMU_FAULT='{}': unknown kind '{}' (throw, abort, segv, kill, exit, hang)", text,
            value));
      f.kind = value;
      have_kind = true;
    } else {
      throw std::invalid_argument(
          fmt::format("MCUEMU_FAULT='{}': unknown key '{}' (rank=R,step=S,kind=K)", text, key));
    }
  }
  if (!have_rank || !have_kind)
    throw std::invalid_argument(
        fmt::format("MCUEMU_FAULT='{}': needs rank=R and kind=K (and optionally step=S)", text));
  return f;
}

void arm_fault_from_env() {
  static bool done = false;
  if (done) return;
  done = true;
  const char *v = std::getenv("MCUEMU_FAULT");
  if (v == nullptr || *v == '\0') return;
  g_fault = parse_fault_spec(v);
  detail::g_fault_armed = true;
}

namespace detail {

void inject_fault(int rank, int step) {
  if (rank != g_fault.rank || step != g_fault.step) return;
  const std::string &k = g_fault.kind;
  std::fprintf(stderr, "mcuemu: rank %d: injecting fault '%s' at decode step %d (MCUEMU_FAULT)\n",
               rank, k.c_str(), step);
  std::fflush(stderr);
  if (k == "throw")
    throw std::runtime_error(fmt::format("injected fault at decode step {} (MCUEMU_FAULT)", step));
  if (k == "abort") std::abort();
  if (k == "segv") {
    // A store to an unmapped low address (not nullptr: UBSan would stop at a null store first).
    volatile std::uintptr_t address = 64;
    *reinterpret_cast<volatile int *>(address) = 1;
  }
  if (k == "kill") ::kill(::getpid(), SIGKILL);
  if (k == "exit") std::exit(3);
  if (k == "hang")
    for (;;) ::pause();
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Fatal signals

namespace {

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
struct sigaction g_previous[sizeof kFatalSignals / sizeof kFatalSignals[0]];
char g_prefix[64];  // "mcuemu: rank R: fatal signal " (formatted before any signal can arrive)
size_t g_prefix_len = 0;

const char *signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
  }
  return "?";
}

// Async-signal-safe: write(2) only, no allocation, no stdio.
void on_fatal_signal(int sig, siginfo_t *info, void *) {
  char buf[128];
  size_t n = 0;
  auto put = [&](const char *s, size_t len) {
    for (size_t i = 0; i < len && n < sizeof buf; ++i) buf[n++] = s[i];
  };
  put(g_prefix, g_prefix_len);
  char digits[8];
  int d = 0, v = sig;
  do digits[d++] = static_cast<char>('0' + v % 10), v /= 10;
  while (v > 0 && d < 8);
  while (d > 0) put(&digits[--d], 1);
  put(" (", 2);
  const char *name = signal_name(sig);
  put(name, std::strlen(name));
  put(")\n", 2);
  ssize_t w = ::write(STDERR_FILENO, buf, n);
  (void)w;
  // Back to the previous disposition. A fault raised by the hardware (si_code > 0) happens
  // again when we return, now in that handler, with its real context (a sanitizer then reports
  // the faulting instruction). A sent signal (abort(), kill) is raised again: it is blocked
  // while this handler runs, so it reaches that handler (or kills the process) on return.
  for (size_t i = 0; i < sizeof kFatalSignals / sizeof kFatalSignals[0]; ++i)
    if (kFatalSignals[i] == sig) ::sigaction(sig, &g_previous[i], nullptr);
  if (sig != SIGABRT && info != nullptr && info->si_code > 0) return;
  ::raise(sig);
}

}  // namespace

namespace {

int g_exit_rank = -1;

void on_exit_before_finalize() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized)
    std::fprintf(stderr,
                 "mcuemu: rank %d: error: exit() called in the middle of the run (MPI not "
                 "finalized); mpirun ends the job\n",
                 g_exit_rank);
}

}  // namespace

void install_exit_reporter(int rank) {
  static bool installed = false;
  if (installed) return;
  installed = true;
  g_exit_rank = rank;
  std::atexit(on_exit_before_finalize);
}

void install_fatal_signal_reporter(int rank) {
  static bool installed = false;
  if (installed) return;
  installed = true;
  const int len = std::snprintf(g_prefix, sizeof g_prefix, "mcuemu: rank %d: fatal signal ", rank);
  g_prefix_len = len > 0 ? static_cast<size_t>(len) : 0;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal_signal;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof kFatalSignals / sizeof kFatalSignals[0]; ++i)
    ::sigaction(kFatalSignals[i], &sa, &g_previous[i]);
}

}  // namespace mcuemu::runtime
