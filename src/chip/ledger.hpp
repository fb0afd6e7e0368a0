// Ledger: the simulated clock of one chip and the account of its cycles, bytes and energy.
//
// The clock counts cluster cycles as an int64 and converts to ns at the profile's frequency; it
// only moves when something is charged to it, never from host time. Three kinds of time:
//   busy  an op runs (charge(OpCost) of a kernel or copy, advance_busy): active power
//   link  the chip moves data over the chip-to-chip link (charge_link, or charge() of a
//         price_link cost): idle power, since the cluster waits while the uDMA moves the bytes;
//         the energy of the bytes themselves is the link term
//   idle  the chip waits (advance_idle, wait_until: a collective that has not started): idle power
// Energy (pJ, double) is split into the terms of Energy (energy.hpp): per-event terms come from
// the OpCost, active and idle from time x power. Totals are kept per op kind (a label, by default
// op_kind_name; waiting is "idle"), per layer (kNoLayer for what is outside the blocks) and
// overall; each of the three adds up to the same total energy.
//
// Link charges: the mpi layer decides who pays for a transfer. The link term should be charged
// once per byte moved (e.g. by the sender); a receiver charges its transfer time with bytes = 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "chip/cost.hpp"
#include "chip/energy.hpp"
#include "chip/level.hpp"
#include "chip/profile.hpp"

namespace mcuemu::chip {

inline constexpr int kNoLayer = -1;

struct LedgerTotals {
  std::int64_t count = 0;   // number of charges
  std::int64_t cycles = 0;  // busy + link + idle cycles charged here
  std::int64_t macs = 0;
  std::int64_t elements = 0;
  PerLevel<std::int64_t> bytes;
  std::int64_t link_bytes = 0;
  Energy energy;
};

class Ledger {
 public:
  explicit Ledger(const Profile &profile);

  // Charges an op priced by the CostModel: advances the clock by cost.cycles (busy, or link time
  // for OpKind::link), adds its per-event energy and the matching active/idle energy.
  void charge(const OpCost &cost, int layer = kNoLayer, std::string_view label = {});

  // For ops charged again and again, charge(cost, layer, label) in two parts worked out once:
  // the Delta of a priced op (what it adds to every table) and the Account of a label and layer
  // (its rows of the per-kind and per-layer tables, found at its first charge, std::map nodes
  // staying put). charge(delta, account) does exactly what charge(cost, layer, label) does (the
  // same numbers added in the same order) without looking anything up or computing anything.
  struct Delta {
    LedgerTotals totals;
    bool link = false;  // link time (OpKind::link) rather than busy time
    // No idle and no link energy: see charge_ahead.
    bool ahead = false;
  };
  Delta delta(const OpCost &cost) const;
  class Account {
   public:
    Account() = default;
    Account(std::string label, int layer) : label_(std::move(label)), layer_(layer) {}
    const std::string &label() const { return label_; }
    int layer() const { return layer_; }

   private:
    friend class Ledger;
    std::string label_;
    int layer_ = kNoLayer;
    const Ledger *owner_ = nullptr;  // the ledger whose rows these are
    LedgerTotals *kind_row_ = nullptr, *layer_row_ = nullptr;
  };
  // `account`'s label must not be empty (charge(cost) would use the op kind's name).
  void charge(const Delta &delta, Account &account);

  // Charging ahead of the clock, for runs that learn the waits before an op only later
  // (cost-only runs that settle synchronisations in batches) or charge a run of ops before
  // moving the clock past it (replayed steps): charge_ahead adds the op's totals
  // now and leaves the clock; advance_clock later moves the clock by the cycles so charged, once
  // the waits before them are known. The ledger ends up exactly as if each op had been charged
  // in its place: integer sums do not depend on the order, and the energy terms fall in two
  // disjoint groups. An op charged ahead (delta.ahead) has no idle and no link energy; waits
  // (wait_until, advance_idle) and link time (charge_link) have only idle and link energy. So
  // every double sum still gets its non-zero terms in their order (ops among ops, waits and
  // link time among themselves), and a zero term changes nothing: a sum that starts at +0 is
  // never -0 (round to nearest), and x + 0 is x for any other x. Throws for a delta with idle or
  // link energy.
  void charge_ahead(const Delta &delta, Account &account);
  void advance_clock(std::int64_t cycles);

  // Ops charged ahead again and again in one order (replayed decode steps, cost-only or full):
  // each prepared once (its delta's totals and its account's rows found), then charged as a
  // run. charge_ahead(ops, n) does exactly charge_ahead(delta_i, account_i) for i = 0 .. n-1:
  // the same numbers added to the same rows in the same order, without a call for each. A
  // Prepared points to the delta and into this ledger's rows (std::map nodes, which stay put):
  // the delta must outlive it and may change between runs (a price that changes each step, kept
  // in one place). charge_ahead(ops, n) throws, before it charges any, as charge_ahead does for a
  // delta with idle or link energy and for an op prepared by another ledger; prepare_ahead for
  // an account without a label.
  struct Prepared {
    const Delta *delta = nullptr;
    LedgerTotals *kind_row = nullptr, *layer_row = nullptr;
    const Ledger *owner = nullptr;
  };
  Prepared prepare_ahead(const Delta &delta, Account &account);
  void charge_ahead(const Prepared *ops, std::size_t n);

  // Busy time without per-event energy (e.g. a host-side step that occupies the cluster).
  void advance_busy(std::int64_t cycles, std::string_view label, int layer = kNoLayer);
  // Waiting time at idle power.
  void advance_idle(std::int64_t cycles, int layer = kNoLayer);
  // Waits until the clock reads `cycle` (no-op if it already does or is later).
  void wait_until(std::int64_t cycle, int layer = kNoLayer);
  // The same, charged to `idle` (an account labelled "idle": what advance_idle charges).
  void wait_until(std::int64_t cycle, Account &idle);
  // Link time: `cycles` at idle power plus `bytes` x energy.link_pj_per_byte. Unlike
  // charge(cost_model.price_link(bytes)), it charges no L2 traffic.
  void charge_link(std::int64_t bytes, std::int64_t cycles, int layer = kNoLayer,
                   std::string_view label = "link");
  void charge_link(std::int64_t bytes, std::int64_t cycles, Account &account);

  std::int64_t now() const { return now_; }
  double now_ns() const { return static_cast<double>(now_) * 1e3 / freq_mhz_; }
  double ns(std::int64_t cycles) const { return static_cast<double>(cycles) * 1e3 / freq_mhz_; }
  std::int64_t busy_cycles() const { return busy_; }
  std::int64_t link_cycles() const { return link_; }
  std::int64_t idle_cycles() const { return idle_; }

  const LedgerTotals &total() const { return total_; }
  const std::map<std::string, LedgerTotals, std::less<>> &by_kind() const { return by_kind_; }
  const std::map<int, LedgerTotals> &by_layer() const { return by_layer_; }

 private:
  void record(std::string_view label, int layer, const LedgerTotals &delta);
  void record(Account &account, const LedgerTotals &delta);  // the same rows, found once
  void find_rows(Account &account);                          // at an account's first charge here
  // charge(delta, account) but the clock.
  void charge_ahead_of_clock(const Delta &delta, Account &account);
  // What a wait or link time adds (and its clock and counters moved).
  LedgerTotals idle_delta(std::int64_t cycles);
  LedgerTotals link_delta(std::int64_t bytes, std::int64_t cycles);

  double freq_mhz_;
  double active_pj_per_cycle_;
  double idle_pj_per_cycle_;
  double link_pj_per_byte_;
  std::int64_t now_ = 0;
  std::int64_t busy_ = 0;
  std::int64_t link_ = 0;
  std::int64_t idle_ = 0;
  LedgerTotals total_;
  std::map<std::string, LedgerTotals, std::less<>> by_kind_;
  std::map<int, LedgerTotals> by_layer_;
};

}  // namespace mcuemu::chip
