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

}  // namespace mcuemu::runtime
