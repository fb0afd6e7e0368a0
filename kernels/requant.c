#include "requant.h"

void mcu_rqs_s32_s8(const mcu_rqs_t *p, const int32_t *x, int8_t *y, size_t n) {
  const int64_t zx = p->zx, mul = p->mul, add = p->add;
  for (size_t i = 0; i < n; ++i) {
    y[i] = mcu_rqs_apply(((int64_t)x[i] + zx) * mul + add, p->shift, p->zy, p->lo, p->hi);
  }
}

void mcu_rqs_s32_s8_per_channel(const mcu_rqs_pc_t *p, const int32_t *x, int8_t *y, size_t rows,
                                size_t channels) {
  const int64_t zx = p->zx;
  for (size_t r = 0; r < rows; ++r) {
    const int32_t *xr = x + r * channels;
    int8_t *yr = y + r * channels;
    for (size_t c = 0; c < channels; ++c) {
      int64_t t = ((int64_t)xr[c] + zx) * (int64_t)p->mul[c] + (int64_t)p->add[c];
      yr[c] = mcu_rqs_apply(t, p->shift, p->zy, p->lo, p->hi);
    }
  }
}

static int fits_i32(int64_t v) {
  return v >= INT32_MIN && v <= INT32_MAX;
}

size_t mcu_rqs_count_i32_overflow(const mcu_rqs_t *p, const int32_t *x, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t prod = ((int64_t)x[i] + p->zx) * (int64_t)p->mul;
    if (!fits_i32(prod) || !fits_i32(prod + p->add)) ++count;
  }
  return count;
}
