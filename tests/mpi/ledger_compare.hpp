// Two chip ledgers compared number for number (the MPI suites' runs that must charge alike).
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "chip/ledger.hpp"

namespace mcuemu::test {

inline void expect_same(const chip::Energy &a, const chip::Energy &b, const std::string &what) {
  // Exact: the same additions in the same order.
  EXPECT_EQ(a.compute_pj, b.compute_pj) << what;
  for (chip::Level l : chip::kAllLevels) EXPECT_EQ(a.level_pj[l], b.level_pj[l]) << what;
  EXPECT_EQ(a.link_pj, b.link_pj) << what;
  EXPECT_EQ(a.active_pj, b.active_pj) << what;
  EXPECT_EQ(a.idle_pj, b.idle_pj) << what;
}

inline void expect_same(const chip::LedgerTotals &a, const chip::LedgerTotals &b,
                        const std::string &what) {
  EXPECT_EQ(a.count, b.count) << what;
  EXPECT_EQ(a.cycles, b.cycles) << what;
  EXPECT_EQ(a.macs, b.macs) << what;
  EXPECT_EQ(a.elements, b.elements) << what;
  for (chip::Level l : chip::kAllLevels) EXPECT_EQ(a.bytes[l], b.bytes[l]) << what;
  EXPECT_EQ(a.link_bytes, b.link_bytes) << what;
  expect_same(a.energy, b.energy, what);
}

inline void expect_same(const chip::Ledger &a, const chip::Ledger &b) {
  EXPECT_EQ(a.now(), b.now());
  EXPECT_EQ(a.busy_cycles(), b.busy_cycles());
  EXPECT_EQ(a.link_cycles(), b.link_cycles());
  EXPECT_EQ(a.idle_cycles(), b.idle_cycles());
  expect_same(a.total(), b.total(), "total");
  ASSERT_EQ(a.by_kind().size(), b.by_kind().size());
  for (const auto &[kind, t] : a.by_kind()) {
    ASSERT_TRUE(b.by_kind().count(kind)) << kind;
    expect_same(t, b.by_kind().find(kind)->second, "kind " + kind);
  }
  ASSERT_EQ(a.by_layer().size(), b.by_layer().size());
  for (const auto &[layer, t] : a.by_layer()) {
    ASSERT_TRUE(b.by_layer().count(layer)) << layer;
    expect_same(t, b.by_layer().at(layer), fmt::format("layer {}", layer));
  }
}

}  // namespace mcuemu::test
