// mcuemu convert: import a llama2.c float checkpoint or a Hugging Face MobileBERT checkpoint.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "cli/cli_util.hpp"
#include "cli/commands.hpp"
#include "weights/atomic_file.hpp"
#include "weights/llama2c.hpp"
#include "weights/model_file.hpp"
#include "weights/safetensors.hpp"

namespace po = boost::program_options;

namespace mcuemu::cli {

int convert(const std::vector<std::string> &args) {
  std::string from, input, output;
  po::options_description opts("convert options");
  opts.add_options()("help,h", "show this help")("from", po::value<std::string>(&from),
                                                 "input format: llama2c or safetensors")(
      "input", po::value<std::string>(&input),
      "input: a llama2.c .bin file, or a Hugging Face checkpoint directory")(
      "output,o", po::value<std::string>(&output), "output model file (.h5)")("quiet,q",
                                                                              "no summary output");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    fmt::print(
        "usage: mcuemu convert --from llama2c CHECKPOINT.bin -o F.h5\n"
        "       mcuemu convert --from safetensors DIR -o F.h5\n\n"
        "llama2c: a llama2.c float checkpoint (legacy header, or version 1 \"ak42\" header), e.g.\n"
        "  stories42M.bin; the freq_cis tables of legacy files are dropped (the forward "
        "recomputes\n"
        "  RoPE). Version 2 (Q8_0) files are int8 and rejected.\n"
        "safetensors: a Hugging Face MobileBERT directory with config.json and model.safetensors\n"
        "  (F32, F16 or BF16); the encoder is imported, task heads and the pooler are ignored.\n"
        "The output is written atomically: on any error nothing is left at its path.\n\n");
    std::cout << opts << "\n";
    return 0;
  }
  if (from.empty()) throw po::error("--from is required (llama2c or safetensors)");
  if (input.empty()) throw po::error("an input path is required");
  if (output.empty()) throw po::error("--output/-o is required");
  const bool quiet = vm.count("quiet") != 0;
  weights::check_output_file(output, "--output");  // before any work (weights/atomic_file.hpp)
  const auto t0 = std::chrono::steady_clock::now();
  if (from == "llama2c") {
    const auto ck = weights::read_llama2c(input);
    const auto &c = ck.model.config;
    weights::write_float_model(
        output, ck.model,
        fmt::format("mcuemu convert --from llama2c {} (version {})",
                    std::filesystem::path(input).filename().string(), ck.version));
    if (!quiet) {
      fmt::print("{}: {} from llama2.c {} checkpoint {}: {}, {} parameters, {:.2f} s\n", output,
                 c.name, ck.version == 0 ? "legacy" : "version-1", input, weights::describe(c),
                 weights::parameter_count(c), seconds_since(t0));
    }
  } else if (from == "safetensors") {
    const auto hf = weights::read_hf_mobilebert(input);
    const auto &c = hf.model.config;
    weights::write_float_model(output, hf.model,
                               fmt::format("mcuemu convert --from safetensors {}", input));
    if (!quiet) {
      fmt::print("{}: {} from {}: {}, {} tensors imported, {} ignored (heads, pooler), {:.2f} s\n",
                 output, c.name, input, weights::describe(c), hf.tensors_used, hf.ignored.size(),
                 seconds_since(t0));
    }
  } else {
    throw po::error(fmt::format("--from must be llama2c or safetensors, got '{}'", from));
  }
  return 0;
}

}  // namespace mcuemu::cli
