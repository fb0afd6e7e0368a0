// Ledger: the clock, ns conversion, and energy terms that add up to the total.
#include <gtest/gtest.h>

#include "chip/chip.hpp"
#include "test_util.hpp"

namespace mcuemu::chip {
namespace {

double sum_terms(const Energy &e) {
  return e.compute_pj + e.level_pj[Level::L1] + e.level_pj[Level::L2] + e.level_pj[Level::MRAM] +
         e.level_pj[Level::L3] + e.link_pj + e.active_pj + e.idle_pj;
}

TEST(Ledger, ClockAndNs) {
  const Profile p = load_profile("gap9", {}, test::hw_dir());
  Ledger ledger(p);
  ledger.advance_busy(370, "host");
  ledger.advance_idle(740);
  EXPECT_EQ(ledger.now(), 1110);
  EXPECT_DOUBLE_EQ(ledger.now_ns(), 3000);
  ledger.wait_until(1000);  // already past: no-op
  EXPECT_EQ(ledger.now(), 1110);
  ledger.wait_until(1480);
  EXPECT_EQ(ledger.now(), 1480);
  EXPECT_EQ(ledger.idle_cycles(), 740 + 370);
  EXPECT_EQ(ledger.busy_cycles(), 370);
}

TEST(Ledger, PowerTermsByHand) {
  // 37 mW active and 3.7 mW idle at 370 MHz: 100 pJ and 10 pJ per cycle.
  const Profile p =
      load_profile("gap9", {"power.active_mw=37", "power.idle_mw=3.7"}, test::hw_dir());
  Ledger ledger(p);
  ledger.advance_busy(1000, "x", 0);
  ledger.advance_idle(500, 0);
  ledger.charge_link(1000, 200, 1);  // 1000 B x 140 pJ/B + 200 cycles x 10 pJ
  const Energy &e = ledger.total().energy;
  EXPECT_NEAR(e.active_pj, 100000, 1e-6);
  EXPECT_NEAR(e.idle_pj, 5000 + 2000, 1e-6);
  EXPECT_NEAR(e.link_pj, 140000, 1e-6);
  EXPECT_EQ(ledger.link_cycles(), 200);
  EXPECT_EQ(ledger.total().link_bytes, 1000);
  EXPECT_NEAR(e.total_pj(), 100000 + 7000 + 140000, 1e-6);
}

TEST(Ledger, EnergyTermsSumToTotalOverKindsAndLayers) {
  Chip chip(0, load_profile("gap9", {}, test::hw_dir()));
  const CostModel &cm = chip.cost();
  Ledger &ledger = chip.ledger();
  for (int layer = 0; layer < 2; ++layer) {
    ledger.charge(cm.price_eltwise(OpKind::rmsnorm, 512), layer);
    ledger.charge(cm.price_gemv(64, 512, Level::L2), layer, "wq");
    ledger.charge(cm.price_gemv(64, 512, Level::MRAM), layer, "wk");
    ledger.charge(cm.price_gemv(172, 512, Level::L3), layer, "w1");
    ledger.charge(cm.price_eltwise(OpKind::softmax, 128), layer);
    ledger.charge(cm.price_link(2048), layer);
    ledger.wait_until(ledger.now() + 5000, layer);
  }
  ledger.charge(cm.price_copy(512, Level::L3, Level::L2), kNoLayer, "embedding");
  chip.run(cm.price_eltwise(OpKind::argmax, 4000, 4, 0));

  const LedgerTotals &total = ledger.total();
  const double e = total.energy.total_pj();
  EXPECT_GT(e, 0);
  EXPECT_NEAR(sum_terms(total.energy), e, 1e-9 * e);
  // Every term is present.
  EXPECT_GT(total.energy.compute_pj, 0);
  for (Level l : kAllLevels) EXPECT_GT(total.energy.level_pj[l], 0) << level_name(l);
  EXPECT_GT(total.energy.link_pj, 0);
  EXPECT_GT(total.energy.active_pj, 0);
  EXPECT_GT(total.energy.idle_pj, 0);

  double by_kind = 0, by_layer = 0;
  std::int64_t cycles_kind = 0, cycles_layer = 0;
  for (const auto &[kind, t] : ledger.by_kind()) {
    by_kind += t.energy.total_pj();
    cycles_kind += t.cycles;
  }
  for (const auto &[layer, t] : ledger.by_layer()) {
    by_layer += t.energy.total_pj();
    cycles_layer += t.cycles;
  }
  EXPECT_NEAR(by_kind, e, 1e-9 * e);
  EXPECT_NEAR(by_layer, e, 1e-9 * e);
  EXPECT_EQ(cycles_kind, ledger.now());
  EXPECT_EQ(cycles_layer, ledger.now());
  EXPECT_EQ(ledger.busy_cycles() + ledger.link_cycles() + ledger.idle_cycles(), ledger.now());
  EXPECT_EQ(ledger.by_kind().at("wq").count, 2);
  EXPECT_EQ(ledger.by_kind().at("idle").cycles, 10000);
  EXPECT_EQ(ledger.by_layer().size(), 3u);  // 0, 1, kNoLayer

  // Active energy is exactly busy cycles x active power; idle covers idle + link time.
  const Profile &p = chip.profile();
  EXPECT_NEAR(total.energy.active_pj,
              static_cast<double>(ledger.busy_cycles()) * p.pj_per_cycle(p.power.active_mw),
              1e-6 * total.energy.active_pj);
  EXPECT_NEAR(total.energy.idle_pj,
              static_cast<double>(ledger.idle_cycles() + ledger.link_cycles()) *
                  p.pj_per_cycle(p.power.idle_mw),
              1e-6 * total.energy.idle_pj);
}

TEST(Ledger, NegativeIsAnError) {
  Ledger ledger(load_profile("gap9", {}, test::hw_dir()));
  EXPECT_THROW(ledger.advance_idle(-1), ChipError);
  EXPECT_THROW(ledger.charge_link(-1, 10), ChipError);
}

}  // namespace
}  // namespace mcuemu::chip
