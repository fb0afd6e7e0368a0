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

/* AVX-512 VNNI: vpdpbusd multiplies unsigned by signed bytes, four per 32-bit lane. x is
 * shifted to unsigned once per call (u = x + 128, exact in uint8), so
 *   sum(w * x) = sum(w * u) - 128 * sum(w),
 * and sum(w) comes from a second vpdpbusd against a vector of ones. Four rows share each load
 * of u; the ragged end of a row is a masked load (zeros add nothing). All sums are exact in
 * int32 for any row shorter than 2^31 / (255 * 128) = 65793 elements (checked by the caller's
 * dispatch: longer rows take the AVX-512BW path). */
#define MCU_VNNI_MAX_IN 65536u

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void mcu_gemv_s8_s32_avx512vnni(
    const mcu_gemv_t *p, const int8_t *W, const int8_t *x, const int32_t *bias, int32_t *y,
    size_t out, size_t in) {
  if (in > MCU_VNNI_MAX_IN || in == 0) {
    mcu_gemv_s8_s32_avx512(p, W, x, bias, y, out, in);
    return;
  }
  const int32_t w_off = p->w_off, x_off = p->x_off;
  const int32_t sum_x = w_off ? sum_s8(x, in) : 0;
  const int32_t off_const = (int32_t)in * w_off * x_off;
  const size_t nv = in / 64 * 64;
  const __mmask64 tail = (in - nv) ? (__mmask64)(~0ull >> (64 - (in - nv))) : 0;
  const __m512i flip = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);
  size_t o = 0;
  for (; o + 4 <= out; o += 4) {
    const int8_t *w0 = W + o * in, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
    __m512i d0 = _mm512_setzero_si512(), d1 = d0, d2 = d0, d3 = d0;
    __m512i s0 = d0, s1 = d0, s2 = d0, s3 = d0;
    for (size_t i = 0; i < nv; i += 64) {
      const __m512i u = _mm512_xor_si512(_mm512_loadu_si512(x + i), flip);
      const __m512i a = _mm512_loadu_si512(w0 + i), b = _mm512_loadu_si512(w1 + i);
      const __m512i c = _mm512_loadu_si512(w2 + i), d = _mm512_loadu_si512(w3 + i);
      d0 = _mm512_dpbusd_epi32(d0, u, a), s0 = _mm512_dpbusd_epi32(s0, ones, a);
      d1 = _mm512_dpbusd_epi32(d1, u, b), s1 = _mm512_dpbusd_epi32(s1, ones, b);
      d2 = _mm512_dpbusd_epi32(d2, u, c), s2 = _mm512_dpbusd_epi32(s2, ones, c);
      d3 = _mm512_dpbusd_epi32(d3, u, d), s3 = _mm512_dpbusd_epi32(s3, ones, d);
    }
    if (tail) {
      const __m512i u = _mm512_maskz_mov_epi8(
          tail, _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail, x + nv), flip));
      const __m512i a = _mm512_maskz_loadu_epi8(tail, w0 + nv);
      const __m512i b = _mm512_maskz_loadu_epi8(tail, w1 + nv);
      const __m512i c = _mm512_maskz_loadu_epi8(tail, w2 + nv);
      const __m512i d = _mm512_maskz_loadu_epi8(tail, w3 + nv);
      d0 = _mm512_dpbusd_epi32(d0, u, a), s0 = _mm512_dpbusd_epi32(s0, ones, a);
      d1 = _mm512_dpbusd_epi32(d1, u, b), s1 = _mm512_dpbusd_epi32(s1, ones, b);
      d2 = _mm512_dpbusd_epi32(d2, u, c), s2 = _mm512_dpbusd_epi32(s2, ones, c);
      d3 = _mm512_dpbusd_epi32(d3, u, d), s3 = _mm512_dpbusd_epi32(s3, ones, d);
    }
    const __m512i dd[4] = {d0, d1, d2, d3}, ss[4] = {s0, s1, s2, s3};
    for (int r = 0; r < 4; ++r) {
      const int32_t sum_w = _mm512_reduce_add_epi32(ss[r]);
      /* wrap-around arithmetic in uint32: exact whenever the true result fits in int32 */
      const uint32_t dot = (uint32_t)_mm512_reduce_add_epi32(dd[r]) - 128u * (uint32_t)sum_w;
      const int32_t b = bias ? bias[o + r] : 0;
      y[o + r] = (int32_t)((uint32_t)b + dot + (uint32_t)(x_off * sum_w) +
                           (uint32_t)(w_off * sum_x) + (uint32_t)off_const);
    }
  }
  if (o < out) mcu_gemv_s8_s32_avx512(p, W + o * in, x, bias ? bias + o : NULL, y + o, out - o, in);
}

mcu_gemv_fn mcu_gemv_s8_s32_best(const char **name) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
    if (name) *name = "avx512vnni";
    return mcu_gemv_s8_s32_avx512vnni;
  }
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

int mcu_have_avx512vnni(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
}

void mcu_vnni_pack_block(const int8_t *rows, size_t nrows, size_t in, int8_t *dst) {
  for (size_t k = 0; k < in; k += 4)
    for (size_t r = 0; r < 16; ++r)
      for (size_t j = 0; j < 4; ++j) dst[k * 16 + r * 4 + j] = r < nrows ? rows[r * in + k + j] : 0;
}

void mcu_vnni_unpack_row(const int8_t *block, size_t lane, size_t in, int8_t *dst) {
  for (size_t k = 0; k < in; k += 4)
    for (size_t j = 0; j < 4; ++j) dst[k + j] = block[k * 16 + lane * 4 + j];
}

/* One block (16 rows) against one row of u: four independent accumulators over the groups of
 * four inputs (vpdpbusd has a latency of several cycles), summed at the end. The weights
 * stream through in order, 64 bytes per group. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static __m512i block_dot(const int8_t *blk,
                                                                                const uint8_t *u,
                                                                                size_t groups) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  const int32_t *u4 = (const int32_t *)(const void *)u;
  size_t g = 0;
  for (; g + 4 <= groups; g += 4) {
    const int8_t *w = blk + g * 64;
    a0 = _mm512_dpbusd_epi32(a0, _mm512_set1_epi32(u4[g]), _mm512_loadu_si512(w));
    a1 = _mm512_dpbusd_epi32(a1, _mm512_set1_epi32(u4[g + 1]), _mm512_loadu_si512(w + 64));
    a2 = _mm512_dpbusd_epi32(a2, _mm512_set1_epi32(u4[g + 2]), _mm512_loadu_si512(w + 128));
    a3 = _mm512_dpbusd_epi32(a3, _mm512_set1_epi32(u4[g + 3]), _mm512_loadu_si512(w + 192));
  }
  for (; g < groups; ++g)
    a0 = _mm512_dpbusd_epi32(a0, _mm512_set1_epi32(u4[g]), _mm512_loadu_si512(blk + g * 64));
  return _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
}

/* With u = x + 128 (exact in uint8): sum(w * x) = sum(w * u) - 128 * sum(w), so
 *   y = bias + sum(w * u) + (x_off - 128) * sum(w) + w_off * sum(x) + in * w_off * x_off,
 * all in wrap-around int32 lanes, which is exact whenever the true result fits in int32 (the
 * caller checks that it does, as for every GEMV path). */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void mcu_gemv_s8_s32_vnni_packed(
    const mcu_gemv_t *p, const int8_t *Wp, const int32_t *row_sums, const int8_t *X, size_t rows,
    const int32_t *bias, int32_t *Y, size_t ldy, size_t out, size_t in, uint8_t *u) {
  const size_t groups = in / 4, blocks = (out + 15) / 16;
  for (size_t s = 0; s < rows; ++s)
    for (size_t i = 0; i < in; ++i) u[s * in + i] = (uint8_t)(X[s * in + i] ^ 0x80);
  const __m512i xo = _mm512_set1_epi32(p->x_off - 128);
  for (size_t b = 0; b < blocks; ++b) {
    const size_t o = b * 16, n = out - o < 16 ? out - o : 16;
    const __mmask16 m = (__mmask16)((1u << n) - 1u);
    const int8_t *blk = Wp + b * 16 * in;
    __m512i base = _mm512_mullo_epi32(xo, _mm512_maskz_loadu_epi32(m, row_sums + o));
    if (bias) base = _mm512_add_epi32(base, _mm512_maskz_loadu_epi32(m, bias + o));
    /* Every row of X against this block while it is in L1: the weights stream in once. */
    for (size_t s = 0; s < rows; ++s) {
      int32_t c = 0;
      if (p->w_off) {
        const int8_t *x = X + s * in;
        int32_t sum_x = 0;
        for (size_t i = 0; i < in; ++i) sum_x += x[i];
        c = (int32_t)((uint32_t)p->w_off * (uint32_t)sum_x +
                      (uint32_t)in * (uint32_t)p->w_off * (uint32_t)p->x_off);
      }
      const __m512i acc = block_dot(blk, u + s * in, groups);
      const __m512i y = _mm512_add_epi32(_mm512_add_epi32(acc, base), _mm512_set1_epi32(c));
      _mm512_mask_storeu_epi32(Y + s * ldy + o, m, y);
    }
  }
}
