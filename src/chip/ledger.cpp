#include "chip/ledger.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <type_traits>
#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// The same sums two fields at a time (SSE2, every x86-64): the ledger adds three rows per op,
// most of a cost-only run's host time, and the field-by-field version is bound by its 17 stores
// per row. paddq and addpd make exactly the additions above (IEEE double addition per lane, no
// fused or reordered operation), so every field gets the same bits.
#if defined(__SSE2__)
static_assert(std::is_standard_layout_v<LedgerTotals> && sizeof(LedgerTotals) == 17 * 8 &&
                  offsetof(LedgerTotals, link_bytes) == 8 * 8 &&
                  offsetof(LedgerTotals, energy) == 9 * 8 && sizeof(Energy) == 8 * 8,
              "add_pairs assumes nine int64 counters, then eight double energy terms");
void add_pairs(LedgerTotals &into, const LedgerTotals &d) {
  auto *a = reinterpret_cast<char *>(&into);
  const auto *b = reinterpret_cast<const char *>(&d);
  for (int i = 0; i < 64; i += 16) {  // count, cycles, macs, elements, bytes[4]
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i *>(a + i));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i *>(b + i));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(a + i), _mm_add_epi64(x, y));
  }
  into.link_bytes += d.link_bytes;
  for (int i = 72; i < 136; i += 16) {  // the eight energy terms
    const __m128d x = _mm_loadu_pd(reinterpret_cast<const double *>(a + i));
    const __m128d y = _mm_loadu_pd(reinterpret_cast<const double *>(b + i));
    _mm_storeu_pd(reinterpret_cast<double *>(a + i), _mm_add_pd(x, y));
  }
}
#else
void add_pairs(LedgerTotals &into, const LedgerTotals &d) {
  add(into, d);
}
#endif

// The three rows of a charge, four fields at a time where the CPU has AVX2 (checked at run
// time): the same additions again, d's fields loaded once.
#if defined(__x86_64__)
__attribute__((target("avx2"))) void add_rows_avx2(LedgerTotals &r0, LedgerTotals &r1,
                                                   LedgerTotals &r2, const LedgerTotals &d) {
  const auto *b = reinterpret_cast<const char *>(&d);
  const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(b));
  const __m256i i1 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(b + 32));
  const __m256d e0 = _mm256_loadu_pd(reinterpret_cast<const double *>(b + 72));
  const __m256d e1 = _mm256_loadu_pd(reinterpret_cast<const double *>(b + 104));
  for (LedgerTotals *row : {&r0, &r1, &r2}) {
    auto *a = reinterpret_cast<char *>(row);
    auto *p0 = reinterpret_cast<__m256i *>(a), *p1 = reinterpret_cast<__m256i *>(a + 32);
    _mm256_storeu_si256(p0, _mm256_add_epi64(_mm256_loadu_si256(p0), i0));
    _mm256_storeu_si256(p1, _mm256_add_epi64(_mm256_loadu_si256(p1), i1));
    row->link_bytes += d.link_bytes;
    auto *q0 = reinterpret_cast<double *>(a + 72), *q1 = reinterpret_cast<double *>(a + 104);
    _mm256_storeu_pd(q0, _mm256_add_pd(_mm256_loadu_pd(q0), e0));
    _mm256_storeu_pd(q1, _mm256_add_pd(_mm256_loadu_pd(q1), e1));
  }
}
// A run of prepared ops, in order (Ledger::charge_ahead(const Prepared *, n)): the three rows
// of each as add_rows, in one function so that the AVX2 adds are inlined.
__attribute__((target("avx2"))) void add_run_avx2(LedgerTotals &total, const Ledger::Prepared *ops,
                                                  std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    add_rows_avx2(total, *ops[i].kind_row, *ops[i].layer_row, ops[i].delta->totals);
}
// (Static initialisation may run before libgcc's CPU check: __builtin_cpu_init makes it first.)
const bool kHaveAvx2 = (__builtin_cpu_init(), __builtin_cpu_supports("avx2"));
#else
const bool kHaveAvx2 = false;
void add_rows_avx2(LedgerTotals &, LedgerTotals &, LedgerTotals &, const LedgerTotals &) {}
void add_run_avx2(LedgerTotals &, const Ledger::Prepared *, std::size_t) {}
#endif

void add_rows(LedgerTotals &r0, LedgerTotals &r1, LedgerTotals &r2, const LedgerTotals &d) {
  if (kHaveAvx2) {
    add_rows_avx2(r0, r1, r2, d);
    return;
  }
  add_pairs(r0, d);
  add_pairs(r1, d);
  add_pairs(r2, d);
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

Ledger::Delta Ledger::delta(const OpCost &cost) const {
  check_cycles(cost.cycles);
  Delta delta;
  LedgerTotals &d = delta.totals;
  d.count = 1;
  d.cycles = cost.cycles;
  d.macs = cost.macs;
  d.elements = cost.elements;
  d.bytes = cost.bytes;
  d.link_bytes = cost.link_bytes;
  d.energy = cost.energy;
  const auto cycles = static_cast<double>(cost.cycles);
  delta.link = cost.kind == OpKind::link;
  if (delta.link)
    d.energy.idle_pj += cycles * idle_pj_per_cycle_;
  else
    d.energy.active_pj += cycles * active_pj_per_cycle_;
  delta.ahead = !delta.link && d.energy.idle_pj == 0 && d.energy.link_pj == 0;
  return delta;
}

void Ledger::charge(const OpCost &cost, int layer, std::string_view label) {
  const Delta d = delta(cost);
  (d.link ? link_ : busy_) += cost.cycles;
  now_ += cost.cycles;
  record(label.empty() ? op_kind_name(cost.kind) : label, layer, d.totals);
}

void Ledger::charge(const Delta &delta, Account &a) {
  charge_ahead_of_clock(delta, a);
  now_ += delta.totals.cycles;
}

void Ledger::charge_ahead(const Delta &delta, Account &a) {
  if (!delta.ahead)
    throw ChipError("ledger: an op with idle or link energy cannot be charged ahead of the clock");
  charge_ahead_of_clock(delta, a);
}

void Ledger::advance_clock(std::int64_t cycles) {
  check_cycles(cycles);
  now_ += cycles;
}

void Ledger::charge_ahead_of_clock(const Delta &delta, Account &a) {
  (delta.link ? link_ : busy_) += delta.totals.cycles;
  record(a, delta.totals);
}

void Ledger::find_rows(Account &a) {  // the rows record(label, layer) would find
  if (a.label_.empty()) throw ChipError("ledger: an account without a label");
  auto it = by_kind_.find(a.label_);
  if (it == by_kind_.end()) it = by_kind_.emplace(a.label_, LedgerTotals{}).first;
  a.kind_row_ = &it->second;
  a.layer_row_ = &by_layer_[a.layer_];
  a.owner_ = this;
}

void Ledger::record(Account &a, const LedgerTotals &d) {
  if (a.owner_ != this) find_rows(a);  // first charge here
  add_rows(total_, *a.kind_row_, *a.layer_row_, d);
}

Ledger::Prepared Ledger::prepare_ahead(const Delta &delta, Account &a) {
  if (a.owner_ != this) find_rows(a);
  return {&delta, a.kind_row_, a.layer_row_, this};
}

void Ledger::charge_ahead(const Prepared *ops, std::size_t n) {
  std::int64_t cycles = 0;  // (an ahead op is busy time: delta.link is false)
  for (std::size_t i = 0; i < n; ++i) {
    if (ops[i].owner != this) throw ChipError("ledger: an op prepared for another ledger");
    if (!ops[i].delta->ahead)
      throw ChipError(
          "ledger: an op with idle or link energy cannot be charged ahead of the clock");
    cycles += ops[i].delta->totals.cycles;
  }
  busy_ += cycles;
  if (kHaveAvx2) {
    add_run_avx2(total_, ops, n);
    return;
  }
  for (std::size_t i = 0; i < n; ++i)
    add_rows(total_, *ops[i].kind_row, *ops[i].layer_row, ops[i].delta->totals);
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

LedgerTotals Ledger::idle_delta(std::int64_t cycles) {
  check_cycles(cycles);
  LedgerTotals d;
  d.count = 1;
  d.cycles = cycles;
  d.energy.idle_pj = static_cast<double>(cycles) * idle_pj_per_cycle_;
  idle_ += cycles;
  now_ += cycles;
  return d;
}

void Ledger::advance_idle(std::int64_t cycles, int layer) {
  record("idle", layer, idle_delta(cycles));
}

void Ledger::wait_until(std::int64_t cycle, int layer) {
  if (cycle > now_) advance_idle(cycle - now_, layer);
}

void Ledger::wait_until(std::int64_t cycle, Account &idle) {
  if (cycle > now_) record(idle, idle_delta(cycle - now_));
}

LedgerTotals Ledger::link_delta(std::int64_t bytes, std::int64_t cycles) {
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
  return d;
}

void Ledger::charge_link(std::int64_t bytes, std::int64_t cycles, int layer,
                         std::string_view label) {
  record(label, layer, link_delta(bytes, cycles));
}

void Ledger::charge_link(std::int64_t bytes, std::int64_t cycles, Account &account) {
  record(account, link_delta(bytes, cycles));
}

}  // namespace mcuemu::chip
