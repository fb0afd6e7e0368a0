/* Integer rotary position embedding (RoPE), pairs (2i, 2i+1) of each head as llama2.c.
 *
 *   a = x[2i] + zx;  b = x[2i+1] + zx
 *   t0 = a cos[i] - b sin[i];  t1 = a sin[i] + b cos[i]          (int32; cos, sin int16 Q`frac`)
 *   y[2i] = rqs(t0);  y[2i+1] = rqs(t1)                           (RequantShift, zx = 0 there)
 *
 * cos/sin are the rows of the position being rotated, made offline (no trigonometry on chip);
 * the requant brings the Q`frac` product back to the output scale. */
#ifndef MCU_ROPE_H
#define MCU_ROPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t zx;  /* input offset */
  int32_t mul; /* requant of the rotated int32 values */
  int32_t add;
  int32_t shift;
  int32_t zy, lo, hi;
} mcu_rope_t;

void mcu_rope_s8(const mcu_rope_t *p, const int8_t *x /* (n_heads, head_dim) */,
                 const int16_t *cos_row /* (head_dim/2) */,
                 const int16_t *sin_row /* (head_dim/2) */, int8_t *y /* (n_heads, head_dim) */,
                 size_t n_heads, size_t head_dim);

#ifdef __cplusplus
}
#endif
#endif
