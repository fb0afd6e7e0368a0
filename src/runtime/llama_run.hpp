// One rank's part of a distributed Llama run: build the chip's shard, place it in the chip's
// memory levels, run the tokens, and collect what the report needs.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "chip/chip.hpp"
#include "chip/placement.hpp"
#include "model/partition.hpp"
#include "mpi/cluster.hpp"
#include "runtime/llama_chip.hpp"
#include "runtime/trace.hpp"
#include "weights/qmodel.hpp"

namespace mcuemu::runtime {

struct RunConfig {
  Trace *trace = nullptr;   // --trace: record every op of this chip (nullptr: off)
  std::string mode = "ar";  // "ar": greedy decoding with the KV cache; "prompt": S tokens at once
  int seq = 64;             // --seq S for prompt mode
  int prompt_tokens = 4;    // --prompt-tokens P: prompt ids drawn from --seed
  int tokens = 32;          // --tokens T: decode steps (each generates one token)
  uint64_t seed = 1;
  mpi::AllreduceAlgo algo = mpi::AllreduceAlgo::Tree;
  Exchange exchange = Exchange::Int32;
  bool keep_step_logits = false;  // gather every step's logits on rank 0 (for --compare-fp32)
};

// The prompt of a run: P token ids from the seed (deterministic, the same on every rank).
std::vector<int> prompt_ids(int vocab_size, int prompt_tokens, uint64_t seed);

struct RunResult {
  std::vector<int> prompt;            // P ids
  std::vector<int> generated;         // T + 1 ids: the prefill's output, then one per decode step
  int64_t prefill_cycles = 0;         // clock after the prompt
  int64_t end_cycles = 0;             // clock at the end
  chip::Energy prefill_energy;        // this chip's energy up to the end of the prompt
  chip::Energy total_energy;          // this chip's energy at the end
  std::vector<int32_t> final_logits;  // rank 0: all vocab, last step
  std::vector<std::vector<int32_t>> step_logits;  // rank 0, if keep_step_logits
  int64_t block_syncs = 0, edge_exchanges = 0, tokens_run = 0, forwards = 0;
  int64_t syncs_per_block_attn = 0, syncs_per_block_ffn = 0;
  chip::Placement placement;
  int64_t kv_cache_bytes = 0, activation_bytes = 0;
};

// Checks a run's options against the model (mode, token counts, context): std::invalid_argument
// naming the option. run_llama calls it; the CLI calls it earlier, before any work.
void validate_run_config(const weights::ModelConfig &c, const RunConfig &cfg);

// Runs this rank's chip. Throws on bad input or a memory cap violation (the caller reports it
// with the rank and ends the job).
RunResult run_llama(const weights::QLlamaModel &model, const model::ChipPlan &plan,
                    mpi::Cluster &cluster, chip::Chip &chip, const RunConfig &cfg);

// This rank's figures as JSON (gathered on rank 0 for the report).
nlohmann::json chip_json(const chip::Chip &chip, const model::ChipPlan &plan, const RunResult &r);

}  // namespace mcuemu::runtime
