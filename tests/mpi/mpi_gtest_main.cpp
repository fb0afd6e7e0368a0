// GoogleTest main for MPI tests: every rank runs the whole suite against its own chip and
// shard. A failure is printed with the rank that saw it; the process of every rank exits
// non-zero if any rank failed, so the ctest entry (run under mpiexec) fails.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

#include "mpi/sanitizer_support.hpp"

namespace {

class RankPrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankPrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult &r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] FAILED %s:%d\n%s\n", rank_, r.file_name() ? r.file_name() : "?",
                 r.line_number(), r.summary());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char **argv) {
  mcuemu::mpi::init_mpi(&argc, &argv);  // MPI_Init (mpi/sanitizer_support.hpp)
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ::testing::InitGoogleTest(&argc, argv);
  auto &listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (rank != 0) delete listeners.Release(listeners.default_result_printer());
  listeners.Append(new RankPrinter(rank));
  const int local = RUN_ALL_TESTS();
  int any = 0;
  MPI_Allreduce(&local, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  int failed_ranks = 0, mine = local != 0;
  MPI_Reduce(&mine, &failed_ranks, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0) std::printf("MPI test summary: %d of %d ranks failed\n", failed_ranks, size);
  MPI_Finalize();
  return any != 0 ? 1 : 0;
}
