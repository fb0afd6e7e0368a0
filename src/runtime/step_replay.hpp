// Step replay: the meter calls of a decode step, learned from the steps the chip walks and then
// charged without the chip making them.
//
// A decode step (one token at position pos) makes the same meter calls as the step before it,
// in the same order, the attention's shapes one position longer. The steps the chip walks are
// recorded (each op's site and shape, each synchronisation's layer, kind and share); two
// consecutive ones with the same token and the same calls, every shape equal or one larger,
// give the template of a step: each shape field constant or the step's position plus a
// constant. A third recorded step must match the template before any step is replayed, and
// every kCheckEvery-th step after that is recorded again and checked (a mismatch then is a
// std::logic_error: the chip's calls no longer follow the template, a bug). A replayed step
// charges exactly the ops the chip would have, in its order, with the same prices.
//
// The template is compiled into a program: runs of ops between the synchronisations, each op
// prepared once (chip::Ledger::prepare_ahead), so that a run is charged as one call. A fixed
// op's price is kept for the meter's life; the ops whose shapes move fall in groups of one
// price at every position (the attention's shapes recur in every layer), and each group's
// price is found once per replayed step, at its position, into the group's own place, where
// the prepared ops of the group point.
//
// Used by the cost-only meter (BatchedMeter: whole steps, synchronisations settled later) and
// by the full run's meter (DeferredMeter: the ops between the real synchronisations).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "mpi/cluster.hpp"
#include "runtime/chip_meter.hpp"
#include "runtime/meter.hpp"
#include "runtime/populated.hpp"

namespace mcuemu::runtime {

class StepReplay {
 public:
  static constexpr int64_t kCheckEvery = 64;

  // A call of a recorded step: an op (site), or else a synchronisation, or a read of the clock
  // (`clock`: every op before it must have been charged; a full run's meter records them). In
  // the template, bit f of `moves` set means shape[f] is the step's position plus shape[f], and
  // an op whose shape does not move has its price (kept for the meter's life) in `priced`.
  struct Call {
    ChipMeter::Site *site = nullptr;
    const ChipMeter::Priced *priced = nullptr;
    std::array<int64_t, 4> shape{};  // a, b, c, elements (ChipMeter::charge_of)
    uint8_t moves = 0;
    int layer = 0;
    SyncKind kind{};
    mpi::CollectiveTiming share{};
    bool clock = false;
  };
  // A piece of the program: a marker (a synchronisation or a clock read: marker(piece)), or a
  // run of ops (prepared(piece): n of them) with the groups of its moving ops and its fixed ops'
  // cycles.
  struct Piece {
    bool marker = false;
    uint32_t first = 0, n = 0;
    uint32_t moving_first = 0, moving_n = 0;
    int64_t fixed_cycles = 0;
  };

  // Forgets every step and template; the calls are `meter`'s (its sites and prices), and the
  // prepared ops charge its ledger.
  void reset(ChipMeter *meter);
  // Step `pos` of `token` begins. True: it is replayed from the template (its moving ops'
  // groups priced at pos; the caller charges program()). False: it is recorded (record_op,
  // record_sync), and end() learns from it or checks it. A step begun inside another is a bug
  // in the caller (std::logic_error).
  bool begin(int pos, int token);
  void record_op(const ChipMeter::Charge &c, int a, int b, int d, int64_t n) {
    if (recording_) rec_.push_back({c.site, nullptr, {a, b, d, n}, 0, 0, {}, {}});
  }
  void record_sync(int layer, SyncKind kind, const mpi::CollectiveTiming &share) {
    if (recording_) rec_.push_back({nullptr, nullptr, {}, 0, layer, kind, share});
  }
  void record_clock() {
    if (recording_) rec_.push_back({nullptr, nullptr, {}, 0, 0, {}, {}, true});
  }
  // A recorded step ends. `what` names the replay and how to switch it off, for the error of a
  // checked step that left the template.
  void end(std::string_view what);

  std::span<const Piece> program() const { return prog_; }
  const Call &marker(const Piece &p) const { return tmpl_[p.first]; }
  const chip::Ledger::Prepared *prepared(const Piece &p) const {
    return prepared_.data() + p.first;
  }
  // The cycles of a run of ops at the step being replayed.
  int64_t cycles(const Piece &p) const {
    int64_t c = p.fixed_cycles;
    for (uint32_t k = 0; k < p.moving_n; ++k)
      c += groups_[moving_[p.moving_first + k]].priced.delta.totals.cycles;
    return c;
  }
  int64_t replayed() const { return replayed_; }

 private:
  static bool same_sync(const Call &x, const Call &y);
  // A template shape at position pos: each field that moves plus pos.
  static std::array<int64_t, 4> shape_at(const std::array<int64_t, 4> &shape, uint8_t moves,
                                         int pos) {
    std::array<int64_t, 4> s = shape;
    for (int f = 0; f < 4; ++f)
      if (moves >> f & 1) s[f] += pos;
    return s;
  }
  // The template from steps a (at position pos) and b (at pos + 1); false if they do not fit one.
  bool derive(const std::vector<Call> &a, const std::vector<Call> &b, int pos);
  bool follows_template(const std::vector<Call> &rec, int pos) const;
  void compile(int pos);       // at the template's position (any would do)
  void price_groups(int pos);  // each group's price at `pos`

  struct Group {
    ChipMeter::Site *site = nullptr;  // and shape, moves: the group's first call
    std::array<int64_t, 4> shape{};
    uint8_t moves = 0;
    ChipMeter::Priced priced{};  // at the step being replayed
  };
  ChipMeter *meter_ = nullptr;
  std::vector<Piece, PopulatedAllocator<Piece>> prog_;
  std::vector<chip::Ledger::Prepared, PopulatedAllocator<chip::Ledger::Prepared>> prepared_;
  std::vector<Group, PopulatedAllocator<Group>> groups_;
  std::vector<uint32_t, PopulatedAllocator<uint32_t>> moving_;
  bool recording_ = false;
  std::vector<Call> rec_, prev_, tmpl_;
  int rec_pos_ = 0, rec_token_ = 0, prev_pos_ = 0, prev_token_ = 0, tmpl_token_ = 0;
  bool have_prev_ = false, have_tmpl_ = false, verified_ = false;
  int64_t since_check_ = 0, replayed_ = 0;
};

}  // namespace mcuemu::runtime
