#include "runtime/mobilebert_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "runtime/chip_meter.hpp"
#include "runtime/deferred_meter.hpp"
#include "runtime/llama_run.hpp"  // prompt_ids, RunResult, chip_json

namespace mcuemu::runtime {

int default_encoder_seq(const weights::ModelConfig &c) {
  return std::min(kMobileBertDefaultSeq, c.seq_len);
}

EncoderRunResult run_mobilebert(const weights::QMobileBertModel &model, const model::ChipPlan &plan,
                                mpi::Cluster &cluster, chip::Chip &chip,
                                const EncoderRunConfig &cfg) {
  const auto &c = model.config;
  if (cfg.seq < 1 || cfg.seq > c.seq_len)
    throw std::invalid_argument(
        fmt::format("--seq {}: {} encodes 1..{} tokens (its seq_len)", cfg.seq, c.name, c.seq_len));

  // The shard needs a meter before its placement exists; the chip meter needs the placement.
  DeferredMeter meter;
  MobileBertChip shard(model, plan, cfg.seq, cluster, meter, cfg.algo, cfg.ffn, cfg.exchange);

  EncoderRunResult r;
  // Placement: activations in L2 first, then weights in schedule order (blocks, then the
  // embedding tables, used once per forward).
  std::vector<chip::TensorSpec> specs;
  specs.push_back({"activations", chip::Tag::activations, shard.activation_bytes(), std::nullopt});
  for (const auto &[name, bytes] : shard.weight_tensors())
    specs.push_back({name, chip::Tag::weights, bytes, std::nullopt});
  r.placement = chip::place_tensors(chip, specs);
  r.activation_bytes = shard.activation_bytes();
  r.duplicated_weight_bytes = shard.duplicated_weight_bytes();
  r.ffn = shard.ffn_range();

  ChipMeter chip_meter(chip, r.placement);
  chip_meter.set_trace(cfg.trace);
  meter.attach(&chip_meter);

  r.tokens = prompt_ids(c.vocab_size, cfg.seq, cfg.seed);
  r.start_cycles = chip.ledger().now();
  r.start_energy = chip.ledger().total().energy;
  shard.forward(r.tokens);
  meter.clock();  // hand on the last queued ops before reading the ledger
  r.end_cycles = chip.ledger().now();
  r.total_energy = chip.ledger().total().energy;
  const auto out = shard.output();
  r.output.assign(out.begin(), out.end());
  r.stats = shard.stats();
  return r;
}

nlohmann::json encoder_chip_json(const chip::Chip &chip, const model::ChipPlan &plan,
                                 const EncoderRunResult &r, FfnPlacement ffn) {
  RunResult lr;
  lr.prefill_cycles = r.start_cycles;
  lr.end_cycles = r.end_cycles;
  lr.prefill_energy = r.start_energy;
  lr.total_energy = r.total_energy;
  lr.block_syncs = r.stats.block_syncs;
  lr.edge_exchanges = r.stats.edge_exchanges;
  lr.tokens_run = r.stats.tokens;
  lr.forwards = r.stats.forwards;
  lr.syncs_per_block_attn = r.stats.attention_syncs;
  lr.syncs_per_block_ffn = r.stats.ffn_syncs;
  lr.placement = r.placement;
  lr.activation_bytes = r.activation_bytes;
  nlohmann::json j = chip_json(chip, plan, lr);
  j.erase("host");  // the encoder driver measures no host times
  j["ffn"] = {r.ffn.begin, r.ffn.end};
  j["dim"] = {plan.dim.begin, plan.dim.end};
  j["ffn_placement"] = ffn_placement_name(ffn);
  j["duplicated_weight_bytes"] = r.duplicated_weight_bytes;
  j["syncs"]["bottleneck"] = r.stats.bottleneck_syncs;
  return j;
}

HiddenComparison compare_hidden(std::span<const int8_t> q, float scale, std::span<const float> f,
                                int dim) {
  if (q.size() != f.size() || dim < 1 || q.size() % static_cast<size_t>(dim) != 0)
    throw std::invalid_argument(
        fmt::format("compare_hidden: {} int8 values vs {} fp32 values", q.size(), f.size()));
  HiddenComparison c;
  c.rows = static_cast<int>(q.size() / static_cast<size_t>(dim));
  double dot_all = 0, nq_all = 0, nf_all = 0;
  for (int r = 0; r < c.rows; ++r) {
    double dot = 0, nq = 0, nf = 0;
    for (int i = 0; i < dim; ++i) {
      const size_t k = static_cast<size_t>(r) * static_cast<size_t>(dim) + static_cast<size_t>(i);
      const double qv = q[k] * static_cast<double>(scale), fv = f[k];
      dot += qv * fv, nq += qv * qv, nf += fv * fv;
      c.max_abs_diff = std::max(c.max_abs_diff, std::abs(qv - fv));
    }
    const double cs = dot / std::sqrt(nq * nf + 1e-30);
    c.cos_mean += cs;
    c.cos_min = std::min(c.cos_min, cs);
    dot_all += dot, nq_all += nq, nf_all += nf;
  }
  c.cos_mean /= c.rows;
  c.cos_all = dot_all / std::sqrt(nq_all * nf_all + 1e-30);
  return c;
}

}  // namespace mcuemu::runtime
