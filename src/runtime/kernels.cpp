#include "runtime/kernels.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#ifdef MCU_HAVE_X86_FASTPATH
#include "x86/eltwise_avx512.h"
#include "x86/gemv_avx.h"
#endif

namespace mcuemu::kernels {
namespace {

template <typename... Args>
[[noreturn]] void fail(const char *kernel, fmt::format_string<Args...> f, Args &&...args) {
  throw KernelError(
      fmt::format("kernel {}: {}", kernel, fmt::format(f, std::forward<Args>(args)...)));
}

void require(bool ok, const char *kernel, const char *what) {
  if (!ok) fail(kernel, "{}", what);
}

void check_same(const char *kernel, const char *a, size_t na, const char *b, size_t nb) {
  if (na != nb) fail(kernel, "{} has {} elements but {} has {}", a, na, b, nb);
}

void check_clamp(const char *kernel, int32_t shift, int32_t lo, int32_t hi) {
  if (shift < 0 || shift > 31) fail(kernel, "shift {} outside 0..31", shift);
  if (lo > hi || lo < -128 || hi > 127) fail(kernel, "clamp [{}, {}] is not inside int8", lo, hi);
}

// Exact int32 accumulation of `n` products of offset int8 operands (kernels/README.md, GEMV).
void check_accumulation(const char *kernel, size_t n, int32_t off_a, int32_t off_b) {
  const int64_t ma = 128 + std::llabs(off_a), mb = 128 + std::llabs(off_b);
  if (static_cast<int64_t>(n) * ma * mb >= (int64_t{1} << 31))
    fail(kernel, "{} products with offsets {} and {} may overflow the int32 accumulator", n, off_a,
         off_b);
}

#ifdef MCU_HAVE_X86_FASTPATH
struct GemvDispatch {
  const char *name = "portable";
  mcu_gemv_fn fn = mcu_gemv_s8_s32_best(&name);
};
#else
struct GemvDispatch {
  const char *name = "portable";
  void (*fn)(const mcu_gemv_t *, const int8_t *, const int8_t *, const int32_t *, int32_t *, size_t,
             size_t) = mcu_gemv_s8_s32;
};
#endif
const GemvDispatch &gemv_dispatch() {
  static const GemvDispatch d;
  return d;
}

// The element-wise AVX-512 paths (kernels/x86/eltwise_avx512.h), when the CPU has them.
bool use_avx512_eltwise() {
#ifdef MCU_HAVE_X86_FASTPATH
  static const bool yes = mcu_have_avx512dq() != 0;
  return yes;
#else
  return false;
#endif
}

}  // namespace

void rqs(const mcu_rqs_t &p, std::span<const int32_t> x, std::span<int8_t> y) {
  check_same("rqs", "x", x.size(), "y", y.size());
  check_clamp("rqs", p.shift, p.lo, p.hi);
#ifdef MCU_HAVE_X86_FASTPATH
  if (use_avx512_eltwise()) return mcu_rqs_s32_s8_avx512(&p, x.data(), y.data(), x.size());
#endif
  mcu_rqs_s32_s8(&p, x.data(), y.data(), x.size());
}

void rqs_per_channel(std::span<const int32_t> mul, std::span<const int32_t> add, int32_t zx,
                     int32_t shift, int32_t zy, int32_t lo, int32_t hi, std::span<const int32_t> x,
                     std::span<int8_t> y) {
  const char *k = "rqs_per_channel";
  check_same(k, "mul", mul.size(), "add", add.size());
  check_same(k, "x", x.size(), "y", y.size());
  require(!mul.empty() && x.size() % mul.size() == 0, k, "x is not a whole number of channel rows");
  check_clamp(k, shift, lo, hi);
  const mcu_rqs_pc_t p{mul.data(), add.data(), zx, shift, zy, lo, hi};
#ifdef MCU_HAVE_X86_FASTPATH
  if (use_avx512_eltwise())
    return mcu_rqs_s32_s8_per_channel_avx512(&p, x.data(), y.data(), x.size() / mul.size(),
                                             mul.size());
#endif
  mcu_rqs_s32_s8_per_channel(&p, x.data(), y.data(), x.size() / mul.size(), mul.size());
}

void gemv(const mcu_gemv_t &p, std::span<const int8_t> W, std::span<const int8_t> x,
          std::span<const int32_t> bias, std::span<int32_t> y) {
  const size_t out = y.size(), in = x.size();
  if (W.size() != out * in)
    fail("gemv", "W has {} elements, want out*in = {}*{}", W.size(), out, in);
  require(bias.empty() || bias.size() == out, "gemv", "bias must be empty or have `out` elements");
  check_accumulation("gemv", in, p.x_off, p.w_off);
  gemv_dispatch().fn(&p, W.data(), x.data(), bias.empty() ? nullptr : bias.data(), y.data(), out,
                     in);
}

namespace {

#ifdef MCU_HAVE_X86_FASTPATH
std::vector<int32_t> row_sums(const int8_t *w, size_t out, size_t in) {
  std::vector<int32_t> sums(out);
  for (size_t o = 0; o < out; ++o) {
    int32_t s = 0;
    for (size_t i = 0; i < in; ++i) s += w[o * in + i];
    sums[o] = s;
  }
  return sums;
}

// The `full` blocks of 16 rows at w, row-major, rearranged in place (one block of scratch).
void pack_full_blocks(int8_t *w, size_t full, size_t in) {
  const size_t block = 16 * in;
  std::vector<int8_t> rows(block);
  for (size_t b = 0; b < full; ++b) {
    std::copy_n(w + b * block, block, rows.begin());
    mcu_vnni_pack_block(rows.data(), 16, in, w + b * block);
  }
}
#endif

}  // namespace

bool GemvMatrix::packs(size_t out, size_t in, Layout layout) {
#ifdef MCU_HAVE_X86_FASTPATH
  return layout == Layout::Best && out > 0 && in > 0 && in % 4 == 0 &&
         in <= MCU_VNNI_PACKED_MAX_IN && packed_gemv_available();
#else
  (void)out, (void)in, (void)layout;
  return false;
#endif
}

size_t GemvMatrix::host_weight_bytes(size_t out, size_t in, Layout layout) {
  return packs(out, in, layout) ? (out + 15) / 16 * 16 * in : out * in;
}

GemvMatrix::GemvMatrix(std::vector<int8_t> &&w, size_t out, size_t in, Layout layout)
    : out_(out), in_(in), w_(std::move(w)) {
  if (w_.size() != out * in)
    fail("GemvMatrix", "{} weights for a ({}, {}) matrix: want {}", w_.size(), out, in, out * in);
  packed_ = packs(out, in, layout);
#ifdef MCU_HAVE_X86_FASTPATH
  if (!packed_) return;
  sums_ = row_sums(w_.data(), out, in);
  // A full block of 16 rows occupies the same 16 * in bytes packed as row-major: rearrange it
  // through one block of scratch. The ragged rest goes to its own zero-padded block.
  const size_t full = out / 16, block = 16 * in;
  pack_full_blocks(w_.data(), full, in);
  if (out % 16) {
    tail_.resize(block);
    mcu_vnni_pack_block(w_.data() + full * block, out % 16, in, tail_.data());
    w_.resize(full * block);
    w_.shrink_to_fit();
  }
#endif
}

GemvMatrix::GemvMatrix(std::span<int8_t> room, size_t out, size_t in) : out_(out), in_(in) {
  const size_t need = host_weight_bytes(out, in);
  if (room.size() < need)
    fail("GemvMatrix", "{} bytes of room for a ({}, {}) matrix: want {}", room.size(), out, in,
         need);
  packed_ = packs(out, in, Layout::Best);
  held_ = room.first(need);
#ifdef MCU_HAVE_X86_FASTPATH
  if (!packed_) return;
  sums_ = row_sums(room.data(), out, in);
  const size_t full = out / 16, block = 16 * in;
  pack_full_blocks(room.data(), full, in);
  if (out % 16) {  // the ragged rows, through scratch, into the padded block after the full ones
    std::vector<int8_t> rows(room.begin() + static_cast<std::ptrdiff_t>(full * block),
                             room.begin() + static_cast<std::ptrdiff_t>(out * in));
    mcu_vnni_pack_block(rows.data(), out % 16, in, room.data() + full * block);
  }
#endif
}

void GemvMatrix::apply(const mcu_gemv_t &p, std::span<const int8_t> X, size_t rows,
                       std::span<const int32_t> bias, std::span<int32_t> Y, size_t ldy) const {
  const char *k = "gemv";
  if (X.size() != rows * in_)
    fail(k, "X has {} elements, want rows*in = {}*{}", X.size(), rows, in_);
  if (ldy < out_ || (rows > 0 && Y.size() < (rows - 1) * ldy + out_))
    fail(k, "Y has {} elements (ldy {}), too few for {} rows of {}", Y.size(), ldy, rows, out_);
  require(bias.empty() || bias.size() == out_, k, "bias must be empty or have `out` elements");
  check_accumulation(k, in_, p.x_off, p.w_off);
  const int32_t *b = bias.empty() ? nullptr : bias.data();
  if (!packed_) {
    for (size_t s = 0; s < rows; ++s)
      gemv_dispatch().fn(&p, weights(), X.data() + s * in_, b, Y.data() + s * ldy, out_, in_);
    return;
  }
#ifdef MCU_HAVE_X86_FASTPATH
  if (u_.size() < rows * in_) u_.resize(rows * in_);
  const size_t full = out_ / 16 * 16;
  if (full > 0)
    mcu_gemv_s8_s32_vnni_packed(&p, weights(), sums_.data(), X.data(), rows, b, Y.data(), ldy, full,
                                in_, u_.data());
  if (full < out_)
    mcu_gemv_s8_s32_vnni_packed(&p, tail(), sums_.data() + full, X.data(), rows,
                                b ? b + full : nullptr, Y.data() + full, ldy, out_ - full, in_,
                                u_.data());
#endif
}

void GemvMatrix::row(size_t o, std::span<int8_t> dst) const {
  check_same("GemvMatrix::row", "dst", dst.size(), "in", in_);
  if (o >= out_) fail("GemvMatrix::row", "row {} outside the matrix's {} rows", o, out_);
  if (!packed_) {
    std::copy_n(weights() + o * in_, in_, dst.begin());
    return;
  }
#ifdef MCU_HAVE_X86_FASTPATH
  const size_t full = out_ / 16 * 16;
  const int8_t *blk = o < full ? weights() + o / 16 * 16 * in_ : tail();
  mcu_vnni_unpack_row(blk, o % 16, in_, dst.data());
#endif
}

bool packed_gemv_available() {
#ifdef MCU_HAVE_X86_FASTPATH
  static const bool yes = mcu_have_avx512vnni() != 0;
  return yes;
#else
  return false;
#endif
}

void gemv_packed(const mcu_gemv_t &p, std::span<const int8_t> blocks,
                 std::span<const int32_t> row_sums, std::span<const int8_t> x, std::span<int32_t> y,
                 std::vector<uint8_t> &u) {
  const char *k = "gemv_packed";
  const size_t out = y.size(), in = x.size();
  require(packed_gemv_available(), k, "this CPU has no AVX-512 VNNI");
  require(in % 4 == 0 && in <= MCU_VNNI_PACKED_MAX_IN, k, "in must be a multiple of 4");
  if (blocks.size() < (out + 15) / 16 * 16 * in)
    fail(k, "{} bytes of blocks, too few for {} rows of {}", blocks.size(), out, in);
  if (p.x_off != 128 && row_sums.size() < out)
    fail(k, "{} row sums for {} rows", row_sums.size(), out);
  check_accumulation(k, in, p.x_off, p.w_off);
  if (u.size() < in) u.resize(in);
#ifdef MCU_HAVE_X86_FASTPATH
  // With x_off = 128 the row sums are multiplied by zero: zeros do.
  thread_local std::vector<int32_t> zeros;
  const int32_t *sums = row_sums.data();
  if (p.x_off == 128 && row_sums.size() < out) {
    if (zeros.size() < out) zeros.resize(out);
    sums = zeros.data();
  }
  mcu_gemv_s8_s32_vnni_packed(&p, blocks.data(), sums, x.data(), 1, nullptr, y.data(), out, out, in,
                              u.data());
#endif
}

size_t GemvMatrix::host_bytes() const {
  return held_.size() + w_.size() + tail_.size() + sums_.size() * sizeof(int32_t);
}

const char *gemv_path() {
  return gemv_dispatch().name;
}

void gemm(const mcu_gemm_t &p, std::span<const int8_t> A, size_t lda, std::span<const int8_t> B,
          size_t ldb, std::span<const int32_t> bias, std::span<int32_t> Y, size_t ldy, size_t M,
          size_t N, size_t K) {
  const char *k = "gemm";
  if (lda < K || ldb < K || ldy < N)
    fail(k, "strides lda {} ldb {} ldy {} below K {} / N {}", lda, ldb, ldy, K, N);
  if (M > 0 && A.size() < (M - 1) * lda + K)
    fail(k, "A has {} elements, too few for M={} lda={}", A.size(), M, lda);
  if (N > 0 && B.size() < (N - 1) * ldb + K)
    fail(k, "B has {} elements, too few for N={} ldb={}", B.size(), N, ldb);
  if (M > 0 && Y.size() < (M - 1) * ldy + N)
    fail(k, "Y has {} elements, too few for M={} ldy={}", Y.size(), M, ldy);
  require(bias.empty() || bias.size() == N, k, "bias must be empty or have N elements");
  check_accumulation(k, K, p.a_off, p.b_off);
  mcu_gemm_s8_s32(&p, A.data(), lda, B.data(), ldb, bias.empty() ? nullptr : bias.data(), Y.data(),
                  ldy, M, N, K);
}

void add_rq(const mcu_add_rq_t &p, std::span<const int8_t> a, std::span<const int8_t> b,
            std::span<int8_t> y) {
  check_same("add_rq", "a", a.size(), "b", b.size());
  check_same("add_rq", "a", a.size(), "y", y.size());
  check_clamp("add_rq", p.shift, p.lo, p.hi);
#ifdef MCU_HAVE_X86_FASTPATH
  if (use_avx512_eltwise()) return mcu_add_rq_s8_avx512(&p, a.data(), b.data(), y.data(), y.size());
#endif
  mcu_add_rq_s8(&p, a.data(), b.data(), y.data(), y.size());
}

void mul_rq(const mcu_mul_rq_t &p, std::span<const int8_t> a, std::span<const int8_t> b,
            std::span<int8_t> y) {
  check_same("mul_rq", "a", a.size(), "b", b.size());
  check_same("mul_rq", "a", a.size(), "y", y.size());
  check_clamp("mul_rq", p.shift, p.lo, p.hi);
#ifdef MCU_HAVE_X86_FASTPATH
  if (use_avx512_eltwise()) return mcu_mul_rq_s8_avx512(&p, a.data(), b.data(), y.data(), y.size());
#endif
  mcu_mul_rq_s8(&p, a.data(), b.data(), y.data(), y.size());
}

void relu(std::span<const int8_t> x, std::span<int8_t> y, int8_t zero) {
  check_same("relu", "x", x.size(), "y", y.size());
  mcu_relu_s8(x.data(), y.data(), x.size(), zero);
}

void gelu(const mcu_gelu_t &p, std::span<const int8_t> x, std::span<int32_t> y) {
  check_same("gelu", "x", x.size(), "y", y.size());
  require(p.b < 0 && p.one > 0, "gelu", "needs b < 0 and one > 0");
  mcu_gelu_s8_s32(&p, x.data(), y.data(), x.size());
}

void hswish(const mcu_hswish_t &p, std::span<const int8_t> x, std::span<int32_t> y) {
  check_same("hswish", "x", x.size(), "y", y.size());
  require(p.three >= 0 && p.six >= p.three, "hswish", "needs 0 <= three <= six");
  mcu_hswish_s8_s32(&p, x.data(), y.data(), x.size());
}

static void check_rows(const char *k, size_t xs, size_t ys, size_t rows, size_t n, size_t ld) {
  if (n == 0 || ld < n) fail(k, "row length {} with stride {} (need 1 <= n <= ld)", n, ld);
  if (xs < rows * ld || ys < rows * ld)
    fail(k, "x/y hold {}/{} values, need rows*ld = {}", xs, ys, rows * ld);
}

void softmax_ibert(const mcu_softmax_ibert_t &p, std::span<const int8_t> x, std::span<int8_t> y,
                   size_t rows, size_t n, size_t ld) {
  check_rows("softmax_ibert", x.size(), y.size(), rows, n, ld);
  require(p.log2 > 0, "softmax_ibert", "log2 must be > 0");
  mcu_softmax_ibert_s8(&p, x.data(), y.data(), rows, n, ld);
}

SoftmaxIbert::SoftmaxIbert(const mcu_softmax_ibert_t &p) : table_(256) {
  require(p.log2 > 0, "softmax_ibert", "log2 must be > 0");
  mcu_softmax_ibert_table(&p, table_.data());
  avx512_ = use_avx512_eltwise();
}

void SoftmaxIbert::operator()(std::span<const int8_t> x, std::span<int8_t> y, size_t rows, size_t n,
                              size_t ld) const {
  check_rows("softmax_ibert", x.size(), y.size(), rows, n, ld);
  require(table_.size() == 256, "softmax_ibert", "no parameters were given");
#ifdef MCU_HAVE_X86_FASTPATH
  if (avx512_)
    return mcu_softmax_ibert_s8_table_avx512(table_.data(), x.data(), y.data(), rows, n, ld);
#endif
  mcu_softmax_ibert_s8_table(table_.data(), x.data(), y.data(), rows, n, ld);
}

void softmax_itamax(std::span<const int8_t> x, std::span<int8_t> y, size_t rows, size_t n,
                    size_t ld) {
  check_rows("softmax_itamax", x.size(), y.size(), rows, n, ld);
  mcu_softmax_itamax_s8(x.data(), y.data(), rows, n, ld);
}

static size_t norm_rows(const char *k, size_t D, std::span<const int8_t> x, std::span<int8_t> y,
                        int32_t shift, int32_t kbits) {
  require(D > 0, k, "row length D must be > 0");
  check_same(k, "x", x.size(), "y", y.size());
  if (x.size() % D != 0) fail(k, "x has {} values, not a whole number of rows of {}", x.size(), D);
  if (shift < 0 || shift > 31) fail(k, "shift {} outside 0..31", shift);
  if (kbits < 0 || kbits > 15) fail(k, "k {} outside 0..15", kbits);
  return x.size() / D;
}

void rmsnorm(std::span<const int32_t> w, int32_t zx, int32_t log2D, int32_t zy, int32_t k,
             std::span<const int8_t> x, std::span<int8_t> y) {
  size_t rows = norm_rows("rmsnorm", w.size(), x, y, log2D, k);
  const mcu_rmsnorm_t p{w.data(), zx, log2D, zy, k};
#ifdef MCU_HAVE_X86_FASTPATH
  if (use_avx512_eltwise() && std::abs(static_cast<int64_t>(zx)) < MCU_RMSNORM_AVX512_MAX_ZX)
    return mcu_rmsnorm_s8_avx512(&p, x.data(), y.data(), rows, w.size());
#endif
  mcu_rmsnorm_s8(&p, x.data(), y.data(), rows, w.size());
}

void layernorm(std::span<const int32_t> w, std::span<const int32_t> bias, int32_t zx, int32_t log2D,
               int32_t zy, int32_t k, std::span<const int8_t> x, std::span<int8_t> y) {
  check_same("layernorm", "w", w.size(), "bias", bias.size());
  size_t rows = norm_rows("layernorm", w.size(), x, y, log2D, k);
  const mcu_layernorm_t p{w.data(), bias.data(), zx, log2D, zy, k};
  mcu_layernorm_s8(&p, x.data(), y.data(), rows, w.size());
}

void nonorm(std::span<const int32_t> mul, std::span<const int32_t> add, int32_t zx, int32_t shift,
            int32_t zy, int32_t lo, int32_t hi, std::span<const int8_t> x, std::span<int8_t> y) {
  check_same("nonorm", "mul", mul.size(), "add", add.size());
  size_t rows = norm_rows("nonorm", mul.size(), x, y, shift, 0);
  check_clamp("nonorm", shift, lo, hi);
  const mcu_nonorm_t p{mul.data(), add.data(), zx, shift, zy, lo, hi};
  mcu_nonorm_s8(&p, x.data(), y.data(), rows, mul.size());
}

void rope(const mcu_rope_t &p, std::span<const int8_t> x, std::span<const int16_t> cos_row,
          std::span<const int16_t> sin_row, std::span<int8_t> y, size_t n_heads) {
  const char *k = "rope";
  check_same(k, "x", x.size(), "y", y.size());
  require(n_heads > 0 && x.size() % n_heads == 0, k, "x is not n_heads whole heads");
  const size_t head_dim = x.size() / n_heads;
  require(head_dim % 2 == 0, k, "head_dim must be even");
  check_same(k, "cos_row", cos_row.size(), "head_dim/2", head_dim / 2);
  check_same(k, "sin_row", sin_row.size(), "head_dim/2", head_dim / 2);
  check_clamp(k, p.shift, p.lo, p.hi);
  mcu_rope_s8(&p, x.data(), cos_row.data(), sin_row.data(), y.data(), n_heads, head_dim);
}

void embedding_row(std::span<const int8_t> table, size_t dim, size_t row, std::span<int8_t> y) {
  check_same("embedding_row", "y", y.size(), "dim", dim);
  require(dim > 0 && table.size() % dim == 0, "embedding_row", "table is not whole rows of dim");
  if (row >= table.size() / dim)
    fail("embedding_row", "row {} outside the table's {} rows", row, table.size() / dim);
  mcu_embedding_row_s8(table.data(), dim, row, y.data());
}

ArgMax argmax(std::span<const int32_t> x) {
  require(!x.empty(), "argmax", "needs at least one value");
  ArgMax r{};
  r.index = mcu_argmax_s32(x.data(), x.size(), &r.value);
  return r;
}

}  // namespace mcuemu::kernels
