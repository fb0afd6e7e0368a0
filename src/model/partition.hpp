// Tensor-parallel partition plan for N chips (Megatron style, Bochem et al. DATE 2025).
//
// Chip c owns whole attention heads [head_begin, head_end): the matching rows of Wq, Wk, Wv, the
// matching columns of Wo and the KV cache of those heads; a slice [ffn_begin, ffn_end) of the FFN
// (rows of W1/W3, columns of W2); and the vocabulary rows [vocab_begin, vocab_end) of the
// embedding / LM head. No weight is duplicated. When N does not divide a dimension the first
// chips get one more unit, so the plan is uneven but valid and the imbalance shows in the cost.
// MobileBERT also splits the D-wide residual stream by columns ([dim_begin, dim_end)); how each
// of its tensors follows these ranges is in PARTITIONING.md.
#pragma once

#include <string>
#include <vector>

#include "weights/config.hpp"

namespace mcuemu::model {

struct Range {
  int begin = 0, end = 0;
  int size() const { return end - begin; }
};

struct ChipPlan {
  int chip = 0;
  Range heads;  // attention heads
  Range ffn;    // hidden_dim units
  Range vocab;  // embedding / classifier rows
  Range dim;    // MobileBERT: columns of the residual stream (model width) this chip owns
};

struct PartitionPlan {
  int n_chips = 0;
  std::vector<ChipPlan> chips;
  bool even() const;  // every chip has the same share of heads and FFN units
};

// Splits [0, n) into `parts` contiguous ranges whose sizes differ by at most one.
Range split_range(int n, int parts, int index);

// The plan for `n_chips` chips. Throws std::invalid_argument when n_chips < 1 or when there are
// more chips than heads (a head is never split), naming the configurations that scale further.
PartitionPlan make_plan(const weights::ModelConfig &config, int n_chips);

}  // namespace mcuemu::model
