// The gen-weights, convert and inspect commands run as a process: exit codes, one-line errors
// naming the file, and nothing at the output path after a failure.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "weights/model_file.hpp"
#include "weights/test_util.hpp"

namespace w = mcuemu::weights;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

struct Run {
  int exit_code;
  std::string out, err;
};

// Runs `mcuemu <args>` with stdout and stderr captured in files of dir.
Run run_cli(const mcuemu::test::ScratchDir &dir, const std::string &args) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  const std::string cmd =
      std::string("'") + MCUEMU_BINARY + "' " + args + " > '" + out + "' 2> '" + err + "'";
  const int status = std::system(cmd.c_str());
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, mcuemu::test::read_text(out),
        mcuemu::test::read_text(err)};
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

}  // namespace

TEST(WeightsCli, GenWeightsThenInspect) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  auto r = run_cli(dir, "gen-weights --model tinyllama-tiny --seed 3 -o '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto m = w::read_float_model(path);
  EXPECT_EQ(m.config.name, "tinyllama-tiny");
  r = run_cli(dir, "inspect '" + path + "' --chips 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("/layers/1/w2"));
  EXPECT_THAT(r.out, HasSubstr("64 x 172"));
  EXPECT_THAT(r.out, HasSubstr("per chip (N = 3)"));
  EXPECT_THAT(r.out, HasSubstr("20 tensors, 131904 elements, 527616 bytes"));
}

TEST(WeightsCli, GenWeightsIsDeterministic) {
  mcuemu::test::ScratchDir dir;
  ASSERT_EQ(
      run_cli(dir, "gen-weights -q --model mobilebert-tiny --seed 9 -o '" + dir.file("a.h5") + "'")
          .exit_code,
      0);
  ASSERT_EQ(
      run_cli(dir, "gen-weights -q --model mobilebert-tiny --seed 9 -o '" + dir.file("b.h5") + "'")
          .exit_code,
      0);
  EXPECT_EQ(mcuemu::test::read_bytes(dir.file("a.h5")), mcuemu::test::read_bytes(dir.file("b.h5")));
}

TEST(WeightsCli, UnknownModelFails) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("x.h5");
  const auto r = run_cli(dir, "gen-weights --model tinyllama-1b -o '" + path + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("mcuemu gen-weights: error: unknown model 'tinyllama-1b'"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(WeightsCli, ConvertTruncatedCheckpointFailsAndWritesNothing) {
  mcuemu::test::ScratchDir dir;
  const auto bin = dir.file("stories.bin"), out = dir.file("out.h5");
  // A legacy header of tinyllama-tiny followed by far too few weights.
  std::vector<char> bytes(28 + 400, 0);
  const std::int32_t header[7] = {64, 172, 2, 8, 8, 512, 128};
  std::memcpy(bytes.data(), header, 28);
  mcuemu::test::write_bytes(bin, bytes);
  const auto r = run_cli(dir, "convert --from llama2c '" + bin + "' -o '" + out + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("mcuemu convert: error: " + bin + ": truncated"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);  // one line
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_THAT(dir.entries(), ::testing::ElementsAre("stories.bin"));
}

TEST(WeightsCli, ConvertLlama2cCheckpoint) {
  mcuemu::test::ScratchDir dir;
  const auto bin = dir.file("stories.bin"), out = dir.file("out.h5");
  // A legacy checkpoint of tinyllama-tiny: header, then every weight (zeros) and the two
  // freq_cis tables of seq_len * head_dim / 2 floats each.
  const auto c = w::config_by_name("tinyllama-tiny");
  const std::size_t floats = static_cast<std::size_t>(w::parameter_count(c)) +
                             static_cast<std::size_t>(c.seq_len * c.head_dim());
  std::vector<char> bytes(28 + 4 * floats, 0);
  const std::int32_t header[7] = {64, 172, 2, 8, 8, 512, 128};
  std::memcpy(bytes.data(), header, 28);
  mcuemu::test::write_bytes(bin, bytes);
  const auto r = run_cli(dir, "convert --from llama2c '" + bin + "' -o '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("tinyllama-tiny from llama2.c legacy checkpoint"));
  const auto m = w::read_float_model(out);
  EXPECT_EQ(m.config.name, "tinyllama-tiny");
  EXPECT_THAT(w::read_file_info(out).source, HasSubstr("convert --from llama2c stories.bin"));
}

TEST(WeightsCli, InspectNotHdf5Fails) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("notes.h5");
  mcuemu::test::write_bytes(path, {'h', 'i', '\n'});
  const auto r = run_cli(dir, "inspect '" + path + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("mcuemu inspect: error: " + path + ": not an HDF5 file"));
}

TEST(WeightsCli, InspectTooManyChipsNamesScaledModels) {
  mcuemu::test::ScratchDir dir;
  const auto path = dir.file("tiny.h5");
  ASSERT_EQ(run_cli(dir, "gen-weights -q --model tinyllama-tiny -o '" + path + "'").exit_code, 0);
  const auto r = run_cli(dir, "inspect '" + path + "' --chips 16");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("tinyllama-scaled-16"));
  EXPECT_TRUE(r.out.empty());
}

TEST(WeightsCli, UsageErrorsExitTwo) {
  mcuemu::test::ScratchDir dir;
  auto r = run_cli(dir, "gen-weights --model tinyllama-tiny");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("mcuemu gen-weights: error: --output/-o is required"));
  r = run_cli(dir, "convert --from onnx x -o y.h5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--from must be llama2c or safetensors"));
  r = run_cli(dir, "inspect --bogus");
  EXPECT_EQ(r.exit_code, 2);
}

TEST(WeightsCli, HelpDescribesEachCommand) {
  mcuemu::test::ScratchDir dir;
  for (const char *cmd : {"gen-weights", "convert", "inspect"}) {
    const auto r = run_cli(dir, std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr(std::string("usage: mcuemu ") + cmd)) << cmd;
  }
  const auto r = run_cli(dir, "help");
  EXPECT_THAT(r.out, HasSubstr("gen-weights"));
  EXPECT_THAT(r.out, HasSubstr("inspect"));
}
