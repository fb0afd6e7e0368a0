// Ledger: the clock, ns conversion, and energy terms that add up to the total.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

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

// An op charged through its Delta and an Account does exactly what charge(cost, layer, label)
// does: the same clock, counters and rows, every double the same bits.
TEST(Ledger, DeltaAndAccountChargeExactlyAsCharge) {
  Chip a(0, load_profile("gap9", {}, test::hw_dir())), b(0, a.profile());
  const CostModel &cm = a.cost();
  const OpCost ops[] = {cm.price_gemv(512, 512, Level::L2), cm.price_eltwise(OpKind::softmax, 77),
                        cm.price_gemm(3, 64, 130, Level::L3, 4), cm.price_link(300)};
  std::vector<Ledger::Account> accounts = {{"wq", 0}, {"softmax", 0}, {"qk", 1}, {"link", -1}};
  std::vector<Ledger::Delta> deltas;
  for (const OpCost &c : ops) deltas.push_back(b.ledger().delta(c));
  for (int round = 0; round < 50; ++round)
    for (size_t i = 0; i < 4; ++i) {
      const size_t k = (i * 7 + round) % 4;
      a.ledger().charge(ops[k], accounts[k].layer(), accounts[k].label());
      b.ledger().charge(deltas[k], accounts[k]);
      if (round % 9 == 0) {  // waits and link time in between, as at synchronisations
        a.ledger().wait_until(a.ledger().now() + 13, 2);
        b.ledger().wait_until(b.ledger().now() + 13, 2);
        a.ledger().charge_link(64, 40, 2, "sync");
        b.ledger().charge_link(64, 40, 2, "sync");
      }
    }
  const Ledger &x = a.ledger(), &y = b.ledger();
  EXPECT_EQ(x.now(), y.now());
  EXPECT_EQ(x.busy_cycles(), y.busy_cycles());
  EXPECT_EQ(x.link_cycles(), y.link_cycles());
  EXPECT_EQ(x.idle_cycles(), y.idle_cycles());
  auto same = [](const LedgerTotals &p, const LedgerTotals &q) {
    bool ok = p.count == q.count && p.cycles == q.cycles && p.macs == q.macs &&
              p.elements == q.elements && p.link_bytes == q.link_bytes &&
              p.energy.compute_pj == q.energy.compute_pj && p.energy.link_pj == q.energy.link_pj &&
              p.energy.active_pj == q.energy.active_pj && p.energy.idle_pj == q.energy.idle_pj;
    for (Level l : kAllLevels)
      ok = ok && p.bytes[l] == q.bytes[l] && p.energy.level_pj[l] == q.energy.level_pj[l];
    return ok;
  };
  EXPECT_TRUE(same(x.total(), y.total()));
  ASSERT_EQ(x.by_kind().size(), y.by_kind().size());
  for (const auto &[k, t] : x.by_kind()) EXPECT_TRUE(same(t, y.by_kind().find(k)->second)) << k;
  ASSERT_EQ(x.by_layer().size(), y.by_layer().size());
  for (const auto &[l, t] : x.by_layer()) EXPECT_TRUE(same(t, y.by_layer().at(l))) << l;
  EXPECT_EQ(x.by_kind().at("link").cycles, 50 * deltas[3].totals.cycles);
  // No label: refused (charge(cost) would have named the row after the op kind).
  Ledger::Account unnamed;
  EXPECT_THROW(b.ledger().charge(deltas[0], unnamed), ChipError);
}

// Two chips of one profile, four ops priced for them (three kinds, two layers) with an account
// each per chip, and the ops' deltas: for tests that charge the chips two ways and compare.
class LedgerPair : public ::testing::Test {
 protected:
  Chip a{0, load_profile("gap9", {}, test::hw_dir())}, b{0, a.profile()};
  const CostModel &cm = a.cost();
  std::vector<OpCost> ops = {
      cm.price_gemv(512, 512, Level::L2), cm.price_eltwise(OpKind::softmax, 77),
      cm.price_gemm(3, 64, 130, Level::L3, 4), cm.price_eltwise(OpKind::requant, 9)};
  std::vector<Ledger::Account> acc_a = {{"wq", 0}, {"softmax", 0}, {"qk", 1}, {"requant", 1}};
  std::vector<Ledger::Account> acc_b = acc_a;
  std::vector<Ledger::Delta> deltas;
  LedgerPair() {
    for (const OpCost &c : ops) deltas.push_back(b.ledger().delta(c));
  }
};

// Every field of a row, for comparisons bit for bit.
std::pair<std::vector<double>, std::vector<int64_t>> fields(const LedgerTotals &t) {
  std::vector<double> v = {t.energy.compute_pj, t.energy.link_pj, t.energy.active_pj,
                           t.energy.idle_pj};
  for (Level l : kAllLevels) v.push_back(t.energy.level_pj[l]);
  std::vector<int64_t> n = {t.count, t.cycles, t.macs, t.elements, t.link_bytes};
  for (Level l : kAllLevels) n.push_back(t.bytes[l]);
  return {v, n};
}

// The ledgers of x and y hold the same numbers, row by row.
void expect_same_rows(const Ledger &x, const Ledger &y) {
  EXPECT_EQ(x.busy_cycles(), y.busy_cycles());
  EXPECT_EQ(x.link_cycles(), y.link_cycles());
  EXPECT_EQ(x.idle_cycles(), y.idle_cycles());
  EXPECT_EQ(fields(x.total()), fields(y.total()));
  ASSERT_EQ(x.by_kind().size(), y.by_kind().size());
  for (const auto &[k, t] : x.by_kind())
    EXPECT_EQ(fields(t), fields(y.by_kind().find(k)->second)) << k;
  ASSERT_EQ(x.by_layer().size(), y.by_layer().size());
  for (const auto &[l, t] : x.by_layer()) EXPECT_EQ(fields(t), fields(y.by_layer().at(l))) << l;
}

// Ops charged ahead of the clock, the clock moved later past them, and the waits and link time
// charged in between at their clocks: the ledger is the one of charging everything in order,
// every double the same bits.
TEST_F(LedgerPair, ChargeAheadThenAdvanceEqualsChargingInOrder) {
  Ledger::Account idle_a("idle", 1), idle_b("idle", 1), link_a("sync", 1), link_b("sync", 1);
  for (int segment = 0; segment < 30; ++segment) {
    // A segment of ops, then a synchronisation: a wait for a later clock and link time.
    int64_t cycles = 0;
    for (int i = 0; i <= segment % 5; ++i) {
      const size_t k = static_cast<size_t>(segment * 3 + i) % 4;
      a.ledger().charge(deltas[k], acc_a[k]);
      b.ledger().charge_ahead(deltas[k], acc_b[k]);
      cycles += deltas[k].totals.cycles;
    }
    b.ledger().advance_clock(cycles);
    ASSERT_EQ(a.ledger().now(), b.ledger().now());
    const int64_t until = a.ledger().now() + 37 * (segment % 3);
    a.ledger().wait_until(until, idle_a);
    b.ledger().wait_until(until, idle_b);
    a.ledger().charge_link(128 + segment, 90, link_a);
    b.ledger().charge_link(128 + segment, 90, link_b);
  }
  const Ledger &x = a.ledger(), &y = b.ledger();
  EXPECT_EQ(x.now(), y.now());
  expect_same_rows(x, y);
  EXPECT_GT(x.total().energy.idle_pj, 0);
  // Link time has idle energy: it cannot be charged ahead.
  Ledger::Account link("link", 0);
  EXPECT_THROW(b.ledger().charge_ahead(b.ledger().delta(cm.price_link(64)), link), ChipError);
  EXPECT_THROW(b.ledger().advance_clock(-1), ChipError);
}

// Ops prepared once and charged as runs (cost-only step replay): the ledger is the one of
// charging each op ahead in order, every double the same bits, also for an op whose price
// changes from run to run in one place (the attention's, one position longer each step).
TEST_F(LedgerPair, PreparedRunsChargeExactlyAsEachOpAhead) {
  Ledger::Account moving_a("pv", 1), moving_b("pv", 1);
  Ledger::Delta moving = b.ledger().delta(cm.price_gemm(1, 64, 1, Level::L2, 4));
  // One run: ops 0, 1, the moving one, 2, 3, 1 (two ops on one row, rows of two layers).
  const size_t order[] = {0, 1, 4, 2, 3, 1};
  std::vector<Ledger::Prepared> run;
  for (size_t k : order)
    run.push_back(k == 4 ? b.ledger().prepare_ahead(moving, moving_b)
                         : b.ledger().prepare_ahead(deltas[k], acc_b[k]));
  for (int step = 1; step <= 40; ++step) {
    moving = b.ledger().delta(cm.price_gemm(1, 64, step, Level::L2, 4));
    for (size_t k : order)
      a.ledger().charge_ahead(k == 4 ? moving : deltas[k], k == 4 ? moving_a : acc_a[k]);
    b.ledger().charge_ahead(run.data(), run.size());
  }
  const Ledger &x = a.ledger(), &y = b.ledger();
  EXPECT_EQ(x.now(), y.now());  // neither moved: ahead of the clock
  expect_same_rows(x, y);
  EXPECT_EQ(y.by_kind().at("softmax").count, 80);

  // Refused before anything is charged: a delta with idle or link energy (here the moving
  // place now holds link time), and an op prepared by another ledger.
  const auto before = fields(y.total());
  const int64_t busy = y.busy_cycles();
  moving = b.ledger().delta(cm.price_link(64));
  EXPECT_THROW(b.ledger().charge_ahead(run.data(), run.size()), ChipError);
  Ledger other(a.profile());
  Ledger::Account elsewhere("wq", 0);
  const Ledger::Prepared foreign = other.prepare_ahead(deltas[0], elsewhere);
  const Ledger::Prepared mixed[] = {run[0], foreign};
  EXPECT_THROW(b.ledger().charge_ahead(mixed, 2), ChipError);
  EXPECT_EQ(fields(y.total()), before);
  EXPECT_EQ(y.busy_cycles(), busy);
  Ledger::Account unnamed;
  EXPECT_THROW(b.ledger().prepare_ahead(deltas[0], unnamed), ChipError);
}

TEST(Ledger, NegativeIsAnError) {
  Ledger ledger(load_profile("gap9", {}, test::hw_dir()));
  EXPECT_THROW(ledger.advance_idle(-1), ChipError);
  EXPECT_THROW(ledger.charge_link(-1, 10), ChipError);
}

}  // namespace
}  // namespace mcuemu::chip
