// One rank's part of a distributed MobileBERT encoder run: build the chip's shard, place it in
// the chip's memory levels, run one forward over S tokens, and collect what the report needs.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "chip/chip.hpp"
#include "chip/placement.hpp"
#include "model/partition.hpp"
#include "mpi/cluster.hpp"
#include "runtime/mobilebert_chip.hpp"
#include "runtime/trace.hpp"
#include "weights/qmodel.hpp"

namespace mcuemu::runtime {

// The default sequence length of `mcuemu run --model mobilebert --mode encoder`: 128 tokens, the
// usual max_seq_length of BERT / MobileBERT GLUE fine-tuning and, as recalled (not re-verified),
// the length of the MobileBERT paper's Pixel 4 latency figure; Bochem et al.'s length was not
// recovered (REFERENCES.md 3.2). Configurations with a shorter seq_len use their seq_len.
inline constexpr int kMobileBertDefaultSeq = 128;
int default_encoder_seq(const weights::ModelConfig &c);

struct EncoderRunConfig {
  Trace *trace = nullptr;           // --trace: record every op of this chip (nullptr: off)
  int seq = kMobileBertDefaultSeq;  // tokens in the forward (ids drawn from seed)
  uint64_t seed = 1;
  mpi::AllreduceAlgo algo = mpi::AllreduceAlgo::Tree;
  Exchange exchange = Exchange::Int32;
  FfnPlacement ffn = FfnPlacement::Split;
};

struct EncoderRunResult {
  std::vector<int> tokens;     // the S input ids (token type 0)
  std::vector<int8_t> output;  // (S, dim) int8 hidden states, on every rank
  int64_t start_cycles = 0, end_cycles = 0;
  chip::Energy start_energy, total_energy;
  MbStats stats;
  model::Range ffn;  // FFN units this chip holds
  chip::Placement placement;
  int64_t activation_bytes = 0, duplicated_weight_bytes = 0;
};

// Runs this rank's chip. Throws on bad input or a memory cap violation (the caller reports it
// with the rank and ends the job).
EncoderRunResult run_mobilebert(const weights::QMobileBertModel &model, const model::ChipPlan &plan,
                                mpi::Cluster &cluster, chip::Chip &chip,
                                const EncoderRunConfig &cfg);

// This rank's figures as JSON: the fields of the Llama chip_json (llama_run.hpp) that the report
// reads, plus "dim" (residual columns), "ffn_placement", "duplicated_weight_bytes" and the block
// all-reduces by kind.
nlohmann::json encoder_chip_json(const chip::Chip &chip, const model::ChipPlan &plan,
                                 const EncoderRunResult &r, FfnPlacement ffn);

// Cosine similarity of the int8 output (times output_scale) against the fp32 hidden states,
// per row (token) and over the whole (S, dim) tensor.
struct HiddenComparison {
  int rows = 0;
  double cos_mean = 0, cos_min = 1, cos_all = 0;
  double max_abs_diff = 0;  // in real units
};
HiddenComparison compare_hidden(std::span<const int8_t> q, float scale, std::span<const float> f,
                                int dim);

}  // namespace mcuemu::runtime
