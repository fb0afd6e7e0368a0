// The meter of a cost-only run: the chips meet once per batch of synchronisations instead of at
// every one.
//
// A collective ends for every chip at end = max over chips of the arrival clocks + the link
// cycles (mpi/cluster.hpp). The link cycles, bytes and messages do not depend on the clocks, an
// op's price depends only on its shape, the levels and the profile, and a cost-only run reads no
// data (its arg-max gives a placeholder token). So every chip knows, without the others, the ops
// it runs, their cycles, and its share of every collective (mpi::Cluster::*_share); only the max
// over the chips at each synchronisation needs the others' numbers. This meter keeps the
// synchronisations of a batch and settles them with one exchange. With s the chip's clock when
// the batch starts, d_k the cycles of its ops between synchronisations k-1 and k, and link_k its
// link cycles at synchronisation k:
//   g_1 = s + d_1,  g_k = link_{k-1} + d_k                          (k > 1)
//   latest_1 = max over chips of g_1,  latest_k = latest_{k-1} + max over chips of g_k
// since every chip leaves synchronisation k-1 at latest_{k-1} + its link cycles and arrives at
// k after its ops, at latest_{k-1} + g_k. One element-wise max over the chips of the g vector
// (mpi::Cluster::max_over_ranks) gives every chip every latest_k, and each synchronisation is
// charged to the ChipMeter with the timing the collective would have reported (arrival = the
// chip's clock, latest, end = latest + link, idle = latest - arrival).
//
// The ops: without a trace, each is charged to the ledger when it is called, ahead of the clock
// (chip::Ledger::charge_ahead: the ledger ends up as if each op had been charged in its place),
// and the clock is moved past them when the batch is settled; nothing is kept per op. With a
// trace, which records each op at its clock and with the chip's energy so far, the ops are kept
// (a ChipMeter::Charge each, two pointers) and charged in their order when the batch is settled.
// Either way the ledger and the trace are those of the run that meets the other chips at every
// synchronisation, number for number (tests/mpi/test_cost_only.cpp).
//
// A batch is settled when it holds syncs_per_batch synchronisations (the same moment on every
// chip, since every chip takes part in every synchronisation) and at settle(), which every chip
// calls at the same points of the run, before it reads its ledger. Memory: about 100 bytes per
// synchronisation of a batch, and with a trace 16 bytes per op.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mpi/cluster.hpp"
#include "runtime/chip_meter.hpp"
#include "runtime/meter.hpp"
#include "runtime/populated.hpp"
#include "runtime/step_replay.hpp"

namespace mcuemu::runtime {

class BatchedMeter final : public Meter {
 public:
  // 512 synchronisations: about 28 decode steps of TinyLlama-42M (18 per step). Measured on the
  // 2-core reference VM, 8 chips, 256 steps (docs/host-speed.md): until session 6, 128 to 512
  // about the same and 1024 and more slower (a batch's records fall out of the caches between
  // the chips' turns); since the ranks of a core hand it on with sched_yield (session 7), 512
  // beats 256 (loop 6.05-7.01 ms against 6.51-7.98 ms, 10 meetings instead of 19), 1024 is no
  // better (6.98-7.27 ms) and 4096 slower (7.8-13.9 ms).
  static constexpr int kDefaultSyncsPerBatch = 512;

  explicit BatchedMeter(mpi::Cluster &cluster, int syncs_per_batch = kDefaultSyncsPerBatch);
  // Calls before attach() are dropped (as DeferredMeter's are). Set the ChipMeter's trace first.
  void attach(ChipMeter *to) {
    to_ = to;
    replay_ = to && to->tracing();
    if (replay_) to->keep_prices(true);  // the charges are kept until the batch is settled
    ops_.clear();
    pending_.clear();
    open_ = 0;
    steps_.reset(to);
  }

  void linear(int l, const std::string &w, int t, int o, int i) override {
    if (to_) add(to_->linear_op(l, w, t, o, i), t, o, i, 0);
  }
  void linear_partial(int l, const std::string &w, int t, int o, int i) override {
    if (to_) add(to_->linear_partial_op(l, w, t, o, i), t, o, i, 0);
  }
  void matmul(int l, const char *op, int M, int N, int K) override {
    if (to_) add(to_->matmul_op(l, op, M, N, K), M, N, K, 0);
  }
  void nonlinear(int l, Nonlinear k, int64_t n) override {
    if (to_) add(to_->nonlinear_op(l, k, n), 0, 0, 0, n);
  }
  // Not for this meter (std::logic_error): the chip hands it sync_later() instead.
  void sync(int l, SyncKind k, const mpi::CollectiveTiming &t) override;
  bool settles_syncs() const override { return true; }
  // Collective when it completes a batch (every chip reaches it together).
  void sync_later(int layer, SyncKind kind, const mpi::CollectiveTiming &share) override;
  // The chip's clock, all ops charged. Only with no synchronisation left to settle (after
  // settle()); std::logic_error otherwise, since the clock is not known yet.
  int64_t clock() const override;

  // Collective: settles the synchronisations kept so far and charges every op to the ChipMeter.
  // Every chip calls it at the same points of the run.
  void settle();
  int64_t exchanges() const { return exchanges_; }  // max-reductions so far

  // Step replay (Meter::begin_step, runtime/step_replay.hpp), without a trace only: a replayed
  // step makes exactly the calls the chip would make, in its order, with the same prices: the
  // ledger, the clock and every figure are those of a run without replay
  // (tests/mpi/test_cost_only.cpp). Off: every step is walked (MCUEMU_COST_ONLY_REPLAY=off, for
  // comparison).
  static constexpr int64_t kCheckEvery = StepReplay::kCheckEvery;
  void set_step_replay(bool on) { steps_on_ = on; }
  bool begin_step(int pos, int token) override;
  void end_step() override;
  int64_t replayed_steps() const { return steps_.replayed(); }

 private:
  void add(const ChipMeter::Charge &c) {
    if (replay_)
      ops_.push_back(c);
    else
      to_->charge_ahead(c);
    open_ += c.cycles();
  }
  void add(const ChipMeter::Charge &c, int a, int b, int d, int64_t n) {
    steps_.record_op(c, a, b, d, n);
    add(c);
  }
  void replay_step();
  bool steps_on_ = true;
  StepReplay steps_;
  // The ops of a batch, in chunks of populated memory (populated.hpp) kept for the next batches:
  // growing copies nothing, and once the first batch is through no page is new.
  class OpLog {
   public:
    void push_back(const ChipMeter::Charge &c) {
      if (size_ == chunks_.size() * kChunk) grow();
      chunks_[size_ / kChunk]->ops[size_ % kChunk] = c;
      ++size_;
    }
    const ChipMeter::Charge &operator[](size_t i) const {
      return chunks_[i / kChunk]->ops[i % kChunk];
    }
    size_t size() const { return size_; }
    void clear() { size_ = 0; }

   private:
    static constexpr size_t kChunk = 4096;  // 64 KB
    struct Chunk {
      Chunk();
      ~Chunk();
      Chunk(const Chunk &) = delete;
      Chunk &operator=(const Chunk &) = delete;
      ChipMeter::Charge *ops;
    };
    void grow();
    std::vector<std::unique_ptr<Chunk>> chunks_;
    size_t size_ = 0;
  };
  // The exchange and the charges of the synchronisations kept so far (and the ops before them).
  void resolve();

  struct Pending {
    int layer;
    SyncKind kind;
    mpi::CollectiveTiming share;  // from mpi::Cluster::*_share
    size_t ops_end;               // replaying: ops_[.. ops_end) come before it
    int64_t cycles;               // d_k: the cycles of the ops before it (see above)
    int64_t gap;                  // g_k
  };
  mpi::Cluster &cluster_;
  const size_t syncs_per_batch_;
  ChipMeter *to_ = nullptr;
  // How the ops reach the ledger. Without a trace, at once, ahead of the clock (ChipMeter::
  // charge_ahead: the ledger ends up as if charged in order), the clock moved when the batch is
  // settled: nothing is kept per op. With a trace, which records each op at its clock, they are
  // kept (ops_) and charged in order when the batch is settled.
  bool replay_ = false;
  mutable OpLog ops_;  // replaying: not charged yet, in call order
  std::vector<Pending, PopulatedAllocator<Pending>> pending_;
  mutable int64_t open_ = 0;  // cycles of the ops after the last synchronisation kept
  std::vector<int64_t, PopulatedAllocator<int64_t>> gaps_;  // the exchange: K, -K, then g_1 .. g_K
  int64_t exchanges_ = 0;
};

}  // namespace mcuemu::runtime
