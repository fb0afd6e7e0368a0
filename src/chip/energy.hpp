// Energy by term, in pJ (DESIGN.md, "Time and energy").
//
//   compute  MAC energy of GEMM/GEMV + instruction energy of the non-linear kernels
//   L1..L3   bytes read or written at each level x that level's pJ/B
//   link     bytes on the chip-to-chip link x link pJ/B
//   active   active power x busy time (cycles of ops)
//   idle     idle power x (idle time + link time)
//
// The terms are disjoint and total_pj() is their sum; the tests check that the ledger's terms,
// its per-kind table and its per-layer table all add up to the same total.
#pragma once

#include "chip/level.hpp"

namespace mcuemu::chip {

struct Energy {
  double compute_pj = 0;
  PerLevel<double> level_pj;  // traffic energy per level
  double link_pj = 0;
  double active_pj = 0;
  double idle_pj = 0;

  double traffic_pj() const {
    double sum = 0;
    for (double e : level_pj.v) sum += e;
    return sum;
  }
  double total_pj() const { return compute_pj + traffic_pj() + link_pj + active_pj + idle_pj; }

  Energy &operator+=(const Energy &o) {
    compute_pj += o.compute_pj;
    for (Level l : kAllLevels) level_pj[l] += o.level_pj[l];
    link_pj += o.link_pj;
    active_pj += o.active_pj;
    idle_pj += o.idle_pj;
    return *this;
  }
};

}  // namespace mcuemu::chip
