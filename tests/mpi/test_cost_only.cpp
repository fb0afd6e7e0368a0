// Cost-only runs on this job's ranks: the chips' clocks settled in batches (BatchedMeter, the
// default) must give every figure the lock-step run gives (a collective at every
// synchronisation, MCUEMU_COST_ONLY_SYNC=lockstep): the ledger of every chip, field by field and
// row by row, the run's results, its per-chip summary and its trace. ctest runs this suite on 1,
// 2, 3, 4 and 8 ranks (uneven shards on 3 and 8).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "chip/chip.hpp"
#include "chip/placement.hpp"
#include "chip/profile.hpp"
#include "ledger_compare.hpp"
#include "model/partition.hpp"
#include "model/quantize.hpp"
#include "mpi/cluster.hpp"
#include "runtime/batched_meter.hpp"
#include "runtime/chip_meter.hpp"
#include "runtime/deferred_meter.hpp"
#include "runtime/llama_run.hpp"
#include "runtime/trace.hpp"
#include "tiny_model.hpp"
#include "weights/synthetic.hpp"

using namespace mcuemu;

namespace {

// A model with its configuration only: a cost-only chip (no tensors, no arithmetic).
weights::QLlamaModel config_only(const std::string &name) {
  weights::QLlamaModel m;
  m.config = weights::config_by_name(name);
  return m;
}

using test::expect_same;
using test::tiny_model;

struct Outcome {
  runtime::RunResult r;
  std::unique_ptr<chip::Chip> chip;
  runtime::Trace trace;
  model::ChipPlan plan;
  int rank = 0;
};

// One run on every rank of the job.
std::unique_ptr<Outcome> run(const weights::QLlamaModel &model, runtime::RunConfig rc, bool trace) {
  auto o = std::make_unique<Outcome>();
  mpi::Cluster cluster(MPI_COMM_WORLD);
  const chip::Profile p = chip::load_profile("gap9");
  cluster.set_link(runtime::link_model(p));
  o->rank = cluster.rank();
  o->plan = model::make_plan(model.config, cluster.size()).chips[cluster.rank()];
  o->chip = std::make_unique<chip::Chip>(cluster.rank(), p);
  if (trace) rc.trace = &o->trace;
  o->r = runtime::run_llama(model, o->plan, cluster, *o->chip, rc);
  return o;
}

// The chip's figures as they go to the summary, without the host's wall-clock.
nlohmann::json costs_json(const Outcome &o) {
  auto j = runtime::chip_json(*o.chip, o.plan, o.r);
  j.erase("host");
  return j;
}

// Two runs' results, every chip's ledger and its summary, number for number.
void expect_same(const Outcome &x, const Outcome &y) {
  const auto &a = x.r, &b = y.r;
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.generated, b.generated);
  EXPECT_EQ(a.prefill_cycles, b.prefill_cycles);
  EXPECT_EQ(a.end_cycles, b.end_cycles);
  expect_same(a.prefill_energy, b.prefill_energy, "prefill energy");
  expect_same(a.total_energy, b.total_energy, "total energy");
  EXPECT_EQ(a.block_syncs, b.block_syncs);
  EXPECT_EQ(a.edge_exchanges, b.edge_exchanges);
  EXPECT_EQ(a.tokens_run, b.tokens_run);
  EXPECT_EQ(a.forwards, b.forwards);
  EXPECT_EQ(a.syncs_per_block_attn, b.syncs_per_block_attn);
  EXPECT_EQ(a.syncs_per_block_ffn, b.syncs_per_block_ffn);
  expect_same(x.chip->ledger(), y.chip->ledger());
  EXPECT_EQ(costs_json(x), costs_json(y));
}

struct Case {
  const char *name;
  const char *model;
  const char *mode;
  mpi::AllreduceAlgo algo;
  runtime::Exchange exchange;
  int syncs_per_batch;
  bool trace;
};

void PrintTo(const Case &c, std::ostream *os) {
  *os << c.name;
}

runtime::RunConfig config_of(const Case &c) {
  runtime::RunConfig rc;
  rc.mode = c.mode;
  rc.prompt_tokens = 3;
  rc.tokens = 6;
  rc.seq = 9;
  rc.seed = 11;
  rc.algo = c.algo;
  rc.exchange = c.exchange;
  rc.syncs_per_batch = c.syncs_per_batch;
  return rc;
}

class CostOnlyBatched : public ::testing::TestWithParam<Case> {};

TEST_P(CostOnlyBatched, EveryFigureEqualsTheLockStepRun) {
  const Case &c = GetParam();
  const auto model = config_only(c.model);
  runtime::RunConfig rc = config_of(c);
  rc.cost_only_sync = runtime::CostOnlySync::LockStep;
  const auto lock = run(model, rc, c.trace);
  rc.cost_only_sync = runtime::CostOnlySync::Batched;
  const auto batched = run(model, rc, c.trace);

  const auto &a = batched->r, &b = lock->r;
  expect_same(*batched, *lock);
  if (c.trace) {
    const double f = batched->chip->profile().freq_mhz;
    const auto x = batched->trace.events_json(batched->rank, f);
    const auto y = lock->trace.events_json(lock->rank, f);
    EXPECT_GT(x.size(), 0u);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(x[i], y[i]) << "trace event " << i << " of " << x.size();
  }
  // Batched, the chips met once per syncs_per_batch synchronisations, and at each of the run's
  // two settling points (after the prompt, at the end) for what was left; lock-step, never.
  const bool prompt_mode = std::string(c.mode) == "prompt";
  const int64_t per_forward = 2 * model.config.n_layers + 2;
  auto batches = [&](int64_t syncs) { return (syncs + c.syncs_per_batch - 1) / c.syncs_per_batch; };
  const int64_t expected =
      prompt_mode ? batches(per_forward)
                  : batches(rc.prompt_tokens * per_forward) + batches(rc.tokens * per_forward);
  EXPECT_EQ(a.host.settle_exchanges, expected);
  EXPECT_EQ(b.host.settle_exchanges, 0);
  EXPECT_EQ(a.host.kernels_ns, 0) << "cost-only runs no kernel";
}

constexpr int kDefault = runtime::BatchedMeter::kDefaultSyncsPerBatch;
using mpi::AllreduceAlgo;
using runtime::Exchange;

INSTANTIATE_TEST_SUITE_P(
    Runs, CostOnlyBatched,
    ::testing::Values(Case{"ArTreeTraced", "tinyllama-tiny", "ar", AllreduceAlgo::Tree,
                           Exchange::Int32, kDefault, true},
                      Case{"ArRingInt8OneSyncPerBatch", "tinyllama-tiny", "ar", AllreduceAlgo::Ring,
                           Exchange::Int8, 1, false},
                      Case{"ArDirectSevenSyncsPerBatchTraced", "tinyllama-tiny", "ar",
                           AllreduceAlgo::Direct, Exchange::Int32, 7, true},
                      Case{"PromptTreeFiveSyncsPerBatchTraced", "tinyllama-tiny", "prompt",
                           AllreduceAlgo::Tree, Exchange::Int32, 5, true},
                      Case{"PromptRingInt8", "tinyllama-tiny", "prompt", AllreduceAlgo::Ring,
                           Exchange::Int8, kDefault, false},
                      Case{"Ar42MThirteenSyncsPerBatch", "tinyllama-42m", "ar", AllreduceAlgo::Tree,
                           Exchange::Int32, 13, false},
                      Case{"Prompt42MDirect", "tinyllama-42m", "prompt", AllreduceAlgo::Direct,
                           Exchange::Int32, kDefault, true}),
    [](const auto &info) { return std::string(info.param.name); });

// Prompt mode reads no generated token: a batched cost-only chip's ledger is the full run's,
// number for number (in autoregressive mode the embedding's owner follows the generated tokens,
// which cost-only does not compute; tests/e2e/cost_only.sh compares those runs' totals).
TEST(CostOnlyBatchedVsFullRun, PromptModeLedgerIsTheFullRunsOnEveryChip) {
  runtime::RunConfig rc;
  rc.mode = "prompt";
  rc.seq = 12;
  rc.seed = 5;
  const auto full = run(tiny_model(), rc, false);
  const auto cost = run(config_only("tinyllama-tiny"), rc, false);
  EXPECT_EQ(cost->r.host.settle_exchanges, 1);
  expect_same(cost->chip->ledger(), full->chip->ledger());
  EXPECT_EQ(costs_json(*cost), costs_json(*full));
}

// A chip that computes moves data at every collective: a meter that settles synchronisations
// later is refused for it.
// Step replay (BatchedMeter::begin_step): after a few recorded steps the meter makes each
// decode step's calls itself. Over more steps than the check period (so that steps are walked
// and checked again between replayed ones), every figure of every chip must be the one of the
// run that walks every step; and most steps must have been replayed.
TEST(CostOnlyStepReplay, EveryFigureEqualsTheRunThatWalksEveryStep) {
  const auto model = config_only("tinyllama-42m");
  for (const int batch : {kDefault, 5}) {
    runtime::RunConfig rc;
    rc.prompt_tokens = 2;
    rc.tokens = 2 * runtime::BatchedMeter::kCheckEvery + 7;
    rc.syncs_per_batch = batch;
    rc.step_replay = false;
    const auto walked = run(model, rc, false);
    rc.step_replay = true;
    const auto replayed = run(model, rc, false);
    const auto &a = replayed->r, &b = walked->r;
    expect_same(*replayed, *walked);
    EXPECT_EQ(a.host.settle_exchanges, b.host.settle_exchanges);
    EXPECT_EQ(b.host.replayed_steps, 0);
    // Three decode steps recorded before the first replay, one in every kCheckEvery after it.
    EXPECT_GE(a.host.replayed_steps,
              rc.tokens - 3 - rc.tokens / runtime::BatchedMeter::kCheckEvery);
    EXPECT_LT(a.host.replayed_steps, rc.tokens - 3);
  }
}

// One chip alone (a communicator of one) and its chip meter, nothing placed: for the meter
// tests that need no model.
struct LoneChip {
  mpi::Cluster self{MPI_COMM_SELF};
  chip::Chip chip{0, chip::load_profile("gap9")};
  chip::Placement placement = chip::place_tensors(chip, {});
  runtime::ChipMeter chip_meter{chip, placement};
};

// The meter replays only what it has seen: a template from two steps, confirmed by a third,
// then steps replayed; a checked step whose calls leave the template is an error (a bug in the
// chip's schedule), never a silently wrong ledger.
TEST(CostOnlyStepReplay, LearnsFromStepsAndRefusesAStepThatLeavesTheTemplate) {
  LoneChip lone;
  auto &[self, chip, placement, chip_meter] = lone;
  runtime::BatchedMeter meter(self, 1000);
  meter.attach(&chip_meter);
  const auto share = self.allreduce_share(64, AllreduceAlgo::Tree);
  // One step at position pos: an op of fixed shape, one that grows with pos, a synchronisation.
  auto walk = [&](int pos, int64_t fixed) {
    meter.nonlinear(0, runtime::Nonlinear::Add, fixed);
    meter.matmul(0, "qk", 1, pos + 1, 64);
    meter.sync_later(0, runtime::SyncKind::FfnAllreduce, share);
  };
  int pos = 0;
  for (; pos < 3; ++pos) {  // recorded: the template, then its confirmation
    ASSERT_FALSE(meter.begin_step(pos, 7)) << pos;
    walk(pos, 64);
    meter.end_step();
  }
  EXPECT_FALSE(meter.begin_step(pos, 8)) << "another token: not this template";
  walk(pos, 64);
  meter.end_step();
  ++pos;
  for (; pos < 10; ++pos) ASSERT_TRUE(meter.begin_step(pos, 7)) << pos;
  EXPECT_EQ(meter.replayed_steps(), 6);
  meter.settle();
  // Every call of every step, replayed or walked, is in the ledger.
  EXPECT_EQ(chip.ledger().by_kind().at("add").count, 10);
  EXPECT_EQ(chip.ledger().by_kind().at("qk").count, 10);
  EXPECT_EQ(chip.ledger().by_kind().at("ffn_allreduce").count, 10);
  // A step begun inside another (no end_step) is a bug in the caller.
  ASSERT_FALSE(meter.begin_step(pos, 8)) << "another token: recorded";
  EXPECT_THROW(meter.begin_step(pos, 8), std::logic_error);
  walk(pos, 64);
  meter.end_step();
  ++pos;
  // Steps are walked again and checked every kCheckEvery: one that leaves the template throws.
  while (meter.begin_step(pos, 7)) ++pos;
  walk(pos, 65);
  EXPECT_THROW(meter.end_step(), std::logic_error);
}

// A replayed step prices each group of moving ops once: ops whose price is one at every
// position (the same op in every layer). Two ops whose shapes meet at one position but move in
// different fields ("xa": 1 x (pos + 1) x 64, "xb": 1 x 1 x (pos + 64), one shape at position 0)
// are not one group: the ledger of the replayed steps is the walked one, row by row.
TEST(CostOnlyStepReplay, GroupsOnlyOpsOfOnePriceAtEveryPosition) {
  constexpr int kFirst = 5, kSteps = 40;
  auto run = [&](bool replay, LoneChip &lone) {
    auto &[self, chip, placement, chip_meter] = lone;
    runtime::BatchedMeter meter(self, 64);
    meter.set_step_replay(replay);
    meter.attach(&chip_meter);
    const auto share = self.allreduce_share(64, AllreduceAlgo::Tree);
    for (int pos = kFirst; pos < kFirst + kSteps; ++pos) {
      if (meter.begin_step(pos, 3)) continue;
      for (int layer = 0; layer < 3; ++layer) {
        meter.nonlinear(layer, runtime::Nonlinear::Add, 64);
        meter.matmul(layer, "qk", 1, pos + 1, 64);
        meter.nonlinear(layer, runtime::Nonlinear::Softmax, pos + 1);
        meter.matmul(layer, "xa", 1, pos + 1, 64);
        meter.matmul(layer, "xb", 1, 1, pos + 64);
        meter.sync_later(layer, runtime::SyncKind::FfnAllreduce, share);
      }
      meter.end_step();
    }
    meter.settle();
    return meter.replayed_steps();
  };
  LoneChip walked, replayed;
  EXPECT_EQ(run(false, walked), 0);
  EXPECT_GT(run(true, replayed), kSteps / 2);
  const chip::Ledger &x = walked.chip.ledger(), &y = replayed.chip.ledger();
  EXPECT_EQ(x.now(), y.now());
  EXPECT_EQ(x.busy_cycles(), y.busy_cycles());
  EXPECT_EQ(x.link_cycles(), y.link_cycles());
  EXPECT_EQ(x.idle_cycles(), y.idle_cycles());
  auto fields = [](const chip::LedgerTotals &t) {
    std::vector<double> v = {t.energy.compute_pj,
                             t.energy.link_pj,
                             t.energy.active_pj,
                             t.energy.idle_pj,
                             static_cast<double>(t.count),
                             static_cast<double>(t.cycles),
                             static_cast<double>(t.macs),
                             static_cast<double>(t.elements),
                             static_cast<double>(t.link_bytes)};
    for (chip::Level l : chip::kAllLevels) {
      v.push_back(t.energy.level_pj[l]);
      v.push_back(static_cast<double>(t.bytes[l]));
    }
    return v;
  };
  EXPECT_EQ(fields(x.total()), fields(y.total()));
  ASSERT_EQ(x.by_kind().size(), y.by_kind().size());
  for (const auto &[k, t] : x.by_kind())
    EXPECT_EQ(fields(t), fields(y.by_kind().find(k)->second)) << k;
  for (const auto &[l, t] : x.by_layer()) EXPECT_EQ(fields(t), fields(y.by_layer().at(l))) << l;
  EXPECT_NE(x.by_kind().at("xa").cycles, x.by_kind().at("xb").cycles);
}

TEST(CostOnlyBatchedMeter, RefusedForAChipThatComputes) {
  mpi::Cluster self(MPI_COMM_SELF);
  runtime::BatchedMeter meter(self);
  const auto plan = model::make_plan(tiny_model().config, 1).chips[0];
  EXPECT_THROW(runtime::LlamaChip(tiny_model(), plan, 9, 1, self, meter, AllreduceAlgo::Tree),
               std::logic_error);
  EXPECT_THROW(runtime::BatchedMeter(self, 0), std::invalid_argument);
}

// The clock of a batched meter is known only once its synchronisations are settled.
TEST(CostOnlyBatchedMeter, ClockBeforeSettleIsAnError) {
  LoneChip lone;
  auto &[self, chip, placement, chip_meter] = lone;
  runtime::BatchedMeter meter(self, 100);
  meter.attach(&chip_meter);
  meter.nonlinear(0, runtime::Nonlinear::Add, 64);
  const int64_t before = meter.clock();  // nothing to settle yet: the op is charged
  EXPECT_EQ(before, chip.ledger().now());
  EXPECT_GT(before, 0);
  meter.nonlinear(0, runtime::Nonlinear::Add, 64);
  meter.sync_later(0, runtime::SyncKind::FfnAllreduce,
                   self.allreduce_share(64, AllreduceAlgo::Tree));
  EXPECT_THROW(meter.clock(), std::logic_error);
  EXPECT_THROW(meter.sync(0, runtime::SyncKind::FfnAllreduce, {}), std::logic_error);
  meter.settle();
  EXPECT_EQ(meter.exchanges(), 1);
  const int64_t after = meter.clock();
  EXPECT_EQ(after, chip.ledger().now());
  EXPECT_GT(after, before);
  EXPECT_EQ(chip.ledger().by_kind().at("add").count, 2);
  EXPECT_EQ(chip.ledger().by_kind().at("ffn_allreduce").count, 1);
}

// Every chip takes part in every synchronisation, so every chip settles the same number: a chip
// that kept another number is a bookkeeping error, reported on every rank (none is left waiting).
TEST(CostOnlyBatchedMeter, ChipsWithDifferentNumbersOfSynchronisationsAreAnError) {
  mpi::Cluster cluster(MPI_COMM_WORLD);
  if (cluster.size() < 2) GTEST_SKIP() << "needs two ranks";
  chip::Chip chip(cluster.rank(), chip::load_profile("gap9"));
  const auto placement = chip::place_tensors(chip, {});
  runtime::ChipMeter chip_meter(chip, placement);
  runtime::BatchedMeter meter(cluster, 100);
  meter.attach(&chip_meter);
  for (int k = 0; k <= cluster.rank() % 2; ++k)
    meter.sync_later(0, runtime::SyncKind::FfnAllreduce,
                     cluster.allreduce_share(64, AllreduceAlgo::Tree));
  try {
    meter.settle();
    ADD_FAILURE() << "no error";
  } catch (const std::logic_error &e) {
    EXPECT_NE(std::string(e.what()).find("different numbers of synchronisations"),
              std::string::npos)
        << e.what();
  }
}

// Only a meter that settles synchronisations takes them for later; a traced chip records each op
// at its clock, so it is never charged ahead of it.
TEST(CostOnlyBatchedMeter, SyncLaterAndChargeAheadRefusedWhereTheyDoNotApply) {
  LoneChip lone;
  auto &[self, chip, placement, chip_meter] = lone;
  runtime::DeferredMeter deferred;
  EXPECT_THROW(deferred.sync_later(0, runtime::SyncKind::FfnAllreduce,
                                   self.allreduce_share(64, AllreduceAlgo::Tree)),
               std::logic_error);
  runtime::Trace trace;
  chip_meter.set_trace(&trace);
  const auto c = chip_meter.nonlinear_op(0, runtime::Nonlinear::Add, 64);
  EXPECT_THROW(chip_meter.charge_ahead(c), std::logic_error);
  // Nor prepared for runs charged ahead (step replay), nor charged so.
  EXPECT_THROW(chip_meter.prepare_ahead(c), std::logic_error);
  chip_meter.set_trace(nullptr);
  const chip::Ledger::Prepared prepared = chip_meter.prepare_ahead(c);
  chip_meter.set_trace(&trace);
  EXPECT_THROW(chip_meter.charge_ahead(&prepared, 1), std::logic_error);
  EXPECT_EQ(chip.ledger().now(), 0);
  EXPECT_EQ(chip.ledger().busy_cycles(), 0);
}

// The chip meter finds each call's price and ledger rows through guesses (the call that followed
// the previous one last time); whatever the order of the calls, every charge must be the one
// made by pricing the call directly.
TEST(ChipMeterCharges, EveryCallAsIfPricedDirectly) {
  const chip::Profile p = chip::load_profile("gap9");
  chip::Chip a(0, p), b(0, p);
  const std::vector<chip::TensorSpec> specs = {
      {"kv_cache", chip::Tag::kv_cache, 4096, std::nullopt},
      {"L0.wq", chip::Tag::weights, 64 * 64, std::nullopt},
      {"L1.wq", chip::Tag::weights, 64 * 64, std::nullopt},
      {"L0.w2", chip::Tag::weights, 64 * 172, std::nullopt},
      {"L1.w2", chip::Tag::weights, 64 * 172, std::nullopt},
      {"embedding", chip::Tag::weights, 512 * 64, std::nullopt}};
  const auto placement = chip::place_tensors(a, specs);
  chip::place_tensors(b, specs);
  runtime::ChipMeter meter(a, placement);
  const chip::CostModel &cm = b.cost();
  chip::Ledger &ref = b.ledger();
  using runtime::Nonlinear;
  auto linear = [&](int l, const std::string &w, int out, int in, bool partial) {
    const bool wide = partial || w.ends_with("w2") || w == "embedding";
    const std::string kind = w.find('.') == std::string::npos ? w : w.substr(w.find('.') + 1);
    if (partial)
      meter.linear_partial(l, w, 1, out, in);
    else
      meter.linear(l, w, 1, out, in);
    ref.charge(cm.price_gemv(out, in, placement.level_of(w), wide ? 4 : 1), l, kind);
  };
  auto matmul = [&](int l, const char *op, int M, int N, int K) {
    meter.matmul(l, op, M, N, K);
    ref.charge(cm.price_gemm(M, N, K, placement.level_of("kv_cache"), 4), l, op);
  };
  auto nonlinear = [&](int l, Nonlinear k, int64_t n) {
    meter.nonlinear(l, k, n);
    ref.charge(k == Nonlinear::Copy
                   ? cm.price_copy(n, chip::Level::L2, chip::Level::L2)
                   : cm.price_eltwise(k == Nonlinear::Requant   ? chip::OpKind::requant
                                      : k == Nonlinear::Softmax ? chip::OpKind::softmax
                                                                : chip::OpKind::add,
                                      n),
               l, runtime::nonlinear_name(k));
  };
  // A synchronisation: idle until `latest` (`wait` cycles after the chip's clock), then link time
  // and bytes, each charged to its layer's "idle" and the synchronisation's own row.
  auto sync = [&](int l, runtime::SyncKind k, int64_t wait) {
    mpi::CollectiveTiming t;
    t.arrival = a.ledger().now();
    t.latest = t.arrival + wait;
    t.link_cycles = 40 + l;
    t.end = t.latest + t.link_cycles;
    t.idle_cycles = wait;
    t.bytes_sent = 256;
    meter.sync(l, k, t);
    ref.wait_until(t.latest, l);
    ref.charge_link(t.bytes_sent, t.link_cycles, l, runtime::sync_name(k));
  };
  for (int t = 0; t < 40; ++t) {
    if (t % 3 == 0) nonlinear(-1, Nonlinear::Copy, 64);  // now and then: another first call
    for (int l = 0; l < 2; ++l) {
      linear(l, fmt::format("L{}.wq", l), 64, 64, false);
      nonlinear(l, Nonlinear::Requant, 64);
      for (int h = 0; h < 1 + (t + l) % 3; ++h) {  // a varying number of heads
        matmul(l, "qk", 1, t + 1, 16);
        nonlinear(l, Nonlinear::Requant, t + 1);
        nonlinear(l, Nonlinear::Softmax, t + 1);
        matmul(l, "pv", 1, 16, t + 1);
        nonlinear(l, Nonlinear::Requant, 16);
      }
      linear(l, fmt::format("L{}.w2", l), 64, 172, t % 2 == 0);
      sync(l, t % 2 ? runtime::SyncKind::FfnAllreduce : runtime::SyncKind::AttentionAllreduce,
           t % 5);
      nonlinear(l, Nonlinear::Add, 64);
    }
    linear(-1, "embedding", 512, 64, false);
    sync(-1, runtime::SyncKind::LogitsArgmax, 3);
  }
  // A synchronisation at no layer of the chip is refused, charging nothing.
  const int64_t now = a.ledger().now();
  EXPECT_THROW(meter.sync(-2, runtime::SyncKind::FfnAllreduce, {}), std::invalid_argument);
  EXPECT_THROW(meter.sync(0, static_cast<runtime::SyncKind>(99), {}), std::invalid_argument);
  EXPECT_EQ(a.ledger().now(), now);
  const chip::Ledger &x = a.ledger();
  EXPECT_EQ(x.now(), ref.now());
  EXPECT_EQ(x.busy_cycles(), ref.busy_cycles());
  expect_same(x, ref);
}

}  // namespace
