#include "runtime/report.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "weights/atomic_file.hpp"
#include "weights/h5io.hpp"

#include "git_revision.h"  // generated at build time (cmake/git_revision.cmake)

namespace mcuemu::runtime {

using nlohmann::json;

const char *git_revision() {
  return MCUEMU_GIT_REV;
}

std::vector<json> gather_json(const mpi::Cluster &cluster, const json &mine) {
  const std::string s = mine.dump();
  int n = static_cast<int>(s.size());
  std::vector<int> counts(cluster.size()), displs(cluster.size());
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, cluster.comm());
  std::string all;
  if (cluster.rank() == 0) {
    int total = 0;
    for (int r = 0; r < cluster.size(); ++r) displs[r] = total, total += counts[r];
    all.resize(total);
  }
  MPI_Gatherv(s.data(), n, MPI_CHAR, all.data(), counts.data(), displs.data(), MPI_CHAR, 0,
              cluster.comm());
  std::vector<json> out;
  if (cluster.rank() == 0)
    for (int r = 0; r < cluster.size(); ++r)
      out.push_back(json::parse(all.substr(displs[r], counts[r])));
  return out;
}

std::string logits_hash(const std::vector<int32_t> &logits) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t v : logits) {
    const auto u = static_cast<uint32_t>(v);
    for (int b = 0; b < 4; ++b) h = (h ^ ((u >> (8 * b)) & 0xff)) * 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

namespace {

// Process start, taken at static initialisation (before main), for host_wall().
const auto g_start_steady = std::chrono::steady_clock::now();
const auto g_start_system = std::chrono::system_clock::now();

const char *kTerms[] = {"compute", "L1", "L2", "MRAM", "L3", "link", "active", "idle"};
const char *kLevels[] = {"L1", "L2", "MRAM", "L3"};

}  // namespace

json summarize(const ReportInput &in) {
  const auto &p = *in.profile;
  const int T = in.decode_tokens;
  json s;
  s["model"] = in.config.name;
  s["mode"] = in.mode;
  s["chips"] = static_cast<int>(in.chips.size());
  s["profile"] = {{"name", p.name}, {"path", p.path}, {"freq_mhz", p.freq_mhz}};
  s["allreduce"] = in.algo;
  s["exchange"] = in.exchange;
  s["seq"] = in.seq;
  s["seed"] = in.seed;
  s["weights"] = in.weights_path;
  s["git_revision"] = git_revision();
  s["prompt_tokens"] = in.prompt_tokens;
  s["decode_tokens"] = T;
  s["prompt"] = in.prompt;
  s["generated"] = in.generated;
  s["final_logits_hash"] = logits_hash(in.final_logits);

  // Decode: every chip leaves the last arg-max at the same clock; per token = decode / T.
  const json &c0 = in.chips.at(0);
  const int64_t decode_cycles =
      c0["cycles"]["end"].get<int64_t>() - c0["cycles"]["prefill"].get<int64_t>();
  const double ns_per_cycle = 1e3 / p.freq_mhz;
  const double latency_ns = static_cast<double>(decode_cycles) / T * ns_per_cycle;
  json energy;
  double e_total = 0;
  for (const char *term : kTerms) {
    double sum = 0;
    for (const auto &c : in.chips)
      sum += c["energy_pj"][term].get<double>() - c["prefill_energy_pj"][term].get<double>();
    energy[term] = sum / T;
    e_total += sum / T;
  }
  energy["total"] = e_total;
  s["per_token"] = {{"latency_ns", latency_ns},
                    {"latency_cycles", static_cast<double>(decode_cycles) / T},
                    {"energy_pj", energy},
                    {"edp_j_s", e_total * 1e-12 * latency_ns * 1e-9}};
  const int64_t prefill = c0["cycles"]["prefill"].get<int64_t>();
  s["prefill"] = {{"latency_ns", static_cast<double>(prefill) * ns_per_cycle}};

  json bytes = json::object(), totals = json::object();
  int64_t link_bytes = 0, busy = 0, idle = 0, link = 0, block_syncs = 0, edge = 0, tokens = 0;
  for (const char *l : kLevels) bytes[l] = 0;
  for (const auto &c : in.chips) {
    for (const char *l : kLevels) bytes[l] = bytes[l].get<int64_t>() + c["bytes"][l].get<int64_t>();
    link_bytes += c["link_bytes"].get<int64_t>();
    busy += c["cycles"]["busy"].get<int64_t>();
    idle += c["cycles"]["idle"].get<int64_t>();
    link += c["cycles"]["link"].get<int64_t>();
  }
  block_syncs = c0["syncs"]["block"].get<int64_t>();
  edge = c0["syncs"]["edge"].get<int64_t>();
  tokens = c0["syncs"]["forwards"].get<int64_t>();
  s["run_totals"] = {
      {"bytes", bytes},
      {"link_bytes", link_bytes},
      {"idle_share", static_cast<double>(idle + link) / static_cast<double>(busy + idle + link)}};
  s["synchronisations"] = {
      {"block_allreduces", block_syncs},
      {"edge_exchanges", edge},
      {"forwards", tokens},
      {"tokens", c0["syncs"]["tokens"].get<int64_t>()},
      {"per_block_per_step", tokens > 0 ? static_cast<double>(block_syncs) /
                                              (static_cast<double>(tokens) * in.config.n_layers)
                                        : 0.0},
      {"edge_per_step",
       tokens > 0 ? static_cast<double>(edge) / static_cast<double>(tokens) : 0.0}};
  s["per_chip"] = in.chips;
  return s;
}

json host_wall() {
  const std::time_t t = std::chrono::system_clock::to_time_t(g_start_system);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return {
      {"start_utc", when},
      {"elapsed_s",
       std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start_steady).count()},
      {"hostname", host}};
}

std::string format_summary(const json &s) {
  std::string o;
  auto mb = [](double b) { return fmt::format("{:.2f} MB", b / 1e6); };
  o +=
      fmt::format("mcuemu run: {} on {} chip(s), mode {}, profile {} ({:.0f} MHz), all-reduce {}\n",
                  s["model"].get<std::string>(), s["chips"].get<int>(),
                  s["mode"].get<std::string>(), s["profile"]["name"].get<std::string>(),
                  s["profile"]["freq_mhz"].get<double>(), s["allreduce"].get<std::string>());
  // MobileBERT encoder runs (mode "encoder", cli/cmd_run_mobilebert.cpp) add s["encoder"].
  const bool encoder = s["mode"] == "encoder";
  const bool prompt = s["mode"] == "prompt" || encoder;
  if (encoder) {
    const auto &e = s["encoder"];
    o += fmt::format("  {} tokens through the encoder, FFNs {}; output ({}, {}) int8",
                     s["seq"].get<int>(), e["ffn_placement"].get<std::string>(),
                     s["seq"].get<int>(), e["dim"].get<int>());
  } else if (prompt) {
    o += fmt::format("  {} tokens in one forward; next token:", s["seq"].get<int>());
  } else {
    o += fmt::format("  prompt {} tokens, {} decode steps; generated:",
                     s["prompt_tokens"].get<int>(), s["decode_tokens"].get<int>());
  }
  int shown = 0;
  for (int t : s["generated"]) {
    if (shown++ == 16) {
      o += " ...";
      break;
    }
    o += fmt::format(" {}", t);
  }
  if (s.value("cost_only", false))
    o += encoder ? "\n  cost-only run: no arithmetic, no output\n"
                 : "\n  cost-only run: no arithmetic, the token ids above are placeholders\n";
  else if (encoder)
    o +=
        fmt::format("\n  encoder output hash {}\n", s["encoder"]["output_hash"].get<std::string>());
  else
    o += fmt::format("\n  final logits hash {}\n", s["final_logits_hash"].get<std::string>());
  const auto &pt = s["per_token"];
  o += fmt::format(
      "{}: latency {:.3f} ms, energy {:.4f} mJ, EDP {:.3e} J*s\n",
      prompt ? fmt::format("per forward of {} tokens", s["seq"].get<int>()) : "per generated token",
      pt["latency_ns"].get<double>() * 1e-6, pt["energy_pj"]["total"].get<double>() * 1e-9,
      pt["edp_j_s"].get<double>());
  o += "  energy by term (uJ):";
  for (const char *t : kTerms)
    o += fmt::format(" {} {:.2f}", t, pt["energy_pj"][t].get<double>() * 1e-6);
  o += "\n";
  const auto &sy = s["synchronisations"];
  o += fmt::format(
      "  synchronisations: {:.0f} all-reduces per block per step, {:.0f} exchanges at the edges "
      "per step\n",
      sy["per_block_per_step"].get<double>(), sy["edge_per_step"].get<double>());
  const auto &rt = s["run_totals"];
  o += fmt::format("  whole run: link {}, idle share {:.1f}%, bytes L1 {} L2 {} MRAM {} L3 {}\n",
                   mb(rt["link_bytes"].get<double>()), 100 * rt["idle_share"].get<double>(),
                   mb(rt["bytes"]["L1"].get<double>()), mb(rt["bytes"]["L2"].get<double>()),
                   mb(rt["bytes"]["MRAM"].get<double>()), mb(rt["bytes"]["L3"].get<double>()));
  if (s.contains("baseline") && encoder) {
    const auto &b = s["baseline"];
    o += fmt::format(
        "  vs 1 chip: {:.3f} ms -> speedup {:.2f}x, EDP gain {:.2f}x; output {} (max |diff| {})\n",
        b["latency_ns"].get<double>() * 1e-6, b["speedup"].get<double>(),
        b["edp_gain"].get<double>(), b["output_identical"].get<bool>() ? "identical" : "differs",
        b["output_max_abs_diff"].get<int64_t>());
  } else if (s.contains("baseline")) {
    const auto &b = s["baseline"];
    o += fmt::format(
        "  vs 1 chip: {:.3f} ms -> speedup {:.2f}x, EDP gain {:.2f}x; tokens {} ({:.0f}% agree), "
        "final logits max |diff| {}\n",
        b["latency_ns"].get<double>() * 1e-6, b["speedup"].get<double>(),
        b["edp_gain"].get<double>(), b["tokens_match"].get<bool>() ? "identical" : "differ",
        100 * b["token_agreement"].get<double>(), b["final_logits_max_abs_diff"].get<int64_t>());
  }
  if (s.contains("fp32") && encoder) {
    const auto &f = s["fp32"];
    o += fmt::format(
        "  vs fp32 golden: hidden-state cosine mean {:.5f} min {:.5f} over {} rows, {:.5f} over "
        "the whole output\n",
        f["cosine_mean"].get<double>(), f["cosine_min"].get<double>(), f["rows"].get<int>(),
        f["cosine_all"].get<double>());
  } else if (s.contains("fp32")) {
    const auto &f = s["fp32"];
    o += fmt::format(
        "  vs fp32 golden ({} steps): top-1 agreement {:.1f}%, logit cosine mean {:.4f} min "
        "{:.4f}\n",
        f["steps"].get<int>(), 100 * f["top1_agreement"].get<double>(),
        f["cosine_mean"].get<double>(), f["cosine_min"].get<double>());
  }
  o += "per chip:  heads      ffn         vocab          busy%  idle%  link MB   peak L2 / cap     "
       "MRAM / cap       L3 weights\n";
  for (const auto &c : s["per_chip"]) {
    const double busy = c["cycles"]["busy"].get<double>(), idle = c["cycles"]["idle"].get<double>(),
                 link = c["cycles"]["link"].get<double>(), all = busy + idle + link;
    const auto &m = c["memory"];
    o += fmt::format(
        "  chip {:<3} [{:>2},{:>2})  [{:>4},{:>4})  [{:>5},{:>5})  {:5.1f}  {:5.1f}  {:7.3f}  "
        "{:>7} / {:<7}  {:>7} / {:<7}  {}\n",
        c["chip"].get<int>(), c["heads"][0].get<int>(), c["heads"][1].get<int>(),
        c["ffn"][0].get<int>(), c["ffn"][1].get<int>(), c["vocab"][0].get<int>(),
        c["vocab"][1].get<int>(), 100 * busy / all, 100 * idle / all,
        c["link_bytes"].get<double>() / 1e6, mb(m["L2"]["high_water"].get<double>()),
        mb(m["L2"]["capacity"].get<double>()), mb(m["MRAM"]["high_water"].get<double>()),
        mb(m["MRAM"]["capacity"].get<double>()), mb(m["L3"]["weights"].get<double>()));
  }
  o += "where the weights live (chip 0):";
  for (const char *l : kLevels) {
    const auto &t = s["per_chip"][0]["memory"][l]["tensors"];
    if (t.empty()) continue;
    o += fmt::format("\n  {:<4} {:>3} tensors:", l, t.size());
    int k = 0;
    for (const auto &n : t) {
      if (k++ == 12) {
        o += " ...";
        break;
      }
      o += fmt::format(" {}", n.get<std::string>());
    }
  }
  o += "\n";
  return o;
}

void write_results(const std::string &dir, const json &s) {
  namespace fs = std::filesystem;
  namespace h5 = weights::h5;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw weights::FileError(fmt::format("--out {}: cannot create it: {}", dir, ec.message()));
  const std::string h5path = (fs::path(dir) / "results.h5").string();
  h5::write_atomically(h5path, [&](H5::H5File &f) {
    H5::Group root = f.openGroup("/");
    h5::write_string_attr(root, "model", s["model"].get<std::string>());
    h5::write_string_attr(root, "profile", s["profile"]["path"].get<std::string>());
    h5::write_string_attr(root, "git_revision", s["git_revision"].get<std::string>());
    h5::write_int_attr(root, "seed", s["seed"].get<int64_t>());
    h5::write_int_attr(root, "chips", s["chips"].get<int64_t>());
    // The whole summary as UTF-8 JSON bytes (a dataset: attributes are limited to 64 KiB).
    const std::string js = s.dump();
    h5::write_dataset<uint8_t>(root, "summary_json",
                               std::span(reinterpret_cast<const uint8_t *>(js.data()), js.size()),
                               {js.size()});
    const auto &chips = s["per_chip"];
    const size_t n = chips.size();
    auto column = [&](const std::string &name, auto get) {
      std::vector<double> v;
      for (const auto &c : chips) v.push_back(get(c));
      h5::write_dataset<double>(root, fmt::format("chips/{}", name), v, {n});
    };
    column("end_cycles", [](const json &c) { return c["cycles"]["end"].get<double>(); });
    column("busy_cycles", [](const json &c) { return c["cycles"]["busy"].get<double>(); });
    column("idle_cycles", [](const json &c) { return c["cycles"]["idle"].get<double>(); });
    column("link_cycles", [](const json &c) { return c["cycles"]["link"].get<double>(); });
    column("link_bytes", [](const json &c) { return c["link_bytes"].get<double>(); });
    for (const char *t : kTerms)
      column(fmt::format("energy_pj/{}", t),
             [t](const json &c) { return c["energy_pj"][t].get<double>(); });
    for (const char *l : kLevels) {
      column(fmt::format("peak_bytes/{}", l),
             [l](const json &c) { return c["memory"][l]["high_water"].get<double>(); });
      column(fmt::format("traffic_bytes/{}", l),
             [l](const json &c) { return c["bytes"][l].get<double>(); });
    }
    // Per op kind and per layer, one row per chip.
    for (const auto &[kind, _] : chips[0]["by_op"].items()) {
      column(fmt::format("ops/{}/cycles", kind), [&kind](const json &c) {
        return c["by_op"].contains(kind) ? c["by_op"][kind]["cycles"].get<double>() : 0.0;
      });
      column(fmt::format("ops/{}/energy_pj", kind), [&kind](const json &c) {
        return c["by_op"].contains(kind) ? c["by_op"][kind]["energy_pj"].get<double>() : 0.0;
      });
    }
    for (const auto &[layer, _] : chips[0]["by_layer"].items()) {
      column(fmt::format("layers/{}/cycles", layer), [&layer](const json &c) {
        return c["by_layer"].contains(layer) ? c["by_layer"][layer]["cycles"].get<double>() : 0.0;
      });
      column(fmt::format("layers/{}/energy_pj", layer), [&layer](const json &c) {
        return c["by_layer"].contains(layer) ? c["by_layer"][layer]["energy_pj"].get<double>()
                                             : 0.0;
      });
    }
  });
  // CSV: one row per chip (composed in memory, then written atomically like results.h5).
  std::ostringstream out;
  out << "chip,heads,ffn,vocab,end_cycles,busy_cycles,idle_cycles,link_cycles,link_bytes";
  for (const char *t : kTerms) out << ",energy_" << t << "_pj";
  for (const char *l : kLevels) out << ",peak_" << l << "_bytes";
  out << "\n";
  for (const auto &c : s["per_chip"]) {
    out << c["chip"].get<int>() << "," << c["heads"][1].get<int>() - c["heads"][0].get<int>() << ","
        << c["ffn"][1].get<int>() - c["ffn"][0].get<int>() << ","
        << c["vocab"][1].get<int>() - c["vocab"][0].get<int>() << ","
        << c["cycles"]["end"].get<int64_t>() << "," << c["cycles"]["busy"].get<int64_t>() << ","
        << c["cycles"]["idle"].get<int64_t>() << "," << c["cycles"]["link"].get<int64_t>() << ","
        << c["link_bytes"].get<int64_t>();
    for (const char *t : kTerms) out << "," << c["energy_pj"][t].get<double>();
    for (const char *l : kLevels) out << "," << c["memory"][l]["high_water"].get<int64_t>();
    out << "\n";
  }
  weights::write_file_atomically((fs::path(dir) / "results.csv").string(), out.str());
}

void emit_report(const json &summary, const std::string &out_dir, const std::string &summary_json,
                 bool quiet, const json &ranks_wall) {
  if (!quiet) std::fputs(format_summary(summary).c_str(), stdout);
  write_results(out_dir, summary);
  if (!quiet)
    std::printf("results: %s/results.h5, %s/results.csv\n", out_dir.c_str(), out_dir.c_str());
  if (summary_json.empty()) return;
  // The one place for wall-clock and host facts: everything else in every output is a function
  // of the command, the inputs and the binary (docs/robustness.md, determinism).
  json with_wall = summary;
  with_wall[kHostWallKey] = host_wall();
  if (!ranks_wall.is_null()) with_wall[kHostWallKey]["ranks"] = ranks_wall;
  weights::ensure_parent_dir(summary_json);
  weights::write_file_atomically(summary_json, with_wall.dump(2) + "\n");
}

}  // namespace mcuemu::runtime
