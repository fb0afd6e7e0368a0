#include "runtime/batched_meter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace mcuemu::runtime {

BatchedMeter::BatchedMeter(mpi::Cluster &cluster, int syncs_per_batch)
    : cluster_(cluster), syncs_per_batch_(static_cast<size_t>(syncs_per_batch)) {
  if (syncs_per_batch < 1)
    throw std::invalid_argument(
        fmt::format("{} synchronisations per batch: must be >= 1", syncs_per_batch));
  // A batch's records, made once (no allocation, no new page while the run goes on).
  pending_.reserve(std::min<size_t>(syncs_per_batch_, 1 << 16));
  gaps_.reserve(pending_.capacity() + 2);
}

void BatchedMeter::sync(int, SyncKind, const mpi::CollectiveTiming &) {
  throw std::logic_error("BatchedMeter settles synchronisations itself: use sync_later()");
}

void BatchedMeter::sync_later(int layer, SyncKind kind, const mpi::CollectiveTiming &share) {
  if (!to_) return;
  if (recording_) rec_.push_back({nullptr, nullptr, {}, 0, layer, kind, share});
  // g_1 = s + d_1 (s: the clock, every op before this batch charged); g_k = link_{k-1} + d_k.
  const int64_t gap = (pending_.empty() ? to_->clock() : pending_.back().share.link_cycles) + open_;
  pending_.push_back({layer, kind, share, ops_.size(), open_, gap});
  open_ = 0;
  if (pending_.size() >= syncs_per_batch_) resolve();
}

void BatchedMeter::resolve() {
  const auto K = static_cast<int64_t>(pending_.size());
  gaps_.resize(pending_.size() + 2);
  gaps_[0] = K;  // the max of K and of -K: every chip must have kept the same number
  gaps_[1] = -K;
  for (size_t k = 0; k < pending_.size(); ++k) gaps_[k + 2] = pending_[k].gap;
  cluster_.max_over_ranks(gaps_);
  ++exchanges_;
  if (gaps_[0] != K || gaps_[1] != -K)
    throw std::logic_error(
        fmt::format("cost-only: the chips reached different numbers of synchronisations ({} "
                    "here, {} to {} over the chips)",
                    K, -gaps_[1], gaps_[0]));
  size_t i = 0;
  int64_t latest = 0;
  for (size_t k = 0; k < pending_.size(); ++k) {
    const Pending &p = pending_[k];
    if (replay_)
      for (; i < p.ops_end; ++i) to_->charge(ops_[i]);
    else
      to_->advance_clock(p.cycles);
    const int64_t arrival = to_->clock();
    if (arrival != latest + p.gap)  // a check of the bookkeeping above, never expected
      throw std::logic_error(
          fmt::format("cost-only: the clock is {} at synchronisation {} of the batch, not {}",
                      arrival, k, latest + p.gap));
    latest += gaps_[k + 2];
    to_->sync(p.layer, p.kind, mpi::settled(p.share, arrival, latest));
  }
  if (replay_) {  // and the ops after the last one (settle())
    for (; i < ops_.size(); ++i) to_->charge(ops_[i]);
    ops_.clear();
  }
  pending_.clear();
  clock();  // ahead of the clock: move it past the ops after the last one
}

BatchedMeter::OpLog::Chunk::Chunk()
    : ops(static_cast<ChipMeter::Charge *>(
          allocate_populated(kChunk * sizeof(ChipMeter::Charge)))) {}

BatchedMeter::OpLog::Chunk::~Chunk() {
  free_populated(ops, kChunk * sizeof(ChipMeter::Charge));
}

void BatchedMeter::OpLog::grow() {
  chunks_.push_back(std::make_unique<Chunk>());
}

void BatchedMeter::settle() {
  if (!to_) return;
  if (!pending_.empty()) resolve();
  clock();
}

int64_t BatchedMeter::clock() const {
  if (!to_) return 0;
  if (!pending_.empty())
    throw std::logic_error(
        "BatchedMeter: the clock is not known before the synchronisations are settled (settle())");
  if (replay_)
    for (size_t i = 0; i < ops_.size(); ++i) to_->charge(ops_[i]);
  else
    to_->advance_clock(open_);
  ops_.clear();
  open_ = 0;
  return to_->clock();
}

bool BatchedMeter::same_sync(const StepCall &x, const StepCall &y) {
  return x.layer == y.layer && x.kind == y.kind && x.share == y.share;
}

bool BatchedMeter::derive(const std::vector<StepCall> &a, const std::vector<StepCall> &b, int pos) {
  if (a.size() != b.size()) return false;
  std::vector<StepCall> t(a.size());
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
  for (StepCall &c : t)  // the fixed shapes' prices, kept for good
    if (c.site && !c.moves)
      c.priced = to_->charge_of(c.site, static_cast<int>(c.shape[0]), static_cast<int>(c.shape[1]),
                                static_cast<int>(c.shape[2]), c.shape[3], true)
                     .priced;
  tmpl_ = std::move(t);
  // No template until it is compiled: an exception in compile() leaves none (not another
  // token's template with this one's half-built program).
  have_tmpl_ = verified_ = false;
  compile(pos);
  return true;
}

void BatchedMeter::compile(int pos) {
  prog_.clear();
  prepared_.clear();
  groups_.clear();
  moving_.clear();
  // The moving ops' groups: one price at two positions means one price at every position (each
  // key field is a shape field, constant or the position plus a constant). groups_ does not
  // grow after this, so the prepared ops may point into it.
  std::vector<uint32_t> group_of(tmpl_.size(), 0);
  for (size_t i = 0; i < tmpl_.size(); ++i) {
    const StepCall &c = tmpl_[i];
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
    const StepCall &c = tmpl_[i];
    if (!c.site) {
      prog_.push_back({true, static_cast<uint32_t>(i)});
      continue;
    }
    if (prog_.empty() || prog_.back().sync)
      prog_.push_back({false, static_cast<uint32_t>(prepared_.size()), 0,
                       static_cast<uint32_t>(moving_.size()), 0, 0});
    Piece &run = prog_.back();
    if (c.moves) {
      prepared_.push_back(to_->prepare_ahead({c.site, &groups_[group_of[i]].priced}));
      moving_.push_back(group_of[i]);
      ++run.moving_n;
    } else {
      prepared_.push_back(to_->prepare_ahead({c.site, c.priced}));
      run.fixed_cycles += c.priced->delta.totals.cycles;
    }
    ++run.n;
  }
}

void BatchedMeter::price_groups(int pos) {
  for (Group &g : groups_) {
    const std::array<int64_t, 4> s = shape_at(g.shape, g.moves, pos);
    // Copied at once: a passing price is kept for a while only (ChipMeter::Charge).
    g.priced = *to_->charge_of(g.site, static_cast<int>(s[0]), static_cast<int>(s[1]),
                               static_cast<int>(s[2]), s[3], false)
                    .priced;
  }
}

bool BatchedMeter::follows_template(const std::vector<StepCall> &rec, int pos) const {
  if (rec.size() != tmpl_.size()) return false;
  for (size_t i = 0; i < rec.size(); ++i) {
    const StepCall &t = tmpl_[i];
    if (rec[i].site != t.site) return false;
    if (!t.site) {
      if (!same_sync(rec[i], t)) return false;
      continue;
    }
    if (rec[i].shape != shape_at(t.shape, t.moves, pos)) return false;
  }
  return true;
}

bool BatchedMeter::begin_step(int pos, int token) {
  if (!steps_on_ || !to_ || replay_) return false;  // (with a trace, ops are kept, not replayed)
  if (recording_) throw std::logic_error("BatchedMeter: begin_step inside a step");
  if (have_tmpl_ && verified_ && token == tmpl_token_ && since_check_ + 1 < kCheckEvery) {
    replay_step(pos);
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

void BatchedMeter::end_step() {
  if (!recording_) return;
  recording_ = false;
  if (have_tmpl_ && rec_token_ == tmpl_token_) {
    if (follows_template(rec_, rec_pos_)) {
      verified_ = true;
      since_check_ = 0;
      return;
    }
    if (verified_)
      throw std::logic_error(fmt::format(
          "cost-only step replay: the step at position {} made other calls than the steps "
          "replayed before it (a bug; MCUEMU_COST_ONLY_REPLAY=off walks every step)",
          rec_pos_));
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

void BatchedMeter::replay_step(int pos) {
  price_groups(pos);
  for (const Piece &p : prog_) {
    if (p.sync) {
      const StepCall &c = tmpl_[p.first];
      sync_later(c.layer, c.kind, c.share);
      continue;
    }
    // What add() does for each op of the run, in one go.
    int64_t cycles = p.fixed_cycles;
    for (uint32_t k = 0; k < p.moving_n; ++k)
      cycles += groups_[moving_[p.moving_first + k]].priced.delta.totals.cycles;
    to_->charge_ahead(prepared_.data() + p.first, p.n);
    open_ += cycles;
  }
}

}  // namespace mcuemu::runtime
