// Meter over a chip::Chip: prices each op the runtime runs with the chip's cost model, at the
// memory level the placement gave its weights, and charges it to the chip's ledger.
#pragma once

#include <string>
#include <unordered_map>

#include "chip/chip.hpp"
#include "chip/placement.hpp"
#include "runtime/meter.hpp"
#include "runtime/trace.hpp"

namespace mcuemu::runtime {

class ChipMeter final : public Meter {
 public:
  ChipMeter(chip::Chip &chip, const chip::Placement &placement);
  void linear(int layer, const std::string &weight, int tokens, int out, int in) override;
  void linear_partial(int layer, const std::string &weight, int tokens, int out, int in) override;
  void matmul(int layer, const char *op, int M, int N, int K) override;
  void nonlinear(int layer, Nonlinear kind, int64_t elements) override;
  void sync(int layer, SyncKind kind, const mpi::CollectiveTiming &t) override;
  int64_t clock() const override { return chip_.ledger().now(); }
  // Record every op into `trace` (nullptr: no trace).
  void set_trace(Trace *trace) { trace_ = trace; }

 private:
  void charge_linear(int layer, const std::string &weight, int tokens, int out, int in,
                     int64_t out_bytes);
  // Charges `c` and, when tracing, records it on the compute track (and its DMA share).
  void charge(const chip::OpCost &c, int layer, const std::string &label, nlohmann::json shape);
  // The price of an op depends only on its shape, the operands' levels and the profile: each is
  // computed once (the cost model simulates the tile pipeline, which is not cheap) and reused.
  struct PriceKey {
    int op, level;
    int64_t a, b, c, d;
    bool operator==(const PriceKey &) const = default;
  };
  struct PriceKeyHash {
    size_t operator()(const PriceKey &k) const {
      uint64_t h = 1469598103934665603ull;
      for (int64_t v : {int64_t{k.op}, int64_t{k.level}, k.a, k.b, k.c, k.d})
        h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull;
      return h;
    }
  };
  template <class F>
  const chip::OpCost &price(int op, int64_t a, int64_t b, int64_t c, chip::Level level, int64_t d,
                            F &&compute);

  chip::Chip &chip_;
  Trace *trace_ = nullptr;
  std::unordered_map<std::string, chip::Level> level_;  // weight name -> level
  chip::Level kv_level_ = chip::Level::L2;              // where the KV cache lives
  std::unordered_map<PriceKey, chip::OpCost, PriceKeyHash> prices_;
};

// The link as the profile describes it, in cluster cycles.
mpi::LinkModel link_model(const chip::Profile &p);

}  // namespace mcuemu::runtime
