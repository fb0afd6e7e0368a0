// The distributed Llama on this job's ranks: every rank runs the suite against its own shard
// and chip. A rank also runs the whole model alone (MPI_COMM_SELF, one chip) as its reference:
// the N-chip run must give the same tokens, and this rank's slice of the logits must equal the
// same slice of the one-chip logits, bit for bit.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "chip/chip.hpp"
#include "chip/placement.hpp"
#include "chip/profile.hpp"
#include "ledger_compare.hpp"
#include "model/partition.hpp"
#include "model/quantize.hpp"
#include "mpi/cluster.hpp"
#include "runtime/chip_meter.hpp"
#include "runtime/deferred_meter.hpp"
#include "runtime/llama_run.hpp"
#include "runtime/step_replay.hpp"
#include "runtime/trace.hpp"
#include "runtime/weight_arena.hpp"
#include "tiny_model.hpp"
#include "weights/qmodel_io.hpp"
#include "weights/synthetic.hpp"

using namespace mcuemu;

namespace {

using test::tiny_model;

runtime::RunResult run_on(MPI_Comm comm, int *rank_out, mpi::AllreduceAlgo algo,
                          chip::Chip **chip_out = nullptr, runtime::RunConfig rc = {}) {
  static std::vector<std::unique_ptr<chip::Chip>> keep;
  mpi::Cluster cluster(comm);
  const chip::Profile p = chip::load_profile("gap9");
  cluster.set_link(runtime::link_model(p));
  const auto plan = model::make_plan(tiny_model().config, cluster.size());
  keep.push_back(std::make_unique<chip::Chip>(cluster.rank(), p));
  if (rc.mode == "ar") {
    rc.prompt_tokens = 3;
    rc.tokens = 6;
  }
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

// Prompt mode runs the S tokens as GEMMs in one forward; the integers must be those of S
// autoregressive steps over the same tokens.
TEST(LlamaShardPrompt, OneForwardEqualsStepByStep) {
  runtime::RunConfig prompt;
  prompt.mode = "prompt";
  prompt.seq = 9;
  prompt.keep_step_logits = true;
  int rank = 0;
  const auto p = run_on(MPI_COMM_WORLD, &rank, mpi::AllreduceAlgo::Tree, nullptr, prompt);
  EXPECT_EQ(p.forwards, 1);
  EXPECT_EQ(p.tokens_run, 9);
  EXPECT_EQ(p.block_syncs, 2 * tiny_model().config.n_layers);
  EXPECT_EQ(p.edge_exchanges, 2);
  // The same 9 ids one at a time, on this rank alone.
  runtime::RunConfig ar;
  ar.prompt_tokens = 9;  // tokens 0..8 as prompt steps, then 1 decode step
  ar.tokens = 1;
  ar.keep_step_logits = true;
  ar.seed = 11;
  mpi::Cluster self(MPI_COMM_SELF);
  chip::Chip one(0, chip::load_profile("gap9"));
  const auto a = runtime::run_llama(tiny_model(), model::make_plan(tiny_model().config, 1).chips[0],
                                    self, one, ar);
  ASSERT_EQ(a.prompt, p.prompt);
  EXPECT_EQ(a.generated.at(0), p.generated.at(0));
  if (rank == 0) {
    ASSERT_EQ(a.step_logits.size(), 10u);
    EXPECT_EQ(a.step_logits[8], p.final_logits) << "logits after the 9th token";
  }
}

// The int8 exchange requantizes each partial before summing: on one chip that is the same as
// the exact exchange; on several chips it halves the link bytes.
TEST(LlamaShardExchange, Int8HalvesLinkBytesAndIsExactOnOneChip) {
  runtime::RunConfig i8;
  i8.exchange = runtime::Exchange::Int8;
  const auto alone32 = run_on(MPI_COMM_SELF, nullptr, mpi::AllreduceAlgo::Tree);
  const auto alone8 = run_on(MPI_COMM_SELF, nullptr, mpi::AllreduceAlgo::Tree, nullptr, i8);
  EXPECT_EQ(alone32.generated, alone8.generated);
  EXPECT_EQ(alone32.final_logits, alone8.final_logits);
  chip::Chip *c32 = nullptr, *c8 = nullptr;
  int rank = 0, size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  run_on(MPI_COMM_WORLD, &rank, mpi::AllreduceAlgo::Ring, &c32);
  run_on(MPI_COMM_WORLD, &rank, mpi::AllreduceAlgo::Ring, &c8, i8);
  if (size > 1) {
    // Block all-reduces carry half the bytes; the edge exchanges are unchanged.
    const auto &k32 = c32->ledger().by_kind();
    const auto &k8 = c8->ledger().by_kind();
    EXPECT_EQ(k8.at("attention_allreduce").link_bytes * 2,
              k32.at("attention_allreduce").link_bytes);
    EXPECT_EQ(k8.at("ffn_allreduce").link_bytes * 2, k32.at("ffn_allreduce").link_bytes);
  }
}

// With the shared-memory transport the next token's embedding row rides in the arg-max round
// and the embedding broadcast has no round of its own; the chips must be charged exactly what
// the broadcast charges over point-to-point MPI (which always runs it): the same tokens and,
// on every chip, the same clock, the same ledger rows (energies bit for bit) and the same trace.
TEST(LlamaShardCarry, CarriedEmbeddingRowChargesWhatTheBroadcastDoes) {
  const chip::Profile p = chip::load_profile("gap9");
  runtime::RunConfig rc;
  rc.prompt_tokens = 3;
  rc.tokens = 6;
  rc.seed = 11;
  std::vector<std::unique_ptr<chip::Chip>> chips;
  std::vector<runtime::RunResult> results;
  runtime::Trace traces[2];
  bool shared = false;
  for (auto transport : {mpi::Cluster::Transport::Auto, mpi::Cluster::Transport::PointToPoint}) {
    rc.trace = &traces[results.size()];
    mpi::Cluster cluster(MPI_COMM_WORLD, runtime::link_model(p), mpi::WaitPolicy::Auto, transport);
    if (transport == mpi::Cluster::Transport::Auto) shared = cluster.shared_memory();
    const auto plan = model::make_plan(tiny_model().config, cluster.size());
    chips.push_back(std::make_unique<chip::Chip>(cluster.rank(), p));
    results.push_back(
        runtime::run_llama(tiny_model(), plan.chips[cluster.rank()], cluster, *chips.back(), rc));
  }
  const auto &carried = results[0], &plain = results[1];
  EXPECT_EQ(plain.host.carried_embeddings, 0);
  if (shared) {
    // Every decode step's token is the arg-max before it; a prompt token only by chance.
    EXPECT_GE(carried.host.carried_embeddings, rc.tokens);
    EXPECT_LT(carried.host.carried_embeddings, rc.tokens + rc.prompt_tokens);
  }
  EXPECT_EQ(carried.generated, plain.generated);
  EXPECT_EQ(carried.end_cycles, plain.end_cycles);
  EXPECT_EQ(carried.edge_exchanges, plain.edge_exchanges);
  test::expect_same(chips[0]->ledger(), chips[1]->ledger());
  // The broadcast's arrival, end, idle cycles and messages reach only the trace.
  const auto ta = traces[0].events_json(0, p.freq_mhz), tb = traces[1].events_json(0, p.freq_mhz);
  ASSERT_GT(ta.size(), 0u);
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) ASSERT_EQ(ta[i], tb[i]) << "trace event " << i;
}

}  // namespace

// A rank that reads only its slice of the model file (read_qllama_slice, moved into the chip)
// runs exactly as one that slices the whole model in memory: tokens, logits, clock, energy.
TEST(LlamaShardSlice, SliceReadFromTheFileRunsLikeTheWholeModel) {
  mpi::Cluster cluster(MPI_COMM_WORLD);
  const auto path =
      fmt::format("{}/mcuemu-slice-{}-{}.h5", ::testing::TempDir(), getpid(), cluster.rank());
  weights::write_qllama(path, tiny_model(), "test");
  const chip::Profile p = chip::load_profile("gap9");
  cluster.set_link(runtime::link_model(p));
  const auto plan = model::make_plan(tiny_model().config, cluster.size());
  const auto &mine = plan.chips[cluster.rank()];
  const auto mine_slice = runtime::chip_slice(tiny_model().config, mine);
  auto slice = weights::read_qllama_slice(path, mine_slice);
  // Read straight into a weight arena, as `mcuemu run` reads (twice: one to move into the chip,
  // which rearranges the weights where they lie, one to pass by reference, which the chip copies).
  auto read_placed = [&] {
    auto arena = runtime::weight_arena_for(tiny_model().config, mine_slice, true);
    auto m = weights::read_qllama_slice(path, mine_slice, arena.place, arena.arena);
    arena.check_filled();
    return m;
  };
  auto placed = read_placed();
  const auto placed_kept = read_placed();
  std::filesystem::remove(path);
  const std::vector<int8_t> wq0 = slice.layers.at(0).wq.w;
  // The slice holds this chip's rows only.
  const int hd = tiny_model().config.head_dim();
  EXPECT_EQ(slice.layers.at(0).wq.out, mine.heads.size() * hd);
  EXPECT_EQ(slice.layers.at(0).w2.in, mine.ffn.size());
  EXPECT_EQ(slice.token_embedding.size(),
            static_cast<size_t>(mine.vocab.size()) * tiny_model().config.dim);
  runtime::RunConfig rc;
  rc.prompt_tokens = 3;
  rc.tokens = 6;
  rc.seed = 11;
  chip::Chip a(cluster.rank(), p), b(cluster.rank(), p);
  const auto from_slice = runtime::run_llama(std::move(slice), mine, cluster, a, rc);
  const auto from_whole = runtime::run_llama(tiny_model(), mine, cluster, b, rc);
  EXPECT_EQ(from_slice.generated, from_whole.generated);
  EXPECT_EQ(from_slice.final_logits, from_whole.final_logits);
  EXPECT_EQ(from_slice.end_cycles, from_whole.end_cycles);
  EXPECT_DOUBLE_EQ(from_slice.total_energy.total_pj(), from_whole.total_energy.total_pj());
  chip::Chip c(cluster.rank(), p), d(cluster.rank(), p);
  const auto from_placed = runtime::run_llama(std::move(placed), mine, cluster, c, rc);
  const auto from_kept = runtime::run_llama(placed_kept, mine, cluster, d, rc);
  for (const auto *r : {&from_placed, &from_kept}) {
    EXPECT_EQ(r->generated, from_whole.generated);
    EXPECT_EQ(r->final_logits, from_whole.final_logits);
    EXPECT_EQ(r->end_cycles, from_whole.end_cycles);
    EXPECT_DOUBLE_EQ(r->total_energy.total_pj(), from_whole.total_energy.total_pj());
  }
  // The moved model no longer shows the bytes the chip rearranged; the one passed by reference
  // still holds its weights as read, (out, in).
  EXPECT_TRUE(placed.layers.at(0).wq.placed.empty());
  EXPECT_TRUE(placed.token_embedding_placed.empty());
  ASSERT_GE(placed_kept.layers.at(0).wq.placed.size(), wq0.size());
  EXPECT_TRUE(std::equal(wq0.begin(), wq0.end(), placed_kept.layers.at(0).wq.placed.begin()));
  // A slice read for another chip is refused.
  if (cluster.size() > 1) {
    const auto &other = plan.chips[(cluster.rank() + 1) % cluster.size()];
    weights::write_qllama(path, tiny_model(), "test");
    auto wrong = weights::read_qllama_slice(path, runtime::chip_slice(tiny_model().config, other));
    std::filesystem::remove(path);
    mpi::Cluster self(MPI_COMM_SELF);
    chip::Chip c(0, p);
    runtime::DeferredMeter meter;
    EXPECT_THROW(
        runtime::LlamaChip(std::move(wrong), mine, 9, 1, self, meter, mpi::AllreduceAlgo::Tree),
        std::invalid_argument);
  }
}

// One chip with an L2 too small for its KV cache: the cache spills to L3, the run gives the same
// integers, and Q.K^T / P.V cost more because they stream the cache from L3.
TEST(LlamaShardKv, KvCacheThatSpillsToL3CostsMoreAndChangesNoResult) {
  runtime::RunConfig rc;
  rc.prompt_tokens = 3;
  rc.tokens = 100;  // context 103: the KV cache is 2 x 2 layers x 64 x 103 = 26 KB
  rc.seed = 11;
  const auto plan = model::make_plan(tiny_model().config, 1);
  auto run = [&](std::vector<std::string> sets) {
    mpi::Cluster self(MPI_COMM_SELF);
    auto chip = std::make_unique<chip::Chip>(0, chip::load_profile("gap9", sets));
    auto r = runtime::run_llama(tiny_model(), plan.chips[0], self, *chip, rc);
    return std::pair{std::move(r), std::move(chip)};
  };
  const auto [roomy, roomy_chip] = run({});
  const auto [tight, tight_chip] = run({"memory.l2_bytes=16000", "memory.l2_reserved_bytes=0"});
  EXPECT_EQ(roomy.placement.level_of("kv_cache"), chip::Level::L2);
  EXPECT_EQ(tight.placement.level_of("kv_cache"), chip::Level::L3);
  EXPECT_EQ(tight.generated, roomy.generated);
  EXPECT_EQ(tight.final_logits, roomy.final_logits);
  const auto &a = roomy_chip->ledger().by_kind(), &b = tight_chip->ledger().by_kind();
  for (const char *op : {"qk", "pv"}) {
    ASSERT_TRUE(a.count(op) && b.count(op)) << op;
    EXPECT_EQ(a.at(op).count, b.at(op).count) << op;
    EXPECT_GT(b.at(op).cycles, a.at(op).cycles) << op;
    EXPECT_GT(b.at(op).energy.level_pj[chip::Level::L3], 0) << op;
  }
}

// The full run's op replay (DeferredMeter, Meter::begin_ops): once the meter has learned a
// decode step's ops, it charges them itself and the chip only computes and meets the others.
// Over more steps than the check period (so that a step is walked and checked again between
// replayed ones), every figure of every chip must be that of the run that walks every step;
// with a trace (which records each op at its clock) nothing is replayed.
TEST(LlamaShardOpReplay, EveryFigureEqualsTheRunThatWalksEveryStep) {
  runtime::RunConfig rc;
  rc.prompt_tokens = 3;
  rc.tokens = 120;  // 123 one-token steps of tinyllama-tiny's 128 positions
  rc.seed = 5;
  const chip::Profile p = chip::load_profile("gap9");
  std::vector<std::unique_ptr<chip::Chip>> chips;
  auto run = [&](bool op_replay, runtime::Trace *trace) {
    mpi::Cluster cluster(MPI_COMM_WORLD, runtime::link_model(p));
    const auto plan = model::make_plan(tiny_model().config, cluster.size());
    chips.push_back(std::make_unique<chip::Chip>(cluster.rank(), p));
    rc.op_replay = op_replay;
    rc.trace = trace;
    return runtime::run_llama(tiny_model(), plan.chips[cluster.rank()], cluster, *chips.back(), rc);
  };
  runtime::Trace trace;
  const auto walked = run(false, nullptr), replayed = run(true, nullptr),
             traced = run(true, &trace);
  const chip::Chip *walked_chip = chips[0].get(), *replayed_chip = chips[1].get(),
                   *traced_chip = chips[2].get();
  ASSERT_EQ(replayed.generated.size(), 121u);
  EXPECT_EQ(replayed.generated, walked.generated);
  EXPECT_EQ(replayed.final_logits, walked.final_logits);
  EXPECT_EQ(replayed.end_cycles, walked.end_cycles);
  EXPECT_EQ(replayed.prefill_cycles, walked.prefill_cycles);
  EXPECT_EQ(replayed.block_syncs, walked.block_syncs);
  test::expect_same(replayed_chip->ledger(), walked_chip->ledger());
  test::expect_same(traced_chip->ledger(), walked_chip->ledger());
  EXPECT_EQ(walked.host.replayed_steps, 0);
  EXPECT_EQ(traced.host.replayed_steps, 0);
  // Three steps recorded before the first replay, one in every kCheckEvery after that.
  const int steps = rc.prompt_tokens + rc.tokens;
  EXPECT_GE(replayed.host.replayed_steps, steps - 3 - steps / runtime::StepReplay::kCheckEvery);
  EXPECT_LT(replayed.host.replayed_steps, steps - 3);
}

// The op replay on a meter alone (one chip, nothing placed): learned from three steps, then
// replayed; a chip whose calls leave the template is an error, never a silently wrong ledger:
// an op call while the meter replays, another synchronisation than the template's next, a
// synchronisation without the clock read before it or a clock read the template does not have,
// a step ended before the template's last synchronisation, a checked step with other ops.
TEST(LlamaShardOpReplay, LearnsFromStepsAndRefusesCallsThatLeaveTheTemplate) {
  struct Lone {
    mpi::Cluster self{MPI_COMM_SELF};
    chip::Chip chip{0, chip::load_profile("gap9")};
    chip::Placement placement = chip::place_tensors(chip, {});
    runtime::ChipMeter chip_meter{chip, placement};
    runtime::DeferredMeter meter;
    Lone() { meter.attach(&chip_meter, true); }
  };
  const auto share = mpi::Cluster(MPI_COMM_SELF).allreduce_share(64, mpi::AllreduceAlgo::Tree);
  auto meet = [&](runtime::DeferredMeter &m, runtime::SyncKind kind) {
    const int64_t now = m.clock();
    m.sync(0, kind, mpi::settled(share, now, now + 5));
  };
  // One step at position pos: an op of fixed shape, one that grows with pos, a synchronisation,
  // and one op after it.
  auto walk = [&](runtime::DeferredMeter &m, int pos, int64_t fixed) {
    m.nonlinear(0, runtime::Nonlinear::Add, fixed);
    m.matmul(0, "qk", 1, pos + 1, 64);
    meet(m, runtime::SyncKind::FfnAllreduce);
    m.nonlinear(0, runtime::Nonlinear::Requant, 64);
  };
  // A meter that has learned the step from three walked ones (the template, its confirmation).
  auto learned = [&](Lone &lone) {
    for (int pos = 0; pos < 3; ++pos) {
      EXPECT_FALSE(lone.meter.begin_ops(pos)) << pos;
      walk(lone.meter, pos, 64);
      lone.meter.end_ops();
    }
    return 3;
  };
  {
    Lone lone;
    int pos = learned(lone);
    for (; pos < 10; ++pos) {
      ASSERT_TRUE(lone.meter.begin_ops(pos)) << pos;
      meet(lone.meter, runtime::SyncKind::FfnAllreduce);
      lone.meter.end_ops();
    }
    EXPECT_EQ(lone.meter.replayed_steps(), 7);
    lone.meter.clock();
    const auto &kinds = lone.chip.ledger().by_kind();
    EXPECT_EQ(kinds.at("add").count, 10);
    EXPECT_EQ(kinds.at("qk").count, 10);
    EXPECT_EQ(kinds.at("requant").count, 10);
    EXPECT_EQ(kinds.at("ffn_allreduce").count, 10);
    // The same ten steps walked: the same ledger, number for number.
    Lone walker;
    walker.meter.attach(&walker.chip_meter, false);
    for (int p = 0; p < 10; ++p) {
      EXPECT_FALSE(walker.meter.begin_ops(p));
      walk(walker.meter, p, 64);
      walker.meter.end_ops();
    }
    walker.meter.clock();
    test::expect_same(lone.chip.ledger(), walker.chip.ledger());
  }
  {
    Lone lone;
    const int pos = learned(lone);
    ASSERT_TRUE(lone.meter.begin_ops(pos));
    EXPECT_THROW(lone.meter.nonlinear(0, runtime::Nonlinear::Add, 64), std::logic_error);
  }
  {
    Lone lone;
    const int pos = learned(lone);
    ASSERT_TRUE(lone.meter.begin_ops(pos));
    EXPECT_THROW(meet(lone.meter, runtime::SyncKind::AttentionAllreduce), std::logic_error);
  }
  {
    Lone lone;
    const int pos = learned(lone);
    ASSERT_TRUE(lone.meter.begin_ops(pos));
    EXPECT_THROW(lone.meter.sync(0, runtime::SyncKind::FfnAllreduce, mpi::settled(share, 0, 5)),
                 std::logic_error);
  }
  {
    Lone lone;
    const int pos = learned(lone);
    ASSERT_TRUE(lone.meter.begin_ops(pos));
    lone.meter.clock();
    EXPECT_THROW(lone.meter.clock(), std::logic_error);
  }
  {
    Lone lone;
    const int pos = learned(lone);
    ASSERT_TRUE(lone.meter.begin_ops(pos));
    EXPECT_THROW(lone.meter.end_ops(), std::logic_error);
  }
  {
    Lone lone;
    int pos = learned(lone);
    while (lone.meter.begin_ops(pos)) {  // until the step that is walked and checked
      meet(lone.meter, runtime::SyncKind::FfnAllreduce);
      lone.meter.end_ops();
      ++pos;
    }
    EXPECT_EQ(pos, 3 + runtime::StepReplay::kCheckEvery - 1);
    walk(lone.meter, pos, 65);
    EXPECT_THROW(lone.meter.end_ops(), std::logic_error);
  }
}

// MCUEMU_OP_REPLAY: unset or "on" replays, "off" walks every step, anything else is refused by
// name (the run stops with that line rather than silently walking or replaying).
TEST(LlamaShardOpReplay, SwitchFromTheEnvironment) {
  const char *old = std::getenv("MCUEMU_OP_REPLAY");
  const std::string saved = old ? old : "";
  unsetenv("MCUEMU_OP_REPLAY");
  EXPECT_TRUE(runtime::op_replay_from_env());
  setenv("MCUEMU_OP_REPLAY", "on", 1);
  EXPECT_TRUE(runtime::op_replay_from_env());
  setenv("MCUEMU_OP_REPLAY", "off", 1);
  EXPECT_FALSE(runtime::op_replay_from_env());
  setenv("MCUEMU_OP_REPLAY", "no", 1);
  try {
    runtime::op_replay_from_env();
    ADD_FAILURE() << "MCUEMU_OP_REPLAY=no accepted";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("MCUEMU_OP_REPLAY=no"), std::string::npos) << e.what();
  }
  if (old)
    setenv("MCUEMU_OP_REPLAY", saved.c_str(), 1);
  else
    unsetenv("MCUEMU_OP_REPLAY");
}
