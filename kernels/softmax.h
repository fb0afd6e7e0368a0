/* Integer softmax over rows of int8 scores; the output is a probability in units of 1/255 with
 * zero point -128 (so the A.V product uses a_off = 128).
 *
 * I-BERT (Deeploy Softmax_s8), per row:
 *   m = max x;  d = x - m;  z = min(tdiv(-d, log2), 31);  p = d + z*log2
 *   e = (A (p + B)^2 + C) >> z;   S = sum e;   y = tdiv(255 e, S) - 128      (64-bit)
 * ITAMax (Deeploy ITAMax_s8; e^x replaced by 2^-round((m-x)/32)), per row:
 *   s = (m - x + 16) >> 5;  S = sum (256 >> s);  inv = tdiv(255*256, S);  y = (inv >> s) - 128
 *
 * Rows are `n` long with row stride `ld` (>= n) in both x and y; y[j] for j >= n is not written. */
#ifndef MCU_SOFTMAX_H
#define MCU_SOFTMAX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t A, B, C; /* exp(p) ~ A (p + B)^2 + C at the input scale */
  int32_t log2;    /* ln 2 at the input scale, > 0 */
} mcu_softmax_ibert_t;

void mcu_softmax_ibert_s8(const mcu_softmax_ibert_t *p, const int8_t *x, int8_t *y, size_t rows,
                          size_t n, size_t ld);
void mcu_softmax_itamax_s8(const int8_t *x, int8_t *y, size_t rows, size_t n, size_t ld);

/* I-BERT with the exponentials looked up: d = x - m is one of -255 .. 0, so e depends on -d
 * alone. mcu_softmax_ibert_table fills table[k] = e(d = -k) once per parameter set;
 * mcu_softmax_ibert_s8_table then gives exactly mcu_softmax_ibert_s8's results (a host speed-up:
 * the chip's kernel computes e per element). */
void mcu_softmax_ibert_table(const mcu_softmax_ibert_t *p, int64_t table[256]);
void mcu_softmax_ibert_s8_table(const int64_t table[256], const int8_t *x, int8_t *y, size_t rows,
                                size_t n, size_t ld);

#ifdef __cplusplus
}
#endif
#endif
