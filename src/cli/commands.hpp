// The subcommands of `mcuemu`, one file each (cmd_<name>.cpp). Each takes the arguments after
// the command name, prints its own --help, and returns the process exit code. Errors are thrown:
// boost::program_options::error for bad usage (exit 2), std::exception for everything else
// (exit 1); main.cpp prints them as one line "mcuemu <cmd>: error: ...".
#pragma once

#include <string>
#include <vector>

namespace mcuemu::cli {

// mpirun -n N mcuemu run [--model M] [--weights Q.h5] [--profile P] ...: the distributed run.
int run(const std::vector<std::string> &args);
// mcuemu quantize F.h5 -o Q.h5 [--calib-tokens N]: post-training int8 quantization.
int quantize(const std::vector<std::string> &args);
// mcuemu gen-weights --model NAME --seed S -o F.h5: synthetic fp32 weights.
int gen_weights(const std::vector<std::string> &args);
// mcuemu convert --from llama2c|safetensors INPUT -o F.h5: import a checkpoint.
int convert(const std::vector<std::string> &args);
// mcuemu inspect F.h5 [--chips N]: configuration, tensors, totals, bytes per chip.
int inspect(const std::vector<std::string> &args);

}  // namespace mcuemu::cli
