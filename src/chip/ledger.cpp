#include "chip/ledger.hpp"

#include <fmt/format.h>

#include "chip/error.hpp"

namespace mcuemu::chip {
namespace {

void add(LedgerTotals &into, const LedgerTotals &d) {
  into.count += d.count;
  into.cycles += d.cycles;
  into.macs += d.macs;
  into.elements += d.elements;
  for (Level l : kAllLevels) into.bytes[l] += d.bytes[l];
  into.link_bytes += d.link_bytes;
  into.energy += d.energy;
}

void check_cycles(std::int64_t cycles) {
  if (cycles < 0) throw ChipError(fmt::format("ledger: negative cycle count {}", cycles));
}

}  // namespace

Ledger::Ledger(const Profile &profile)
    : freq_mhz_(profile.freq_mhz),
      active_pj_per_cycle_(profile.pj_per_cycle(profile.power.active_mw)),
      idle_pj_per_cycle_(profile.pj_per_cycle(profile.power.idle_mw)),
      link_pj_per_byte_(profile.energy.link_pj_per_byte) {}

void Ledger::record(std::string_view label, int layer, const LedgerTotals &delta) {
  add(total_, delta);
  auto it = by_kind_.find(label);
  if (it == by_kind_.end()) it = by_kind_.emplace(std::string(label), LedgerTotals{}).first;
  add(it->second, delta);
  add(by_layer_[layer], delta);
}

void Ledger::charge(const OpCost &cost, int layer, std::string_view label) {
  check_cycles(cost.cycles);
  LedgerTotals d;
  d.count = 1;
  d.cycles = cost.cycles;
  d.macs = cost.macs;
  d.elements = cost.elements;
  d.bytes = cost.bytes;
  d.link_bytes = cost.link_bytes;
  d.energy = cost.energy;
  const auto cycles = static_cast<double>(cost.cycles);
  if (cost.kind == OpKind::link) {
    d.energy.idle_pj += cycles * idle_pj_per_cycle_;
    link_ += cost.cycles;
  } else {
    d.energy.active_pj += cycles * active_pj_per_cycle_;
    busy_ += cost.cycles;
  }
  now_ += cost.cycles;
  record(label.empty() ? op_kind_name(cost.kind) : label, layer, d);
}

void Ledger::advance_busy(std::int64_t cycles, std::string_view label, int layer) {
  check_cycles(cycles);
  LedgerTotals d;
  d.count = 1;
  d.cycles = cycles;
  d.energy.active_pj = static_cast<double>(cycles) * active_pj_per_cycle_;
  busy_ += cycles;
  now_ += cycles;
  record(label, layer, d);
}

void Ledger::advance_idle(std::int64_t cycles, int layer) {
  check_cycles(cycles);
  LedgerTotals d;
  d.count = 1;
  d.cycles = cycles;
  d.energy.idle_pj = static_cast<double>(cycles) * idle_pj_per_cycle_;
  idle_ += cycles;
  now_ += cycles;
  record("idle", layer, d);
}

void Ledger::wait_until(std::int64_t cycle, int layer) {
  if (cycle > now_) advance_idle(cycle - now_, layer);
}

void Ledger::charge_link(std::int64_t bytes, std::int64_t cycles, int layer,
                         std::string_view label) {
  check_cycles(cycles);
  if (bytes < 0) throw ChipError(fmt::format("ledger: negative link byte count {}", bytes));
  LedgerTotals d;
  d.count = 1;
  d.cycles = cycles;
  d.link_bytes = bytes;
  d.energy.link_pj = static_cast<double>(bytes) * link_pj_per_byte_;
  d.energy.idle_pj = static_cast<double>(cycles) * idle_pj_per_cycle_;
  link_ += cycles;
  now_ += cycles;
  record(label, layer, d);
}

}  // namespace mcuemu::chip
