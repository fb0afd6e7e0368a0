#include "gemv_avx.h"

#include <immintrin.h>

/* Scalar tail shared by both paths: the elements past the last full vector. */
static int32_t tail_dot(const int8_t *w, const int8_t *x, size_t from, size_t n, int32_t *sum_w) {
  int32_t acc = 0, sw = 0;
  for (size_t i = from; i < n; ++i) {
    acc += (int32_t)w[i] * x[i];
    sw += w[i];
  }
  *sum_w += sw;
  return acc;
}

static int32_t sum_s8(const int8_t *x, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; ++i) s += x[i];
  return s;
}

__attribute__((target("avx2"))) static int32_t hsum256(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

__attribute__((target("avx2"))) void mcu_gemv_s8_s32_avx2(const mcu_gemv_t *p, const int8_t *W,
                                                          const int8_t *x, const int32_t *bias,
                                                          int32_t *y, size_t out, size_t in) {
  const size_t nv = in / 16 * 16;
  const int32_t sum_x = p->w_off ? sum_s8(x, in) : 0;
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t o = 0; o < out; ++o) {
    const int8_t *w = W + o * in;
    __m256i acc = _mm256_setzero_si256(), accw = _mm256_setzero_si256();
    for (size_t i = 0; i < nv; i += 16) {
      __m256i w16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + i)));
      __m256i x16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + i)));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(w16, x16));
      if (p->x_off) accw = _mm256_add_epi32(accw, _mm256_madd_epi16(w16, ones));
    }
    int32_t sum_w = hsum256(accw);
    int32_t dot = hsum256(acc) + tail_dot(w, x, nv, in, &sum_w);
    int32_t b = bias ? bias[o] : 0;
    y[o] = b + dot + p->x_off * sum_w + p->w_off * sum_x + (int32_t)in * p->w_off * p->x_off;
  }
}

__attribute__((target("avx512f,avx512bw"))) void mcu_gemv_s8_s32_avx512(
    const mcu_gemv_t *p, const int8_t *W, const int8_t *x, const int32_t *bias, int32_t *y,
    size_t out, size_t in) {
  const size_t nv = in / 32 * 32;
  const int32_t sum_x = p->w_off ? sum_s8(x, in) : 0;
  const __m512i ones = _mm512_set1_epi16(1);
  for (size_t o = 0; o < out; ++o) {
    const int8_t *w = W + o * in;
    __m512i acc = _mm512_setzero_si512(), accw = _mm512_setzero_si512();
    for (size_t i = 0; i < nv; i += 32) {
      __m512i w16 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w + i)));
      __m512i x16 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(x + i)));
      acc = _mm512_add_epi32(acc, _mm512_madd_epi16(w16, x16));
      if (p->x_off) accw = _mm512_add_epi32(accw, _mm512_madd_epi16(w16, ones));
    }
    int32_t sum_w = _mm512_reduce_add_epi32(accw);
    int32_t dot = _mm512_reduce_add_epi32(acc) + tail_dot(w, x, nv, in, &sum_w);
    int32_t b = bias ? bias[o] : 0;
    y[o] = b + dot + p->x_off * sum_w + p->w_off * sum_x + (int32_t)in * p->w_off * p->x_off;
  }
}

mcu_gemv_fn mcu_gemv_s8_s32_best(const char **name) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bw")) {
    if (name) *name = "avx512bw";
    return mcu_gemv_s8_s32_avx512;
  }
  if (__builtin_cpu_supports("avx2")) {
    if (name) *name = "avx2";
    return mcu_gemv_s8_s32_avx2;
  }
  if (name) *name = "portable";
  return mcu_gemv_s8_s32;
}
