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
