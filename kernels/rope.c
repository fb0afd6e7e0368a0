#include "rope.h"

#include "requant.h"

void mcu_rope_s8(const mcu_rope_t *p, const int8_t *x, const int16_t *cos_row,
                 const int16_t *sin_row, int8_t *y, size_t n_heads, size_t head_dim) {
  for (size_t h = 0; h < n_heads; ++h) {
    const int8_t *xh = x + h * head_dim;
    int8_t *yh = y + h * head_dim;
    for (size_t i = 0; i < head_dim / 2; ++i) {
      int32_t a = (int32_t)xh[2 * i] + p->zx, b = (int32_t)xh[2 * i + 1] + p->zx;
      int32_t t0 = a * cos_row[i] - b * sin_row[i];
      int32_t t1 = a * sin_row[i] + b * cos_row[i];
      yh[2 * i] = mcu_rqs_apply((int64_t)t0 * p->mul + p->add, p->shift, p->zy, p->lo, p->hi);
      yh[2 * i + 1] = mcu_rqs_apply((int64_t)t1 * p->mul + p->add, p->shift, p->zy, p->lo, p->hi);
    }
  }
}
