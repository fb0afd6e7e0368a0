/* Host-only fast paths of mcu_gemv_s8_s32 for x86-64 (AVX2, AVX-512BW, AVX-512 VNNI). Same
 * contract, same results bit for bit: int8 is widened to int16 and multiplied with madd_epi16 into
 * int32 pairs, which is exact (no int16 saturation, unlike maddubs). The caller picks one at run
 * time with mcu_gemv_s8_s32_best(); these must only be called when the CPU has the extension. */
#ifndef MCU_GEMV_AVX_H
#define MCU_GEMV_AVX_H

#include "../gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*mcu_gemv_fn)(const mcu_gemv_t *, const int8_t *, const int8_t *, const int32_t *,
                            int32_t *, size_t, size_t);

void mcu_gemv_s8_s32_avx2(const mcu_gemv_t *p, const int8_t *W, const int8_t *x,
                          const int32_t *bias, int32_t *y, size_t out, size_t in);
void mcu_gemv_s8_s32_avx512(const mcu_gemv_t *p, const int8_t *W, const int8_t *x,
                            const int32_t *bias, int32_t *y, size_t out, size_t in);
/* AVX-512 VNNI (vpdpbusd, four rows at a time): x is shifted to uint8 once, the shift is taken
 * back out with each row's sum of weights; exact, the same results. */
void mcu_gemv_s8_s32_avx512vnni(const mcu_gemv_t *p, const int8_t *W, const int8_t *x,
                                const int32_t *bias, int32_t *y, size_t out, size_t in);

/* The fastest variant this CPU supports (falls back to the portable kernel), and its name. */
mcu_gemv_fn mcu_gemv_s8_s32_best(const char **name);

#ifdef __cplusplus
}
#endif
#endif
