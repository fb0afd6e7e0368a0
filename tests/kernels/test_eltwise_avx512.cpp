// The AVX-512 element-wise kernels and RMSNorm (kernels/x86/eltwise_avx512.h) against the
// portable kernels: random and extreme inputs, ragged lengths (the masked tails), every shift,
// clamps narrower than int8, large offsets and multipliers. The golden vectors reach these paths
// through the C++ wrappers in the per-kernel tests; here they are compared element by element.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "mcu_kernels.h"
#ifdef MCU_HAVE_X86_FASTPATH
#include "x86/eltwise_avx512.h"
#endif

#ifdef MCU_HAVE_X86_FASTPATH
namespace {

struct Rng {
  uint64_t s;
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 32);
  }
  int32_t in(int32_t lo, int32_t hi) {  // inclusive
    const auto span = static_cast<uint64_t>(static_cast<int64_t>(hi) - lo + 1);
    return static_cast<int32_t>(lo + static_cast<int64_t>(next() % span));
  }
  int8_t s8() { return static_cast<int8_t>(next() >> 24); }
};

template <typename T>
std::vector<T> fill(Rng &r, size_t n, int32_t lo, int32_t hi) {
  std::vector<T> v(n);
  for (auto &e : v) e = static_cast<T>(r.in(lo, hi));
  if (n > 1) v[0] = static_cast<T>(lo), v[n - 1] = static_cast<T>(hi);
  return v;
}

#define SKIP_WITHOUT_AVX512 \
  if (!mcu_have_avx512dq()) GTEST_SKIP() << "CPU has no AVX-512 F/DQ/BW/VL"

TEST(EltwiseAvx512, RequantEqualsPortable) {
  SKIP_WITHOUT_AVX512;
  Rng r{1};
  for (int shift = 0; shift <= 31; ++shift) {
    for (size_t n : {1u, 7u, 8u, 9u, 31u, 512u, 1377u}) {
      const mcu_rqs_t p{r.in(-300, 300),
                        r.in(-(1 << 20), 1 << 20),
                        r.in(-(1 << 30), 1 << 30),
                        shift,
                        r.in(-10, 10),
                        r.in(-128, 0),
                        r.in(0, 127)};
      auto x = fill<int32_t>(r, n, std::numeric_limits<int32_t>::min() / 2,
                             std::numeric_limits<int32_t>::max() / 2);
      std::vector<int8_t> want(n + 1, 55), got(n + 1, 55);  // one byte past the end: untouched
      mcu_rqs_s32_s8(&p, x.data(), want.data(), n);
      mcu_rqs_s32_s8_avx512(&p, x.data(), got.data(), n);
      ASSERT_EQ(got, want) << "shift " << shift << " n " << n;
    }
  }
}

TEST(EltwiseAvx512, PerChannelRequantEqualsPortable) {
  SKIP_WITHOUT_AVX512;
  Rng r{2};
  for (int shift : {0, 1, 7, 15, 16, 24, 31}) {
    for (size_t ch : {1u, 5u, 8u, 64u, 172u, 512u}) {
      for (size_t rows : {1u, 3u}) {
        auto mul = fill<int32_t>(r, ch, -(1 << 24), 1 << 24);
        auto add = fill<int32_t>(r, ch, -(1 << 30), 1 << 30);
        const mcu_rqs_pc_t p{mul.data(), add.data(), r.in(-50, 50), shift, r.in(-5, 5), -128, 127};
        auto x = fill<int32_t>(r, rows * ch, -(1 << 26), 1 << 26);
        std::vector<int8_t> want(rows * ch + 1, 9), got(rows * ch + 1, 9);
        mcu_rqs_s32_s8_per_channel(&p, x.data(), want.data(), rows, ch);
        mcu_rqs_s32_s8_per_channel_avx512(&p, x.data(), got.data(), rows, ch);
        ASSERT_EQ(got, want) << "shift " << shift << " channels " << ch << " rows " << rows;
      }
    }
  }
}

TEST(EltwiseAvx512, AddAndMulEqualPortable) {
  SKIP_WITHOUT_AVX512;
  Rng r{3};
  for (int shift = 0; shift <= 31; shift += 3) {
    for (size_t n : {1u, 2u, 8u, 13u, 512u, 1376u}) {
      auto a = fill<int8_t>(r, n, -128, 127), b = fill<int8_t>(r, n, -128, 127);
      const mcu_add_rq_t pa{r.in(-128, 127),
                            r.in(-128, 127),
                            r.in(-(1 << 22), 1 << 22),
                            r.in(-(1 << 22), 1 << 22),
                            r.in(-(1 << 30), 1 << 30),
                            shift,
                            r.in(-3, 3),
                            r.in(-128, -1),
                            r.in(0, 127)};
      const mcu_mul_rq_t pm{r.in(-128, 127),
                            r.in(-128, 127),
                            r.in(-(1 << 22), 1 << 22),
                            r.in(-(1 << 30), 1 << 30),
                            shift,
                            r.in(-3, 3),
                            -128,
                            127};
      std::vector<int8_t> want(n + 1, 3), got(n + 1, 3);
      mcu_add_rq_s8(&pa, a.data(), b.data(), want.data(), n);
      mcu_add_rq_s8_avx512(&pa, a.data(), b.data(), got.data(), n);
      ASSERT_EQ(got, want) << "add_rq shift " << shift << " n " << n;
      mcu_mul_rq_s8(&pm, a.data(), b.data(), want.data(), n);
      mcu_mul_rq_s8_avx512(&pm, a.data(), b.data(), got.data(), n);
      ASSERT_EQ(got, want) << "mul_rq shift " << shift << " n " << n;
    }
  }
}

TEST(EltwiseAvx512, RmsNormEqualsPortable) {
  SKIP_WITHOUT_AVX512;
  Rng r{4};
  int cases = 0;
  for (size_t D : {1u, 3u, 8u, 64u, 512u, 513u}) {
    for (int k : {0, 4, 8, 15}) {
      for (int log2D : {0, 5, 9, 20, 31}) {
        for (int32_t zx : {0, -128, 127, 1000, -(MCU_RMSNORM_AVX512_MAX_ZX - 1)}) {
          // The portable kernel's domain: the shifted sum of squares fits in int64.
          const double v = 128.0 + std::abs(static_cast<double>(zx));
          if (static_cast<double>(D) * v * v * std::ldexp(1.0, 2 * k) >= std::ldexp(1.0, 62))
            continue;
          for (int32_t wmax : {127, 1 << 15, std::numeric_limits<int32_t>::max()}) {
            const size_t rows = 1 + (D + k) % 3;
            auto w = fill<int32_t>(r, D, -wmax, wmax);
            auto x = fill<int8_t>(r, rows * D, -128, 127);
            if (cases % 7 == 0)
              for (auto &v : x) v = 0;  // all zero: the root is 1 (x + zx may still not be 0)
            const mcu_rmsnorm_t p{w.data(), zx, log2D, r.in(-4, 4), k};
            std::vector<int8_t> want(rows * D + 1, 1), got(rows * D + 1, 1);
            mcu_rmsnorm_s8(&p, x.data(), want.data(), rows, D);
            mcu_rmsnorm_s8_avx512(&p, x.data(), got.data(), rows, D);
            ASSERT_EQ(got, want) << "D " << D << " k " << k << " log2D " << log2D << " zx " << zx
                                 << " wmax " << wmax;
            ++cases;
          }
        }
      }
    }
  }
}

// Quotients right at integer boundaries (numerator = root * m - 1, root * m, root * m + 1, for
// both signs): the double division must truncate like C's int64 division. D = 1, x = 0 and
// zx = z make the root isqrt(z^2 << 2k + 1) and the output (z * w) / root with log2D = 0.
TEST(EltwiseAvx512, RmsNormExactAtQuotientBoundaries) {
  SKIP_WITHOUT_AVX512;
  int checked = 0;
  for (int32_t z : {1, -1, 2, 3, -7}) {
    for (int k : {0, 7, 15}) {
      const uint64_t ms = (static_cast<uint64_t>(int64_t{z} * z) << (2 * k)) + 1;
      const int64_t root = static_cast<int64_t>(mcu_isqrt_u64(ms));
      for (int64_t m = -120; m <= 120; m += 7) {
        for (int64_t delta : {-1, 0, 1}) {
          const int64_t target = root * m + delta;
          if (target % z != 0) continue;
          const int32_t w = static_cast<int32_t>(target / z);
          const int8_t x = 0;
          const mcu_rmsnorm_t p{&w, z, 0, 0, k};
          int8_t want = 0, got = 0;
          mcu_rmsnorm_s8(&p, &x, &want, 1, 1);
          mcu_rmsnorm_s8_avx512(&p, &x, &got, 1, 1);
          ASSERT_EQ(got, want) << "z " << z << " k " << k << " w " << w;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 200);
}

// The table softmax: every element's (255 e) / S taken in double precision and corrected must be
// C's int64 quotient. Tables from i-BERT parameters, random tables whose rows sum up to the
// largest S the path takes (MCU_SOFTMAX_AVX512_MAX_ENTRY, so 255 e is just under 2^53) and
// beyond it, with negative entries, tables of equal entries (quotients 255 / n, many exactly
// whole), and a table of zeros (rows with a negative term, S < 1 or S too large go the portable
// way); ragged lengths and rows with ld > n (the bytes between rows and past the end untouched).
TEST(EltwiseAvx512, SoftmaxTableEqualsPortable) {
  SKIP_WITHOUT_AVX512;
  Rng r{7};
  std::vector<std::vector<int64_t>> tables;
  for (const mcu_softmax_ibert_t p :
       {mcu_softmax_ibert_t{358, 1423, 724931, 16}, mcu_softmax_ibert_t{1, 30, 500, 5},
        mcu_softmax_ibert_t{1 << 20, 1 << 10, 1 << 30, 40}}) {
    std::vector<int64_t> t(256);
    mcu_softmax_ibert_table(&p, t.data());
    tables.push_back(t);
  }
  const int64_t big = MCU_SOFTMAX_AVX512_MAX_ENTRY;
  for (int64_t top : {int64_t{255}, int64_t{1} << 31, big / 300, big / 2, big}) {
    std::vector<int64_t> t(256), u(256);
    for (auto &e : t) e = static_cast<int64_t>((uint64_t{r.next()} << 32 | r.next()) % (top + 1));
    for (auto &e : u)
      e = static_cast<int64_t>((uint64_t{r.next()} << 32 | r.next()) % (2 * top + 1)) - top;
    t[0] = top, u[0] = top, u[255] = -top;
    tables.push_back(t);
    tables.push_back(u);
  }
  for (int64_t c : {int64_t{0}, int64_t{1}, int64_t{3}, big / 300, big / 256, big})
    tables.push_back(std::vector<int64_t>(256, c));
  // One term above MAX (255 e over 2^53, its row the portable way) among small ones.
  std::vector<int64_t> one_big(256, 7);
  one_big[0] = big + 1;
  one_big[5] = (int64_t{1} << 55) + 3;
  tables.push_back(one_big);
  int rows_checked = 0;
  for (const auto &table : tables) {
    for (size_t n : {1u, 2u, 7u, 8u, 9u, 17u, 51u, 64u, 85u, 130u, 255u, 256u, 300u}) {
      for (int span : {0, 3, 40, 255}) {  // how far the row's values spread below its max
        const size_t rows = 3, ld = n + 5;
        std::vector<int8_t> x(rows * ld, 0);
        for (size_t i = 0; i < rows; ++i)
          for (size_t j = 0; j < n; ++j) {
            const int32_t top = r.in(-128 + span, 127);
            x[i * ld + j] = static_cast<int8_t>(r.in(top - span, top));
          }
        std::vector<int8_t> want(rows * ld + 1, 55), got(rows * ld + 1, 55);
        mcu_softmax_ibert_s8_table(table.data(), x.data(), want.data(), rows, n, ld);
        mcu_softmax_ibert_s8_table_avx512(table.data(), x.data(), got.data(), rows, n, ld);
        ASSERT_EQ(got, want) << "table[0] " << table[0] << " n " << n << " span " << span;
        rows_checked += static_cast<int>(rows);
      }
    }
  }
  EXPECT_GT(rows_checked, 1000);
}

}  // namespace
#endif
