#include "runtime/llama_run.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "runtime/chip_meter.hpp"
#include "runtime/deferred_meter.hpp"
#include "runtime/env.hpp"
#include "runtime/fault.hpp"
#include "runtime/llama_chip.hpp"
#include "runtime/populated.hpp"

namespace mcuemu::runtime {

std::vector<int> prompt_ids(int vocab_size, int prompt_tokens, uint64_t seed) {
  std::vector<int> ids;
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (int i = 0; i < prompt_tokens; ++i) {
    s += 0x9E3779B97F4A7C15ull;  // splitmix64
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    ids.push_back(static_cast<int>((z ^ (z >> 31)) % static_cast<uint64_t>(vocab_size)));
  }
  return ids;
}

void validate_run_config(const weights::ModelConfig &c, const RunConfig &cfg) {
  const bool prompt_mode = cfg.mode == "prompt";
  if (cfg.mode != "ar" && !prompt_mode)
    throw std::invalid_argument(fmt::format("--mode {}: Llama runs 'ar' or 'prompt'", cfg.mode));
  if (!prompt_mode && cfg.prompt_tokens < 1)
    throw std::invalid_argument("--prompt-tokens must be >= 1");
  if (!prompt_mode && cfg.tokens < 1) throw std::invalid_argument("--tokens must be >= 1");
  if (prompt_mode && cfg.seq < 1) throw std::invalid_argument("--seq must be >= 1");
  // (in 64 bits: --prompt-tokens + --tokens must not wrap around to a small context)
  const int64_t context =
      prompt_mode ? int64_t{cfg.seq} : int64_t{cfg.prompt_tokens} + int64_t{cfg.tokens};
  if (context > c.seq_len)
    throw std::invalid_argument(fmt::format("{} = {} exceeds {}'s context of {} positions",
                                            prompt_mode ? "--seq" : "--prompt-tokens + --tokens",
                                            context, c.name, c.seq_len));
}

CostOnlySync cost_only_sync_from_env() {
  const char *v = std::getenv("MCUEMU_COST_ONLY_SYNC");
  if (!v || !*v || std::string_view(v) == "batched") return CostOnlySync::Batched;
  if (std::string_view(v) == "lockstep") return CostOnlySync::LockStep;
  throw std::invalid_argument(
      fmt::format("MCUEMU_COST_ONLY_SYNC={}: expected batched or lockstep", std::string(v)));
}

bool cost_only_replay_from_env() {
  return on_off_from_env("MCUEMU_COST_ONLY_REPLAY");
}

bool op_replay_from_env() {
  return on_off_from_env("MCUEMU_OP_REPLAY");
}

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t minor_faults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);  // this thread: the run's, not MPI's progress threads
  return u.ru_minflt;
}

RunResult run(const weights::QLlamaModel &model, weights::QLlamaModel *movable,
              const model::ChipPlan &plan, mpi::Cluster &cluster, chip::Chip &chip,
              const RunConfig &cfg) {
  const int64_t t_setup = now_ns();
  validate_run_config(model.config, cfg);
  const bool prompt_mode = cfg.mode == "prompt";
  const int context = prompt_mode ? cfg.seq : cfg.prompt_tokens + cfg.tokens;

  // The shard needs a meter before its placement exists; the chip meter needs the placement.
  // A cost-only chip (no tensors) settles its synchronisations in batches unless told otherwise.
  const bool cost_only = model.layers.empty();
  // Before the meters make their first memory: a cost-only meter's queued ops and prices on a
  // huge page (populated.hpp). Not in a full run: there the pages would add to its memory.
  if (cost_only) use_huge_page_region(std::size_t{2} << 20);
  const bool batched = cost_only && cfg.cost_only_sync == CostOnlySync::Batched;
  DeferredMeter deferred;
  BatchedMeter batched_meter(cluster, cfg.syncs_per_batch);
  batched_meter.set_step_replay(cfg.step_replay);
  Meter &meter = batched ? static_cast<Meter &>(batched_meter) : deferred;
  // Hands on every op and settles every synchronisation (collective): before reading the ledger.
  auto settle = [&] {
    if (batched)
      batched_meter.settle();
    else
      deferred.clock();
  };
  const int rows = prompt_mode ? context : 1;
  std::optional<LlamaChip> chip_shard;
  if (movable)
    chip_shard.emplace(std::move(*movable), plan, context, rows, cluster, meter, cfg.algo,
                       cfg.exchange);
  else
    chip_shard.emplace(model, plan, context, rows, cluster, meter, cfg.algo, cfg.exchange);
  LlamaChip &shard = *chip_shard;

  RunResult r;
  // Placement: KV cache and activations in L2 first, then weights in schedule order, with the
  // blocks before the embedding / LM head (used once per token, like each block weight).
  std::vector<chip::TensorSpec> specs;
  specs.push_back({"kv_cache", chip::Tag::kv_cache, shard.kv_cache_bytes(), std::nullopt});
  specs.push_back({"activations", chip::Tag::activations, shard.activation_bytes(), std::nullopt});
  for (const auto &[name, bytes] : shard.weight_tensors())
    specs.push_back({name, chip::Tag::weights, bytes, std::nullopt});
  r.placement = chip::place_tensors(chip, specs);
  r.kv_cache_bytes = shard.kv_cache_bytes();
  r.activation_bytes = shard.activation_bytes();

  ChipMeter chip_meter(chip, r.placement);
  chip_meter.set_trace(cfg.trace);
  if (batched)
    batched_meter.attach(&chip_meter);
  else
    deferred.attach(&chip_meter, cfg.op_replay);

  // The chips start the timed loop together: a rank set up sooner would otherwise count the
  // others' setup as its loop's first wait (host timing only; nothing is charged to the chip).
  // A cost-only chip's first steps make its meter's sites, places and prices (map nodes,
  // strings: a few hundred KB of new heap): present before the loop, not a fault at a time in it
  // (about 70 faults of 11-16 us each per chip on the reference VM, most of the first steps).
  if (cost_only) reserve_heap(size_t{256} << 10);
  r.host.setup_ns = now_ns() - t_setup;
  cluster.wait_for_all();
  const mpi::HostCommTime comm0 = cluster.host_time();
  const int64_t t_run = now_ns();
  const int64_t faults0 = minor_faults();
  auto keep_logits = [&](bool keep) {
    if (model.layers.empty()) return;                         // cost-only: no logits
    auto all = cluster.gather_to_root(shard.local_logits());  // diagnostic, not charged
    if (keep && cluster.rank() == 0) r.step_logits.push_back(all);
    if (cluster.rank() == 0) r.final_logits = std::move(all);
  };
  if (prompt_mode) {
    // Prompt mode: the S tokens in one forward (GEMMs); the cost is that of the forward.
    r.prompt = prompt_ids(model.config.vocab_size, cfg.seq, cfg.seed);
    settle();
    r.prefill_cycles = chip.ledger().now();
    r.prefill_energy = chip.ledger().total().energy;
    r.generated.push_back(shard.forward(r.prompt, 0));
    if (cfg.keep_step_logits) keep_logits(true);
  } else {
    r.prompt = prompt_ids(model.config.vocab_size, cfg.prompt_tokens, cfg.seed);
    // Prefill: the P prompt tokens, one step each; the last step's arg-max is the first
    // generated token. Decode: T steps, each feeding the previous token and producing the next.
    int pos = 0, next = 0;
    for (int t : r.prompt) {
      next = shard.step(t, pos++);
      if (cfg.keep_step_logits) keep_logits(true);
    }
    r.generated.push_back(next);
    settle();
    r.prefill_cycles = chip.ledger().now();
    r.prefill_energy = chip.ledger().total().energy;
    for (int i = 0; i < cfg.tokens; ++i) {
      maybe_inject_fault(cluster.rank(), i);  // MCUEMU_FAULT (tests only; fault.hpp)
      r.generated.push_back(shard.step(r.generated.back(), pos++));
      if (cfg.keep_step_logits) keep_logits(true);
    }
  }
  settle();  // hand on the last queued ops before reading the ledger
  r.host.run_ns = now_ns() - t_run;
  r.host.page_faults = minor_faults() - faults0;
  r.host.cpu = cluster.pinned_cpu();
  const mpi::HostCommTime comm = cluster.host_time();
  r.host.mpi_wait_ns = comm.wait_ns - comm0.wait_ns;
  r.host.mpi_transfer_ns = comm.transfer_ns - comm0.transfer_ns;
  r.host.messages = comm.messages - comm0.messages;
  r.host.sleeps = comm.sleeps - comm0.sleeps;
  r.host.yields = comm.yields - comm0.yields;
  if (cost_only) {
    // No arithmetic: everything outside MPI is bookkeeping (walking the schedule, pricing, the
    // ledger, tracing). Batched, MPI is the settling max-reductions only.
    r.host.kernels_ns = 0;
    r.host.bookkeeping_ns = r.host.run_ns - r.host.mpi_wait_ns - r.host.mpi_transfer_ns;
    r.host.settle_exchanges = batched_meter.exchanges();
    r.host.replayed_steps = batched_meter.replayed_steps();
  } else {
    r.host.bookkeeping_ns = deferred.host_ns();
    r.host.replayed_steps = deferred.replayed_steps();
    r.host.kernels_ns =
        r.host.run_ns - r.host.mpi_wait_ns - r.host.mpi_transfer_ns - r.host.bookkeeping_ns;
  }
  // The chips that are done wait, asleep, for the others before the results are gathered
  // (gather_to_root and the report's collectives poll while they wait: with more ranks than
  // cores they would slow the chips still running).
  cluster.wait_for_all();
  // Read after every chip's clock has stopped: smaps_rollup walks the whole address space
  // (~0.5-1 ms on the reference VM), which, read at the end of the loop, held up the ranks that
  // share the core and were still finishing theirs (their loops measured up to ~3 ms longer).
  r.host.anon_huge_bytes = host_memory().anon_huge;
  keep_logits(false);
  r.end_cycles = chip.ledger().now();
  r.total_energy = chip.ledger().total().energy;
  const auto &st = shard.stats();
  r.block_syncs = st.block_syncs;
  r.edge_exchanges = st.edge_exchanges;
  r.tokens_run = st.tokens;
  r.forwards = st.forwards;
  r.syncs_per_block_attn = st.syncs_per_block[0];
  r.syncs_per_block_ffn = st.syncs_per_block[1];
  r.host.carried_embeddings = st.carried_embeddings;
  return r;
}

}  // namespace

RunResult run_llama(const weights::QLlamaModel &model, const model::ChipPlan &plan,
                    mpi::Cluster &cluster, chip::Chip &chip, const RunConfig &cfg) {
  return run(model, nullptr, plan, cluster, chip, cfg);
}

RunResult run_llama(weights::QLlamaModel &&model, const model::ChipPlan &plan,
                    mpi::Cluster &cluster, chip::Chip &chip, const RunConfig &cfg) {
  return run(model, &model, plan, cluster, chip, cfg);
}

nlohmann::json host_json(const HostTimes &h) {
  return {{"setup_s", h.setup_ns * 1e-9},
          {"run_s", h.run_ns * 1e-9},
          {"kernels_s", h.kernels_ns * 1e-9},
          {"mpi_wait_s", h.mpi_wait_ns * 1e-9},
          {"mpi_transfer_s", h.mpi_transfer_ns * 1e-9},
          {"bookkeeping_s", h.bookkeeping_ns * 1e-9},
          {"messages", h.messages},
          {"sleeps", h.sleeps},
          {"yields", h.yields},
          {"carried_embeddings", h.carried_embeddings},
          {"page_faults", h.page_faults},
          {"settle_exchanges", h.settle_exchanges},
          {"replayed_steps", h.replayed_steps},
          {"anon_huge_bytes", h.anon_huge_bytes},
          {"cpu", h.cpu}};
}

HostMemory host_memory() {
  HostMemory m;
  auto scan = [](const char *path, auto &&on_line) {
    std::ifstream in(path);
    std::string key;
    int64_t kb = 0;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      if (ls >> key >> kb) on_line(key, kb * 1024);
    }
  };
  scan("/proc/self/status", [&](const std::string &k, int64_t b) {
    if (k == "VmRSS:") m.rss = b;
    if (k == "VmHWM:") m.peak_rss = b;
    if (k == "RssAnon:") m.rss_anon = b;
    if (k == "RssFile:") m.rss_file = b;
    if (k == "RssShmem:") m.rss_shmem = b;
  });
  scan("/proc/self/smaps_rollup", [&](const std::string &k, int64_t b) {
    if (k == "Pss:") m.pss = b;
    if (k == "AnonHugePages:") m.anon_huge = b;
  });
  return m;
}

nlohmann::json host_memory_json(const HostMemory &m) {
  return {{"rss_bytes", m.rss},
          {"peak_rss_bytes", m.peak_rss},
          {"rss_anon_bytes", m.rss_anon},
          {"rss_file_bytes", m.rss_file},
          {"rss_shmem_bytes", m.rss_shmem},
          {"pss_bytes", m.pss}};
}

nlohmann::json chip_json(const chip::Chip &chip, const model::ChipPlan &plan, const RunResult &r) {
  using nlohmann::json;
  const auto &led = chip.ledger();
  auto energy = [](const chip::Energy &e) {
    json j;
    j["compute"] = e.compute_pj;
    for (chip::Level l : chip::kAllLevels) j[std::string(chip::level_name(l))] = e.level_pj[l];
    j["link"] = e.link_pj;
    j["active"] = e.active_pj;
    j["idle"] = e.idle_pj;
    j["total"] = e.total_pj();
    return j;
  };
  json j;
  j["chip"] = chip.id();
  j["heads"] = {plan.heads.begin, plan.heads.end};
  j["ffn"] = {plan.ffn.begin, plan.ffn.end};
  j["vocab"] = {plan.vocab.begin, plan.vocab.end};
  j["cycles"] = {{"end", r.end_cycles},
                 {"prefill", r.prefill_cycles},
                 {"busy", led.busy_cycles()},
                 {"link", led.link_cycles()},
                 {"idle", led.idle_cycles()}};
  j["energy_pj"] = energy(r.total_energy);
  j["prefill_energy_pj"] = energy(r.prefill_energy);
  json bytes, mem;
  for (chip::Level l : chip::kAllLevels) {
    const std::string n(chip::level_name(l));
    bytes[n] = led.total().bytes[l];
    const auto &a = chip.memory()[l];
    json names = json::array();
    for (const auto &name : r.placement.names_in(l)) names.push_back(name);
    mem[n] = {{"capacity", a.capacity()},
              {"high_water", a.high_water()},
              {"weights", r.placement.bytes_in(l, chip::Tag::weights)},
              {"tensors", names}};
  }
  j["bytes"] = bytes;
  j["link_bytes"] = led.total().link_bytes;
  j["memory"] = mem;
  j["host"] = host_json(r.host);  // host wall-clock: moved to host_wall by the caller
  j["syncs"] = {{"block", r.block_syncs},
                {"edge", r.edge_exchanges},
                {"tokens", r.tokens_run},
                {"forwards", r.forwards},
                {"attention", r.syncs_per_block_attn},
                {"ffn", r.syncs_per_block_ffn}};
  json by_kind;
  for (const auto &[kind, t] : led.by_kind())
    by_kind[kind] = {{"count", t.count},
                     {"cycles", t.cycles},
                     {"macs", t.macs},
                     {"energy_pj", t.energy.total_pj()}};
  j["by_op"] = by_kind;
  json by_layer;
  for (const auto &[layer, t] : led.by_layer())
    by_layer[std::to_string(layer)] = {{"cycles", t.cycles}, {"energy_pj", t.energy.total_pj()}};
  j["by_layer"] = by_layer;
  return j;
}

}  // namespace mcuemu::runtime
