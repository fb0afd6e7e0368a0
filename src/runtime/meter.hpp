// What the runtime tells the chip model about each op it runs, so the chip can price it.
//
// The runtime executes the int8 arithmetic; the meter turns every call into simulated cycles and
// energy on this chip (src/chip prices from the op's shape, the profile, and where the operands
// live). Collectives report the timing the cluster computed. Nothing here reads the host clock.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

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
  // The cycles nonlinear(layer, kind, elements) would charge, without charging anything; -1 for
  // a meter that cannot tell.
  virtual int64_t nonlinear_cycles(int /*layer*/, Nonlinear /*kind*/, int64_t /*elements*/) {
    return -1;
  }

  // True for a meter that works out the clocks of the synchronisations itself, later
  // (BatchedMeter, cost-only runs): the chip then does not meet the other chips at each one; it
  // hands sync_later() its share of the collective (mpi::Cluster::*_share: bytes, messages and
  // link cycles, worked out without communicating) instead of calling the collective and
  // sync(). allreduce() and broadcast() below do the one or the other.
  virtual bool settles_syncs() const { return false; }
  virtual void sync_later(int layer, SyncKind kind, const mpi::CollectiveTiming &share);

  // Step replay, for a meter that settles synchronisations itself (cost-only runs): one step
  // (a forward of one token at position `pos`) makes the same calls as the step before, the
  // attention's shapes one position longer. The chip calls begin_step before a step's calls;
  // true means the meter has made that step's calls itself from the steps it recorded
  // (BatchedMeter), and the chip makes none. Otherwise the chip makes them and calls end_step.
  virtual bool begin_step(int /*pos*/, int /*token*/) { return false; }
  virtual void end_step() {}
};

// A synchronisation as a chip meets it: the collective over `cluster` (data moved, its timing
// charged by `meter`), or, when the meter settles synchronisations itself, only this chip's
// share of it (nothing moves: cost-only runs, whose data is never read).
void allreduce(Meter &meter, mpi::Cluster &cluster, int layer, SyncKind kind,
               std::span<int32_t> data, mpi::AllreduceAlgo algo, int wire_bytes = 4);
void broadcast(Meter &meter, mpi::Cluster &cluster, int layer, SyncKind kind,
               std::span<int8_t> data, int root);

// A meter that drops every call until attach() names the real one, then hands its calls on. The
// run drivers build a shard (which needs a meter) before its placement exists (which the real
// meter needs): the shard gets this one, and the chip meter is attached once the shard is placed.
//
// Calls are queued and handed on in order when the simulated clock is needed (clock(), sync()):
// the results are those of calling the real meter directly, and the host time the real meter
// takes (the cost ledger, pricing, tracing) is measured with two clock reads per batch instead of
// two per op (host_ns(), for the host-speed breakdown; it never touches simulated time).
class DeferredMeter final : public Meter {
 public:
  void attach(Meter *to) {
    to_ = to;
    queue_.clear();
  }
  void linear(int l, const std::string &w, int t, int o, int i) override {
    if (to_) queue_.push_back({Call::Linear, l, w, nullptr, Nonlinear::Copy, t, o, i, 0});
  }
  void linear_partial(int l, const std::string &w, int t, int o, int i) override {
    if (to_) queue_.push_back({Call::LinearPartial, l, w, nullptr, Nonlinear::Copy, t, o, i, 0});
  }
  void matmul(int l, const char *op, int M, int N, int K) override {
    if (to_) queue_.push_back({Call::Matmul, l, {}, op, Nonlinear::Copy, M, N, K, 0});
  }
  void nonlinear(int l, Nonlinear k, int64_t n) override {
    if (to_) queue_.push_back({Call::Nonlinear, l, {}, nullptr, k, 0, 0, 0, n});
  }
  void sync(int l, SyncKind k, const mpi::CollectiveTiming &t) override;
  int64_t clock() const override;
  int64_t nonlinear_cycles(int l, Nonlinear k, int64_t n) override;
  // Host nanoseconds spent in the attached meter so far.
  int64_t host_ns() const { return host_ns_; }

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
  void flush() const;

  Meter *to_ = nullptr;
  mutable std::vector<Call> queue_;
  mutable int64_t host_ns_ = 0;
};

}  // namespace mcuemu::runtime
