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
  steps_.record_sync(layer, kind, share);
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

bool BatchedMeter::begin_step(int pos, int token) {
  if (!steps_on_ || !to_ || replay_) return false;  // (with a trace, ops are kept, not replayed)
  if (!steps_.begin(pos, token)) return false;
  replay_step();
  return true;
}

void BatchedMeter::end_step() {
  steps_.end("cost-only step replay (MCUEMU_COST_ONLY_REPLAY=off walks every step)");
}

void BatchedMeter::replay_step() {
  for (const StepReplay::Piece &p : steps_.program()) {
    if (p.marker) {  // a synchronisation (this meter records no clock reads)
      const StepReplay::Call &c = steps_.marker(p);
      sync_later(c.layer, c.kind, c.share);
      continue;
    }
    // What add() does for each op of the run, in one go.
    to_->charge_ahead(steps_.prepared(p), p.n);
    open_ += steps_.cycles(p);
  }
}

}  // namespace mcuemu::runtime
