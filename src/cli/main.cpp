// mcuemu: emulate distributed int8 Transformer inference on a cluster of GAP9-class MCUs.
//
// Subcommands are added as the layers of DESIGN.md land; `selfcheck` exercises the kernels.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "mcu_kernels.h"
#include "runtime/kernels.hpp"

namespace po = boost::program_options;

namespace {

constexpr const char *kUsage = R"(mcuemu: distributed int8 Transformer inference on emulated MCUs

usage: mcuemu <command> [options]

commands:
  run         run a model on N emulated chips: mpirun -n N mcuemu run --model tinyllama-42m
  gen-weights write deterministic synthetic fp32 weights for a known configuration
  quantize    post-training int8 quantization of an fp32 model file (calibrated on fp32 runs)
  convert     import a llama2.c float checkpoint or a Hugging Face MobileBERT (safetensors)
  inspect     show a model file: configuration, tensors, totals, bytes per chip for N chips
  selfcheck   run the kernels on the TinyLlama-42M GEMV shapes: the fast host path against the
              portable C kernel (must be bit-identical), with host throughput
  help        this text

`mcuemu <command> --help` describes the options of a command.
)";

int selfcheck(const std::vector<std::string> &args) {
  po::options_description opts("selfcheck options");
  int reps = 20;
  opts.add_options()("help,h", "show this help")("reps", po::value<int>(&reps)->default_value(20),
                                                 "repetitions per shape for the timing");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    fmt::print("usage: mcuemu selfcheck [options]\n\n");
    std::cout << opts << "\n";
    return 0;
  }
  if (reps < 1) throw po::error("--reps must be >= 1");

  // The GEMV shapes of one stories42M token (out, in): Wq/Wk/Wv/Wo, W1/W3, W2, LM head.
  const std::vector<std::pair<size_t, size_t>> shapes = {
      {512, 512}, {1376, 512}, {512, 1376}, {32000, 512}};
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> dist(-128, 127);
  fmt::print("gemv path: {} (portable C kernel is the reference)\n", mcuemu::kernels::gemv_path());
  bool all_equal = true;
  for (auto [out, in] : shapes) {
    std::vector<int8_t> W(out * in), x(in);
    for (auto &v : W) v = static_cast<int8_t>(dist(rng));
    for (auto &v : x) v = static_cast<int8_t>(dist(rng));
    std::vector<int32_t> ref(out), fast(out);
    const mcu_gemv_t p{0, 0};
    mcu_gemv_s8_s32(&p, W.data(), x.data(), nullptr, ref.data(), out, in);
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) mcuemu::kernels::gemv(p, W, x, {}, fast);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    const bool equal = ref == fast;
    all_equal = all_equal && equal;
    fmt::print("  gemv {:5} x {:4}: {}  {:7.2f} GMAC/s  {:7.2f} GB/s of weights\n", out, in,
               equal ? "bit-exact" : "MISMATCH ", out * in / s * 1e-9, out * in / s * 1e-9);
  }
  fmt::print("selfcheck: {}\n", all_equal ? "ok" : "FAILED");
  return all_equal ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (cmd == "selfcheck") return selfcheck(args);
    if (cmd == "run") return mcuemu::cli::run(args);
    if (cmd == "gen-weights") return mcuemu::cli::gen_weights(args);
    if (cmd == "quantize") return mcuemu::cli::quantize(args);
    if (cmd == "convert") return mcuemu::cli::convert(args);
    if (cmd == "inspect") return mcuemu::cli::inspect(args);
    fmt::print(stderr, "mcuemu: error: unknown command '{}' (see mcuemu help)\n", cmd);
    return 2;
  } catch (const po::error &e) {
    fmt::print(stderr, "mcuemu {}: error: {} (see mcuemu {} --help)\n", cmd, e.what(), cmd);
    return 2;
  } catch (const std::exception &e) {
    fmt::print(stderr, "mcuemu {}: error: {}\n", cmd, e.what());
    return 1;
  } catch (...) {
    fmt::print(stderr, "mcuemu {}: error: unexpected exception (not a std::exception)\n", cmd);
    return 1;
  }
}
