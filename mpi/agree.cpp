#include "mpi/agree.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <exception>

#include "mpi/cluster.hpp"

namespace mcuemu::mpi {

void agree(MPI_Comm comm, const std::function<void()> &step) {
  std::exception_ptr error;
  try {
    step();
  } catch (...) {
    error = std::current_exception();
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const int mine = error ? rank : size;
  int first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return;
  if (rank == first) std::rethrow_exception(error);
  throw PeerFailed(fmt::format("rank {} failed and reports the error", first));
}

void wait_for_abort(int timeout_s) {
  // Sleeping needs no MPI progress: MPI_Abort on the reporting rank makes mpirun kill us.
  for (int i = 0; i < 10 * timeout_s; ++i) ::usleep(100000);
  abort_job(fmt::format("another rank reported an error but the job was not ended after {} s",
                        timeout_s));
}

}  // namespace mcuemu::mpi
