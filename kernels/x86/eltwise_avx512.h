/* Host-only AVX-512 (F + DQ) paths of the element-wise requantizing kernels and of RMSNorm, for
 * x86-64. Same contracts as the portable kernels (requant.h, eltwise.h, norm.h), the same
 * results bit for bit: every step is the portable kernel's int64 arithmetic, eight lanes at a
 * time. Only to be called when mcu_have_avx512dq() says the CPU has the extensions. */
#ifndef MCU_ELTWISE_AVX512_H
#define MCU_ELTWISE_AVX512_H

#include "../eltwise.h"
#include "../norm.h"
#include "../requant.h"

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

#ifdef __cplusplus
}
#endif
#endif
