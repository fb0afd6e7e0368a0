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

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

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
  // Busy time without per-event energy (e.g. a host-side step that occupies the cluster).
  void advance_busy(std::int64_t cycles, std::string_view label, int layer = kNoLayer);
  // Waiting time at idle power.
  void advance_idle(std::int64_t cycles, int layer = kNoLayer);
  // Waits until the clock reads `cycle` (no-op if it already does or is later).
  void wait_until(std::int64_t cycle, int layer = kNoLayer);
  // Link time: `cycles` at idle power plus `bytes` x energy.link_pj_per_byte. Unlike
  // charge(cost_model.price_link(bytes)), it charges no L2 traffic.
  void charge_link(std::int64_t bytes, std::int64_t cycles, int layer = kNoLayer,
                   std::string_view label = "link");

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
