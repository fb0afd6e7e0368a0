#include "eltwise_avx512.h"

#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))

int mcu_have_avx512dq(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

/* The portable mcu_rqs_apply on eight int64 lanes: (t >> shift) + zy, clamped to [lo, hi], and
 * stored as the low byte of each lane (masked: the first n lanes). */
AVX512 static inline void rqs_store(__m512i t, __m128i shift, __m512i zy, __m512i lo, __m512i hi,
                                    int8_t *y, __mmask8 m) {
  __m512i v = _mm512_add_epi64(_mm512_sra_epi64(t, shift), zy);
  v = _mm512_min_epi64(_mm512_max_epi64(v, lo), hi);
  _mm512_mask_cvtepi64_storeu_epi8(y, m, v);
}

static inline __mmask8 lanes(size_t n) {
  return n >= 8 ? (__mmask8)0xff : (__mmask8)((1u << n) - 1u);
}

AVX512 void mcu_rqs_s32_s8_avx512(const mcu_rqs_t *p, const int32_t *x, int8_t *y, size_t n) {
  const __m512i zx = _mm512_set1_epi64(p->zx), mul = _mm512_set1_epi64(p->mul),
                add = _mm512_set1_epi64(p->add), zy = _mm512_set1_epi64(p->zy),
                lo = _mm512_set1_epi64(p->lo), hi = _mm512_set1_epi64(p->hi);
  const __m128i sh = _mm_cvtsi32_si128(p->shift);
  for (size_t i = 0; i < n; i += 8) {
    const __mmask8 m = lanes(n - i);
    const __m512i v = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, x + i));
    const __m512i t = _mm512_add_epi64(_mm512_mullo_epi64(_mm512_add_epi64(v, zx), mul), add);
    rqs_store(t, sh, zy, lo, hi, y + i, m);
  }
}

AVX512 void mcu_rqs_s32_s8_per_channel_avx512(const mcu_rqs_pc_t *p, const int32_t *x, int8_t *y,
                                              size_t rows, size_t channels) {
  const __m512i zx = _mm512_set1_epi64(p->zx), zy = _mm512_set1_epi64(p->zy),
                lo = _mm512_set1_epi64(p->lo), hi = _mm512_set1_epi64(p->hi);
  const __m128i sh = _mm_cvtsi32_si128(p->shift);
  for (size_t r = 0; r < rows; ++r) {
    const int32_t *xr = x + r * channels;
    int8_t *yr = y + r * channels;
    for (size_t c = 0; c < channels; c += 8) {
      const __mmask8 m = lanes(channels - c);
      const __m512i v = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, xr + c));
      const __m512i mul = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, p->mul + c));
      const __m512i add = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, p->add + c));
      const __m512i t = _mm512_add_epi64(_mm512_mullo_epi64(_mm512_add_epi64(v, zx), mul), add);
      rqs_store(t, sh, zy, lo, hi, yr + c, m);
    }
  }
}

AVX512 static inline __m512i load_s8_as_s64(const int8_t *a, __mmask8 m) {
  return _mm512_cvtepi8_epi64(_mm_maskz_loadu_epi8((__mmask16)m, a));
}

AVX512 void mcu_add_rq_s8_avx512(const mcu_add_rq_t *p, const int8_t *a, const int8_t *b, int8_t *y,
                                 size_t n) {
  const __m512i za = _mm512_set1_epi64(p->za), zb = _mm512_set1_epi64(p->zb),
                ma = _mm512_set1_epi64(p->mul_a), mb = _mm512_set1_epi64(p->mul_b),
                add = _mm512_set1_epi64(p->add), zy = _mm512_set1_epi64(p->zy),
                lo = _mm512_set1_epi64(p->lo), hi = _mm512_set1_epi64(p->hi);
  const __m128i sh = _mm_cvtsi32_si128(p->shift);
  for (size_t i = 0; i < n; i += 8) {
    const __mmask8 m = lanes(n - i);
    const __m512i va = _mm512_add_epi64(load_s8_as_s64(a + i, m), za);
    const __m512i vb = _mm512_add_epi64(load_s8_as_s64(b + i, m), zb);
    const __m512i t = _mm512_add_epi64(
        _mm512_add_epi64(_mm512_mullo_epi64(va, ma), _mm512_mullo_epi64(vb, mb)), add);
    rqs_store(t, sh, zy, lo, hi, y + i, m);
  }
}

AVX512 void mcu_mul_rq_s8_avx512(const mcu_mul_rq_t *p, const int8_t *a, const int8_t *b, int8_t *y,
                                 size_t n) {
  const __m512i za = _mm512_set1_epi64(p->za), zb = _mm512_set1_epi64(p->zb),
                mul = _mm512_set1_epi64(p->mul), add = _mm512_set1_epi64(p->add),
                zy = _mm512_set1_epi64(p->zy), lo = _mm512_set1_epi64(p->lo),
                hi = _mm512_set1_epi64(p->hi);
  const __m128i sh = _mm_cvtsi32_si128(p->shift);
  for (size_t i = 0; i < n; i += 8) {
    const __mmask8 m = lanes(n - i);
    const __m512i va = _mm512_add_epi64(load_s8_as_s64(a + i, m), za);
    const __m512i vb = _mm512_add_epi64(load_s8_as_s64(b + i, m), zb);
    const __m512i t = _mm512_add_epi64(_mm512_mullo_epi64(_mm512_mullo_epi64(va, vb), mul), add);
    rqs_store(t, sh, zy, lo, hi, y + i, m);
  }
}

/* n / d truncated toward zero (C's int64 division), for |n| < 2^53 and 1 <= d < 2^53: the
 * double quotient is within one of the true one, and one correction step on the remainder
 * makes it exact. */
AVX512 static inline __m512i div_trunc(__m512i n, __m512i d, __m512d dd) {
  __m512i q = _mm512_cvttpd_epi64(_mm512_div_pd(_mm512_cvtepi64_pd(n), dd));
  const __m512i r = _mm512_sub_epi64(n, _mm512_mullo_epi64(q, d));
  const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi64(1);
  const __mmask8 pos = _mm512_cmpge_epi64_mask(n, zero);
  /* n >= 0: want 0 <= r < d. n < 0: want -d < r <= 0. */
  const __mmask8 down = (__mmask8)((pos & _mm512_cmplt_epi64_mask(r, zero)) |
                                   (~pos & _mm512_cmple_epi64_mask(r, _mm512_sub_epi64(zero, d))));
  const __mmask8 up =
      (__mmask8)((pos & _mm512_cmpge_epi64_mask(r, d)) | (~pos & _mm512_cmpgt_epi64_mask(r, zero)));
  q = _mm512_mask_sub_epi64(q, down, q, one);
  return _mm512_mask_add_epi64(q, up, q, one);
}

AVX512 void mcu_rmsnorm_s8_avx512(const mcu_rmsnorm_t *p, const int8_t *x, int8_t *y, size_t rows,
                                  size_t D) {
  const __m512i zx = _mm512_set1_epi64(p->zx), zy = _mm512_set1_epi64(p->zy),
                lo = _mm512_set1_epi64(-128), hi = _mm512_set1_epi64(127);
  const __m128i sh = _mm_cvtsi32_si128(p->log2D);
  for (size_t r = 0; r < rows; ++r) {
    const int8_t *xr = x + r * D;
    int8_t *yr = y + r * D;
    __m512i s = _mm512_setzero_si512();
    for (size_t j = 0; j < D; j += 8) {
      const __mmask8 m = lanes(D - j);
      const __m512i v = _mm512_maskz_add_epi64(m, load_s8_as_s64(xr + j, m), zx);
      s = _mm512_add_epi64(s, _mm512_mullo_epi64(v, v));
    }
    const int64_t ms = (_mm512_reduce_add_epi64(s) << (2 * p->k)) / (int64_t)D + 1;
    const int64_t root = (int64_t)mcu_isqrt_u64((uint64_t)ms);
    const __m512i d = _mm512_set1_epi64(root);
    const __m512d dd = _mm512_set1_pd((double)root);
    for (size_t j = 0; j < D; j += 8) {
      const __mmask8 m = lanes(D - j);
      const __m512i v = _mm512_add_epi64(load_s8_as_s64(xr + j, m), zx);
      const __m512i w = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, p->w + j));
      const __m512i q = div_trunc(_mm512_mullo_epi64(v, w), d, dd);
      /* clamp_s8(((v * w) / root >> log2D) + zy) */
      rqs_store(q, sh, zy, lo, hi, yr + j, m);
    }
  }
}

/* The table softmax (softmax.h: mcu_softmax_ibert_s8_table) with the per-element division done
 * in double precision, eight lanes at a time: the portable kernel's one int64 division per
 * element is most of its time. When a row's terms e are all >= 0 and their sum S is in
 * [1, MCU_SOFTMAX_AVX512_MAX_ENTRY], each numerator 255 e is below 2^53 (e <= S), so exact as a
 * double, and its quotient by S is in [0, 255]: 255 e times the double 1 / S is within
 * 255 * 2^-51 of it, truncation gives it or one less or one more, and one step on the
 * remainder makes it C's quotient. Other rows (a negative term, a term or a sum above MAX, or
 * S = 0) go the portable way. */
AVX512 void mcu_softmax_ibert_s8_table_avx512(const int64_t table[256], const int8_t *x, int8_t *y,
                                              size_t rows, size_t n, size_t ld) {
  const __m512i k255 = _mm512_set1_epi64(255), k128 = _mm512_set1_epi64(128),
                zero = _mm512_setzero_si512(), one = _mm512_set1_epi64(1);
  for (size_t r = 0; r < rows; ++r) {
    const int8_t *xr = x + r * ld;
    int8_t *yr = y + r * ld;
    int32_t m = xr[0];
    for (size_t j = 1; j < n; ++j)
      if (xr[j] > m) m = xr[j];
    /* S in unsigned arithmetic (no overflow to fear), with the terms' bitwise or (its sign: a
     * negative term) and their max: the sum is exact when every term is in [0, MAX] and the row
     * has at most 2^18 of them (2^18 MAX < 2^63). */
    uint64_t sum = 0;
    int64_t any = 0, top = 0;
    for (size_t j = 0; j < n; ++j) {
      const int64_t e = table[m - xr[j]];
      sum += (uint64_t)e;
      any |= e;
      top = e > top ? e : top;
    }
    const int fast = any >= 0 && top <= MCU_SOFTMAX_AVX512_MAX_ENTRY && n <= ((size_t)1 << 18) &&
                     sum <= (uint64_t)MCU_SOFTMAX_AVX512_MAX_ENTRY;
    const int64_t S = (int64_t)sum;
    if (!fast || S < 1) {
      mcu_softmax_ibert_s8_table(table, xr, yr, 1, n, n);
      continue;
    }
    const __m512i d = _mm512_set1_epi64(S), vm = _mm512_set1_epi64(m);
    const __m512d inv = _mm512_set1_pd(1.0 / (double)S);
    for (size_t j = 0; j < n; j += 8) {
      const __mmask8 k = lanes(n - j);
      const __m512i idx = _mm512_sub_epi64(vm, load_s8_as_s64(xr + j, k));
      const __m512i num =
          _mm512_mullo_epi64(_mm512_mask_i64gather_epi64(zero, k, idx, table, 8), k255);
      __m512i q = _mm512_cvttpd_epi64(_mm512_mul_pd(_mm512_cvtepi64_pd(num), inv));
      const __m512i rem = _mm512_sub_epi64(num, _mm512_mullo_epi64(q, d));
      q = _mm512_mask_sub_epi64(q, _mm512_cmplt_epi64_mask(rem, zero), q, one);
      q = _mm512_mask_add_epi64(q, _mm512_cmpge_epi64_mask(rem, d), q, one);
      _mm512_mask_cvtepi64_storeu_epi8(yr + j, k, _mm512_sub_epi64(q, k128));
    }
  }
}
