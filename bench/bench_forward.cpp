// The internal baseline of scripts/bench.sh: one process runs the int8 forward of the whole
// model with the same kernels and LlamaChip code as `mcuemu run`, but with a cluster of one (no
// MPI message, no collective), a meter that ignores every op (no cost ledger, no placement)
// and no report. What is left is the arithmetic and its glue: the floor the emulator is
// measured against.
//
//   bench_forward MODEL.int8.h5 [DECODE_TOKENS=256] [PROMPT_TOKENS=4]
// prints one JSON line: {"tokens": ..., "seconds": ..., "tokens_per_s": ..., "final_token": ...}
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "model/partition.hpp"
#include "mpi/cluster.hpp"
#include "runtime/llama_chip.hpp"
#include "runtime/llama_run.hpp"
#include "runtime/weight_arena.hpp"
#include "weights/model_file.hpp"
#include "weights/qmodel_io.hpp"

namespace {

using namespace mcuemu;

class NullMeter final : public runtime::Meter {
 public:
  void linear(int, const std::string &, int, int, int) override {}
  void matmul(int, const char *, int, int, int) override {}
  void nonlinear(int, runtime::Nonlinear, int64_t) override {}
  void sync(int, runtime::SyncKind, const mpi::CollectiveTiming &) override {}
  int64_t clock() const override { return 0; }
};

int run(int argc, char **argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: bench_forward MODEL.int8.h5 [DECODE_TOKENS=256] [PROMPT=4]\n");
    return 2;
  }
  const int decode = argc > 2 ? std::atoi(argv[2]) : 256;
  const int prompt_len = argc > 3 ? std::atoi(argv[3]) : 4;
  if (decode < 1 || prompt_len < 1) {
    std::fprintf(stderr, "bench_forward: token counts must be >= 1\n");
    return 2;
  }
  // Read as `mcuemu run` reads a chip's slice (here the whole model): into a weight arena.
  const auto config = weights::read_file_info(argv[1]).config;
  const auto slice = runtime::chip_slice(config, model::make_plan(config, 1).chips[0]);
  const auto placed = runtime::weight_arena_for(config, slice, runtime::huge_pages_from_env());
  auto q = weights::read_qllama_slice(argv[1], slice, placed.place, placed.arena);
  placed.check_filled();
  if (prompt_len + decode > config.seq_len) {
    std::fprintf(stderr, "bench_forward: %d positions exceed the context of %d\n",
                 prompt_len + decode, config.seq_len);
    return 2;
  }
  const auto plan = model::make_plan(config, 1);
  mpi::Cluster self(MPI_COMM_SELF);
  NullMeter meter;
  runtime::LlamaChip chip(std::move(q), plan.chips[0], prompt_len + decode, 1, self, meter,
                          mpi::AllreduceAlgo::Tree);
  const auto prompt = runtime::prompt_ids(config.vocab_size, prompt_len, 1);
  int pos = 0, next = 0;
  for (int t : prompt) next = chip.step(t, pos++);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < decode; ++i) next = chip.step(next, pos++);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"tokens\": %d, \"seconds\": %.6f, \"tokens_per_s\": %.2f, \"final_token\": %d}\n",
              decode, s, decode / s, next);
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rc = 0;
  try {
    rc = run(argc, argv);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "bench_forward: error: %s\n", e.what());
    rc = 1;
  }
  MPI_Finalize();
  return rc;
}
