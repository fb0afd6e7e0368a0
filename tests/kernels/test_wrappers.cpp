// The C++ wrappers reject every shape or precondition violation with a KernelError that names
// the kernel; valid calls pass through to the C kernels.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/kernels.hpp"

namespace k = mcuemu::kernels;
using ::testing::HasSubstr;

#define EXPECT_KERNEL_ERROR(stmt, text)                      \
  try {                                                      \
    stmt;                                                    \
    ADD_FAILURE() << "no KernelError from " #stmt;           \
  } catch (const k::KernelError &e) {                        \
    EXPECT_THAT(e.what(), HasSubstr(text)) << "from " #stmt; \
  }

TEST(Wrappers, GemvShapes) {
  std::vector<int8_t> W(12, 1), x(4, 1);
  std::vector<int32_t> y(3), bias(2);
  EXPECT_KERNEL_ERROR(k::gemv({0, 0}, std::span(W).first(11), x, {}, y), "kernel gemv: W has 11");
  EXPECT_KERNEL_ERROR(k::gemv({0, 0}, W, x, bias, y), "bias");
  k::gemv({0, 0}, W, x, {}, y);
  EXPECT_EQ(y, (std::vector<int32_t>{4, 4, 4}));
}

TEST(Wrappers, GemvAccumulatorOverflowIsRefused) {
  std::vector<int8_t> W(140000), x(140000);
  std::vector<int32_t> y(1);
  EXPECT_KERNEL_ERROR(k::gemv({0, 0}, W, x, {}, y), "overflow the int32 accumulator");
  std::vector<int8_t> x2(70000), W2(70000);  // 70000 * 256 * 128 > 2^31
  EXPECT_KERNEL_ERROR(k::gemv({-128, 0}, W2, x2, {}, y), "offsets -128");
}

TEST(Wrappers, GemmStridesAndSizes) {
  std::vector<int8_t> A(6, 1), B(6, 1);
  std::vector<int32_t> Y(4);
  EXPECT_KERNEL_ERROR(k::gemm({0, 0}, A, 2, B, 3, {}, Y, 2, 2, 2, 3), "strides");
  EXPECT_KERNEL_ERROR(k::gemm({0, 0}, std::span(A).first(4), 3, B, 3, {}, Y, 2, 2, 2, 3),
                      "A has 4");
  k::gemm({0, 0}, A, 3, B, 3, {}, Y, 2, 2, 2, 3);
  EXPECT_EQ(Y, (std::vector<int32_t>{3, 3, 3, 3}));
}

TEST(Wrappers, RequantBounds) {
  std::vector<int32_t> x(3);
  std::vector<int8_t> y(3), y2(2);
  EXPECT_KERNEL_ERROR(k::rqs({0, 1, 0, 32, 0, -128, 127}, x, y), "shift 32");
  EXPECT_KERNEL_ERROR(k::rqs({0, 1, 0, 0, 0, -129, 127}, x, y), "clamp");
  EXPECT_KERNEL_ERROR(k::rqs({0, 1, 0, 0, 0, 5, 4}, x, y), "clamp");
  EXPECT_KERNEL_ERROR(k::rqs({0, 1, 0, 0, 0, -128, 127}, x, y2), "x has 3");
  std::vector<int32_t> mul(2, 1), add(2, 0);
  EXPECT_KERNEL_ERROR(k::rqs_per_channel(mul, add, 0, 0, 0, -128, 127, x, y), "channel rows");
}

TEST(Wrappers, SoftmaxRows) {
  std::vector<int8_t> x(8), y(8);
  EXPECT_KERNEL_ERROR(k::softmax_itamax(x, y, 2, 5, 4), "row length 5");
  EXPECT_KERNEL_ERROR(k::softmax_itamax(x, y, 3, 4, 4), "need rows*ld = 12");
  EXPECT_KERNEL_ERROR(k::softmax_ibert({1, 7, 24, 0}, x, y, 2, 4, 4), "log2");
  k::softmax_itamax(x, y, 2, 4, 4);
  for (int8_t v : y) EXPECT_EQ(v, -65) << "uniform row of 4: tdiv(255*256, 1024) - 128";
}

TEST(Wrappers, Norms) {
  std::vector<int8_t> x(10), y(10);
  std::vector<int32_t> w(4, 1 << 16), b(3);
  EXPECT_KERNEL_ERROR(k::rmsnorm(w, 0, 16, 0, 0, x, y), "not a whole number of rows of 4");
  EXPECT_KERNEL_ERROR(k::rmsnorm(std::span(w).first(2), 0, 16, 0, 16, x, y), "k 16");
  EXPECT_KERNEL_ERROR(k::layernorm(w, b, 0, 16, 0, 0, std::span(x).first(8), std::span(y).first(8)),
                      "bias");
  EXPECT_KERNEL_ERROR(k::rmsnorm({}, 0, 16, 0, 0, x, y), "D must be > 0");
}

TEST(Wrappers, RopeEmbeddingArgmax) {
  std::vector<int8_t> x(12), y(12);
  std::vector<int16_t> c3(3), c2(2);
  EXPECT_KERNEL_ERROR(k::rope({0, 1, 0, 0, 0, -128, 127}, x, c3, c3, y, 4),
                      "head_dim must be even");
  EXPECT_KERNEL_ERROR(k::rope({0, 1, 0, 0, 0, -128, 127}, x, c2, c3, y, 2), "cos_row has 2");
  std::vector<int8_t> table(20), row(5);
  EXPECT_KERNEL_ERROR(k::embedding_row(table, 5, 4, row), "row 4 outside the table's 4 rows");
  EXPECT_KERNEL_ERROR(k::argmax({}), "at least one");
  std::vector<int32_t> v{3, 9, 9, -1};
  auto r = k::argmax(v);
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(r.value, 9);
}
