// One chip's share of the int8 MobileBERT encoder and its forward over S tokens at once.
//
// The partitioning (src/model/PARTITIONING.md has the reasoning): chip c owns a column slice
// [dim_begin, dim_end) of the D-wide residual stream, whole attention heads and an FFN slice.
// It holds
//   - embedding: its vocabulary rows of the word table, its columns of the position and token
//     type tables, its output rows of the trigram projection;
//   - per block: its input columns of the three D -> B projections that read the residual stream
//     (input bottleneck, shared key-query bottleneck, value), the rows of Wq/Wk and the columns
//     of Wo of its heads, rows of W1 / columns of W2 of every FFN for its FFN slice (or every FFN
//     whole with FfnPlacement::Replicated), and its output rows of the output bottleneck;
//   - the 128-wide NoNorm / residual constants (small) on every chip; a bias of a sum split over
//     chips is added by chip 0 only.
//
// Per block, S rows at once:
//   partial Wbi x, Wkq x, Wv x over own columns   -> sync 1: all-reduce (int32) -> requant
//                                                     (NoNorm folded): bn_in, kq, v (all B wide)
//   q, k of own heads from kq; attention of own heads over all S positions; partial Wo
//                                                 -> sync 2: all-reduce -> requant, + bn_in, NoNorm
//   each FFN: W1 slice, ReLU, partial W2          -> FfnPlacement::Split: one all-reduce per FFN
//                                                    (Replicated: whole FFN, no sync)
//                                                 -> requant, + h, NoNorm
//   own rows of the output bottleneck, + own columns of x, NoNorm: the next block's input columns.
// So a block meets the other chips 2 + n_ffn times (Split) or exactly twice (Replicated, at the
// cost of the FFN weights on every chip). Before the blocks, one exchange assembles the S word
// embedding rows (vocabulary-sliced); after them, one assembles the (S, D) output on every chip.
// With the int32 exchange the output is bit-exact with one chip for any N.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/partition.hpp"
#include "mpi/cluster.hpp"
#include "runtime/llama_chip.hpp"  // Exchange
#include "runtime/meter.hpp"
#include "weights/qmodel.hpp"

namespace mcuemu::runtime {

// Where the stacked FFNs run.
//   Split:      FFN columns sliced over the chips (no weight duplicated), one all-reduce per FFN:
//               2 + n_ffn synchronisations per block.
//   Replicated: every chip holds and runs every FFN whole: exactly 2 synchronisations per block,
//               the FFN weights duplicated on every chip and their compute not parallel.
enum class FfnPlacement { Split, Replicated };
FfnPlacement parse_ffn_placement(const std::string &name);  // "split" | "replicated"
const char *ffn_placement_name(FfnPlacement p);

// A slice of a QLinear with its bias and requant.
struct MbLinear {
  std::string name;  // e.g. "L3.wq", for placement and the meter
  int out = 0, in = 0;
  std::vector<int8_t> w;      // (out, in)
  std::vector<int32_t> bias;  // (out) or empty (a split sum's bias lives on chip 0 only)
  std::vector<int32_t> rq_mul, rq_add, rq_round;  // (out); rq_round: the rounding term only
  int32_t rq_shift = 0;
  bool partial = false;  // a column slice: its int32 outputs are partial sums for an all-reduce
};

struct MbFfn {
  MbLinear w1, w2;
  mcu_add_rq_t resid{};
  weights::QNoNorm norm;
};

struct MbLayer {
  MbLinear bn_in, bn_kq, wv;  // column slices (B, own columns), partial
  MbLinear wq, wk;            // rows of own heads (own * head_dim, B)
  MbLinear wo;                // columns of own heads (B, own * head_dim), partial
  std::vector<MbFfn> ffn;
  MbLinear bn_out;  // rows of own columns (own columns, B)
  mcu_rqs_t scores{}, attn{};
  mcu_softmax_ibert_t softmax{};
  mcu_add_rq_t attn_resid{}, out_resid{};
  weights::QNoNorm attn_norm;  // (B)
  weights::QNoNorm out_norm;   // own columns
};

struct MbStats {
  int64_t bottleneck_syncs = 0, attention_syncs = 0, ffn_syncs = 0;  // all-reduces by kind
  int64_t block_syncs = 0;     // all all-reduces inside blocks
  int64_t edge_exchanges = 0;  // embedding all-gather + output gather
  int64_t tokens = 0, forwards = 0;
};

class MobileBertChip {
 public:
  // `max_rows`: the most tokens one forward takes (<= seq_len). A model with no layers (only its
  // config) gives a cost-only chip: the same schedule, meter calls and collectives, no weights
  // and no arithmetic (the output is then meaningless).
  MobileBertChip(const weights::QMobileBertModel &model, const model::ChipPlan &plan, int max_rows,
                 mpi::Cluster &cluster, Meter &meter, mpi::AllreduceAlgo algo,
                 FfnPlacement ffn = FfnPlacement::Split, Exchange exchange = Exchange::Int32);

  // Runs the encoder on tokens (positions 0 .. S-1, bidirectional attention); token_types empty
  // means type 0 everywhere. Afterwards output() holds the (S, dim) int8 hidden states on every
  // chip.
  void forward(std::span<const int> tokens, std::span<const int> token_types = {});
  std::span<const int8_t> output() const { return std::span(output_).first(rows_ * cfg_.dim); }

  const model::ChipPlan &plan() const { return plan_; }
  FfnPlacement ffn_placement() const { return ffn_mode_; }
  model::Range ffn_range() const { return {f0_, f0_ + nf_}; }  // FFN units this chip holds
  const MbStats &stats() const { return stats_; }
  // Every int8 weight tensor this chip holds: name and bytes (for placement).
  std::vector<std::pair<std::string, int64_t>> weight_tensors() const;
  // Bytes of those that every other chip holds too (the FFNs when Replicated and N > 1).
  int64_t duplicated_weight_bytes() const;
  // Bytes of the activation buffers that live in L2 for max_rows rows.
  int64_t activation_bytes() const;

 private:
  void embed(std::span<const int> tokens, std::span<const int> types);
  void block(int l);
  void ffn(int l, int j);
  // y (S, out) = x (S, in) W^T + bias into int32, priced as a weight GEMV/GEMM.
  void linear(int l, const MbLinear &w, std::span<const int8_t> x, std::span<int32_t> y);
  // Requantizes S rows of int32 sums of `w` into y; `local` = this chip's own partial before an
  // int8 exchange (only chip 0 adds the offsets then), clamped at lo.
  void requant(const MbLinear &w, std::span<const int32_t> acc, std::span<int8_t> y,
               bool local = false, int32_t lo = -128);
  // Sums the partials of `lins` (stored one after another in part_, S rows each) over the chips
  // and requantizes each into its output.
  void allreduce_requant(int l, SyncKind kind, std::span<const MbLinear *const> lins,
                         std::span<const std::span<int8_t>> outs);
  void nonorm(const weights::QNoNorm &n, std::span<int8_t> x);

  const weights::ModelConfig cfg_;
  const model::ChipPlan plan_;
  mpi::Cluster &cluster_;
  Meter &meter_;
  mpi::AllreduceAlgo algo_;
  FfnPlacement ffn_mode_;
  Exchange exchange_;
  int max_rows_ = 1, rows_ = 0;
  int d0_ = 0, nd_ = 0;  // own residual columns
  int nh_ = 0, hd_ = 0;  // own heads, head_dim
  int f0_ = 0, nf_ = 0;  // own FFN units
  bool first_ = false;   // chip 0: adds the biases of split sums
  bool compute_ = true;  // false: cost-only (a model with a config and no tensors)

  // Embedding.
  std::vector<int8_t> word_;      // (own vocab rows, E)
  std::vector<int8_t> position_;  // (seq_len, own columns)
  std::vector<int8_t> type_;      // (type_vocab_size, own columns)
  MbLinear proj_;                 // (own columns, 3E)
  mcu_add_rq_t emb_pos_{}, emb_type_{};
  weights::QNoNorm emb_norm_;  // own columns
  std::vector<MbLayer> layers_;

  // Activations for max_rows rows, allocated once.
  std::vector<int8_t> x_;                 // (S, own columns): this chip's residual columns
  std::vector<int8_t> tri_, xrow_;        // (S, 3E) trigram input; (S, own columns) scratch
  std::vector<int8_t> bnin_, kq_, v_;     // (S, B)
  std::vector<int8_t> q_, k_, att_, vt_;  // (S, own), vt_: (own, S) transposed V
  std::vector<int8_t> scores8_, probs_;   // (S, S)
  std::vector<int8_t> h_, d8_;            // (S, B)
  std::vector<int8_t> relu_;              // (S, own FFN units)
  std::vector<int8_t> output_;            // (S, D)
  std::vector<int32_t> part_;             // (3, S, B): partial sums of an all-reduce
  std::vector<int32_t> acc_;              // int32 outputs requantized in L1 on the chip
  std::vector<int32_t> scores32_, av32_;  // (S, S), (S, head_dim)
  std::vector<int32_t> gather_;           // (S, D) the output gather / embedding rows
  MbStats stats_;
};

}  // namespace mcuemu::runtime
