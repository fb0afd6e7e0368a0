// mcuemu run: one Transformer on N emulated chips, one MPI rank per chip.
//
//   mpirun -n 8 mcuemu run --model tinyllama-42m --mode ar --tokens 32
//
// Every rank parses the same options (checked at start), loads the int8 model, keeps only its
// shard, places it in its chip's memory levels and runs its part of each token, meeting the
// other chips exactly twice per block (--cost-only: the chips' clocks are settled once per
// batch of synchronisations instead, runtime/batched_meter.hpp). Rank 0 writes the report. Any
// rank's error is printed as one line naming the rank and ends the whole job (MPI_Abort), so no
// rank waits forever.
#include <fmt/format.h>
#include <mpi.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "chip/chip.hpp"
#include "chip/profile.hpp"
#include "cli/commands.hpp"
#include "cli/run_encoder.hpp"
#include "model/golden.hpp"
#include "model/partition.hpp"
#include "model/quantize.hpp"
#include "mpi/agree.hpp"
#include "mpi/cluster.hpp"
#include "mpi/hosts.hpp"
#include "mpi/sanitizer_support.hpp"
#include "runtime/chip_meter.hpp"
#include "runtime/fault.hpp"
#include "runtime/llama_run.hpp"
#include "runtime/report.hpp"
#include "runtime/weight_arena.hpp"
#include "weights/atomic_file.hpp"
#include "weights/h5io.hpp"
#include "weights/model_file.hpp"
#include "weights/qmodel_io.hpp"
#include "weights/synthetic.hpp"

namespace po = boost::program_options;

namespace mcuemu::cli {
namespace {

struct RunOptions {
  std::string model = "tinyllama-42m";
  std::string weights;
  std::string fp32_weights;
  std::string profile = "gap9";
  std::vector<std::string> sets;
  std::string mode = "ar";
  int prompt_tokens = 4;
  int tokens = 32;
  int seq = 64;
  std::string exchange = "int32";
  uint64_t seed = 1;
  uint64_t model_seed = 1;
  int calib_tokens = 64;
  std::string allreduce = "tree";
  std::string out_dir = "results";
  std::string summary_json;
  std::string cache_dir;
  int baseline = 0;
  bool compare_fp32 = false;
  bool hash_all_steps = false;
  bool cost_only = false;
  std::string trace;
  bool quiet = false;
  // MobileBERT (cmd_run_mobilebert.cpp): which options were given, and where its FFNs run.
  bool model_given = false, mode_given = false, seq_given = false;
  std::string mobilebert_ffn = "split";
};

std::string default_cache_dir() {
  if (const char *d = std::getenv("MCUEMU_CACHE_DIR"); d && *d) return d;
  if (const char *d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/mcuemu";
  if (const char *h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/mcuemu";
  return "/tmp/mcuemu-cache";
}

// The fp32 model of the default synthetic weights (regenerated from the seed, deterministic).
weights::FloatModel default_fp32(const RunOptions &o) {
  return weights::synthetic_llama(weights::config_by_name(o.model), o.model_seed);
}

// The default model: synthetic fp32 weights, calibrated and quantized, cached on first use.
// Rank 0 makes it once (written to a temporary file, then renamed); on a multi-host run every
// other host that does not see rank 0's file (no shared cache directory) receives a copy over
// MPI (mpi::ensure_on_every_host, docs/multihost.md).
std::string ensure_default_model(const RunOptions &o, const mpi::Cluster &cluster) {
  const std::string dir = o.cache_dir.empty() ? default_cache_dir() : o.cache_dir;
  const std::string path = fmt::format("{}/{}-seed{}-calib{}-g{}q{}c{}.int8.h5", dir, o.model,
                                       o.model_seed, o.calib_tokens, weights::kSyntheticVersion,
                                       model::kQuantizerVersion, weights::h5::kContainerVersion);
  mpi::ensure_on_every_host(cluster.comm(), "the default model", path, [&](const std::string &tmp) {
    try {
      std::fprintf(stderr, "mcuemu: making the default synthetic %s (seed %llu), cached at %s\n",
                   o.model.c_str(), static_cast<unsigned long long>(o.model_seed), path.c_str());
      const auto fp = default_fp32(o);
      std::fprintf(stderr, "mcuemu:   calibrating on %d tokens of the fp32 golden model\n",
                   o.calib_tokens);
      model::QuantizeOptions qo;
      qo.calib_tokens = o.calib_tokens;
      const auto q = model::quantize(fp, model::calibrate(fp, qo), qo);
      weights::write_qllama(tmp, q, fmt::format("synthetic seed {} (mcuemu run)", o.model_seed));
    } catch (const std::exception &e) {
      throw std::runtime_error(fmt::format("making the default model {}: {}", path, e.what()));
    }
  });
  return path;
}

struct Fp32Comparison {
  int steps = 0;
  double top1 = 0, cos_mean = 0, cos_min = 1;
};

// Teacher-forced: the fp32 golden model reads the same token sequence as the int8 run and the
// two sets of logits are compared at every step.
Fp32Comparison compare_fp32(const weights::FloatModel &fp, const std::vector<int> &inputs,
                            const std::vector<std::vector<int32_t>> &q_logits, float logit_scale) {
  model::FloatLlama golden(fp);
  Fp32Comparison c;
  for (size_t pos = 0; pos < inputs.size() && pos < q_logits.size(); ++pos) {
    auto f = golden.forward(inputs[pos], static_cast<int>(pos));
    const auto &q = q_logits[pos];
    double dot = 0, nf = 0, nq = 0;
    size_t af = 0, aq = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      const double qv = q[i] * static_cast<double>(logit_scale), fv = f[i];
      dot += qv * fv, nf += fv * fv, nq += qv * qv;
      if (f[i] > f[af]) af = i;
      if (q[i] > q[aq]) aq = i;
    }
    const double cs = dot / std::sqrt(nf * nq + 1e-30);
    c.cos_mean += cs;
    c.cos_min = std::min(c.cos_min, cs);
    c.top1 += af == aq;
    ++c.steps;
  }
  if (c.steps > 0) c.cos_mean /= c.steps, c.top1 /= c.steps;
  return c;
}

}  // namespace

// --trace: every chip's events gathered on rank 0 and written as one Chrome trace.
void write_trace(const std::string &path, const mpi::Cluster &cluster, const runtime::Trace &trace,
                 const chip::Profile &profile, const std::string &model) {
  if (path.empty()) return;
  const auto events =
      runtime::gather_json(cluster, trace.events_json(cluster.rank(), profile.freq_mhz));
  if (cluster.rank() == 0)
    runtime::write_chrome_trace(path, cluster.size(), events,
                                {{"model", model},
                                 {"profile", profile.name},
                                 {"freq_mhz", profile.freq_mhz},
                                 {"time", "simulated"}});
}

namespace {

int run_job(const RunOptions &o, const std::string &options_text) {
  mpi::Cluster cluster(MPI_COMM_WORLD);
  // Setup errors are the same on every rank: mpi::agree reports each once (mpi/agree.hpp).
  auto algo = mpi::AllreduceAlgo::Tree;
  mpi::agree(cluster.comm(), [&] {
    cluster.check_same_everywhere("the options of `mcuemu run`", options_text);
    // Options and output paths are checked before any work, so a typo fails in a second, not
    // after the run (only rank 0 writes).
    if (o.baseline != 0 && o.baseline != 1)
      throw std::invalid_argument("--baseline takes 1 (the single-chip run) or 0");
    if (cluster.rank() == 0) {
      weights::check_output_dir(o.out_dir, "--out");
      if (!o.summary_json.empty()) weights::check_output_file(o.summary_json, "--summary-json");
      if (!o.trace.empty()) weights::check_output_file(o.trace, "--trace");
    }
    algo = mpi::parse_algo(o.allreduce);
  });
  // Rank 0 reads the profile and every rank parses the same text: a profile file (or the
  // source tree's experiments/hw, for a named profile) need only exist on rank 0's host.
  std::string profile_path, profile_text;
  mpi::agree(cluster.comm(), [&] {
    if (cluster.rank() == 0) profile_text = chip::read_profile_text(o.profile, "", &profile_path);
  });
  mpi::broadcast_string(cluster.comm(), profile_path);
  mpi::broadcast_string(cluster.comm(), profile_text);
  chip::Profile profile;
  mpi::agree(cluster.comm(),
             [&] { profile = chip::parse_profile(profile_text, profile_path, o.sets); });
  // Every rank reads the model file it is given: on a multi-host run every host needs it.
  if (!o.weights.empty())
    mpi::check_readable_everywhere(
        cluster.comm(), fmt::format("the model file {} (--weights)", o.weights), o.weights);
  bool encoder = false;
  mpi::agree(cluster.comm(), [&] { encoder = is_mobilebert_run(o.model, o.weights); });
  cluster.set_link(runtime::link_model(profile));

  if (encoder)
    return run_encoder_job({.model = o.model,
                            .model_given = o.model_given,
                            .weights = o.weights,
                            .fp32_weights = o.fp32_weights,
                            .mode = o.mode,
                            .mode_given = o.mode_given,
                            .seq = o.seq,
                            .seq_given = o.seq_given,
                            .exchange = o.exchange,
                            .allreduce = o.allreduce,
                            .ffn = o.mobilebert_ffn,
                            .seed = o.seed,
                            .model_seed = o.model_seed,
                            .calib_tokens = o.calib_tokens,
                            .cache_dir = o.cache_dir.empty() ? default_cache_dir() : o.cache_dir,
                            .out_dir = o.out_dir,
                            .summary_json = o.summary_json,
                            .trace = o.trace,
                            .baseline = o.baseline,
                            .compare_fp32 = o.compare_fp32,
                            .hash_all_steps = o.hash_all_steps,
                            .cost_only = o.cost_only,
                            .quiet = o.quiet},
                           cluster, profile);

  std::string path = o.weights;
  if (!o.cost_only && path.empty()) {
    mpi::agree(cluster.comm(), [&] { weights::config_by_name(o.model); });
    path = ensure_default_model(o, cluster);  // collective: rank 0 makes it, once
  }
  weights::QLlamaModel q;
  model::PartitionPlan plan;
  runtime::RunConfig rc;
  // This rank's memory before the model is read: MPI, the libraries and the cluster only.
  runtime::HostMemory memory_before_model = runtime::host_memory();
  mpi::agree(cluster.comm(), [&] {
    if (o.cost_only) {
      // Cost-only: the configuration is all that is needed (no weights are read or made).
      if (o.compare_fp32 || o.hash_all_steps)
        throw std::invalid_argument(
            "--cost-only computes no logits: no --compare-fp32 or --hash-all-steps");
      q.config =
          path.empty() ? weights::config_by_name(o.model) : weights::read_file_info(path).config;
      weights::validate(q.config);
      if (path.empty()) path = "(cost-only: no weights)";
    } else {
      // Each rank reads only its chip's slice of the model, straight from the file.
      const auto config = weights::read_file_info(path).config;
      weights::validate(config);
      const auto plan_n = model::make_plan(config, cluster.size());
      memory_before_model = runtime::host_memory();
      // Read straight into an arena on huge pages (runtime/weight_arena.hpp).
      const auto slice = runtime::chip_slice(config, plan_n.chips[cluster.rank()]);
      const auto placed = runtime::weight_arena_for(config, slice, runtime::huge_pages_from_env());
      q = weights::read_qllama_slice(path, slice, placed.place, placed.arena);
      placed.check_filled();
      weights::h5::release_memory();
    }
    if (!o.weights.empty() && q.config.name != o.model && !q.config.name.empty() &&
        o.model != "tinyllama-42m")
      throw std::invalid_argument(
          fmt::format("--model {} but {} holds {}", o.model, path, q.config.name));
    plan = model::make_plan(q.config, cluster.size());
    rc.mode = o.mode;
    rc.prompt_tokens = o.prompt_tokens;
    rc.tokens = o.tokens;
    rc.seq = o.seq;
    rc.exchange = runtime::parse_exchange(o.exchange);
    if (o.compare_fp32 && o.mode != "ar")
      throw std::invalid_argument(
          "--compare-fp32 compares every decode step: use it with --mode ar");
    rc.seed = o.seed;
    rc.algo = algo;
    rc.keep_step_logits = o.compare_fp32 || o.hash_all_steps;
    if (o.cost_only) rc.cost_only_sync = runtime::cost_only_sync_from_env();
    if (o.cost_only) rc.step_replay = runtime::cost_only_replay_from_env();
    if (!o.cost_only) rc.op_replay = runtime::op_replay_from_env();
    runtime::validate_run_config(q.config, rc);
  });
  chip::Chip chip(cluster.rank(), profile);
  if (!o.quiet && cluster.rank() == 0)
    std::fprintf(stderr, "mcuemu: running %s on %d chip(s): %d prompt tokens, %d decode steps\n",
                 q.config.name.c_str(), cluster.size(), o.prompt_tokens, o.tokens);
  runtime::Trace trace;
  if (!o.trace.empty()) rc.trace = &trace;
  // The slice moves into the chip (held once); q keeps its config and scale.
  const auto r =
      o.cost_only ? runtime::run_llama(q, plan.chips[cluster.rank()], cluster, chip, rc)
                  : runtime::run_llama(std::move(q), plan.chips[cluster.rank()], cluster, chip, rc);
  write_trace(o.trace, cluster, trace, profile, q.config.name);
  auto mine = runtime::chip_json(chip, plan.chips[cluster.rank()], r);
  // Host memory of this rank: before the model was read (MPI, libraries, the cluster's windows)
  // and now (peak included).
  mine["host"]["memory_before_model"] = runtime::host_memory_json(memory_before_model);
  mine["host"]["memory_at_end"] = runtime::host_memory_json(runtime::host_memory());
  auto chips = runtime::gather_json(cluster, mine);
  if (cluster.rank() != 0) return 0;
  // Host wall-clock and memory vary from run to run: they go to the summary JSON's host_wall
  // member only, so every other output is byte-identical for the same command.
  nlohmann::json ranks_wall = nlohmann::json::array();
  for (auto &c : chips) {
    ranks_wall.push_back(c["host"]);
    c.erase("host");
  }

  runtime::ReportInput in;
  in.config = q.config;
  in.profile = &profile;
  in.mode = o.mode;
  in.prompt_tokens = o.prompt_tokens;
  in.decode_tokens = o.mode == "prompt" ? 1 : o.tokens;
  in.seq = o.mode == "prompt" ? o.seq : 0;
  in.exchange = o.exchange;
  in.seed = o.seed;
  in.algo = o.allreduce;
  in.weights_path = path;
  in.prompt = r.prompt;
  in.generated = r.generated;
  in.final_logits = r.final_logits;
  in.chips = chips;
  nlohmann::json s = runtime::summarize(in);
  s["cost_only"] = o.cost_only;
  if (o.hash_all_steps) {
    std::vector<int32_t> all;
    for (const auto &step : r.step_logits) all.insert(all.end(), step.begin(), step.end());
    s["all_steps_logits_hash"] = runtime::logits_hash(all);
  }

  if (o.baseline == 1) {
    // The same run on one chip (this rank alone), for speedup and EDP gain.
    mpi::Cluster self(MPI_COMM_SELF, runtime::link_model(profile));
    chip::Chip one(0, profile);
    const auto plan1 = model::make_plan(q.config, 1);
    // Rank 0 alone reads the whole model now, for the one chip that holds all of it.
    const auto r1 =
        o.cost_only ? runtime::run_llama(q, plan1.chips[0], self, one, rc)
                    : runtime::run_llama(weights::read_qllama(path), plan1.chips[0], self, one, rc);
    runtime::ReportInput in1 = in;
    in1.chips = {runtime::chip_json(one, plan1.chips[0], r1)};
    in1.final_logits = r1.final_logits;
    const auto s1 = runtime::summarize(in1);
    // How far this run is from one chip (0 for the exact int32 exchange).
    int64_t max_diff = 0;
    for (size_t i = 0; i < r.final_logits.size() && i < r1.final_logits.size(); ++i)
      max_diff = std::max<int64_t>(
          max_diff, std::llabs(static_cast<int64_t>(r.final_logits[i]) - r1.final_logits[i]));
    size_t same = 0;
    for (size_t i = 0; i < r.generated.size() && i < r1.generated.size(); ++i)
      same += r.generated[i] == r1.generated[i];
    const double lat = s1["per_token"]["latency_ns"], edp = s1["per_token"]["edp_j_s"];
    s["baseline"] = {
        {"chips", 1},
        {"latency_ns", lat},
        {"energy_pj", s1["per_token"]["energy_pj"]["total"]},
        {"edp_j_s", edp},
        {"speedup", lat / s["per_token"]["latency_ns"].get<double>()},
        {"edp_gain", edp / s["per_token"]["edp_j_s"].get<double>()},
        {"tokens_match", r1.generated == r.generated},
        {"token_agreement", static_cast<double>(same) / static_cast<double>(r.generated.size())},
        {"final_logits_max_abs_diff", max_diff},
        {"final_logits_hash", s1["final_logits_hash"]}};
  } else if (o.baseline != 0) {
    throw std::invalid_argument("--baseline takes 1 (the single-chip run) or 0");
  }

  if (o.compare_fp32) {
    weights::FloatModel fp =
        o.fp32_weights.empty()
            ? (o.weights.empty() ? default_fp32(o)
                                 : throw std::invalid_argument(
                                       "--compare-fp32 with --weights needs --fp32-weights F (the "
                                       "fp32 model it was quantized from)"))
            : weights::read_float_model(o.fp32_weights);
    std::vector<int> inputs = r.prompt;
    inputs.insert(inputs.end(), r.generated.begin(), r.generated.end() - 1);
    const auto c = compare_fp32(fp, inputs, r.step_logits, q.logit_scale);
    s["fp32"] = {{"steps", c.steps},
                 {"top1_agreement", c.top1},
                 {"cosine_mean", c.cos_mean},
                 {"cosine_min", c.cos_min}};
  }

  runtime::emit_report(s, o.out_dir, o.summary_json, o.quiet, ranks_wall);
  return 0;
}

}  // namespace

int run(const std::vector<std::string> &args) {
  RunOptions o;
  po::options_description opts("mcuemu run options");
  opts.add_options()("help,h", "show this help")(
      "model", po::value(&o.model)->default_value(o.model),
      "model configuration (tinyllama-42m, tinyllama-tiny, tinyllama-scaled-*, mobilebert, "
      "mobilebert-tiny)")(
      "weights", po::value(&o.weights),
      "int8 model file (from `mcuemu quantize`); default: a synthetic model, made and cached on "
      "first use")("profile", po::value(&o.profile)->default_value(o.profile),
                   "hardware profile: gap9, siracusa, or an .ini path")(
      "set", po::value(&o.sets)->composing(), "override a profile value, key=value (repeatable)")(
      "mode", po::value(&o.mode)->default_value(o.mode),
      "ar: autoregressive decoding with the KV cache; prompt: --seq tokens in one forward; "
      "encoder: MobileBERT, --seq tokens through the encoder (its default mode)")(
      "seq", po::value(&o.seq)->default_value(o.seq),
      "prompt mode: tokens processed at once (encoder mode: default 128)")(
      "mobilebert-ffn", po::value(&o.mobilebert_ffn)->default_value(o.mobilebert_ffn),
      "MobileBERT's stacked FFNs: split (sliced over the chips, one all-reduce each) or "
      "replicated (whole on every chip: two synchronisations per block, weights duplicated)")(
      "exchange", po::value(&o.exchange)->default_value(o.exchange),
      "int32: exact partial sums (default); int8: requantize before the exchange, half the "
      "link bytes, not exact")("prompt-tokens",
                               po::value(&o.prompt_tokens)->default_value(o.prompt_tokens),
                               "prompt length P (ids drawn from --seed)")(
      "tokens", po::value(&o.tokens)->default_value(o.tokens),
      "decode steps T; costs are reported per decode step")(
      "seed", po::value(&o.seed)->default_value(o.seed), "seed of the prompt")(
      "model-seed", po::value(&o.model_seed)->default_value(o.model_seed),
      "seed of the default synthetic weights")(
      "calib-tokens", po::value(&o.calib_tokens)->default_value(o.calib_tokens),
      "calibration tokens for the default model")(
      "allreduce", po::value(&o.allreduce)->default_value(o.allreduce),
      "all-reduce algorithm: tree (hierarchical), ring, direct")(
      "out", po::value(&o.out_dir)->default_value(o.out_dir),
      "directory for results.h5 and results.csv")(
      "trace", po::value(&o.trace),
      "write a Chrome trace-event timeline of the simulated run (open it in Perfetto)")(
      "summary-json", po::value(&o.summary_json),
      "write the machine-readable summary to this file")(
      "baseline", po::value(&o.baseline)->default_value(0),
      "1: also run on one chip and report speedup and EDP gain")(
      "compare-fp32", po::bool_switch(&o.compare_fp32),
      "compare the int8 logits with the fp32 golden model at every step")(
      "cost-only", po::bool_switch(&o.cost_only),
      "run the same schedule and placement without the arithmetic or the weights: each chip "
      "prices its ops alone and the chips' clocks are settled in batches, not at every "
      "collective (fast sweeps; costs are identical to a full run, tokens are not computed)")(
      "hash-all-steps", po::bool_switch(&o.hash_all_steps),
      "add a hash of every step's full logits to the summary (gathers them on rank 0)")(
      "fp32-weights", po::value(&o.fp32_weights),
      "fp32 model for --compare-fp32 when --weights is given")(
      "cache-dir", po::value(&o.cache_dir),
      "where the default model is cached (default $MCUEMU_CACHE_DIR or ~/.cache/mcuemu)")(
      "quiet,q", po::bool_switch(&o.quiet), "print nothing but errors");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::cout << "usage: mpirun -n N mcuemu run [options]\n\n"
                 "Runs one Transformer on N emulated chips (one MPI rank each) and reports the\n"
                 "simulated latency, energy and memory per chip. Without mpirun: one chip.\n\n"
              << opts << "\n";
    return 0;
  }
  po::notify(vm);
  o.model_given = !vm["model"].defaulted();
  o.mode_given = !vm["mode"].defaulted();
  o.seq_given = !vm["seq"].defaulted();

  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) mpi::init_mpi(nullptr, nullptr);  // MPI_Init (mpi/sanitizer_support.hpp)
  std::string text;
  for (const auto &a : args) text += a + '\x1f';
  int rc = 0;
  try {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    runtime::install_fatal_signal_reporter(rank);
    runtime::install_exit_reporter(rank);
    runtime::arm_fault_from_env();
    rc = run_job(o, text);
  } catch (const mpi::CollectiveError &e) {
    // Every rank saw it; one reports it, the others wait for its abort.
    if (e.reporter()) mpi::abort_job(e.what());
    mpi::await_abort(e.what());
  } catch (const mpi::PeerFailed &) {
    mpi::wait_for_abort();  // a lower rank reports the same error and ends the job
  } catch (const std::exception &e) {
    mpi::abort_job(e.what());
  } catch (...) {
    mpi::abort_job("unexpected exception (not a std::exception)");
  }
  MPI_Finalize();
  return rc;
}

}  // namespace mcuemu::cli
