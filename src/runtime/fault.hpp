// Rank faults: a fatal-signal reporter that names the rank, and a hidden fault-injection hook
// for the tests (docs/robustness.md).
//
// Fault injection is driven by one environment variable, read once per process:
//   MCUEMU_FAULT="rank=R,step=S,kind=K"
// Rank R fails at decode step S of a TinyLlama run (step 0 is the first decode step) with K:
//   throw  an exception (reported as one line naming the rank, then MPI_Abort)
//   abort  std::abort() (SIGABRT)
//   segv   a write through a null pointer (SIGSEGV)
//   kill   SIGKILL to itself (no handler can run: mpirun reports the rank)
//   exit   std::exit(3) without MPI_Finalize (as a library calling exit() would)
//   hang   sleeps forever while the others wait in the next collective (for timeouts)
// Unset or empty: nothing happens and the check in the decode loop is one predictable branch.
// A malformed value is an error at start-up (std::invalid_argument).
#pragma once

#include <string>

namespace mcuemu::runtime {

struct FaultSpec {
  int rank = -1;  // -1: no fault armed
  int step = 0;
  std::string kind;
};

// Parses "rank=R,step=S,kind=K" (keys in any order). Throws std::invalid_argument naming the
// problem and MCUEMU_FAULT.
FaultSpec parse_fault_spec(const std::string &text);

namespace detail {
extern bool g_fault_armed;
[[gnu::cold]] void inject_fault(int rank, int step);
}  // namespace detail

// Reads MCUEMU_FAULT (once; later calls are no-ops). Call it on every rank before the run so a
// malformed value fails early with a clear message.
void arm_fault_from_env();

// The hook: fails here if the armed fault names this rank and step.
inline void maybe_inject_fault(int rank, int step) {
  if (detail::g_fault_armed) [[unlikely]]
    detail::inject_fault(rank, step);
}

// Installs handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT that write
// "mcuemu: rank R: fatal signal N (NAME)" to stderr, put the previous handler back (Open MPI's,
// a sanitizer's, or the default) and re-raise, so the process still dies of the signal and
// mpirun ends the job. Call after MPI_Init (Open MPI installs its own handlers there).
void install_fatal_signal_reporter(int rank);

// Registers an atexit handler that, if the process exits while MPI is initialized and not yet
// finalized (a library calling exit() mid-run), prints "mcuemu: rank R: error: exit() called
// ...". Open MPI then ends the job because a rank exited without MPI_Finalize.
void install_exit_reporter(int rank);

}  // namespace mcuemu::runtime
