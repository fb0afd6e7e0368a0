/* Integer activations. ReLU maps int8 to int8; GELU and hard-swish return int32 that a
 * RequantShift brings back to int8 (their output scale is folded into that requant).
 *
 *   relu:    y = max(x, z)
 *   gelu:    v = x + zx; q = min(|v|, -b); L = sgn(v) (one - (q + b)^2); y = v ((one + L) >> 1)
 *            (I-BERT i-GELU, Kim et al. 2021; b < 0 and one > 0 are quantizer constants)
 *   hswish:  v = x + zx; t = clamp(v + three, 0, six); y = v * t
 *            (hard-swish as SiLU stand-in, as Deeploy; the 1/6 goes into the next requant;
 *             |hswish - silu| <= 0.1423 in real units, worst at x = -3) */
#ifndef MCU_ACTIVATION_H
#define MCU_ACTIVATION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t zx;
  int32_t b;   /* < 0: -1.769 at the erf input scale */
  int32_t one; /* > 0: 1 / (0.2888 s_erf^2) */
} mcu_gelu_t;

typedef struct {
  int32_t zx;
  int32_t three; /* round(3 / s_x) */
  int32_t six;   /* 2 * three */
} mcu_hswish_t;

void mcu_relu_s8(const int8_t *x, int8_t *y, size_t n, int8_t z);
void mcu_gelu_s8_s32(const mcu_gelu_t *p, const int8_t *x, int32_t *y, size_t n);
void mcu_hswish_s8_s32(const mcu_hswish_t *p, const int8_t *x, int32_t *y, size_t n);

#ifdef __cplusplus
}
#endif
#endif
