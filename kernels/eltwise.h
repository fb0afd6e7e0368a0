/* Element-wise int8 ops with requantization: the residual add and the SwiGLU product.
 *
 *   add:  t = (a + za) * mul_a + (b + zb) * mul_b + add
 *   mul:  t = (a + za) * (b + zb) * mul + add
 *   y = clamp((t >> shift) + zy, lo, hi)          (t in 64 bits; rounding folded into add)  */
#ifndef MCU_ELTWISE_H
#define MCU_ELTWISE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t za, zb;       /* input offsets */
  int32_t mul_a, mul_b; /* per-input multipliers (aligns the two scales) */
  int32_t add;
  int32_t shift;
  int32_t zy, lo, hi;
} mcu_add_rq_t;

typedef struct {
  int32_t za, zb;
  int32_t mul;
  int32_t add;
  int32_t shift;
  int32_t zy, lo, hi;
} mcu_mul_rq_t;

void mcu_add_rq_s8(const mcu_add_rq_t *p, const int8_t *a, const int8_t *b, int8_t *y, size_t n);
void mcu_mul_rq_s8(const mcu_mul_rq_t *p, const int8_t *a, const int8_t *b, int8_t *y, size_t n);

#ifdef __cplusplus
}
#endif
#endif
