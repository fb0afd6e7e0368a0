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
#include "runtime/batched_meter.hpp"
#include "runtime/llama_chip.hpp"
#include "runtime/trace.hpp"
#include "weights/qmodel.hpp"

namespace mcuemu::runtime {

// How the chips of a cost-only run (a model without tensors) meet at the synchronisations:
//   Batched:  each chip runs ahead and the clocks are settled once per batch of synchronisations
//             with one max-reduction (BatchedMeter, batched_meter.hpp): the default
//   LockStep: every collective is run, as in a full run (for comparison and tests)
// The simulated results are identical. MCUEMU_COST_ONLY_SYNC=batched|lockstep selects it.
enum class CostOnlySync { Batched, LockStep };
// From MCUEMU_COST_ONLY_SYNC (unset or empty: Batched). Throws on anything else.
CostOnlySync cost_only_sync_from_env();
// Whether a batched cost-only run replays its steps (BatchedMeter::begin_step): from
// MCUEMU_COST_ONLY_REPLAY (unset, empty or "on": yes; "off": every step is walked, for
// comparison). The simulated results are identical. Throws on anything else.
bool cost_only_replay_from_env();
// Whether a full run replays the ops of its decode steps (DeferredMeter's op replay,
// Meter::begin_ops): from MCUEMU_OP_REPLAY (unset, empty or "on": yes; "off": every step is
// walked, for comparison). The simulated results are identical. Throws on anything else.
bool op_replay_from_env();

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
  CostOnlySync cost_only_sync = CostOnlySync::Batched;        // cost-only runs only
  int syncs_per_batch = BatchedMeter::kDefaultSyncsPerBatch;  // CostOnlySync::Batched
  bool step_replay = true;                                    // CostOnlySync::Batched
  bool op_replay = true;                                      // full runs
};

// The prompt of a run: P token ids from the seed (deterministic, the same on every rank).
std::vector<int> prompt_ids(int vocab_size, int prompt_tokens, uint64_t seed);

// Host wall-clock of one rank's run, in nanoseconds: where the emulator's own time goes (the
// host-speed breakdown of scripts/bench.sh). It never feeds simulated time or costs.
struct HostTimes {
  int64_t setup_ns = 0;         // building the shard, placing it, the KV cache
  int64_t run_ns = 0;           // every forward() of the run
  int64_t kernels_ns = 0;       // run_ns minus the three below: the int8 arithmetic and its glue
  int64_t mpi_wait_ns = 0;      // waiting for peers' messages
  int64_t mpi_transfer_ns = 0;  // posting, copying and combining messages
  int64_t bookkeeping_ns = 0;   // pricing ops, the cost ledger, tracing
  int64_t messages = 0, sleeps = 0;
  int64_t yields = 0;       // pinned groups: times this rank handed its core on with sched_yield
  int64_t page_faults = 0;  // the run thread's minor page faults (new memory, code touched first)
  int64_t settle_exchanges = 0;  // cost-only, batched: max-reductions that settled the clocks
  // Steps the meter replayed: cost-only, batched, whole steps (begin_step); full runs, the
  // ops of decode steps (begin_ops)
  int64_t replayed_steps = 0;
  // Embedding broadcasts whose row came with the arg-max before (shared memory): rounds saved
  int64_t carried_embeddings = 0;
  // This process's anonymous memory on transparent huge pages right after the run loop (read
  // once every chip has stopped its clock; a cost-only meter's region, populated.hpp; more if
  // the host's THP setting is `always`)
  int64_t anon_huge_bytes = 0;
  // The CPU the rank was pinned to (ranks outnumbering the CPUs; mpi/shm_collective.hpp), -1
  // when not pinned: which ranks shared a core, for reading the times above
  int cpu = -1;
};
nlohmann::json host_json(const HostTimes &h);

// This process's memory as Linux reports it (/proc/self/status, /proc/self/smaps_rollup), in
// bytes; zeros where not available. RSS counts shared pages (libraries, MPI's shared-memory
// segments) in every process that maps them; PSS divides them among those processes, so PSS
// adds up across ranks.
struct HostMemory {
  int64_t rss = 0, peak_rss = 0, rss_anon = 0, rss_file = 0, rss_shmem = 0, pss = 0;
  int64_t anon_huge = 0;  // of rss_anon, on transparent huge pages (AnonHugePages)
};
HostMemory host_memory();
nlohmann::json host_memory_json(const HostMemory &m);

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
  HostTimes host;
};

// Checks a run's options against the model (mode, token counts, context): std::invalid_argument
// naming the option. run_llama calls it; the CLI calls it earlier, before any work.
void validate_run_config(const weights::ModelConfig &c, const RunConfig &cfg);

// Runs this rank's chip. Throws on bad input or a memory cap violation (the caller reports it
// with the rank and ends the job).
RunResult run_llama(const weights::QLlamaModel &model, const model::ChipPlan &plan,
                    mpi::Cluster &cluster, chip::Chip &chip, const RunConfig &cfg);
// The same with this chip's slice of the model (read_qllama_slice), moved into the chip: the
// weights are held once. `model` keeps its config; its tensors are taken.
RunResult run_llama(weights::QLlamaModel &&model, const model::ChipPlan &plan,
                    mpi::Cluster &cluster, chip::Chip &chip, const RunConfig &cfg);

// This rank's figures as JSON (gathered on rank 0 for the report).
nlohmann::json chip_json(const chip::Chip &chip, const model::ChipPlan &plan, const RunResult &r);

}  // namespace mcuemu::runtime
