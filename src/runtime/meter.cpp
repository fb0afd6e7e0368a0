#include "runtime/meter.hpp"

#include <stdexcept>

namespace mcuemu::runtime {

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

}  // namespace mcuemu::runtime
