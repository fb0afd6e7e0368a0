// What the runtime tells the chip model about each op it runs, so the chip can price it.
//
// The runtime executes the int8 arithmetic; the meter turns every call into simulated cycles and
// energy on this chip (src/chip prices from the op's shape, the profile, and where the operands
// live). Collectives report the timing the cluster computed. Nothing here reads the host clock.
#pragma once

#include <cstdint>
#include <string>

#include "mpi/cluster.hpp"

namespace mcuemu::runtime {

enum class Nonlinear { RmsNorm, Softmax, Requant, Add, Mul, Hswish, Rope, Argmax, Copy, NoNorm };
const char *nonlinear_name(Nonlinear k);

// MobileBERT adds BottleneckAllreduce (the block's input projections, summed over the chips'
// column slices of the residual stream) and OutputGather (the encoder output, assembled once).
enum class SyncKind {
  EmbeddingBroadcast,
  AttentionAllreduce,
  FfnAllreduce,
  LogitsArgmax,
  BottleneckAllreduce,
  OutputGather
};
const char *sync_name(SyncKind k);

class Meter {
 public:
  virtual ~Meter() = default;
  // A weight GEMV/GEMM: `tokens` rows of activations times the (out, in) weight named `weight`
  // (registered with the chip's placement, which says where it lives).
  virtual void linear(int layer, const std::string &weight, int tokens, int out, int in) = 0;
  // The same for a weight whose int32 outputs leave the tile unrequantized (partial sums that go
  // to an all-reduce: 4 bytes per output). Meters that do not tell the two apart use linear().
  virtual void linear_partial(int layer, const std::string &weight, int tokens, int out, int in) {
    linear(layer, weight, tokens, out, in);
  }
  // Activation x activation products (Q.K^T, P.V): operands in L2 (KV cache, activations).
  virtual void matmul(int layer, const char *op, int M, int N, int K) = 0;
  virtual void nonlinear(int layer, Nonlinear kind, int64_t elements) = 0;
  virtual void sync(int layer, SyncKind kind, const mpi::CollectiveTiming &t) = 0;
  // The chip's simulated clock in cycles (collectives start from it).
  virtual int64_t clock() const = 0;
};

// A meter that drops every call until attach() names the real one, then forwards to it. The run
// drivers build a shard (which needs a meter) before its placement exists (which the real meter
// needs): the shard gets this one, and the chip meter is attached once the shard is placed.
class DeferredMeter final : public Meter {
 public:
  void attach(Meter *to) { to_ = to; }
  void linear(int l, const std::string &w, int t, int o, int i) override {
    if (to_) to_->linear(l, w, t, o, i);
  }
  void linear_partial(int l, const std::string &w, int t, int o, int i) override {
    if (to_) to_->linear_partial(l, w, t, o, i);
  }
  void matmul(int l, const char *op, int M, int N, int K) override {
    if (to_) to_->matmul(l, op, M, N, K);
  }
  void nonlinear(int l, Nonlinear k, int64_t n) override {
    if (to_) to_->nonlinear(l, k, n);
  }
  void sync(int l, SyncKind k, const mpi::CollectiveTiming &t) override {
    if (to_) to_->sync(l, k, t);
  }
  int64_t clock() const override { return to_ ? to_->clock() : 0; }

 private:
  Meter *to_ = nullptr;
};

}  // namespace mcuemu::runtime
