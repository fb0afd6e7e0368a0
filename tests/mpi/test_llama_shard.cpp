// The distributed Llama on this job's ranks: every rank runs the suite against its own shard
// and chip. A rank also runs the whole model alone (MPI_COMM_SELF, one chip) as its reference:
// the N-chip run must give the same tokens, and this rank's slice of the logits must equal the
// same slice of the one-chip logits, bit for bit.
#include <gtest/gtest.h>

#include "chip/chip.hpp"
#include "chip/profile.hpp"
#include "model/partition.hpp"
#include "model/quantize.hpp"
#include "mpi/cluster.hpp"
#include "runtime/chip_meter.hpp"
#include "runtime/llama_run.hpp"
#include "weights/synthetic.hpp"

using namespace mcuemu;

namespace {

const weights::QLlamaModel &tiny_model() {
  static const weights::QLlamaModel q = [] {
    const auto fp = weights::synthetic_llama(weights::config_by_name("tinyllama-tiny"), 7);
    model::QuantizeOptions o;
    o.calib_tokens = 16;
    return model::quantize(fp, model::calibrate(fp, o), o);
  }();
  return q;
}

runtime::RunResult run_on(MPI_Comm comm, int *rank_out, mpi::AllreduceAlgo algo,
                          chip::Chip **chip_out = nullptr) {
  static std::vector<std::unique_ptr<chip::Chip>> keep;
  mpi::Cluster cluster(comm);
  const chip::Profile p = chip::load_profile("gap9");
  cluster.set_link(runtime::link_model(p));
  const auto plan = model::make_plan(tiny_model().config, cluster.size());
  keep.push_back(std::make_unique<chip::Chip>(cluster.rank(), p));
  runtime::RunConfig rc;
  rc.prompt_tokens = 3;
  rc.tokens = 6;
  rc.seed = 11;
  rc.algo = algo;
  if (rank_out) *rank_out = cluster.rank();
  if (chip_out) *chip_out = keep.back().get();
  return runtime::run_llama(tiny_model(), plan.chips[cluster.rank()], cluster, *keep.back(), rc);
}

class LlamaShard : public ::testing::TestWithParam<mpi::AllreduceAlgo> {};

TEST_P(LlamaShard, TokensAndLogitsEqualOneChip) {
  int rank = 0;
  chip::Chip *chip = nullptr;
  const auto dist = run_on(MPI_COMM_WORLD, &rank, GetParam(), &chip);
  const auto alone = run_on(MPI_COMM_SELF, nullptr, GetParam());
  EXPECT_EQ(dist.generated, alone.generated);
  ASSERT_EQ(dist.generated.size(), 7u);
  if (rank == 0) {
    ASSERT_EQ(dist.final_logits.size(), alone.final_logits.size());
    EXPECT_EQ(dist.final_logits, alone.final_logits);
  }
}

TEST_P(LlamaShard, ExactlyTwoSyncsPerBlockAndOneExchangeAtEachEnd) {
  const auto r = run_on(MPI_COMM_WORLD, nullptr, GetParam());
  const int layers = tiny_model().config.n_layers;
  EXPECT_EQ(r.tokens_run, 3 + 6);
  EXPECT_EQ(r.syncs_per_block_attn, r.tokens_run * layers);
  EXPECT_EQ(r.syncs_per_block_ffn, r.tokens_run * layers);
  EXPECT_EQ(r.block_syncs, 2 * r.tokens_run * layers);
  EXPECT_EQ(r.edge_exchanges, 2 * r.tokens_run);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, LlamaShard,
                         ::testing::Values(mpi::AllreduceAlgo::Tree, mpi::AllreduceAlgo::Ring,
                                           mpi::AllreduceAlgo::Direct),
                         [](const auto &info) { return std::string(mpi::algo_name(info.param)); });

TEST(LlamaShardCost, EveryChipEndsAtTheSameClockAndOwnsItsShareOnly) {
  int rank = 0;
  chip::Chip *chip = nullptr;
  const auto r = run_on(MPI_COMM_WORLD, &rank, mpi::AllreduceAlgo::Tree, &chip);
  int64_t end = r.end_cycles, lo = 0, hi = 0;
  MPI_Allreduce(&end, &lo, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&end, &hi, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(lo, hi) << "the last arg-max ends every chip at the same simulated clock";
  EXPECT_GT(r.end_cycles, r.prefill_cycles);
  EXPECT_GT(r.total_energy.total_pj(), r.prefill_energy.total_pj());
  // No weight is duplicated: the chips' weight bytes add up to the model's.
  const auto &c = tiny_model().config;
  int64_t mine = 0;
  for (const auto &a : r.placement.tensors)
    if (a.tag == chip::Tag::weights) mine += a.bytes;
  int64_t all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  const int64_t per_layer = 4LL * c.dim * c.dim + 3LL * c.dim * c.hidden_dim;
  EXPECT_EQ(all, c.n_layers * per_layer + static_cast<int64_t>(c.vocab_size) * c.dim);
}

}  // namespace
