/* Embedding row copy and arg-max. */
#ifndef MCU_MISC_H
#define MCU_MISC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y[j] = table[row * dim + j] for j < dim. */
void mcu_embedding_row_s8(const int8_t *table /* (rows, dim) */, size_t dim, size_t row,
                          int8_t *y /* (dim) */);

/* The largest of x[0..n) and the lowest index holding it; n >= 1. */
size_t mcu_argmax_s32(const int32_t *x, size_t n, int32_t *max_value);

#ifdef __cplusplus
}
#endif
#endif
