#include "softmax.h"

static int32_t row_max(const int8_t *x, size_t n) {
  int32_t m = x[0];
  for (size_t j = 1; j < n; ++j)
    if (x[j] > m) m = x[j];
  return m;
}

static int64_t ibert_exp(const mcu_softmax_ibert_t *p, int32_t d) {
  int32_t z = (-d) / p->log2;
  if (z > 31) z = 31;
  int64_t q = (int64_t)d + (int64_t)z * p->log2 + p->B;
  return ((int64_t)p->A * q * q + p->C) >> z;
}

void mcu_softmax_ibert_s8(const mcu_softmax_ibert_t *p, const int8_t *x, int8_t *y, size_t rows,
                          size_t n, size_t ld) {
  for (size_t r = 0; r < rows; ++r) {
    const int8_t *xr = x + r * ld;
    int8_t *yr = y + r * ld;
    int32_t m = row_max(xr, n);
    int64_t S = 0;
    for (size_t j = 0; j < n; ++j) S += ibert_exp(p, (int32_t)xr[j] - m);
    for (size_t j = 0; j < n; ++j) {
      /* The exponentials are recomputed rather than stored: no scratch buffer is needed. */
      int64_t v = S != 0 ? (ibert_exp(p, (int32_t)xr[j] - m) * 255) / S : 0;
      yr[j] = (int8_t)(v - 128);
    }
  }
}

void mcu_softmax_itamax_s8(const int8_t *x, int8_t *y, size_t rows, size_t n, size_t ld) {
  for (size_t r = 0; r < rows; ++r) {
    const int8_t *xr = x + r * ld;
    int8_t *yr = y + r * ld;
    int32_t m = row_max(xr, n);
    int32_t S = 0;
    for (size_t j = 0; j < n; ++j) S += 256 >> ((m - xr[j] + 16) >> 5);
    int32_t inv = (255 * 256) / S;
    for (size_t j = 0; j < n; ++j) yr[j] = (int8_t)((inv >> ((m - xr[j] + 16) >> 5)) - 128);
  }
}

void mcu_softmax_ibert_table(const mcu_softmax_ibert_t *p, int64_t table[256]) {
  for (int k = 0; k < 256; ++k) table[k] = ibert_exp(p, -k);
}

void mcu_softmax_ibert_s8_table(const int64_t table[256], const int8_t *x, int8_t *y, size_t rows,
                                size_t n, size_t ld) {
  for (size_t r = 0; r < rows; ++r) {
    const int8_t *xr = x + r * ld;
    int8_t *yr = y + r * ld;
    const int32_t m = row_max(xr, n);
    int64_t S = 0;
    for (size_t j = 0; j < n; ++j) S += table[m - xr[j]];
    for (size_t j = 0; j < n; ++j) {
      const int64_t v = S != 0 ? (table[m - xr[j]] * 255) / S : 0;
      yr[j] = (int8_t)(v - 128);
    }
  }
}
