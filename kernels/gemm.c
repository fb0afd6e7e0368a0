#include "gemm.h"

/* Sum with offsets split out: sum (w + wo)(x + xo) = sum w*x + xo*sum w + wo*sum x + n*wo*xo.
 * All terms are exact int32 under the header's precondition, and the plain w*x loop is what the
 * compiler vectorises; the split is an identity, not an approximation. */
static int32_t dot_s8(const int8_t *w, const int8_t *x, size_t n, int32_t w_off, int32_t x_off) {
  int32_t acc = 0, sum_w = 0, sum_x = 0;
  for (size_t i = 0; i < n; ++i) acc += (int32_t)w[i] * (int32_t)x[i];
  if (x_off != 0)
    for (size_t i = 0; i < n; ++i) sum_w += w[i];
  if (w_off != 0)
    for (size_t i = 0; i < n; ++i) sum_x += x[i];
  return acc + x_off * sum_w + w_off * sum_x + (int32_t)n * w_off * x_off;
}

void mcu_gemv_s8_s32(const mcu_gemv_t *p, const int8_t *W, const int8_t *x, const int32_t *bias,
                     int32_t *y, size_t out, size_t in) {
  for (size_t o = 0; o < out; ++o) {
    int32_t b = bias ? bias[o] : 0;
    y[o] = b + dot_s8(W + o * in, x, in, p->w_off, p->x_off);
  }
}

void mcu_gemm_s8_s32(const mcu_gemm_t *p, const int8_t *A, size_t lda, const int8_t *B, size_t ldb,
                     const int32_t *bias, int32_t *Y, size_t ldy, size_t M, size_t N, size_t K) {
  for (size_t m = 0; m < M; ++m) {
    for (size_t n = 0; n < N; ++n) {
      int32_t b = bias ? bias[n] : 0;
      Y[m * ldy + n] = b + dot_s8(B + n * ldb, A + m * lda, K, p->b_off, p->a_off);
    }
  }
}
