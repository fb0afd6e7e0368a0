#include "activation.h"

void mcu_relu_s8(const int8_t *x, int8_t *y, size_t n, int8_t z) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] > z ? x[i] : z;
}

void mcu_gelu_s8_s32(const mcu_gelu_t *p, const int8_t *x, int32_t *y, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    int32_t v = (int32_t)x[i] + p->zx;
    int32_t q = v < 0 ? -v : v;
    if (q > -p->b) q = -p->b;
    int32_t d = q + p->b;
    int32_t sgn = (v > 0) - (v < 0);
    int32_t L = sgn * (p->one - d * d);
    y[i] = v * ((p->one + L) >> 1);
  }
}

void mcu_hswish_s8_s32(const mcu_hswish_t *p, const int8_t *x, int32_t *y, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    int32_t v = (int32_t)x[i] + p->zx;
    int32_t t = v + p->three;
    if (t < 0) t = 0;
    if (t > p->six) t = p->six;
    y[i] = v * t;
  }
}
