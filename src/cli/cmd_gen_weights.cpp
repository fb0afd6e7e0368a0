// mcuemu gen-weights: deterministic synthetic fp32 weights for a known configuration.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>

#include "cli/cli_util.hpp"
#include "cli/commands.hpp"
#include "weights/atomic_file.hpp"
#include "weights/model_file.hpp"
#include "weights/synthetic.hpp"

namespace po = boost::program_options;

namespace mcuemu::cli {

int gen_weights(const std::vector<std::string> &args) {
  std::string model, output;
  std::uint64_t seed = 0;
  po::options_description opts("gen-weights options");
  opts.add_options()("help,h", "show this help")("model", po::value<std::string>(&model),
                                                 "configuration name (see --list)")(
      "seed", po::value<std::uint64_t>(&seed)->default_value(1), "random seed")(
      "output,o", po::value<std::string>(&output), "output model file (.h5)")(
      "list", "list the known configurations and exit")("quiet,q", "no progress output");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    fmt::print(
        "usage: mcuemu gen-weights --model NAME [--seed S] -o F.h5\n\n"
        "Writes deterministic synthetic fp32 weights with the scales of the training recipe\n"
        "(N(0, 0.02) weights, wo/w2 scaled by 1/sqrt(2 n_layers), norm weights 1 + N(0, 0.05);\n"
        "weights/synthetic.hpp). The same seed gives the same file on every run.\n\n");
    std::cout << opts << "\n";
    return 0;
  }
  if (vm.count("list")) {
    for (const auto &name : weights::known_configs()) {
      const auto c = weights::config_by_name(name);
      fmt::print("{:22} {:>12} params  {}\n", name, weights::parameter_count(c),
                 weights::describe(c));
    }
    return 0;
  }
  if (model.empty()) throw po::error("--model is required (see --list)");
  if (output.empty()) throw po::error("--output/-o is required");
  const bool quiet = vm.count("quiet") != 0;
  weights::check_output_file(output, "--output");  // before any work (weights/atomic_file.hpp)

  const weights::ModelConfig c = weights::config_by_name(model);
  const std::int64_t params = weights::parameter_count(c);
  const auto bytes = static_cast<std::size_t>(params) * sizeof(float);
  const std::string source = fmt::format("mcuemu gen-weights --model {} --seed {}", model, seed);
  const auto t0 = std::chrono::steady_clock::now();
  ProgressPrinter gen_progress("generating", bytes, !quiet);
  ProgressPrinter write_progress("writing", bytes, !quiet);
  double t_gen = 0;
  if (c.arch == weights::Arch::Llama) {
    const auto m = weights::synthetic_llama(c, seed, std::ref(gen_progress));
    t_gen = seconds_since(t0);
    weights::write_float_model(output, m, source, std::ref(write_progress));
  } else {
    const auto m = weights::synthetic_mobilebert(c, seed, std::ref(gen_progress));
    t_gen = seconds_since(t0);
    weights::write_float_model(output, m, source, std::ref(write_progress));
  }
  const double t = seconds_since(t0);
  if (!quiet) {
    fmt::print(
        "{}: {} ({} parameters, {} fp32), seed {}: generated in {:.2f} s, written in "
        "{:.2f} s\n",
        output, model, params, mb(static_cast<double>(bytes)), seed, t_gen, t - t_gen);
  }
  return 0;
}

}  // namespace mcuemu::cli
