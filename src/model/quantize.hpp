// Post-training int8 quantization of a Llama model.
//
// Weights: symmetric int8, one scale per output channel (max |w| / 127); the embedding (which is
// also the LM head) has one scale for the whole table so that int32 logits of different rows
// compare directly in the arg-max. Activations: symmetric int8, one scale per activation point,
// max |a| / 127 over calibration runs of the fp32 golden model (golden.hpp). Every requantization
// is turned into integer (mul, add, shift) constants here, offline; the int8 path never reads a
// float. The formulas are in kernels/README.md; the derivation of each constant is below in
// quantize.cpp next to the code that computes it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "weights/float_model.hpp"
#include "weights/qmodel.hpp"

namespace mcuemu::model {

// Bump whenever the quantizer's output changes for the same input: cached int8 models are
// keyed by it.
inline constexpr int kQuantizerVersion = 1;

struct QuantizeOptions {
  int calib_tokens = 64;    // positions of teacher-forced random tokens run through fp32
  uint64_t calib_seed = 1;  // seed of the calibration token sequence
  int rmsnorm_k = 4;        // extra fractional bits of the integer root (kernels/README.md)
  int rope_frac = 14;       // cos/sin tables in Q14
};

// Activation statistics of one calibration run: max |value| per (layer, point).
struct CalibrationStats {
  std::map<std::string, float> max_abs;  // key "L<layer>.<point>" or "<point>" outside blocks
  float get(int layer, const std::string &point) const;
};

CalibrationStats calibrate(const weights::FloatModel &m, const QuantizeOptions &opt);
weights::QLlamaModel quantize(const weights::FloatModel &m, const CalibrationStats &stats,
                              const QuantizeOptions &opt);

// MobileBERT (quantize_mobilebert.cpp), the same rules: per-output-channel int8 weights with
// int32 biases, per-tensor int8 activations calibrated at every named point of the fp32 encoder
// (golden.hpp), each NoNorm either folded into the requant of the linear before it (bottlenecks)
// or run as a per-channel requant after the residual add, ReLU folded into the clamp of the FFN
// up-projection's requant. Calibration runs the encoder on one sequence of calib_tokens random
// ids (token type 0), so calib_tokens must be in 1..seq_len.
CalibrationStats calibrate(const weights::FloatMobileBertModel &m, const QuantizeOptions &opt);
weights::QMobileBertModel quantize(const weights::FloatMobileBertModel &m,
                                   const CalibrationStats &stats, const QuantizeOptions &opt);
// The calibration token ids (deterministic from the seed), also used by tests.
std::vector<int> calibration_tokens(int vocab_size, int n, uint64_t seed);

// Integer (mul, shift) for a positive real multiplier M: y = (x * mul + 2^(shift-1)) >> shift
// ~ x * M, with mul < 2^31 and shift in [0, 31] chosen for the most precision. Exposed for tests.
struct FixedPoint {
  int32_t mul = 0;
  int32_t shift = 0;
};
FixedPoint fixed_point(double M);
// Same shift for several multipliers (per-channel requant: shift shared, mul per channel).
int32_t shared_shift(const std::vector<double> &Ms);

}  // namespace mcuemu::model
