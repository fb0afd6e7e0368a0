// Meter over a chip::Chip: prices each op the runtime runs with the chip's cost model, at the
// memory level the placement gave its weights, and charges it to the chip's ledger.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chip/chip.hpp"
#include "chip/placement.hpp"
#include "runtime/meter.hpp"
#include "runtime/populated.hpp"
#include "runtime/trace.hpp"

namespace mcuemu::runtime {

class ChipMeter final : public Meter {
 public:
  ChipMeter(chip::Chip &chip, const chip::Placement &placement);
  ChipMeter(const ChipMeter &) = delete;
  ChipMeter &operator=(const ChipMeter &) = delete;

  void linear(int layer, const std::string &weight, int tokens, int out, int in) override {
    charge(linear_op(layer, weight, tokens, out, in));
  }
  void linear_partial(int layer, const std::string &weight, int tokens, int out, int in) override {
    charge(linear_partial_op(layer, weight, tokens, out, in));
  }
  void matmul(int layer, const char *op, int M, int N, int K) override {
    charge(matmul_op(layer, op, M, N, K));
  }
  void nonlinear(int layer, Nonlinear kind, int64_t elements) override {
    charge(nonlinear_op(layer, kind, elements));
  }
  void sync(int layer, SyncKind kind, const mpi::CollectiveTiming &t) override;
  int64_t clock() const override { return chip_.ledger().now(); }
  int64_t nonlinear_cycles(int layer, Nonlinear kind, int64_t elements) override {
    return nonlinear_op(layer, kind, elements).cycles();
  }
  // Record every op into `trace` (nullptr: no trace).
  void set_trace(Trace *trace) { trace_ = trace; }

  // A meter call resolved into what to charge, without charging it: linear(...) is
  // charge(linear_op(...)). A meter that keeps calls for later (BatchedMeter) keeps these
  // (two pointers, valid as long as this meter).
  //   Site:   the kind of call, its layer and name: the ledger rows it is charged to
  //   Priced: an op's price (from its shape, the operands' levels and the profile only), with
  //           what it adds to the ledger, worked out once per distinct shape
  enum class Call : uint8_t { Linear, LinearPartial, Matmul, Nonlinear };
  struct Site {
    Call call = Call::Nonlinear;
    Nonlinear nonlinear = Nonlinear::Copy;
    int layer = 0;
    std::string name;                     // Linear*: the weight; Matmul: the op ("qk", "pv")
    chip::Level level = chip::Level::L2;  // Linear*: where the weight lives; Matmul: the KV cache
    int64_t out_bytes = 0;                // Linear*, Matmul: bytes per output element
    chip::Ledger::Account account;        // label (the op) and layer
  };
  // The price of an op depends only on its shape, the operands' levels and the profile: each is
  // computed once (the cost model simulates the tile pipeline, which is not cheap) and reused.
  struct PriceKey {
    int op, level;
    int64_t a, b, c, d;  // the shape (tokens, out, in / M, N, K / elements) and out bytes
    bool operator==(const PriceKey &) const = default;
  };
  struct Priced {
    PriceKey key;
    chip::Ledger::Delta delta;
    double compute_cycles = 0, dma_cycles = 0;  // the OpCost's, for the trace
  };
  struct Charge {
    Site *site = nullptr;
    const Priced *priced = nullptr;
    int64_t cycles() const { return priced->delta.totals.cycles; }
  };
  // A Charge stays valid until the next *_op call: the prices of shapes that pass (the
  // attention's, one position longer every token) are kept for a while only. keep_prices(true)
  // keeps every price for the meter's life, for a meter that keeps charges for later.
  void keep_prices(bool keep) { keep_prices_ = keep; }
  Charge linear_op(int layer, const std::string &weight, int tokens, int out, int in);
  Charge linear_partial_op(int layer, const std::string &weight, int tokens, int out, int in);
  Charge matmul_op(int layer, const char *op, int M, int N, int K);
  Charge nonlinear_op(int layer, Nonlinear kind, int64_t elements);
  // Charges the op to the chip's ledger (and to the trace, when tracing) at the chip's clock.
  void charge(const Charge &c);
  // The ledger's charge_ahead and advance_clock (chip/ledger.hpp), for a meter that settles
  // synchronisations later. Not when tracing (std::logic_error): the trace records each op at
  // its clock, with the energy the chip has used by then.
  void charge_ahead(const Charge &c);
  // The same for ops charged again and again in one order (chip::Ledger::prepare_ahead): a
  // Charge whose price is kept for the meter's life (keep_prices, or charge_of(..., true)),
  // prepared once, then charged as a run. Not when tracing either.
  chip::Ledger::Prepared prepare_ahead(const Charge &c);
  void charge_ahead(const chip::Ledger::Prepared *ops, size_t n);
  void advance_clock(int64_t cycles) { chip_.ledger().advance_clock(cycles); }
  // The charge of a call at `site` with this shape (a, b, c: tokens, out, in or M, N, K;
  // elements: a non-linear op's), priced exactly as the call itself would be: for a meter that
  // repeats calls it recorded (the step replay of runtime/step_replay.hpp). `keep`: the price stays
  // valid for the meter's life; otherwise, as a passing shape's, only until the next *_op call.
  Charge charge_of(Site *site, int a, int b, int c, int64_t elements, bool keep) {
    return {site, &price_for(*site, Shape{a, b, c, elements}, !keep)};
  }
  bool tracing() const { return trace_ != nullptr; }
  // Whether calls at sites x and y with these shapes (a, b, c, elements) have one price.
  static bool same_price(const Site &x, const std::array<int64_t, 4> &sx, const Site &y,
                         const std::array<int64_t, 4> &sy) {
    auto shape = [](const std::array<int64_t, 4> &v) {
      return Shape{static_cast<int>(v[0]), static_cast<int>(v[1]), static_cast<int>(v[2]), v[3]};
    };
    return key_of(x, shape(sx)) == key_of(y, shape(sy));
  }

 private:
  struct Shape {
    int a = 0, b = 0, c = 0;
    int64_t elements = 0;
    bool operator==(const Shape &) const = default;
  };
  struct CallKey {
    CallKey(Call c, Nonlinear k, int l, std::string_view n, Shape sh);
    Call call;
    Nonlinear nonlinear;
    int layer;
    std::string_view name;
    uint64_t name8;  // the name's first 8 bytes (zeros after its end)
    Shape shape;
  };
  // A call (site and shape) as a place in the sequence of calls: the runtime makes the same
  // calls in the same order for every token (the attention's shapes growing by one position),
  // so the call after this one is most likely one of those that followed it before (up to four:
  // a requant after Q, K and V, then RoPE). Only a guess: a call that matches none of them is
  // looked up.
  struct Slot {
    Site *site = nullptr;
    // The site's call, kind, layer and name (its first 8 bytes and its length) again, so that a
    // guess is checked without reading the site.
    Call call = Call::Nonlinear;
    Nonlinear nonlinear = Nonlinear::Copy;
    int layer = 0;
    size_t name_size = 0;
    uint64_t name8 = 0;
    Shape shape;
    const Priced *priced = nullptr;
    std::array<Slot *, 4> next{};
    const Priced *other = nullptr;  // the last other shape's price here (the attention's T)
  };
  Charge find(const CallKey &key);
  Site &site_for(const CallKey &key);
  // The price of `shape` at `site`: kept for the meter's life, or, if `passing` (a shape that
  // changes at a place where the calls recur: it may not come back) and prices need not all be
  // kept, kept for a while only.
  const Priced &price_for(const Site &site, const Shape &shape, bool passing);
  static PriceKey key_of(const Site &site, const Shape &shape);
  Priced priced(const Site &site, const Shape &shape, const PriceKey &key);
  // Charges `c` and records it on the compute track (and its DMA share).
  void charge_traced(const Charge &c, nlohmann::json shape);
  static uint64_t hash(const PriceKey &k) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the key's fields
    for (int64_t v : {int64_t{k.op}, int64_t{k.level}, k.a, k.b, k.c, k.d})
      h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull;
    return h;
  }
  Priced &new_priced(const Priced &p);

  chip::Chip &chip_;
  Trace *trace_ = nullptr;
  std::unordered_map<std::string, chip::Level> level_;  // weight name -> level
  chip::Level kv_level_ = chip::Level::L2;              // where the KV cache lives
  // Every price made so far, in chunks that never move, and found through an open-addressing
  // table (at most half full): a new shape (the attention makes four per token)
  // costs no allocation most of the time, which on the host is what pricing costs most.
  struct PriceChunk {  // kPriceChunk prices in populated memory (populated.hpp)
    PriceChunk();
    ~PriceChunk();
    PriceChunk(const PriceChunk &) = delete;
    PriceChunk &operator=(const PriceChunk &) = delete;
    Priced *prices;
  };
  static constexpr size_t kPriceChunk = 256;  // 55 KB
  std::vector<std::unique_ptr<PriceChunk>> price_chunks_;
  size_t chunk_used_ = 0;
  struct PriceEntry {
    uint64_t hash = 0;  // of the key: most probes need not look at the price itself
    Priced *priced = nullptr;
  };
  std::vector<PriceEntry, PopulatedAllocator<PriceEntry>> price_table_;
  size_t prices_ = 0;
  // The prices found last, by their key's hash: the attention's shapes change every token and
  // recur in every layer, and the table's entries are spread over memory (a miss each).
  struct RecentPrice {
    PriceKey key{};
    const Priced *priced = nullptr;
  };
  std::array<RecentPrice, 32> recent_{};
  // The passing shapes' prices, kept for a while: a 2-way set-associative cache. Pricing them for
  // good would put every new one on memory never touched before (a page fault costs 11-16 us on
  // the reference VM, a cold cache line ~0.1 us): four per token for each chip. 256 prices
  // (~53 KB) hold a token's (four) many times over, and a prompt's of up to ~64 positions.
  struct PassingSet {
    Priced way[2];
    bool used[2] = {false, false};
    int older = 0;  // the way used less recently
  };
  static constexpr size_t kPassingSets = 128;
  std::vector<PassingSet, PopulatedAllocator<PassingSet>> passing_;
  bool keep_prices_ = false;
  // The passing prices pushed out of the cache, as a Bloom filter of their keys' hashes: one
  // asked for again is kept for good (a false positive only keeps one more price).
  static constexpr uint64_t kPushedOutBits = 1 << 16;  // 8 KB
  std::vector<uint64_t, PopulatedAllocator<uint64_t>> pushed_out_;
  void note_pushed_out(uint64_t hash);
  bool maybe_pushed_out(uint64_t hash) const;
  // Node-based maps: a Site or Slot never moves once made.
  std::unordered_map<std::string, Site> sites_;  // by the bytes of call, kind, layer, name
  std::unordered_map<std::string, Slot> slots_;  // by those and the shape's bytes
  std::string site_key_, slot_key_;              // reused for look-ups
  Slot *last_ = nullptr;                         // the place of the last call
  // A synchronisation's waiting ("idle") and link time, by layer and kind: a flat table indexed
  // by (layer + 1) x kinds + kind (layer -1 is outside the blocks), made as syncs first come. A
  // look-up is one index (a std::map here cost a walk of cold nodes at every synchronisation).
  struct SyncAccounts {
    bool made = false;
    chip::Ledger::Account idle, link;
  };
  std::vector<SyncAccounts, PopulatedAllocator<SyncAccounts>> sync_accounts_;
  SyncAccounts &sync_accounts(int layer, SyncKind kind);
};

// The link as the profile describes it, in cluster cycles.
mpi::LinkModel link_model(const chip::Profile &p);

}  // namespace mcuemu::runtime
