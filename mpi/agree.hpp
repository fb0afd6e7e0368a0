// One error line per failure, not one per rank.
//
// The setup of a run (options, profile, model file, partition plan) is the same on every rank,
// so a bad input used to make every rank print the same error before the first MPI_Abort
// landed: N copies on N chips. agree() runs a setup step on every rank and then lets the ranks
// compare notes (one MPI_Allreduce): if the step failed anywhere, only the lowest failing rank
// rethrows its own exception (the caller reports it and calls MPI_Abort); the others throw
// PeerFailed and stay silent until that abort ends them (wait_for_abort).
#pragma once

#include <mpi.h>

#include <functional>
#include <stdexcept>

namespace mcuemu::mpi {

// Thrown on the ranks whose step succeeded (or failed after a lower rank's) when another rank
// failed. The rank that reports is named in what().
class PeerFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Collective over comm: every rank must call it, and `step` must not itself call a collective
// that a failing rank could skip.
void agree(MPI_Comm comm, const std::function<void()> &step);

// For a rank that caught PeerFailed: waits without printing for the reporting rank's MPI_Abort
// to end this process. If that has not happened after `timeout_s` seconds, ends the job itself.
[[noreturn]] void wait_for_abort(int timeout_s = 60);

}  // namespace mcuemu::mpi
