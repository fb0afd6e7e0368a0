// One chip's share of a Llama model and its int8 forward (autoregressive and prompt).
//
// Chip c holds only its shard (model/partition.hpp): the rows of Wq/Wk/Wv and the columns of Wo
// for its heads, the KV cache of those heads, rows of W1/W3 and columns of W2 for its FFN slice,
// and its rows of the embedding, which is also the LM head. Norms, residuals and requant
// constants of the replicated parts are small and held by every chip.
//
// Per token and block (exactly two synchronisations per block):
//   RMSNorm -> q,k,v of own heads -> RoPE -> attention over own KV cache -> partial Wo
//   -> sync 1: all-reduce (int32 sum) -> requant, residual add
//   RMSNorm -> W1, W3 slices -> hard-swish SiLU -> product -> partial W2
//   -> sync 2: all-reduce (int32 sum) -> requant, residual add
// plus one exchange before the blocks (the owner of the token's embedding row broadcasts it) and
// one after (final norm, own vocabulary rows of the LM head, global arg-max).
// With the default int32 exchange the result is bit-exact with one chip for any N.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/partition.hpp"
#include "mpi/cluster.hpp"
#include "runtime/kernels.hpp"
#include "runtime/meter.hpp"
#include "weights/qmodel.hpp"

namespace mcuemu::runtime {

// A slice of a QLinear: the weights this chip holds and the requant that applies to them.
struct ShardLinear {
  std::string name;  // e.g. "L3.wq", for placement and reports
  int out = 0, in = 0;
  kernels::GemvMatrix w;                // (out, in), in the host's fastest layout
  std::vector<int32_t> rq_mul, rq_add;  // (out) or, after an all-reduce, the full dim
  int32_t rq_shift = 0;
};

struct ShardLayer {
  weights::QRmsNorm attn_norm, ffn_norm;
  ShardLinear wq, wk, wv;  // rows of own heads: (heads * head_dim, dim)
  ShardLinear wo;          // columns of own heads: (dim, heads * head_dim), full-dim requant
  ShardLinear w1, w3;      // rows of own FFN slice: (ffn, dim)
  ShardLinear w2;          // columns of own FFN slice: (dim, ffn), full-dim requant
  mcu_rqs_t scores{}, attn{}, silu{};
  mcu_softmax_ibert_t softmax{};
  kernels::SoftmaxIbert softmax_table;  // the same softmax, exponentials looked up (host speed)
  mcu_add_rq_t resid_attn{}, resid_ffn{};
  mcu_hswish_t hswish{};
  mcu_mul_rq_t gate{};
};

struct RunStats {
  int64_t syncs_per_block[2] = {0, 0};  // attention, FFN all-reduces (counted per block)
  int64_t block_syncs = 0;              // all all-reduces inside blocks
  int64_t edge_exchanges = 0;           // embedding broadcasts + arg-max reductions
  // Host-side only: embedding broadcasts whose row came with the arg-max before (no round of
  // their own; the same data and the same charges: see LlamaChip::embed).
  int64_t carried_embeddings = 0;
  int64_t tokens = 0;    // rows run (prompt tokens count one each)
  int64_t forwards = 0;  // forward() calls: one per step, one per prompt

  RunStats &operator+=(const RunStats &o) {
    for (int i = 0; i < 2; ++i) syncs_per_block[i] += o.syncs_per_block[i];
    block_syncs += o.block_syncs;
    edge_exchanges += o.edge_exchanges;
    carried_embeddings += o.carried_embeddings;
    tokens += o.tokens;
    forwards += o.forwards;
    return *this;
  }
  RunStats operator-(const RunStats &o) const {
    RunStats d = *this;
    for (int i = 0; i < 2; ++i) d.syncs_per_block[i] -= o.syncs_per_block[i];
    d.block_syncs -= o.block_syncs;
    d.edge_exchanges -= o.edge_exchanges;
    d.carried_embeddings -= o.carried_embeddings;
    d.tokens -= o.tokens;
    d.forwards -= o.forwards;
    return d;
  }
};

// How partial sums cross the link at the two block synchronisations.
//   Int32: the int32 partials are summed, then requantized once: bit-exact with one chip.
//   Int8:  each chip requantizes its own partial to int8 first; the sums travel as int16 (a sum
//          of up to 256 int8 values fits), half the bytes, and the result is no longer exact.
enum class Exchange { Int32, Int8 };
Exchange parse_exchange(const std::string &name);

// The rows of the model a chip with this plan holds (for read_qllama_slice).
weights::LlamaSlice chip_slice(const weights::ModelConfig &config, const model::ChipPlan &plan);

class LlamaChip {
 public:
  // `context`: positions this run uses (<= seq_len); the KV cache is sized for it.
  // `max_rows`: most tokens one forward() call takes (1 for autoregressive decoding).
  // `model` is the whole model, or this chip's slice of it (read_qllama_slice with
  // chip_slice(config, plan); anything else is refused). A slice passed as an rvalue is moved
  // into the chip: the weights are then held once, as on the chip.
  LlamaChip(const weights::QLlamaModel &model, const model::ChipPlan &plan, int context,
            int max_rows, mpi::Cluster &cluster, Meter &meter, mpi::AllreduceAlgo algo,
            Exchange exchange = Exchange::Int32);
  LlamaChip(weights::QLlamaModel &&model, const model::ChipPlan &plan, int context, int max_rows,
            mpi::Cluster &cluster, Meter &meter, mpi::AllreduceAlgo algo,
            Exchange exchange = Exchange::Int32);

  // Runs `tokens` at positions start, start+1, ... (causal attention over the KV cache), one
  // row each: one token is a GEMV step (autoregressive), several are GEMMs (prompt mode).
  // Returns the greedy next token after the last row (the same on every chip); this chip's
  // slice of that row's int32 logits stays in local_logits().
  // A model with no layers (only its config) gives a cost-only chip: the same schedule, meter
  // calls and collectives, no arithmetic and no weights in memory.
  int forward(std::span<const int> tokens, int start);
  int step(int token, int pos) { return forward(std::span(&token, 1), pos); }

  std::span<const int32_t> local_logits() const { return logits_; }
  const model::ChipPlan &plan() const { return plan_; }
  const RunStats &stats() const { return stats_; }
  // Every weight tensor this chip holds: name and bytes (for placement).
  std::vector<std::pair<std::string, int64_t>> weight_tensors() const;
  int64_t kv_cache_bytes() const;
  // Bytes of the activation buffers (x, norms, q/k/v, scores, FFN, partials) for max_rows.
  int64_t activation_bytes() const;

 private:
  // Both public constructors: `movable` (the same object as `model`, or nullptr) lets a slice's
  // tensors be moved into the chip.
  LlamaChip(const weights::QLlamaModel &model, weights::QLlamaModel *movable,
            const model::ChipPlan &plan, int context, int max_rows, mpi::Cluster &cluster,
            Meter &meter, mpi::AllreduceAlgo algo, Exchange exchange);
  void build(const weights::QLlamaModel &model, weights::QLlamaModel *movable);
  void embed(std::span<const int> tokens);
  // The arg-max after the blocks; with the shared-memory transport it also carries the winner's
  // embedding row to every chip, for the next step's embed().
  void argmax(int32_t &best, int64_t &best_index);
  void attention(int l, int start, int S);
  void ffn(int l, int S);
  // y (S, out) = x (S, in) . W^T: a GEMV for one row, a GEMM for several.
  void linear(int l, const ShardLinear &w, std::span<const int8_t> x, std::span<int32_t> y, int S);
  void allreduce_requant_add(int l, SyncKind kind, const ShardLinear &lin, const mcu_add_rq_t &add,
                             int S);

  const weights::ModelConfig cfg_;
  const model::ChipPlan plan_;
  mpi::Cluster &cluster_;
  Meter &meter_;
  // Where the ops' calls go: the meter, or nowhere while it replays a step's ops
  // (Meter::begin_ops); synchronisations always go to the meter.
  Meter *ops_ = &meter_;
  mpi::AllreduceAlgo algo_;
  Exchange exchange_;
  int n_heads_ = 0, head_dim_ = 0, ffn_ = 0, vocab_ = 0, context_ = 0, max_rows_ = 1;
  bool compute_ = true;        // false: cost-only (a model with a config and no tensors)
  int placeholder_token_ = 0;  // cost-only: the token every step "generates" (see forward())
  int64_t kv_bytes_ = 0;

  std::shared_ptr<void> placed_storage_;  // keeps the memory of placed weights (a weight arena)
  std::vector<ShardLayer> layers_;
  kernels::GemvMatrix embedding_;  // (own vocab rows, dim): lookup rows and the tied LM head
  weights::QRmsNorm final_norm_;
  mcu_rope_t rope_{};
  std::vector<int16_t> rope_cos_, rope_sin_;  // (seq_len, head_dim / 2)
  std::vector<int8_t> k_cache_;               // (layer, own head, context, head_dim)
  std::vector<int8_t> v_cache_;  // (layer, own head, head_dim, context): transposed for P.V
  // With AVX-512 VNNI the host keeps both caches in the packed GEMV layout (kernels.hpp): K as
  // (layer, head) blocks of 16 positions x head_dim with each position's key sum, V^T as
  // (layer, head) blocks of 16 dims x kv_cols_ positions. The chip's layout and costs are
  // unchanged (kv_bytes_).
  bool kv_packed_ = false;
  size_t kv_rows_ = 0, kv_cols_ = 0;  // context rounded up to 16 (K) and to 4 (V^T)
  std::vector<int32_t> k_sums_;       // (layer, own head, kv_rows_)
  std::vector<int8_t> probs_pad_;     // kv_cols_ probabilities, -128 past the attended ones
  std::vector<uint8_t> gemv_u_;       // scratch of the packed GEMV

  // Activations for max_rows rows, allocated once (no allocation per token).
  std::vector<int8_t> x_, xn_, q_, k_, v_, att_, h1_, h3_, g_, delta_, scores8_, probs_;
  std::vector<int32_t> acc_, acc_ffn_, part_, scores32_, av32_, logits_;
  // The next token's embedding row, carried in the arg-max round (the shared-memory transport
  // moves a few hundred bytes more in a round it runs anyway): if the next step's token is the
  // arg-max, every chip has the row, and the broadcast the chips are charged for is worked out
  // here, exactly as the collective would report it, without a round of its own. The clocks
  // make that possible: every chip leaves the arg-max at the same clock, and until the
  // broadcast only the owner charges anything (its copy of the row).
  struct Carried {
    int64_t token = -1;       // the winner's index; -1: nothing carried
    int64_t copy_cycles = 0;  // what the owner's copy of the row costs it
    int64_t clock = 0;        // every chip's clock after the arg-max
  } carried_;
  std::vector<std::byte> carry_;  // the arg-max payload: the owner's copy cycles, then the row
  int64_t copy_cycles_ = -1;      // this chip's copy of a row (-1: not known yet)
  RunStats stats_;
  RunStats step_stats_;  // what the last step walked added (a replayed step adds the same)
};

}  // namespace mcuemu::runtime
