// mcuemu quantize: post-training int8 quantization of an fp32 model file (model/quantize.hpp),
// Llama or MobileBERT (the file's architecture attribute decides).
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>

#include "cli/cli_util.hpp"
#include "cli/commands.hpp"
#include "model/quantize.hpp"
#include "weights/atomic_file.hpp"
#include "weights/model_file.hpp"
#include "weights/qmodel_io.hpp"

namespace po = boost::program_options;

namespace mcuemu::cli {

int quantize(const std::vector<std::string> &args) {
  std::string input, output;
  model::QuantizeOptions q;
  po::options_description opts("quantize options");
  opts.add_options()("help,h", "show this help")("input", po::value(&input),
                                                 "fp32 model file (from gen-weights or convert)")(
      "output,o", po::value(&output), "int8 model file to write")(
      "calib-tokens", po::value(&q.calib_tokens)->default_value(q.calib_tokens),
      "positions of teacher-forced random tokens run through the fp32 model for calibration "
      "(MobileBERT: the length of the one calibration sequence, at most seq_len)")(
      "calib-seed", po::value(&q.calib_seed)->default_value(q.calib_seed),
      "seed of the calibration tokens")("quiet,q", "no progress output");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    fmt::print(
        "usage: mcuemu quantize F.h5 -o Q.h5 [--calib-tokens N]\n\n"
        "Post-training int8 quantization: per-output-channel weight scales, activation scales\n"
        "from calibration runs of the fp32 golden model, and every requantization turned into\n"
        "integer (mul, add, shift) constants stored in Q.h5. The int8 path never reads a "
        "float.\n\n");
    std::cout << opts << "\n";
    return 0;
  }
  if (input.empty()) throw po::error("the input fp32 model file is required");
  if (output.empty()) throw po::error("--output/-o is required");
  const bool quiet = vm.count("quiet") != 0;
  weights::check_output_file(output, "--output");  // before any work (weights/atomic_file.hpp)
  const auto t0 = std::chrono::steady_clock::now();
  const std::string source =
      fmt::format("mcuemu quantize {} --calib-tokens {}", input, q.calib_tokens);
  // The architecture decides the quantizer: Llama or MobileBERT (model/quantize.hpp).
  const weights::ModelConfig config = weights::read_file_info(input).config;
  if (!quiet) fmt::print(stderr, "calibrating {} on {} tokens\n", config.name, q.calib_tokens);
  if (config.arch == weights::Arch::MobileBert) {
    const weights::FloatMobileBertModel m = weights::read_float_mobilebert(input);
    weights::write_qmobilebert(output, model::quantize(m, model::calibrate(m, q), q), source);
  } else {
    const weights::FloatModel m = weights::read_float_model(input);
    weights::write_qllama(output, model::quantize(m, model::calibrate(m, q), q), source);
  }
  if (!quiet)
    fmt::print("wrote {} ({}, int8) in {:.1f} s\n", output, config.name,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}

}  // namespace mcuemu::cli
