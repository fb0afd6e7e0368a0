/* Integer normalisations over rows of D int8 values (Deeploy iRMSNorm_s8 / Layernorm_s8 style).
 *
 * RMSNorm:   v = x + zx;  s = sum v^2;  ms = tdiv(s << 2k, D) + 1;  r = isqrt(ms)
 *            y = clamp((tdiv(v w, r) >> log2D) + zy, -128, 127)
 * LayerNorm: v = x + zx;  mean = tdiv(sum v, D);  c = v - mean
 *            var = tdiv((sum c^2) << 2k, D) + 1;  sd = isqrt(var)
 *            y = clamp(((tdiv(c w, sd) + bias) >> log2D) + zy, -128, 127)
 * NoNorm (MobileBERT's element-wise affine): y = clamp((((x + zx) mul[j] + add[j]) >> shift) + zy)
 *
 * tdiv truncates toward zero, isqrt is floor(sqrt), all products in 64 bits. k = 0 is Deeploy's
 * kernel; k > 0 gives the root k more bits (the quantizer scales w by 2^k to match). */
#ifndef MCU_NORM_H
#define MCU_NORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const int32_t *w; /* (D) gamma in fixed point */
  int32_t zx;
  int32_t log2D; /* output shift, 0..31 */
  int32_t zy;
  int32_t k; /* extra fractional bits of the root, 0..15 */
} mcu_rmsnorm_t;

typedef struct {
  const int32_t *w;    /* (D) */
  const int32_t *bias; /* (D) */
  int32_t zx;
  int32_t log2D;
  int32_t zy;
  int32_t k;
} mcu_layernorm_t;

typedef struct {
  const int32_t *mul; /* (D) */
  const int32_t *add; /* (D) beta + rounding */
  int32_t zx;
  int32_t shift;
  int32_t zy, lo, hi;
} mcu_nonorm_t;

/* floor(sqrt(v)) for v >= 0, exact (bitwise method, no division, no floating point). */
uint64_t mcu_isqrt_u64(uint64_t v);

void mcu_rmsnorm_s8(const mcu_rmsnorm_t *p, const int8_t *x, int8_t *y, size_t rows, size_t D);
void mcu_layernorm_s8(const mcu_layernorm_t *p, const int8_t *x, int8_t *y, size_t rows, size_t D);
void mcu_nonorm_s8(const mcu_nonorm_t *p, const int8_t *x, int8_t *y, size_t rows, size_t D);

#ifdef __cplusplus
}
#endif
#endif
