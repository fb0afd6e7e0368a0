#include "misc.h"

void mcu_embedding_row_s8(const int8_t *table, size_t dim, size_t row, int8_t *y) {
  const int8_t *src = table + row * dim;
  for (size_t j = 0; j < dim; ++j) y[j] = src[j];
}

size_t mcu_argmax_s32(const int32_t *x, size_t n, int32_t *max_value) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  if (max_value) *max_value = x[best];
  return best;
}
