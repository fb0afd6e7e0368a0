// `mcuemu run` for MobileBERT (--mode encoder): the job driver of cmd_run_mobilebert.cpp, called by
// cmd_run.cpp's run_job when the model is a MobileBERT.
#pragma once

#include <cstdint>
#include <string>

#include "chip/profile.hpp"
#include "mpi/cluster.hpp"
#include "runtime/trace.hpp"

namespace mcuemu::cli {

// The options of `mcuemu run` that an encoder run reads (cmd_run.cpp fills them from its own).
struct EncoderJobOptions {
  std::string model;         // --model (a MobileBERT configuration, or ignored with --weights)
  bool model_given = false;  // --model was on the command line
  std::string weights;       // --weights: int8 MobileBERT file; empty: the cached synthetic one
  std::string fp32_weights;  // --fp32-weights (for --compare-fp32 with --weights)
  std::string mode;          // --mode: must be "encoder" when given
  bool mode_given = false;
  int seq = 0;  // --seq; when not given: runtime::default_encoder_seq (128, or seq_len if less)
  bool seq_given = false;
  std::string exchange;   // int32 | int8
  std::string allreduce;  // tree | ring | direct
  std::string ffn;        // --mobilebert-ffn: split | replicated
  uint64_t seed = 1, model_seed = 1;
  int calib_tokens = 64;  // the default model calibrates on max(this, the default seq) tokens
  std::string cache_dir;  // where the default model is cached (resolved by the caller)
  std::string out_dir, summary_json, trace;
  int baseline = 0;
  bool compare_fp32 = false, hash_all_steps = false, cost_only = false, quiet = false;
};

// True when `mcuemu run` with these options runs a MobileBERT: the architecture of the --weights
// file if given, else that of --model. Throws for an unreadable file or an unknown model.
bool is_mobilebert_run(const std::string &model, const std::string &weights);

// Runs the encoder job on this rank (cluster = MPI_COMM_WORLD, link set from `profile`) and
// writes the report on rank 0. Returns the exit code; throws on errors (the caller ends the job).
int run_encoder_job(const EncoderJobOptions &o, mpi::Cluster &cluster,
                    const chip::Profile &profile);

// --trace: every chip's events gathered on rank 0 and written as one Chrome trace (no-op when
// path is empty). Defined in cmd_run.cpp.
void write_trace(const std::string &path, const mpi::Cluster &cluster, const runtime::Trace &trace,
                 const chip::Profile &profile, const std::string &model);

}  // namespace mcuemu::cli
