// The report of a run, made on rank 0 from every chip's JSON (llama_run.hpp, chip_json): the
// terminal summary, --summary-json, results.h5 and results.csv (DESIGN.md, Outputs).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "chip/profile.hpp"
#include "mpi/cluster.hpp"
#include "weights/config.hpp"

namespace mcuemu::runtime {

struct ReportInput {
  weights::ModelConfig config;
  const chip::Profile *profile = nullptr;
  std::string mode;
  int prompt_tokens = 0, decode_tokens = 0, seq = 0;
  std::string exchange = "int32";
  uint64_t seed = 0;
  std::string algo, weights_path;
  std::vector<int> prompt, generated;
  std::vector<int32_t> final_logits;
  std::vector<nlohmann::json> chips;  // one per rank, in rank order
};

// Totals and per-token figures; the body of --summary-json.
nlohmann::json summarize(const ReportInput &in);
// FNV-1a 64 of the int32 logits, as 16 hex digits.
std::string logits_hash(const std::vector<int32_t> &logits);
// The human-readable summary.
std::string format_summary(const nlohmann::json &s);
// The end of a run on rank 0: the summary on stdout (unless quiet), results.h5 and results.csv
// in out_dir, and the summary as JSON at summary_json (if not empty); every file atomically.
// `ranks_wall` (if not null): each rank's host wall-clock and memory figures, which go into the
// summary JSON's host_wall member as "ranks" (never into results.h5 / results.csv).
void emit_report(const nlohmann::json &summary, const std::string &out_dir,
                 const std::string &summary_json, bool quiet,
                 const nlohmann::json &ranks_wall = nullptr);
// The summary JSON's only non-deterministic member: {"start_utc", "elapsed_s", "hostname"} of
// this process. emit_report adds it to --summary-json only (not to results.h5 / results.csv), so
// two runs of the same command give byte-identical outputs once this one key is skipped.
inline constexpr const char *kHostWallKey = "host_wall";
nlohmann::json host_wall();
// results.h5 and results.csv into `dir` (created if needed), both written atomically.
void write_results(const std::string &dir, const nlohmann::json &summary);
// Every rank's JSON, in rank order, on rank 0 (empty elsewhere). Outside the modelled schedule.
std::vector<nlohmann::json> gather_json(const mpi::Cluster &cluster, const nlohmann::json &mine);
// The git revision the binary was built from ("unknown" outside a checkout).
const char *git_revision();

}  // namespace mcuemu::runtime
