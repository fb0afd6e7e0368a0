// GEMV throughput on the stories42M shapes: portable C kernel and host fast paths side by side.
// Reports GMAC/s and GB/s of weights (1 byte per MAC, each weight read once per call).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "gemm.h"
#ifdef MCU_HAVE_X86_FASTPATH
#include "x86/gemv_avx.h"
#endif

namespace {

using GemvFn = void (*)(const mcu_gemv_t *, const int8_t *, const int8_t *, const int32_t *,
                        int32_t *, size_t, size_t);

void run(benchmark::State &state, GemvFn fn) {
  const size_t out = state.range(0), in = state.range(1);
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> W(out * in), x(in);
  for (auto &v : W) v = static_cast<int8_t>(d(rng));
  for (auto &v : x) v = static_cast<int8_t>(d(rng));
  std::vector<int32_t> y(out);
  const mcu_gemv_t p{0, 0};
  for (auto _ : state) {
    fn(&p, W.data(), x.data(), nullptr, y.data(), out, in);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double macs = static_cast<double>(out) * in * state.iterations();
  state.counters["GMAC/s"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsRate);
  state.counters["GB/s_w"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsRate);
}

void Shapes(benchmark::internal::Benchmark *b) {
  // The last shape is the whole int8 model's worth of weights (42 MB): streamed from memory.
  b->Args({512, 512})->Args({1376, 512})->Args({512, 1376})->Args({32000, 512})->Args({82000, 512});
  b->ArgNames({"out", "in"});
}

void BM_gemv_portable(benchmark::State &s) {
  run(s, mcu_gemv_s8_s32);
}
BENCHMARK(BM_gemv_portable)->Apply(Shapes);

#ifdef MCU_HAVE_X86_FASTPATH
void BM_gemv_avx2(benchmark::State &s) {
  if (!__builtin_cpu_supports("avx2")) return s.SkipWithError("no AVX2");
  run(s, mcu_gemv_s8_s32_avx2);
}
BENCHMARK(BM_gemv_avx2)->Apply(Shapes);

void BM_gemv_avx512(benchmark::State &s) {
  if (!__builtin_cpu_supports("avx512bw")) return s.SkipWithError("no AVX-512BW");
  run(s, mcu_gemv_s8_s32_avx512);
}
BENCHMARK(BM_gemv_avx512)->Apply(Shapes);

void BM_gemv_avx512vnni(benchmark::State &s) {
  if (!__builtin_cpu_supports("avx512vnni")) return s.SkipWithError("no AVX-512 VNNI");
  run(s, mcu_gemv_s8_s32_avx512vnni);
}
BENCHMARK(BM_gemv_avx512vnni)->Apply(Shapes);

// The packed VNNI layout (kernels/x86/gemv_avx.h), as the runtime holds its weights.
void BM_gemv_vnni_packed(benchmark::State &state) {
  if (!mcu_have_avx512vnni()) return state.SkipWithError("no AVX-512 VNNI");
  const size_t out = state.range(0), in = state.range(1), blocks = (out + 15) / 16;
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> W(blocks * 16 * in), x(in);
  std::vector<int32_t> sums(blocks * 16), y(out);
  std::vector<uint8_t> u(in);
  for (auto &v : W) v = static_cast<int8_t>(d(rng));
  for (auto &v : x) v = static_cast<int8_t>(d(rng));
  const mcu_gemv_t p{0, 0};
  for (auto _ : state) {
    mcu_gemv_s8_s32_vnni_packed(&p, W.data(), sums.data(), x.data(), 1, nullptr, y.data(), out, out,
                                in, u.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double macs = static_cast<double>(out) * in * state.iterations();
  state.counters["GMAC/s"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsRate);
  state.counters["GB/s_w"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_gemv_vnni_packed)->Apply(Shapes);
#endif

}  // namespace

BENCHMARK_MAIN();
