#include <algorithm>

#include "mcu_kernels.h"
#include "runtime/kernels.hpp"
#include "vectors.hpp"
#ifdef MCU_HAVE_X86_FASTPATH
#include "x86/gemv_avx.h"
#endif

using mcuemu::kernels::GemvMatrix;
using mcuemu::test::exact;
using mcuemu::test::load_cases;

namespace {
using GemvFn = void (*)(const mcu_gemv_t *, const int8_t *, const int8_t *, const int32_t *,
                        int32_t *, size_t, size_t);

void check_all_cases(GemvFn fn, const char *path) {
  for (const auto &c : load_cases("gemv")) {
    const mcu_gemv_t p{c.i32("x_off"), c.i32("w_off")};
    auto W = c.data<int8_t>("W");
    auto x = c.data<int8_t>("x");
    std::vector<int32_t> bias =
        c.attr("has_bias") ? c.data<int32_t>("bias") : std::vector<int32_t>{};
    std::vector<int32_t> y(c.attr("out"), 0);
    fn(&p, W.data(), x.data(), bias.empty() ? nullptr : bias.data(), y.data(), c.attr("out"),
       c.attr("in"));
    EXPECT_TRUE(exact(y, c.data<int32_t>("want"))) << c.name() << " on path " << path;
  }
}
}  // namespace

TEST(Gemv, PortableMatchesGolden) {
  check_all_cases(mcu_gemv_s8_s32, "portable");
}

TEST(Gemv, WrapperDispatchMatchesGolden) {
  for (const auto &c : load_cases("gemv")) {
    const mcu_gemv_t p{c.i32("x_off"), c.i32("w_off")};
    auto W = c.data<int8_t>("W");
    auto x = c.data<int8_t>("x");
    std::vector<int32_t> bias =
        c.attr("has_bias") ? c.data<int32_t>("bias") : std::vector<int32_t>{};
    std::vector<int32_t> y(c.attr("out"), 0);
    mcuemu::kernels::gemv(p, W, x, bias, y);
    EXPECT_TRUE(exact(y, c.data<int32_t>("want")))
        << c.name() << " on " << mcuemu::kernels::gemv_path();
  }
}

#ifdef MCU_HAVE_X86_FASTPATH
TEST(Gemv, Avx2MatchesGolden) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "CPU has no AVX2";
  check_all_cases(mcu_gemv_s8_s32_avx2, "avx2");
}

TEST(Gemv, Avx512MatchesGolden) {
  if (!__builtin_cpu_supports("avx512bw")) GTEST_SKIP() << "CPU has no AVX-512BW";
  check_all_cases(mcu_gemv_s8_s32_avx512, "avx512bw");
}

TEST(Gemv, Avx512VnniMatchesGolden) {
  if (!__builtin_cpu_supports("avx512vnni")) GTEST_SKIP() << "CPU has no AVX-512 VNNI";
  check_all_cases(mcu_gemv_s8_s32_avx512vnni, "avx512vnni");
}

// Fast paths against the portable kernel on every ragged length 1..200 with both offsets.
TEST(Gemv, FastPathsEqualPortableOnRaggedLengths) {
  uint32_t s = 12345;
  auto next = [&s] {
    s = s * 1664525u + 1013904223u;
    return static_cast<int8_t>(s >> 24);
  };
  for (size_t in = 1; in <= 200; ++in) {
    const size_t out = 1 + in % 9;  // 1..9 rows: the VNNI path's groups of four and the rest
    std::vector<int8_t> W(out * in), x(in);
    for (auto &v : W) v = next();
    for (auto &v : x) v = next();
    W[0] = -128;
    x[0] = -128;
    std::vector<int32_t> bias(out);
    for (size_t o = 0; o < out; ++o) bias[o] = static_cast<int32_t>(o * 99991) - 7;
    for (auto p : {mcu_gemv_t{0, 0}, mcu_gemv_t{-128, 0}, mcu_gemv_t{5, -3}}) {
      std::vector<int32_t> want(out), got(out);
      mcu_gemv_s8_s32(&p, W.data(), x.data(), bias.data(), want.data(), out, in);
      if (__builtin_cpu_supports("avx2")) {
        mcu_gemv_s8_s32_avx2(&p, W.data(), x.data(), bias.data(), got.data(), out, in);
        ASSERT_TRUE(exact(got, want)) << "avx2 in=" << in;
      }
      if (__builtin_cpu_supports("avx512bw")) {
        mcu_gemv_s8_s32_avx512(&p, W.data(), x.data(), bias.data(), got.data(), out, in);
        ASSERT_TRUE(exact(got, want)) << "avx512 in=" << in;
      }
      if (__builtin_cpu_supports("avx512vnni")) {
        mcu_gemv_s8_s32_avx512vnni(&p, W.data(), x.data(), bias.data(), got.data(), out, in);
        ASSERT_TRUE(exact(got, want)) << "avx512vnni in=" << in << " out=" << out;
        mcu_gemv_s8_s32_avx512vnni(&p, W.data(), x.data(), nullptr, got.data(), out, in);
        std::vector<int32_t> nobias(out);
        mcu_gemv_s8_s32(&p, W.data(), x.data(), nullptr, nobias.data(), out, in);
        ASSERT_TRUE(exact(got, nobias)) << "avx512vnni (no bias) in=" << in;
      }
    }
  }
}
#endif

// The packed weights against the golden vectors (rows padded up to whole blocks) and against
// the portable kernel, through GemvMatrix as the runtime uses it: both layouts, several rows
// of X at once, ragged out (1..40), in a multiple of 4 (4..1400), every offset, bias or not;
// the same matrices rearranged in caller memory (placed).
TEST(GemvMatrix, BothLayoutsMatchGolden) {
  for (const auto &c : load_cases("gemv")) {
    const mcu_gemv_t p{c.i32("x_off"), c.i32("w_off")};
    auto x = c.data<int8_t>("x");
    std::vector<int32_t> bias =
        c.attr("has_bias") ? c.data<int32_t>("bias") : std::vector<int32_t>{};
    for (auto layout : {GemvMatrix::Layout::Best, GemvMatrix::Layout::RowMajor}) {
      GemvMatrix m(c.data<int8_t>("W"), c.attr("out"), c.attr("in"), layout);
      std::vector<int32_t> y(c.attr("out"), 0);
      m.apply(p, x, 1, bias, y, y.size());
      EXPECT_TRUE(exact(y, c.data<int32_t>("want"))) << c.name() << " packed=" << m.packed();
    }
  }
}

TEST(GemvMatrix, PackedEqualsPortableOnRaggedShapes) {
  uint32_t s = 777;
  auto next = [&s] {
    s = s * 1664525u + 1013904223u;
    return static_cast<int8_t>(s >> 24);
  };
  int packed_seen = 0;
  for (size_t in : {4u, 8u, 12u, 60u, 64u, 68u, 172u, 256u, 260u, 512u, 1376u}) {
    for (size_t out : {1u, 3u, 15u, 16u, 17u, 31u, 32u, 33u, 40u}) {
      const size_t rows = 1 + (in + out) % 4;
      std::vector<int8_t> W(out * in), X(rows * in);
      for (auto &v : W) v = next();
      for (auto &v : X) v = next();
      W[0] = -128, W[out * in - 1] = 127, X[0] = -128, X[rows * in - 1] = 127;
      std::vector<int32_t> bias(out);
      for (size_t o = 0; o < out; ++o) bias[o] = static_cast<int32_t>(o * 7919) - 400000;
      // The matrix on its own, and placed: rearranged in caller memory (a weight arena's way),
      // room for exactly host_weight_bytes and a guard after it.
      const size_t need = GemvMatrix::host_weight_bytes(out, in);
      std::vector<int8_t> room(need + 64, int8_t{0x5a});
      std::copy(W.begin(), W.end(), room.begin());
      EXPECT_THROW(GemvMatrix(std::span<int8_t>(room).first(need - 1), out, in),
                   mcuemu::kernels::KernelError);
      GemvMatrix own(std::vector<int8_t>(W), out, in);
      GemvMatrix placed(std::span<int8_t>(room).first(need), out, in);
      ASSERT_TRUE(std::all_of(room.begin() + need, room.end(), [](int8_t v) { return v == 0x5a; }));
      ASSERT_EQ(placed.host_bytes(), own.host_bytes());
      ASSERT_EQ(placed.packed(), own.packed());
      packed_seen += own.packed();
      for (const GemvMatrix *mp : {&own, &placed}) {
        const GemvMatrix &m = *mp;
        for (size_t o = 0; o < out; ++o) {  // rows come back in order from either layout
          std::vector<int8_t> r(in);
          m.row(o, r);
          ASSERT_TRUE(std::equal(r.begin(), r.end(), W.begin() + o * in)) << "row " << o;
        }
        for (auto p :
             {mcu_gemv_t{0, 0}, mcu_gemv_t{128, 0}, mcu_gemv_t{-128, 0}, mcu_gemv_t{5, -3}}) {
          for (bool with_bias : {false, true}) {
            const size_t ldy = out + 3;  // a stride wider than out: the gaps stay untouched
            std::vector<int32_t> want(rows * ldy, -1), got(rows * ldy, -1);
            for (size_t r = 0; r < rows; ++r)
              mcu_gemv_s8_s32(&p, W.data(), X.data() + r * in, with_bias ? bias.data() : nullptr,
                              want.data() + r * ldy, out, in);
            m.apply(p, X, rows,
                    with_bias ? std::span<const int32_t>(bias) : std::span<const int32_t>{}, got,
                    ldy);
            ASSERT_TRUE(exact(got, want))
                << "in=" << in << " out=" << out << " rows=" << rows << " x_off=" << p.x_off
                << " w_off=" << p.w_off << " bias=" << with_bias << " packed=" << m.packed()
                << " placed=" << (mp == &placed);
          }
        }
      }
    }
  }
#ifdef MCU_HAVE_X86_FASTPATH
  if (mcu_have_avx512vnni()) {
    EXPECT_GT(packed_seen, 0) << "the packed layout was never taken";
  }
#endif
}

TEST(GemvMatrix, RejectsBadShapes) {
  EXPECT_THROW(GemvMatrix(std::vector<int8_t>(10), 3, 4), mcuemu::kernels::KernelError);
  GemvMatrix m(std::vector<int8_t>(32 * 8, 1), 32, 8);
  std::vector<int32_t> y(32);
  std::vector<int8_t> x(8), r(8);
  EXPECT_THROW(m.apply({0, 0}, std::span<const int8_t>(x).first(7), 1, {}, y, 32),
               mcuemu::kernels::KernelError);
  EXPECT_THROW(m.apply({0, 0}, x, 1, {}, std::span<int32_t>(y).first(31), 32),
               mcuemu::kernels::KernelError);
  EXPECT_THROW(m.row(32, r), mcuemu::kernels::KernelError);
}

// The packed GEMV on caller-kept storage (the KV cache's path): rows written one at a time with
// packed_index, against the portable kernel; and its shape checks.
TEST(GemvPacked, RowByRowStorageEqualsPortable) {
  if (!mcuemu::kernels::packed_gemv_available()) GTEST_SKIP() << "CPU has no AVX-512 VNNI";
  uint32_t s = 4242;
  auto next = [&s] {
    s = s * 1664525u + 1013904223u;
    return static_cast<int8_t>(s >> 24);
  };
  std::vector<uint8_t> u;
  for (size_t in : {4u, 64u, 260u}) {
    const size_t cap = 40;  // rows the storage has room for (the context)
    std::vector<int8_t> blocks((cap + 15) / 16 * 16 * in, 0), W(cap * in), x(in);
    std::vector<int32_t> sums(cap, 0);
    for (auto &v : x) v = next();
    for (size_t o = 0; o < cap; ++o)
      for (size_t i = 0; i < in; ++i) {
        W[o * in + i] = next();
        blocks[mcuemu::kernels::packed_index(o, i, in)] = W[o * in + i];
        sums[o] += W[o * in + i];
      }
    for (size_t out : {1u, 16u, 17u, 40u})
      for (auto p : {mcu_gemv_t{0, 0}, mcu_gemv_t{128, 0}, mcu_gemv_t{-7, 3}}) {
        std::vector<int32_t> want(out), got(out, -1);
        mcu_gemv_s8_s32(&p, W.data(), x.data(), nullptr, want.data(), out, in);
        mcuemu::kernels::gemv_packed(p, blocks, std::span<const int32_t>(sums).first(out), x, got,
                                     u);
        ASSERT_TRUE(exact(got, want)) << "in=" << in << " out=" << out << " x_off=" << p.x_off;
      }
  }
}

TEST(GemvPacked, RejectsBadShapes) {
  if (!mcuemu::kernels::packed_gemv_available()) GTEST_SKIP() << "CPU has no AVX-512 VNNI";
  using mcuemu::kernels::KernelError;
  std::vector<uint8_t> u;
  std::vector<int8_t> blocks(16 * 8), x8(8), x6(6);
  std::vector<int32_t> sums(16), y(16), y17(17);
  // in not a multiple of 4; more rows than the blocks hold; fewer row sums than rows.
  EXPECT_THROW(mcuemu::kernels::gemv_packed({0, 0}, blocks, sums, x6, y, u), KernelError);
  EXPECT_THROW(mcuemu::kernels::gemv_packed({0, 0}, blocks, sums, x8, y17, u), KernelError);
  EXPECT_THROW(mcuemu::kernels::gemv_packed({0, 0}, blocks, std::span<const int32_t>(sums).first(3),
                                            x8, y, u),
               KernelError);
  EXPECT_NO_THROW(mcuemu::kernels::gemv_packed({128, 0}, blocks, {}, x8, y, u));
}
