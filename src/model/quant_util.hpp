// Helpers shared by the quantizers (quantize.cpp for Llama, quantize_mobilebert.cpp): activation
// scales, integer requantization constants and per-channel int8 linear layers.
//
// Every constant follows kernels/README.md: y = clamp(((x + zx) * mul + add) >> shift, lo, hi),
// rounding folded into `add` (+ 2^(shift-1): ties toward +inf).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mcu_kernels.h"
#include "weights/qmodel.hpp"

namespace mcuemu::model::qutil {

// Key of a calibration point: "L<layer>.<point>", or "<point>" outside the blocks (layer < 0).
std::string key(int layer, const std::string &point);

// Symmetric activation scale: max |a| maps to 127.
double act_scale(float max_abs);

// The rounding term of a shift: 2^(shift-1), 0 for shift 0.
int32_t round_half_up_shift(int32_t shift);

// round(v) as int32; throws std::runtime_error naming `what` when it does not fit.
int32_t checked_i32(double v, const char *what);

// Symmetric per-tensor int8 of a table: max |v| maps to 127. Returns the scale.
double quantize_table(const std::vector<float> &v, std::vector<int8_t> &out);

// Per-channel requant constants of y_c = x * M_c + A_c (M_c real, any sign; A_c an offset in
// output units). One shift for all channels, the largest for which every |M_c| 2^shift and every
// (|A_c| + 1/2) 2^shift stay below 2^31 (so mul and add, rounding included, fit int32); mul_c =
// round(M_c 2^shift), add_c = round(A_c 2^shift) + 2^(shift-1). With every A_c = 0 and M_c > 0
// this is fixed_point / shared_shift (quantize.hpp). `what` names the layer in errors.
struct ChannelRequant {
  std::vector<int32_t> mul, add;
  int32_t shift = 0;
};
ChannelRequant channel_requant(const std::vector<double> &M, const std::vector<double> &A,
                               const std::string &what);

// Affine terms a linear layer may carry (MobileBERT): a bias b (added to the int32 sum in
// accumulator units, so it travels with the partial sums), and a NoNorm gamma * y + beta applied
// to the output and folded into the requant. Empty vectors mean none (b = 0, gamma = 1, beta = 0).
struct Affine {
  const std::vector<float> *bias = nullptr;
  const std::vector<float> *gamma = nullptr;
  const std::vector<float> *beta = nullptr;
};

// Per-output-channel symmetric int8 weights (max |w| / 127) and the requant of the layer's
// output: real out[c] = acc[c] * s_in * s_w[c] (+ b[c]), wanted at s_out, so
// M_c = gamma_c s_in s_w[c] / s_out and A_c = beta_c / s_out; the int32 bias is
// round(b_c / (s_in s_w[c])). Without affine terms this is exactly the Llama quantizer's rule.
weights::QLinear quantize_linear(const std::vector<float> &w, int out, int in, double s_in,
                                 double s_out, const Affine &affine = {},
                                 const std::string &what = "linear");

// One requant of a per-tensor int32 value by the real multiplier M.
mcu_rqs_t per_tensor_rqs(double M);

// Two int8 inputs at scales s_a, s_b summed into scale s_y with one shared shift.
mcu_add_rq_t add_rq(double s_a, double s_b, double s_y);

// The I-BERT softmax constants at score scale s (Kim et al. 2021, kernels/README.md).
mcu_softmax_ibert_t ibert_softmax(double s);

}  // namespace mcuemu::model::qutil
