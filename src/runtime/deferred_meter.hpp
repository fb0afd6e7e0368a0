// The meter of a full run: the chip meter's calls, queued and handed on in batches, and the
// ops of decode steps replayed (runtime/step_replay.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/chip_meter.hpp"
#include "runtime/meter.hpp"
#include "runtime/step_replay.hpp"

namespace mcuemu::runtime {

// A meter that drops every call until attach() names the chip meter, then hands its calls on.
// The run drivers build a shard (which needs a meter) before its placement exists (which the
// chip meter needs): the shard gets this one, and the chip meter is attached once the shard is
// placed.
//
// Calls are queued and handed on in order when the simulated clock is needed (clock(), sync()):
// the results are those of calling the chip meter directly, and the host time the chip meter
// takes (the cost ledger, pricing, tracing) is measured with two clock reads per batch instead of
// two per op (host_ns(), for the host-speed breakdown; it never touches simulated time).
//
// Op replay (Meter::begin_ops), when attached with it and without a trace: the ops of the steps
// the chip walks are recorded, and once a template of them is learned and confirmed (StepReplay)
// the ops of a replayed step are charged as prepared runs, each run when the clock is next
// needed (a clock read or the synchronisation after it), and each clock read and
// synchronisation of the chip is checked against the template's (a read where the template has
// none, or a synchronisation other than its next, is a std::logic_error). The ledger is number for
// number that of a run that walks every step (tests/mpi/test_llama_shard.cpp), with a fraction of
// the host time per op.
class DeferredMeter final : public Meter {
 public:
  void attach(ChipMeter *to, bool op_replay = false);

  void linear(int l, const std::string &w, int t, int o, int i) override {
    if (to_) push({Call::Linear, l, w, nullptr, Nonlinear::Copy, t, o, i, 0});
  }
  void linear_partial(int l, const std::string &w, int t, int o, int i) override {
    if (to_) push({Call::LinearPartial, l, w, nullptr, Nonlinear::Copy, t, o, i, 0});
  }
  void matmul(int l, const char *op, int M, int N, int K) override {
    if (to_) push({Call::Matmul, l, {}, op, Nonlinear::Copy, M, N, K, 0});
  }
  void nonlinear(int l, Nonlinear k, int64_t n) override {
    if (to_) push({Call::Nonlinear, l, {}, nullptr, k, 0, 0, 0, n});
  }
  void sync(int l, SyncKind k, const mpi::CollectiveTiming &t) override;
  int64_t clock() const override;
  int64_t nonlinear_cycles(int l, Nonlinear k, int64_t n) override;
  bool begin_ops(int pos) override;
  void end_ops() override;
  // Host nanoseconds spent in the chip meter so far.
  int64_t host_ns() const { return host_ns_; }
  // Decode steps whose ops were replayed.
  int64_t replayed_steps() const { return steps_.replayed(); }

 private:
  struct Call {
    enum Kind { Linear, LinearPartial, Matmul, Nonlinear } kind;
    int layer;
    std::string weight;  // Linear*: copied (callers may pass a temporary)
    const char *op;      // Matmul: a string literal
    runtime::Nonlinear nonlinear;
    int a, b, c;       // tokens, out, in / M, N, K
    int64_t elements;  // Nonlinear
  };
  void push(Call &&c);
  void flush() const;
  // Replaying: charges the runs of ops up to the template's next synchronisation or clock read.
  void charge_runs() const;

  ChipMeter *to_ = nullptr;
  mutable std::vector<Call> queue_;
  mutable int64_t host_ns_ = 0;
  bool ops_on_ = false;  // op replay allowed
  mutable StepReplay steps_;
  bool replaying_ = false;
  mutable size_t piece_ = 0;  // replaying: the next piece of steps_.program()
};

}  // namespace mcuemu::runtime
