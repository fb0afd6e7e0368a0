#include "norm.h"

#include "requant.h"

uint64_t mcu_isqrt_u64(uint64_t v) {
  /* Digit-by-digit (base 4) square root: each step decides one bit of the result. */
  uint64_t res = 0;
  uint64_t bit = (uint64_t)1 << 62;
  while (bit > v) bit >>= 2;
  while (bit != 0) {
    if (v >= res + bit) {
      v -= res + bit;
      res = (res >> 1) + bit;
    } else {
      res >>= 1;
    }
    bit >>= 2;
  }
  return res;
}

static int8_t clamp_s8(int64_t v) {
  return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}

void mcu_rmsnorm_s8(const mcu_rmsnorm_t *p, const int8_t *x, int8_t *y, size_t rows, size_t D) {
  for (size_t r = 0; r < rows; ++r) {
    const int8_t *xr = x + r * D;
    int8_t *yr = y + r * D;
    int64_t s = 0;
    for (size_t j = 0; j < D; ++j) {
      int64_t v = (int64_t)xr[j] + p->zx;
      s += v * v;
    }
    int64_t ms = (s << (2 * p->k)) / (int64_t)D + 1;
    int64_t root = (int64_t)mcu_isqrt_u64((uint64_t)ms);
    for (size_t j = 0; j < D; ++j) {
      int64_t v = (int64_t)xr[j] + p->zx;
      yr[j] = clamp_s8(((v * p->w[j]) / root >> p->log2D) + p->zy);
    }
  }
}

void mcu_layernorm_s8(const mcu_layernorm_t *p, const int8_t *x, int8_t *y, size_t rows, size_t D) {
  for (size_t r = 0; r < rows; ++r) {
    const int8_t *xr = x + r * D;
    int8_t *yr = y + r * D;
    int64_t sum = 0;
    for (size_t j = 0; j < D; ++j) sum += (int64_t)xr[j] + p->zx;
    int64_t mean = sum / (int64_t)D;
    int64_t sq = 0;
    for (size_t j = 0; j < D; ++j) {
      int64_t c = (int64_t)xr[j] + p->zx - mean;
      sq += c * c;
    }
    int64_t var = (sq << (2 * p->k)) / (int64_t)D + 1;
    int64_t sd = (int64_t)mcu_isqrt_u64((uint64_t)var);
    for (size_t j = 0; j < D; ++j) {
      int64_t c = (int64_t)xr[j] + p->zx - mean;
      yr[j] = clamp_s8((((c * p->w[j]) / sd + p->bias[j]) >> p->log2D) + p->zy);
    }
  }
}

void mcu_nonorm_s8(const mcu_nonorm_t *p, const int8_t *x, int8_t *y, size_t rows, size_t D) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < D; ++j) {
      int64_t t = ((int64_t)x[r * D + j] + p->zx) * p->mul[j] + p->add[j];
      y[r * D + j] = mcu_rqs_apply(t, p->shift, p->zy, p->lo, p->hi);
    }
  }
}
