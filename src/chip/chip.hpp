// Chip: one emulated MCU = an id, a hardware profile, its memory arenas, its cost model and its
// ledger. Each MPI rank owns one Chip; nothing here knows about MPI or about models.
//
//   Chip chip(rank, load_profile("gap9", set_overrides));
//   Placement placed = place_tensors(chip, tensors);            // placement.hpp
//   OpCost c = chip.cost().price_gemv(out, in, placed.level_of("wq.l0"));
//   chip.ledger().charge(c, /*layer=*/0);
//   chip.ledger().now_ns();
#pragma once

#include "chip/cost.hpp"
#include "chip/ledger.hpp"
#include "chip/memory.hpp"
#include "chip/profile.hpp"

namespace mcuemu::chip {

class Chip {
 public:
  Chip(int id, Profile profile);

  int id() const { return id_; }
  const Profile &profile() const { return cost_.profile(); }
  Memory &memory() { return memory_; }
  const Memory &memory() const { return memory_; }
  const CostModel &cost() const { return cost_; }
  Ledger &ledger() { return ledger_; }
  const Ledger &ledger() const { return ledger_; }

  // Charges a priced op to the ledger and returns it:
  //   chip.run(chip.cost().price_eltwise(OpKind::rmsnorm, 512), layer);
  OpCost run(const OpCost &cost, int layer = kNoLayer) {
    ledger_.charge(cost, layer);
    return cost;
  }

 private:
  int id_;
  CostModel cost_;
  Memory memory_;
  Ledger ledger_;
};

}  // namespace mcuemu::chip
