// Bytes each chip would hold under the slicing rules of the tensor table (float_model.hpp):
// whole heads per chip, FFN columns sliced, vocab rows sliced, no weight matrix duplicated;
// norm weights (and biases added after a reduction) replicated on every chip.
//
// This is an estimate for `mcuemu inspect`; the partition plan in src/model is the authority
// for what a run places. It follows the same rule for uneven splits: chip c of N owns
// units / N units, plus one for c < units % N (8 heads on 3 chips: 3, 3, 2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "weights/float_model.hpp"

namespace mcuemu::weights {

// Units (heads, FFN columns, vocab rows, ...) that chip `chip` of `n_chips` owns.
std::int64_t units_of_chip(std::int64_t units, int n_chips, int chip);

struct ChipBytes {
  std::int64_t sliced = 0;      // this chip's share of sliced tensors
  std::int64_t replicated = 0;  // tensors every chip holds in full
  std::int64_t total() const { return sliced + replicated; }
};

// One stored tensor: its shape as stored, its element size and its slicing rule.
struct StoredTensor {
  std::string name;
  std::vector<std::size_t> shape;
  std::size_t elem_size = 4;
  Split split;  // axis -1: replicated
};

// Per-chip bytes for n_chips chips. Throws std::invalid_argument when n_chips < 1 or when
// n_chips exceeds the number of heads of c (a chip would own no head), naming the scaled
// configurations that have enough heads.
std::vector<ChipBytes> chip_bytes(const ModelConfig &c, const std::vector<StoredTensor> &tensors,
                                  int n_chips);

// The slicing rules of the datasets of a file of configuration c, from the tensor table.
class SplitRules {
 public:
  explicit SplitRules(const ModelConfig &c);
  // A dataset named like a table tensor takes its rule. A dataset inside a group named like a
  // table tensor (an int8 file's "/layers/0/wq/w", "/layers/0/wq/rq_mul") takes the tensor's
  // rule when it has the same extent along the sliced axis (per-output-channel constants of a
  // row-sliced matrix are sliced with it). Anything else is replicated.
  Split split_for(const std::string &dataset, const std::vector<std::size_t> &shape) const;

 private:
  std::vector<TensorSpec> specs_;
};

}  // namespace mcuemu::weights
