// Checked C++ entry points to the C kernels of kernels/.
//
// The C kernels trust their arguments; these wrappers check every shape and precondition of
// kernels/README.md first and throw KernelError with a message that names the kernel and the
// violated condition. Spans carry the shapes; the kernel's parameter struct carries the constants.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "mcu_kernels.h"

namespace mcuemu::kernels {

struct KernelError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Requantization. x and y have the same length.
void rqs(const mcu_rqs_t &p, std::span<const int32_t> x, std::span<int8_t> y);
// x, y: (rows, channels) with channels = mul.size() = add.size().
void rqs_per_channel(std::span<const int32_t> mul, std::span<const int32_t> add, int32_t zx,
                     int32_t shift, int32_t zy, int32_t lo, int32_t hi, std::span<const int32_t> x,
                     std::span<int8_t> y);

// y (out) = W (out, in) . x (in) [+ bias (out)]. Uses the fastest exact path of this CPU.
void gemv(const mcu_gemv_t &p, std::span<const int8_t> W, std::span<const int8_t> x,
          std::span<const int32_t> bias, std::span<int32_t> y);
// A weight matrix (out, in) held in the layout of the fastest exact GEMV this CPU has: with
// AVX-512 VNNI, rearranged in place into the packed blocks of kernels/x86/gemv_avx.h (no
// horizontal sums, weights streamed once in order); otherwise row-major for gemv(). The layout
// is a host matter only: the emulated chip holds (and is charged for) out * in int8 weights
// either way, and the results are the same integers.
class GemvMatrix {
 public:
  enum class Layout { Best, RowMajor };
  GemvMatrix() = default;
  // Takes row-major weights (out * in of them) and rearranges them without a second copy of
  // the matrix (one block of 16 rows at a time; the ragged last block is kept apart).
  GemvMatrix(std::vector<int8_t> &&w, size_t out, size_t in, Layout layout = Layout::Best);
  // The same on memory the caller keeps (a weight arena, runtime/weight_arena.hpp): `room`
  // holds the row-major weights at its start and is at least host_weight_bytes(out, in) long;
  // they are rearranged there, the ragged last block right after the full ones. The memory
  // must outlive the matrix and its copies.
  GemvMatrix(std::span<int8_t> room, size_t out, size_t in);
  // Host bytes the weights of an (out, in) matrix take in `layout` on this CPU (the packed
  // layout pads the last block to 16 rows): the room the constructor above needs.
  static size_t host_weight_bytes(size_t out, size_t in, Layout layout = Layout::Best);
  size_t out() const { return out_; }
  size_t in() const { return in_; }
  bool packed() const { return packed_; }
  bool empty() const { return out_ == 0 || in_ == 0; }
  // Y (rows, ldy) = X (rows, in) . W^T [+ bias (out)]: for every row the integers of gemv().
  void apply(const mcu_gemv_t &p, std::span<const int8_t> X, size_t rows,
             std::span<const int32_t> bias, std::span<int32_t> Y, size_t ldy) const;
  // One row, in order (an embedding lookup of a tied table).
  void row(size_t o, std::span<int8_t> dst) const;
  // Host bytes held (weights, padding of the last block, row sums).
  size_t host_bytes() const;

 private:
  size_t out_ = 0, in_ = 0;
  bool packed_ = false;
  static bool packs(size_t out, size_t in, Layout layout);
  const int8_t *weights() const { return held_.empty() ? w_.data() : held_.data(); }
  const int8_t *tail() const {
    return held_.empty() ? tail_.data() : held_.data() + out_ / 16 * 16 * in_;
  }
  std::vector<int8_t> w_;           // row-major, or the full blocks packed (empty if placed)
  std::vector<int8_t> tail_;        // packed: the last, ragged block (zero rows appended)
  std::span<const int8_t> held_;    // placed: the full blocks then the ragged one, in the room
  std::vector<int32_t> sums_;       // packed: each row's sum of weights
  mutable std::vector<uint8_t> u_;  // packed: scratch for the shifted activations
};

// Whether this CPU runs the packed layout (AVX-512 VNNI).
bool packed_gemv_available();
// y (out) = W . x [+ bias] with W in the packed layout (kernels/x86/gemv_avx.h: ceil(out / 16)
// blocks of 16 rows, `in` a multiple of 4) on storage the caller keeps, such as a KV cache
// that grows a row at a time; row_sums[o] is row o's sum of weights (only read when x_off !=
// 128). Only when packed_gemv_available(). u: scratch, resized to `in` as needed.
void gemv_packed(const mcu_gemv_t &p, std::span<const int8_t> blocks,
                 std::span<const int32_t> row_sums, std::span<const int8_t> x, std::span<int32_t> y,
                 std::vector<uint8_t> &u);
// Where weight (row, col) of a matrix with `in` columns sits in the packed layout.
inline size_t packed_index(size_t row, size_t col, size_t in) {
  return row / 16 * 16 * in + col / 4 * 64 + row % 16 * 4 + col % 4;
}

// The name of the GEMV path gemv() uses: "avx512vnni", "avx512bw", "avx2" or "portable".
const char *gemv_path();

// Y (M, ldy) = A (M, lda) . B (N, ldb)^T [+ bias (N)], K columns used.
void gemm(const mcu_gemm_t &p, std::span<const int8_t> A, size_t lda, std::span<const int8_t> B,
          size_t ldb, std::span<const int32_t> bias, std::span<int32_t> Y, size_t ldy, size_t M,
          size_t N, size_t K);

void add_rq(const mcu_add_rq_t &p, std::span<const int8_t> a, std::span<const int8_t> b,
            std::span<int8_t> y);
void mul_rq(const mcu_mul_rq_t &p, std::span<const int8_t> a, std::span<const int8_t> b,
            std::span<int8_t> y);

void relu(std::span<const int8_t> x, std::span<int8_t> y, int8_t zero);
void gelu(const mcu_gelu_t &p, std::span<const int8_t> x, std::span<int32_t> y);
void hswish(const mcu_hswish_t &p, std::span<const int8_t> x, std::span<int32_t> y);

// Rows of n valid entries with stride ld; x and y hold rows * ld values.
void softmax_ibert(const mcu_softmax_ibert_t &p, std::span<const int8_t> x, std::span<int8_t> y,
                   size_t rows, size_t n, size_t ld);
void softmax_itamax(std::span<const int8_t> x, std::span<int8_t> y, size_t rows, size_t n,
                    size_t ld);
// softmax_ibert with its 256 exponentials computed once (the same results, faster on the host).
class SoftmaxIbert {
 public:
  SoftmaxIbert() = default;
  explicit SoftmaxIbert(const mcu_softmax_ibert_t &p);
  void operator()(std::span<const int8_t> x, std::span<int8_t> y, size_t rows, size_t n,
                  size_t ld) const;

 private:
  std::vector<int64_t> table_;  // 256 entries once set
  bool avx512_ = false;         // the CPU runs the AVX-512 path
};

// Norms over rows of D = w.size(); x and y hold rows * D values.
void rmsnorm(std::span<const int32_t> w, int32_t zx, int32_t log2D, int32_t zy, int32_t k,
             std::span<const int8_t> x, std::span<int8_t> y);
void layernorm(std::span<const int32_t> w, std::span<const int32_t> bias, int32_t zx, int32_t log2D,
               int32_t zy, int32_t k, std::span<const int8_t> x, std::span<int8_t> y);
void nonorm(std::span<const int32_t> mul, std::span<const int32_t> add, int32_t zx, int32_t shift,
            int32_t zy, int32_t lo, int32_t hi, std::span<const int8_t> x, std::span<int8_t> y);

// x, y: (n_heads, head_dim); cos_row, sin_row: (head_dim / 2).
void rope(const mcu_rope_t &p, std::span<const int8_t> x, std::span<const int16_t> cos_row,
          std::span<const int16_t> sin_row, std::span<int8_t> y, size_t n_heads);

// y (dim) = table (rows, dim)[row].
void embedding_row(std::span<const int8_t> table, size_t dim, size_t row, std::span<int8_t> y);

struct ArgMax {
  size_t index;
  int32_t value;
};
ArgMax argmax(std::span<const int32_t> x);

}  // namespace mcuemu::kernels
