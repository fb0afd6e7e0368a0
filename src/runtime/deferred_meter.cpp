#include "runtime/deferred_meter.hpp"

#include <fmt/format.h>

#include <chrono>
#include <stdexcept>

namespace mcuemu::runtime {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What a synchronisation is, apart from the clocks: its share (the link cycles, bytes and
// messages, which depend on the collective and the data's size only).
mpi::CollectiveTiming share_of(const mpi::CollectiveTiming &t) {
  mpi::CollectiveTiming s;
  s.link_cycles = t.link_cycles;
  s.bytes_sent = t.bytes_sent;
  s.messages_sent = t.messages_sent;
  return s;
}

constexpr const char *kWhat = "op replay of the full run (MCUEMU_OP_REPLAY=off walks every step)";

}  // namespace

void DeferredMeter::attach(ChipMeter *to, bool op_replay) {
  to_ = to;
  queue_.clear();
  ops_on_ = to && op_replay && !to->tracing();  // a trace records each op at its clock
  steps_.reset(to);
  replaying_ = false;
}

void DeferredMeter::push(Call &&c) {
  if (replaying_)
    throw std::logic_error(
        fmt::format("{}: an op call while the meter replays the step's ops", kWhat));
  queue_.push_back(std::move(c));
}

void DeferredMeter::flush() const {
  if (queue_.empty()) return;
  for (const Call &c : queue_) {
    ChipMeter::Charge ch;
    switch (c.kind) {
      case Call::Linear:
        ch = to_->linear_op(c.layer, c.weight, c.a, c.b, c.c);
        break;
      case Call::LinearPartial:
        ch = to_->linear_partial_op(c.layer, c.weight, c.a, c.b, c.c);
        break;
      case Call::Matmul:
        ch = to_->matmul_op(c.layer, c.op, c.a, c.b, c.c);
        break;
      case Call::Nonlinear:
        ch = to_->nonlinear_op(c.layer, c.nonlinear, c.elements);
        break;
    }
    steps_.record_op(ch, c.a, c.b, c.c, c.elements);  // (when recording a step)
    to_->charge(ch);
  }
  queue_.clear();
}

void DeferredMeter::charge_runs() const {
  const auto prog = steps_.program();
  for (; piece_ < prog.size() && !prog[piece_].marker; ++piece_) {
    const StepReplay::Piece &p = prog[piece_];
    // What charging each op in its place does (chip::Ledger::charge_ahead).
    to_->charge_ahead(steps_.prepared(p), p.n);
    to_->advance_clock(steps_.cycles(p));
  }
}

void DeferredMeter::sync(int l, SyncKind k, const mpi::CollectiveTiming &t) {
  if (!to_) return;
  const int64_t t0 = now_ns();
  if (replaying_) {
    charge_runs();
    const auto prog = steps_.program();
    const StepReplay::Call *m = piece_ < prog.size() ? &steps_.marker(prog[piece_]) : nullptr;
    if (!m || m->clock || m->layer != l || m->kind != k || !(m->share == share_of(t)))
      throw std::logic_error(
          fmt::format("{}: synchronisation {} of layer {} is not the template's next one", kWhat,
                      sync_name(k), l));
    ++piece_;
  } else {
    flush();
    steps_.record_sync(l, k, share_of(t));
  }
  to_->sync(l, k, t);
  host_ns_ += now_ns() - t0;
}

int64_t DeferredMeter::clock() const {
  if (!to_) return 0;
  const int64_t t0 = now_ns();
  if (replaying_) {
    // Every op before this read charged; the template must have the read here too.
    charge_runs();
    const auto prog = steps_.program();
    if (piece_ == prog.size() || !steps_.marker(prog[piece_]).clock)
      throw std::logic_error(
          fmt::format("{}: a clock read where the template has {}", kWhat,
                      piece_ == prog.size() ? "the end of the step" : "a synchronisation"));
    ++piece_;
  } else {
    flush();
    steps_.record_clock();  // (when recording a step)
  }
  const int64_t c = to_->clock();
  host_ns_ += now_ns() - t0;
  return c;
}

int64_t DeferredMeter::nonlinear_cycles(int l, Nonlinear k, int64_t n) {
  if (!to_) return -1;
  const int64_t t0 = now_ns();
  flush();  // (nothing queued when replaying)
  const int64_t c = to_->nonlinear_cycles(l, k, n);
  host_ns_ += now_ns() - t0;
  return c;
}

bool DeferredMeter::begin_ops(int pos) {
  if (!ops_on_) return false;
  const int64_t t0 = now_ns();
  flush();  // the calls before the step's ops are not the step's
  replaying_ = steps_.begin(pos, 0);
  piece_ = 0;
  host_ns_ += now_ns() - t0;
  return replaying_;
}

void DeferredMeter::end_ops() {
  if (!ops_on_) return;
  const int64_t t0 = now_ns();
  if (replaying_) {
    charge_runs();  // the ops after the last synchronisation
    replaying_ = false;
    if (piece_ != steps_.program().size())
      throw std::logic_error(fmt::format("{}: the step ended {} pieces before the template's end",
                                         kWhat, steps_.program().size() - piece_));
  } else {
    flush();
    steps_.end(kWhat);
  }
  host_ns_ += now_ns() - t0;
}

}  // namespace mcuemu::runtime
