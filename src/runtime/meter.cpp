#include "runtime/meter.hpp"

#include <chrono>
#include <stdexcept>

namespace mcuemu::runtime {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Meter::sync_later(int, SyncKind, const mpi::CollectiveTiming &) {
  throw std::logic_error("this meter does not settle synchronisations itself (sync_later)");
}

void allreduce(Meter &meter, mpi::Cluster &cluster, int layer, SyncKind kind,
               std::span<int32_t> data, mpi::AllreduceAlgo algo, int wire_bytes) {
  if (meter.settles_syncs())
    meter.sync_later(layer, kind, cluster.allreduce_share(data.size(), algo, wire_bytes));
  else
    meter.sync(layer, kind, cluster.allreduce_sum(data, meter.clock(), algo, wire_bytes));
}

void broadcast(Meter &meter, mpi::Cluster &cluster, int layer, SyncKind kind,
               std::span<int8_t> data, int root) {
  if (meter.settles_syncs())
    meter.sync_later(layer, kind, cluster.broadcast_share(data.size(), root));
  else
    meter.sync(layer, kind, cluster.broadcast(data, root, meter.clock()));
}

void DeferredMeter::flush() const {
  if (queue_.empty()) return;
  for (const Call &c : queue_) {
    switch (c.kind) {
      case Call::Linear:
        to_->linear(c.layer, c.weight, c.a, c.b, c.c);
        break;
      case Call::LinearPartial:
        to_->linear_partial(c.layer, c.weight, c.a, c.b, c.c);
        break;
      case Call::Matmul:
        to_->matmul(c.layer, c.op, c.a, c.b, c.c);
        break;
      case Call::Nonlinear:
        to_->nonlinear(c.layer, c.nonlinear, c.elements);
        break;
    }
  }
  queue_.clear();
}

void DeferredMeter::sync(int l, SyncKind k, const mpi::CollectiveTiming &t) {
  if (!to_) return;
  const int64_t t0 = now_ns();
  flush();
  to_->sync(l, k, t);
  host_ns_ += now_ns() - t0;
}

int64_t DeferredMeter::clock() const {
  if (!to_) return 0;
  const int64_t t0 = now_ns();
  flush();
  const int64_t c = to_->clock();
  host_ns_ += now_ns() - t0;
  return c;
}

int64_t DeferredMeter::nonlinear_cycles(int l, Nonlinear k, int64_t n) {
  if (!to_) return -1;
  const int64_t t0 = now_ns();
  flush();
  const int64_t c = to_->nonlinear_cycles(l, k, n);
  host_ns_ += now_ns() - t0;
  return c;
}

}  // namespace mcuemu::runtime
