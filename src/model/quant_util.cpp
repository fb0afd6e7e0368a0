#include "model/quant_util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "model/quantize.hpp"

namespace mcuemu::model::qutil {

std::string key(int layer, const std::string &point) {
  return layer < 0 ? point : fmt::format("L{}.{}", layer, point);
}

double act_scale(float max_abs) {
  return max_abs > 0 ? max_abs / 127.0 : 1e-6;
}

int32_t round_half_up_shift(int32_t shift) {
  return shift > 0 ? int32_t{1} << (shift - 1) : 0;
}

int32_t checked_i32(double v, const char *what) {
  const double r = std::round(v);
  if (!(std::abs(r) <= 2147483647.0))
    throw std::runtime_error(fmt::format("quantize: {} = {} does not fit in int32", what, v));
  return static_cast<int32_t>(r);
}

double quantize_table(const std::vector<float> &v, std::vector<int8_t> &out) {
  float mx = 0;
  for (float a : v) mx = std::max(mx, std::abs(a));
  const double s = mx > 0 ? mx / 127.0 : 1.0;
  out.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = static_cast<int8_t>(std::clamp(std::lround(v[i] / s), -127L, 127L));
  return s;
}

ChannelRequant channel_requant(const std::vector<double> &M, const std::vector<double> &A,
                               const std::string &what) {
  double m = 0, a = 0;
  for (double v : M) {
    if (!std::isfinite(v))
      throw std::runtime_error(fmt::format("quantize: {}: multiplier {} is not finite", what, v));
    m = std::max(m, std::abs(v));
  }
  for (double v : A) {
    if (!std::isfinite(v))
      throw std::runtime_error(fmt::format("quantize: {}: offset {} is not finite", what, v));
    a = std::max(a, std::abs(v));
  }
  if (!(m > 0)) throw std::runtime_error(fmt::format("quantize: {}: every multiplier is 0", what));
  constexpr double kLimit = 2147483647.0;
  // Largest shift with m 2^shift < 2^31 (as shared_shift), then with (a + 1/2) 2^shift < 2^31.
  int shift = shared_shift({m});
  while (shift > 0 && (a + 0.5) * std::ldexp(1.0, shift) >= kLimit) --shift;
  if ((a + 0.5) * std::ldexp(1.0, shift) >= kLimit)
    throw std::runtime_error(fmt::format("quantize: {}: offset {} too large", what, a));
  ChannelRequant r;
  r.shift = shift;
  r.mul.resize(M.size());
  r.add.resize(M.size());
  for (size_t c = 0; c < M.size(); ++c) {
    r.mul[c] = checked_i32(M[c] * std::ldexp(1.0, shift), "requant mul");
    const double add =
        std::round(A.empty() ? 0.0 : A[c] * std::ldexp(1.0, shift)) + round_half_up_shift(shift);
    r.add[c] = checked_i32(add, "requant add");
  }
  return r;
}

weights::QLinear quantize_linear(const std::vector<float> &w, int out, int in, double s_in,
                                 double s_out, const Affine &affine, const std::string &what) {
  weights::QLinear q;
  q.out = out;
  q.in = in;
  q.w.resize(static_cast<size_t>(out) * in);
  std::vector<double> M(out), A;
  if (affine.beta) A.resize(out);
  if (affine.bias) q.bias.resize(out);
  for (int o = 0; o < out; ++o) {
    const float *row = w.data() + static_cast<size_t>(o) * in;
    float m = 0;
    for (int i = 0; i < in; ++i) m = std::max(m, std::abs(row[i]));
    const double s_w = m > 0 ? m / 127.0 : 1.0;
    for (int i = 0; i < in; ++i)
      q.w[static_cast<size_t>(o) * in + i] =
          static_cast<int8_t>(std::clamp(std::lround(row[i] / s_w), -127L, 127L));
    const double g = affine.gamma ? (*affine.gamma)[o] : 1.0;
    M[o] = g * s_in * s_w / s_out;
    if (affine.beta) A[o] = (*affine.beta)[o] / s_out;
    if (affine.bias) q.bias[o] = checked_i32((*affine.bias)[o] / (s_in * s_w), "linear bias");
  }
  const ChannelRequant r = channel_requant(M, A, what);
  q.rq_mul = r.mul;
  q.rq_add = r.add;
  q.rq_shift = r.shift;
  return q;
}

mcu_rqs_t per_tensor_rqs(double M) {
  const FixedPoint f = fixed_point(M);
  return {0, f.mul, round_half_up_shift(f.shift), f.shift, 0, -128, 127};
}

mcu_add_rq_t add_rq(double s_a, double s_b, double s_y) {
  const double Ma = s_a / s_y, Mb = s_b / s_y;
  const int32_t shift = shared_shift({Ma, Mb});
  return {0,
          0,
          checked_i32(Ma * std::ldexp(1.0, shift), "residual mul_a"),
          checked_i32(Mb * std::ldexp(1.0, shift), "residual mul_b"),
          round_half_up_shift(shift),
          shift,
          0,
          -128,
          127};
}

mcu_softmax_ibert_t ibert_softmax(double s) {
  // exp(p) ~ 0.3585 (p + 1.353)^2 + 0.344 with p = d * s (Kim et al. 2021).
  return {1, checked_i32(std::floor(1.353 / s), "softmax B"),
          checked_i32(std::floor(0.344 / (0.3585 * s * s)), "softmax C"),
          checked_i32(std::floor(std::log(2.0) / s), "softmax log2")};
}

}  // namespace mcuemu::model::qutil
