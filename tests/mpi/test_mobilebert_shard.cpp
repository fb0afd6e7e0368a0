// The distributed MobileBERT encoder on this job's ranks: every rank runs the suite against its
// own shard and chip, and also runs the whole model alone (MPI_COMM_SELF, one chip) as its
// reference: the (S, D) int8 output of the N-chip run must equal the one-chip output bit for bit,
// for every all-reduce algorithm and both FFN placements.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "chip/chip.hpp"
#include "chip/profile.hpp"
#include "model/golden.hpp"
#include "model/partition.hpp"
#include "model/quantize.hpp"
#include "mpi/cluster.hpp"
#include "runtime/chip_meter.hpp"
#include "runtime/llama_run.hpp"
#include "runtime/mobilebert_run.hpp"
#include "weights/synthetic.hpp"

using namespace mcuemu;
using runtime::FfnPlacement;

namespace {

// mobilebert-tiny with linear weights N(0, 0.08) instead of the recipe's 0.02: with 0.02 the
// blocks' contributions are small next to the residual stream (dropping the attention output
// entirely still leaves a cosine of 0.998 against fp32); at 0.08 every path moves the hidden
// states (the same bug gives 0.981), so the accuracy test below can tell a bug from int8 noise.
const weights::FloatMobileBertModel &tiny_fp32() {
  static const auto m = weights::synthetic_mobilebert(weights::config_by_name("mobilebert-tiny"), 7,
                                                      {}, {0.08, 0.05, 0.02});
  return m;
}

const weights::QMobileBertModel &tiny_model() {
  static const weights::QMobileBertModel q = [] {
    model::QuantizeOptions o;
    o.calib_tokens = 64;
    return model::quantize(tiny_fp32(), model::calibrate(tiny_fp32(), o), o);
  }();
  return q;
}

struct Run {
  runtime::EncoderRunResult r;
  std::unique_ptr<chip::Chip> chip;
  int rank = 0, size = 1;
};

Run run_on(MPI_Comm comm, mpi::AllreduceAlgo algo, FfnPlacement ffn,
           runtime::Exchange exchange = runtime::Exchange::Int32, int seq = 48) {
  mpi::Cluster cluster(comm);
  const chip::Profile p = chip::load_profile("gap9");
  cluster.set_link(runtime::link_model(p));
  const auto plan = model::make_plan(tiny_model().config, cluster.size());
  Run run;
  run.rank = cluster.rank();
  run.size = cluster.size();
  run.chip = std::make_unique<chip::Chip>(cluster.rank(), p);
  runtime::EncoderRunConfig rc;
  rc.seq = seq;
  rc.seed = 5;
  rc.algo = algo;
  rc.ffn = ffn;
  rc.exchange = exchange;
  run.r = runtime::run_mobilebert(tiny_model(), plan.chips[cluster.rank()], cluster, *run.chip, rc);
  return run;
}

struct Case {
  mpi::AllreduceAlgo algo;
  FfnPlacement ffn;
};

class MobileBertShard : public ::testing::TestWithParam<Case> {};

TEST_P(MobileBertShard, OutputEqualsOneChipBitForBit) {
  const auto dist = run_on(MPI_COMM_WORLD, GetParam().algo, GetParam().ffn);
  const auto alone = run_on(MPI_COMM_SELF, GetParam().algo, GetParam().ffn);
  ASSERT_EQ(dist.r.output.size(), 48u * tiny_model().config.dim);
  EXPECT_EQ(dist.r.tokens, alone.r.tokens);
  EXPECT_TRUE(dist.r.output == alone.r.output) << "rank " << dist.rank;
}

TEST_P(MobileBertShard, SynchronisationsPerBlock) {
  const auto run = run_on(MPI_COMM_WORLD, GetParam().algo, GetParam().ffn);
  const auto &c = tiny_model().config;
  const auto &st = run.r.stats;
  EXPECT_EQ(st.forwards, 1);
  EXPECT_EQ(st.tokens, 48);
  EXPECT_EQ(st.bottleneck_syncs, c.n_layers);
  EXPECT_EQ(st.attention_syncs, c.n_layers);
  const int ffn_syncs = GetParam().ffn == FfnPlacement::Split ? c.n_ffn : 0;
  EXPECT_EQ(st.ffn_syncs, ffn_syncs * c.n_layers);
  EXPECT_EQ(st.block_syncs, (2 + ffn_syncs) * c.n_layers);
  EXPECT_EQ(st.edge_exchanges, 2) << "embedding rows before the blocks, the output after";
}

std::string case_name(const ::testing::TestParamInfo<Case> &info) {
  return std::string(mpi::algo_name(info.param.algo)) + "_" +
         runtime::ffn_placement_name(info.param.ffn);
}

INSTANTIATE_TEST_SUITE_P(AlgorithmsAndFfn, MobileBertShard,
                         ::testing::Values(Case{mpi::AllreduceAlgo::Tree, FfnPlacement::Split},
                                           Case{mpi::AllreduceAlgo::Ring, FfnPlacement::Split},
                                           Case{mpi::AllreduceAlgo::Direct, FfnPlacement::Split},
                                           Case{mpi::AllreduceAlgo::Tree,
                                                FfnPlacement::Replicated}),
                         case_name);

// The weights the chips hold add up to the model's: exactly (split), or the model plus N - 1
// copies of the FFNs (replicated), which each chip reports as its duplicated bytes.
TEST(MobileBertShardMemory, SplitDuplicatesNothingReplicatedDuplicatesTheFfns) {
  const auto &c = tiny_model().config;
  const int64_t D = c.dim, B = c.intra_bottleneck, E = c.embedding_size, H = c.hidden_dim;
  const int64_t ffn = c.n_layers * c.n_ffn * 2 * H * B;
  const int64_t model_bytes = c.n_layers * (3 * B * D + 3 * B * B + D * B) + ffn + D * 3 * E +
                              c.vocab_size * E + c.seq_len * D + c.type_vocab_size * D;
  for (FfnPlacement f : {FfnPlacement::Split, FfnPlacement::Replicated}) {
    const auto run = run_on(MPI_COMM_WORLD, mpi::AllreduceAlgo::Tree, f);
    int64_t mine = 0;
    for (const auto &a : run.r.placement.tensors)
      if (a.tag == chip::Tag::weights) mine += a.bytes;
    int64_t all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    if (f == FfnPlacement::Split) {
      EXPECT_EQ(all, model_bytes);
      EXPECT_EQ(run.r.duplicated_weight_bytes, 0);
    } else {
      EXPECT_EQ(all, model_bytes + (run.size - 1) * ffn);
      EXPECT_EQ(run.r.duplicated_weight_bytes, run.size > 1 ? ffn : 0);
    }
  }
}

TEST(MobileBertShardCost, EveryChipEndsAtTheSameClock) {
  const auto run = run_on(MPI_COMM_WORLD, mpi::AllreduceAlgo::Tree, FfnPlacement::Split);
  int64_t end = run.r.end_cycles, lo = 0, hi = 0;
  MPI_Allreduce(&end, &lo, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&end, &hi, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(lo, hi) << "the output gather ends every chip at the same simulated clock";
  EXPECT_GT(run.r.end_cycles, run.r.start_cycles);
  EXPECT_GT(run.r.total_energy.total_pj(), run.r.start_energy.total_pj());
  if (run.size > 1) {
    const auto &k = run.chip->ledger().by_kind();
    EXPECT_GT(k.at("bottleneck_allreduce").link_bytes, 0);
    EXPECT_GT(k.at("attention_allreduce").link_bytes, 0);
    EXPECT_GT(k.at("ffn_allreduce").link_bytes, 0);
  }
}

// Accuracy of the int8 encoder against the fp32 golden model on the same weights and tokens
// (cosine similarity of the final hidden states, per row and overall).
// Threshold: per-channel int8 weights and per-tensor int8 activations (max calibration) lose
// about 1 % per requantization, but the residual stream carries most of the signal through the
// blocks, so the output stays close: measured mean 0.99939, worst row 0.99897. Bugs injected on
// purpose land lower: trigram order reversed 0.864, FFN biases missing 0.981, attention output
// dropped 0.981, the attention NoNorm skipped 0.9953 (synthetic gammas are near 1, so that one is
// the closest). We require mean >= 0.998 and every row >= 0.997, which fails all four.
TEST(MobileBertAccuracy, CosineOfHiddenStatesAgainstFp32) {
  const auto run = run_on(MPI_COMM_WORLD, mpi::AllreduceAlgo::Tree, FfnPlacement::Split);
  model::FloatMobileBert golden(tiny_fp32());
  const auto f = golden.forward(run.r.tokens);
  const auto c =
      runtime::compare_hidden(run.r.output, tiny_model().output_scale, f, tiny_model().config.dim);
  if (run.rank == 0)
    std::printf("mobilebert-tiny vs fp32: %d rows, cosine mean %.5f min %.5f all %.5f\n", c.rows,
                c.cos_mean, c.cos_min, c.cos_all);
  EXPECT_GE(c.cos_mean, 0.998);
  EXPECT_GE(c.cos_min, 0.997);
}

// The int8 exchange requantizes each partial before summing (offsets from chip 0 only): on one
// chip that is the exact exchange; on several it halves the bytes of the block all-reduces.
TEST(MobileBertShardExchange, Int8IsExactOnOneChipAndHalvesBlockBytes) {
  const auto a32 = run_on(MPI_COMM_SELF, mpi::AllreduceAlgo::Tree, FfnPlacement::Split);
  const auto a8 =
      run_on(MPI_COMM_SELF, mpi::AllreduceAlgo::Tree, FfnPlacement::Split, runtime::Exchange::Int8);
  EXPECT_TRUE(a32.r.output == a8.r.output);
  const auto d32 = run_on(MPI_COMM_WORLD, mpi::AllreduceAlgo::Ring, FfnPlacement::Split);
  const auto d8 = run_on(MPI_COMM_WORLD, mpi::AllreduceAlgo::Ring, FfnPlacement::Split,
                         runtime::Exchange::Int8);
  if (d32.size > 1) {
    const auto &k32 = d32.chip->ledger().by_kind();
    const auto &k8 = d8.chip->ledger().by_kind();
    for (const char *kind : {"bottleneck_allreduce", "attention_allreduce", "ffn_allreduce"})
      EXPECT_EQ(k8.at(kind).link_bytes * 2, k32.at(kind).link_bytes) << kind;
    // Not exact, but close: the int8 sums differ from the exact ones by a few steps.
    model::FloatMobileBert golden(tiny_fp32());
    const auto f = golden.forward(d8.r.tokens);
    const auto c =
        runtime::compare_hidden(d8.r.output, tiny_model().output_scale, f, tiny_model().config.dim);
    if (d8.rank == 0)
      std::printf("int8 exchange on %d chips vs fp32: cosine mean %.5f min %.5f\n", d8.size,
                  c.cos_mean, c.cos_min);
    EXPECT_GE(c.cos_mean, 0.998);
  }
}

// A single token (GEMV path) and the longest sequence run too, and give the one-chip results.
TEST(MobileBertShardShapes, OneTokenAndFullContext) {
  for (int seq : {1, tiny_model().config.seq_len}) {
    const auto dist =
        run_on(MPI_COMM_WORLD, mpi::AllreduceAlgo::Tree, FfnPlacement::Split, {}, seq);
    const auto alone =
        run_on(MPI_COMM_SELF, mpi::AllreduceAlgo::Tree, FfnPlacement::Split, {}, seq);
    EXPECT_TRUE(dist.r.output == alone.r.output) << "seq " << seq;
  }
}

}  // namespace
