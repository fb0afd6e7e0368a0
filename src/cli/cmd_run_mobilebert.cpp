// `mcuemu run` for MobileBERT: one encoder forward over S tokens on N emulated chips.
//
//   mpirun -n 4 mcuemu run --model mobilebert --mode encoder --seq 128
//
// The same outputs as a TinyLlama run (terminal summary, results.h5, results.csv,
// --summary-json, --baseline 1, --compare-fp32), with the encoder's output in place of tokens and
// logits: "encoder_output_hash" (FNV-1a 64 of the (S, dim) int8 hidden states, widened to int32
// like the logits hash) and, with --compare-fp32, the cosine similarity of the hidden states
// against the fp32 golden model on the same weights and tokens.
#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "chip/chip.hpp"
#include "cli/run_encoder.hpp"
#include "model/golden.hpp"
#include "model/partition.hpp"
#include "model/quantize.hpp"
#include "mpi/agree.hpp"
#include "mpi/hosts.hpp"
#include "runtime/chip_meter.hpp"
#include "runtime/mobilebert_run.hpp"
#include "runtime/report.hpp"
#include "weights/model_file.hpp"
#include "weights/qmodel_io.hpp"
#include "weights/synthetic.hpp"

namespace mcuemu::cli {
namespace {

// Calibration tokens of the default model: --calib-tokens, but at least the default sequence
// length, so that calibration sees every position a default run uses.
int default_calib_tokens(const EncoderJobOptions &o, const weights::ModelConfig &c) {
  return std::min(c.seq_len, std::max(o.calib_tokens, runtime::default_encoder_seq(c)));
}

// The default model: synthetic fp32 weights, calibrated and quantized, cached on first use.
// Made once by rank 0 and copied to the hosts that do not see it, like TinyLlama's
// (cmd_run.cpp, mpi::ensure_on_every_host).
std::string ensure_default_model(const EncoderJobOptions &o, const mpi::Cluster &cluster) {
  const auto config = weights::config_by_name(o.model);
  const int calib = default_calib_tokens(o, config);
  const std::string path = fmt::format("{}/{}-seed{}-calib{}-g{}q{}c{}.int8.h5", o.cache_dir,
                                       o.model, o.model_seed, calib, weights::kSyntheticVersion,
                                       model::kQuantizerVersion, weights::h5::kContainerVersion);
  mpi::ensure_on_every_host(cluster.comm(), "the default model", path, [&](const std::string &tmp) {
    try {
      std::fprintf(stderr, "mcuemu: making the default synthetic %s (seed %llu), cached at %s\n",
                   o.model.c_str(), static_cast<unsigned long long>(o.model_seed), path.c_str());
      const auto fp = weights::synthetic_mobilebert(config, o.model_seed);
      std::fprintf(stderr, "mcuemu:   calibrating on %d tokens of the fp32 golden model\n", calib);
      model::QuantizeOptions qo;
      qo.calib_tokens = calib;
      const auto q = model::quantize(fp, model::calibrate(fp, qo), qo);
      weights::write_qmobilebert(tmp, q,
                                 fmt::format("synthetic seed {} (mcuemu run)", o.model_seed));
    } catch (const std::exception &e) {
      throw std::runtime_error(fmt::format("making the default model {}: {}", path, e.what()));
    }
  });
  return path;
}

std::vector<int32_t> widen(const std::vector<int8_t> &v) {
  return std::vector<int32_t>(v.begin(), v.end());
}

}  // namespace

bool is_mobilebert_run(const std::string &model, const std::string &weights) {
  const auto arch = weights.empty() ? weights::config_by_name(model).arch
                                    : weights::read_file_info(weights).config.arch;
  return arch == weights::Arch::MobileBert;
}

int run_encoder_job(const EncoderJobOptions &o, mpi::Cluster &cluster,
                    const chip::Profile &profile) {
  // Setup errors are the same on every rank: mpi::agree reports each once (mpi/agree.hpp).
  auto algo = mpi::AllreduceAlgo::Tree;
  auto exchange = runtime::Exchange::Int32;
  auto ffn = runtime::FfnPlacement{};
  mpi::agree(cluster.comm(), [&] {
    if (o.mode_given && o.mode != "encoder")
      throw std::invalid_argument(fmt::format(
          "--mode {}: MobileBERT is an encoder, run it with --mode encoder (its default)", o.mode));
    if (o.hash_all_steps)
      throw std::invalid_argument(
          "--hash-all-steps hashes decode steps; an encoder run always reports the hash of its "
          "output (encoder_output_hash)");
    if (o.cost_only && o.compare_fp32)
      throw std::invalid_argument("--cost-only computes no output: no --compare-fp32");
    algo = mpi::parse_algo(o.allreduce);
    exchange = runtime::parse_exchange(o.exchange);
    ffn = runtime::parse_ffn_placement(o.ffn);
    if (o.weights.empty()) weights::config_by_name(o.model);
  });

  std::string path = o.weights;
  if (!o.cost_only && path.empty()) path = ensure_default_model(o, cluster);  // collective
  weights::QMobileBertModel q;
  model::PartitionPlan plan;
  runtime::EncoderRunConfig rc;
  mpi::agree(cluster.comm(), [&] {
    if (o.cost_only) {
      // Cost-only: the configuration is all that is needed (no weights are read or made).
      q.config =
          path.empty() ? weights::config_by_name(o.model) : weights::read_file_info(path).config;
      weights::validate(q.config);
      if (path.empty()) path = "(cost-only: no weights)";
    } else {
      q = weights::read_qmobilebert(path);
    }
    if (!o.weights.empty() && o.model_given && !q.config.name.empty() && q.config.name != o.model)
      throw std::invalid_argument(
          fmt::format("--model {} but {} holds {}", o.model, path, q.config.name));
    plan = model::make_plan(q.config, cluster.size());
    rc.seq = o.seq_given ? o.seq : runtime::default_encoder_seq(q.config);
    if (rc.seq < 1 || rc.seq > q.config.seq_len)
      throw std::invalid_argument(fmt::format("--seq {}: {} encodes 1..{} tokens (its seq_len)",
                                              rc.seq, q.config.name, q.config.seq_len));
    rc.seed = o.seed;
    rc.algo = algo;
    rc.exchange = exchange;
    rc.ffn = ffn;
  });
  const auto &c = q.config;
  chip::Chip chip(cluster.rank(), profile);
  if (!o.quiet && cluster.rank() == 0)
    std::fprintf(stderr, "mcuemu: running the %s encoder on %d chip(s): %d tokens, FFNs %s\n",
                 c.name.c_str(), cluster.size(), rc.seq, runtime::ffn_placement_name(ffn));
  runtime::Trace trace;
  if (!o.trace.empty()) rc.trace = &trace;
  const auto r = runtime::run_mobilebert(q, plan.chips[cluster.rank()], cluster, chip, rc);
  write_trace(o.trace, cluster, trace, profile, q.config.name);
  const auto chips = runtime::gather_json(
      cluster, runtime::encoder_chip_json(chip, plan.chips[cluster.rank()], r, ffn));
  if (cluster.rank() != 0) return 0;

  runtime::ReportInput in;
  in.config = c;
  in.profile = &profile;
  in.mode = "encoder";
  in.prompt_tokens = 0;
  in.decode_tokens = 1;  // costs are per forward
  in.seq = rc.seq;
  in.exchange = o.exchange;
  in.seed = o.seed;
  in.algo = o.allreduce;
  in.weights_path = path;
  in.prompt = r.tokens;
  in.final_logits = widen(r.output);
  in.chips = chips;
  nlohmann::json s = runtime::summarize(in);
  s["cost_only"] = o.cost_only;
  const std::string hash = runtime::logits_hash(in.final_logits);
  s["encoder_output_hash"] = hash;
  int64_t dup = 0;
  for (const auto &ch : chips) dup = std::max(dup, ch["duplicated_weight_bytes"].get<int64_t>());
  const double per_fwd = static_cast<double>(c.n_layers);
  s["encoder"] = {{"seq", rc.seq},
                  {"dim", c.dim},
                  {"token_types", "all 0"},
                  {"output_hash", hash},
                  {"output_scale", q.output_scale},
                  {"ffn_placement", runtime::ffn_placement_name(ffn)},
                  {"duplicated_weight_bytes_per_chip", dup},
                  {"allreduces_per_block",
                   {{"bottleneck", r.stats.bottleneck_syncs / per_fwd},
                    {"attention", r.stats.attention_syncs / per_fwd},
                    {"ffn", r.stats.ffn_syncs / per_fwd}}}};

  if (o.baseline == 1) {
    // The same forward on one chip (this rank alone), for speedup and EDP gain.
    mpi::Cluster self(MPI_COMM_SELF, runtime::link_model(profile));
    chip::Chip one(0, profile);
    const auto plan1 = model::make_plan(c, 1);
    const auto r1 = runtime::run_mobilebert(q, plan1.chips[0], self, one, rc);
    runtime::ReportInput in1 = in;
    in1.chips = {runtime::encoder_chip_json(one, plan1.chips[0], r1, ffn)};
    in1.final_logits = widen(r1.output);
    const auto s1 = runtime::summarize(in1);
    int64_t max_diff = 0;
    size_t same = 0;
    for (size_t i = 0; i < r.output.size() && i < r1.output.size(); ++i) {
      max_diff = std::max<int64_t>(max_diff, std::abs(int{r.output[i]} - int{r1.output[i]}));
      same += r.output[i] == r1.output[i];
    }
    const double lat = s1["per_token"]["latency_ns"], edp = s1["per_token"]["edp_j_s"];
    const bool identical = r.output == r1.output;
    s["baseline"] = {
        {"chips", 1},
        {"latency_ns", lat},
        {"energy_pj", s1["per_token"]["energy_pj"]["total"]},
        {"edp_j_s", edp},
        {"speedup", lat / s["per_token"]["latency_ns"].get<double>()},
        {"edp_gain", edp / s["per_token"]["edp_j_s"].get<double>()},
        {"output_identical", identical},
        {"output_max_abs_diff", max_diff},
        {"output_hash", s1["final_logits_hash"]},
        // The names of a Llama run's baseline, for tools that read either.
        {"tokens_match", identical},
        {"token_agreement", static_cast<double>(same) / static_cast<double>(r.output.size())},
        {"final_logits_max_abs_diff", max_diff},
        {"final_logits_hash", s1["final_logits_hash"]}};
  } else if (o.baseline != 0) {
    throw std::invalid_argument("--baseline takes 1 (the single-chip run) or 0");
  }

  if (o.compare_fp32) {
    if (!o.weights.empty() && o.fp32_weights.empty())
      throw std::invalid_argument(
          "--compare-fp32 with --weights needs --fp32-weights F (the fp32 model it was quantized "
          "from)");
    const weights::FloatMobileBertModel fp = o.fp32_weights.empty()
                                                 ? weights::synthetic_mobilebert(c, o.model_seed)
                                                 : weights::read_float_mobilebert(o.fp32_weights);
    if (!fp.config.same_shapes(c))
      throw std::invalid_argument(fmt::format("--fp32-weights {} holds {}, not the shapes of {}",
                                              o.fp32_weights, weights::describe(fp.config),
                                              c.name));
    const auto f = model::FloatMobileBert(fp).forward(r.tokens);
    const auto cmp = runtime::compare_hidden(r.output, q.output_scale, f, c.dim);
    s["fp32"] = {{"rows", cmp.rows},
                 {"steps", cmp.rows},
                 {"cosine_mean", cmp.cos_mean},
                 {"cosine_min", cmp.cos_min},
                 {"cosine_all", cmp.cos_all},
                 {"max_abs_diff", cmp.max_abs_diff}};
  }

  runtime::emit_report(s, o.out_dir, o.summary_json, o.quiet);
  return 0;
}

}  // namespace mcuemu::cli
