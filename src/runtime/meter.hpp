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

  // Op replay, for a meter of a run that meets the other chips at every synchronisation (a full
  // run: DeferredMeter): the ops of a decode step's blocks and head (everything after its
  // embedding) are the same at every step, the attention's shapes one position longer. The chip
  // calls begin_ops before them; true means the meter charges those ops itself, from the steps
  // it recorded, and the chip makes no op call (linear, matmul, nonlinear) until end_ops, while
  // it still meets the other chips (clock(), sync()) and asks nonlinear_cycles. Otherwise the
  // chip makes the calls. Either way it calls end_ops after the step's last synchronisation.
  virtual bool begin_ops(int /*pos*/) { return false; }
  virtual void end_ops() {}
};

// A synchronisation as a chip meets it: the collective over `cluster` (data moved, its timing
// charged by `meter`), or, when the meter settles synchronisations itself, only this chip's
// share of it (nothing moves: cost-only runs, whose data is never read).
void allreduce(Meter &meter, mpi::Cluster &cluster, int layer, SyncKind kind,
               std::span<int32_t> data, mpi::AllreduceAlgo algo, int wire_bytes = 4);
void broadcast(Meter &meter, mpi::Cluster &cluster, int layer, SyncKind kind,
               std::span<int8_t> data, int root);

}  // namespace mcuemu::runtime
