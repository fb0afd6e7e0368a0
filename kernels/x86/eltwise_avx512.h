/* Host-only AVX-512 (F + DQ) paths of the element-wise requantizing kernels and of RMSNorm, for
 * x86-64. Same contracts as the portable kernels (requant.h, eltwise.h, norm.h), the same
 * results bit for bit: every step is the portable kernel's int64 arithmetic, eight lanes at a
 * time. Only to be called when mcu_have_avx512dq() says the CPU has the extensions. */
#ifndef MCU_ELTWISE_AVX512_H
#define MCU_ELTWISE_AVX512_H

#include "../eltwise.h"
#include "../norm.h"
#include "../requant.h"
#include "../softmax.h"

#ifdef __cplusplus
extern "C" {
#endif

int mcu_have_avx512dq(void);

void mcu_rqs_s32_s8_avx512(const mcu_rqs_t *p, const int32_t *x, int8_t *y, size_t n);
void mcu_rqs_s32_s8_per_channel_avx512(const mcu_rqs_pc_t *p, const int32_t *x, int8_t *y,
                                       size_t rows, size_t channels);
void mcu_add_rq_s8_avx512(const mcu_add_rq_t *p, const int8_t *a, const int8_t *b, int8_t *y,
                          size_t n);
void mcu_mul_rq_s8_avx512(const mcu_mul_rq_t *p, const int8_t *a, const int8_t *b, int8_t *y,
                          size_t n);
/* RMSNorm: the per-element division by the row's root is done in double precision and then
 * corrected to the exact truncated int64 quotient (exact for |numerator| < 2^53, which holds
 * when |zx| < MCU_RMSNORM_AVX512_MAX_ZX: |x + zx| < 2^22 and |w| < 2^31). */
#define MCU_RMSNORM_AVX512_MAX_ZX ((1 << 22) - 256)
void mcu_rmsnorm_s8_avx512(const mcu_rmsnorm_t *p, const int8_t *x, int8_t *y, size_t rows,
                           size_t D);

/* The table softmax (mcu_softmax_ibert_s8_table), the same results bit for bit for every table
 * and row the portable kernel is defined for (no int64 overflow): each element's quotient
 * (255 e) / S is taken in double precision and corrected to C's int64 quotient in the rows whose
 * terms are all >= 0 with a sum up to MCU_SOFTMAX_AVX512_MAX_ENTRY (255 S < 2^53); other rows go
 * the portable way. */
#define MCU_SOFTMAX_AVX512_MAX_ENTRY (((int64_t)1 << 53) / 255 - 1)
void mcu_softmax_ibert_s8_table_avx512(const int64_t table[256], const int8_t *x, int8_t *y,
                                       size_t rows, size_t n, size_t ld);

#ifdef __cplusplus
}
#endif
#endif
