#include "runtime/step_replay.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

namespace mcuemu::runtime {

void StepReplay::reset(ChipMeter *meter) {
  meter_ = meter;
  recording_ = have_prev_ = have_tmpl_ = verified_ = false;
}

bool StepReplay::same_sync(const Call &x, const Call &y) {
  return x.clock == y.clock &&
         (x.clock || (x.layer == y.layer && x.kind == y.kind && x.share == y.share));
}

bool StepReplay::begin(int pos, int token) {
  if (recording_) throw std::logic_error("step replay: a step begun inside a step");
  if (have_tmpl_ && verified_ && token == tmpl_token_ && since_check_ + 1 < kCheckEvery) {
    price_groups(pos);
    ++since_check_;
    ++replayed_;
    return true;
  }
  recording_ = true;
  rec_.clear();
  rec_pos_ = pos;
  rec_token_ = token;
  return false;
}

void StepReplay::end(std::string_view what) {
  if (!recording_) return;
  recording_ = false;
  if (have_tmpl_ && rec_token_ == tmpl_token_) {
    if (follows_template(rec_, rec_pos_)) {
      verified_ = true;
      since_check_ = 0;
      return;
    }
    if (verified_)
      throw std::logic_error(
          fmt::format("{}: the step at position {} made other calls than the steps replayed "
                      "before it (a bug)",
                      what, rec_pos_));
    have_tmpl_ = false;
  }
  if (have_prev_ && prev_token_ == rec_token_ && rec_pos_ == prev_pos_ + 1 &&
      derive(prev_, rec_, prev_pos_)) {
    have_tmpl_ = true;
    verified_ = false;
    tmpl_token_ = rec_token_;
  }
  std::swap(prev_, rec_);
  prev_pos_ = rec_pos_;
  prev_token_ = rec_token_;
  have_prev_ = true;
}

bool StepReplay::derive(const std::vector<Call> &a, const std::vector<Call> &b, int pos) {
  if (a.size() != b.size()) return false;
  std::vector<Call> t(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].site != b[i].site) return false;
    t[i] = a[i];
    if (!a[i].site) {
      if (!same_sync(a[i], b[i])) return false;
      continue;
    }
    for (int f = 0; f < 4; ++f) {
      if (a[i].shape[f] == b[i].shape[f]) continue;
      if (b[i].shape[f] != a[i].shape[f] + 1) return false;
      t[i].moves |= static_cast<uint8_t>(1u << f);
      t[i].shape[f] = a[i].shape[f] - pos;
    }
  }
  for (Call &c : t)  // the fixed shapes' prices, kept for good
    if (c.site && !c.moves)
      c.priced = meter_
                     ->charge_of(c.site, static_cast<int>(c.shape[0]), static_cast<int>(c.shape[1]),
                                 static_cast<int>(c.shape[2]), c.shape[3], true)
                     .priced;
  tmpl_ = std::move(t);
  // No template until it is compiled: an exception in compile() leaves none (not another
  // token's template with this one's half-built program).
  have_tmpl_ = verified_ = false;
  compile(pos);
  return true;
}

void StepReplay::compile(int pos) {
  prog_.clear();
  prepared_.clear();
  groups_.clear();
  moving_.clear();
  // The moving ops' groups: one price at two positions means one price at every position (each
  // key field is a shape field, constant or the position plus a constant). groups_ does not
  // grow after this, so the prepared ops may point into it.
  std::vector<uint32_t> group_of(tmpl_.size(), 0);
  for (size_t i = 0; i < tmpl_.size(); ++i) {
    const Call &c = tmpl_[i];
    if (!c.site || !c.moves) continue;
    size_t g = 0;
    for (; g < groups_.size(); ++g) {
      const Group &x = groups_[g];
      if (ChipMeter::same_price(*x.site, shape_at(x.shape, x.moves, 0), *c.site,
                                shape_at(c.shape, c.moves, 0)) &&
          ChipMeter::same_price(*x.site, shape_at(x.shape, x.moves, 1), *c.site,
                                shape_at(c.shape, c.moves, 1)))
        break;
    }
    if (g == groups_.size()) groups_.push_back({c.site, c.shape, c.moves, {}});
    group_of[i] = static_cast<uint32_t>(g);
  }
  price_groups(pos);
  for (size_t i = 0; i < tmpl_.size(); ++i) {
    const Call &c = tmpl_[i];
    if (!c.site) {
      prog_.push_back({true, static_cast<uint32_t>(i)});
      continue;
    }
    if (prog_.empty() || prog_.back().marker)
      prog_.push_back({false, static_cast<uint32_t>(prepared_.size()), 0,
                       static_cast<uint32_t>(moving_.size()), 0, 0});
    Piece &run = prog_.back();
    if (c.moves) {
      prepared_.push_back(meter_->prepare_ahead({c.site, &groups_[group_of[i]].priced}));
      moving_.push_back(group_of[i]);
      ++run.moving_n;
    } else {
      prepared_.push_back(meter_->prepare_ahead({c.site, c.priced}));
      run.fixed_cycles += c.priced->delta.totals.cycles;
    }
    ++run.n;
  }
}

void StepReplay::price_groups(int pos) {
  for (Group &g : groups_) {
    const std::array<int64_t, 4> s = shape_at(g.shape, g.moves, pos);
    // Copied at once: a passing price is kept for a while only (ChipMeter::Charge).
    g.priced = *meter_
                    ->charge_of(g.site, static_cast<int>(s[0]), static_cast<int>(s[1]),
                                static_cast<int>(s[2]), s[3], false)
                    .priced;
  }
}

bool StepReplay::follows_template(const std::vector<Call> &rec, int pos) const {
  if (rec.size() != tmpl_.size()) return false;
  for (size_t i = 0; i < rec.size(); ++i) {
    const Call &t = tmpl_[i];
    if (rec[i].site != t.site) return false;
    if (!t.site) {
      if (!same_sync(rec[i], t)) return false;
      continue;
    }
    if (rec[i].shape != shape_at(t.shape, t.moves, pos)) return false;
  }
  return true;
}

}  // namespace mcuemu::runtime
