/* int8 x int8 -> int32 matrix-vector and matrix-matrix products.
 *
 *   gemv:  y[o]    = bias[o] + sum_i (W[o*in + i] + w_off) * (x[i] + x_off)
 *   gemm:  Y[m*ldy + n] = bias[n] + sum_k (A[m*lda + k] + a_off) * (B[n*ldb + k] + b_off)
 *
 * Weights are (out, in) row-major like nn.Linear, so GEMM computes A * B^T: Q.K^T reads the K
 * cache (tokens, head_dim) in place and A.V reads a V cache stored transposed (head_dim, tokens).
 * Accumulation is int32 and exact while in * (128 + |off|)^2 < 2^31 (checked by the wrappers).
 * `bias` may be NULL. Entries of Y with n >= N are not written. */
#ifndef MCU_GEMM_H
#define MCU_GEMM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t x_off; /* offset added to every activation */
  int32_t w_off; /* offset added to every weight (0 for symmetric weights) */
} mcu_gemv_t;

typedef struct {
  int32_t a_off;
  int32_t b_off;
} mcu_gemm_t;

void mcu_gemv_s8_s32(const mcu_gemv_t *p, const int8_t *W /* (out, in) */,
                     const int8_t *x /* (in) */, const int32_t *bias /* (out) or NULL */,
                     int32_t *y /* (out) */, size_t out, size_t in);

void mcu_gemm_s8_s32(const mcu_gemm_t *p, const int8_t *A /* (M, lda) */, size_t lda,
                     const int8_t *B /* (N, ldb) */, size_t ldb,
                     const int32_t *bias /* (N) or NULL */, int32_t *Y /* (M, ldy) */, size_t ldy,
                     size_t M, size_t N, size_t K);

#ifdef __cplusplus
}
#endif
#endif
