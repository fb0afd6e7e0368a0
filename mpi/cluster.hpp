// The emulated cluster: MPI rank = chip.
//
// Collectives move real data with MPI point-to-point along the hops of the chosen algorithm and
// move simulated time: every message carries its sender's simulated clock, so each collective
// learns the latest arrival, and it ends for every participant at
//     end = max(arrival clocks) + link_cycles(algorithm, bytes, N)
// The time a chip waits for the latest arrival is its idle time. Nothing here reads the host
// clock. Link parameters come from the hardware profile (LinkModel).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mcuemu::mpi {

enum class AllreduceAlgo { Tree, Ring, Direct };
AllreduceAlgo parse_algo(const std::string &name);  // "tree" | "ring" | "direct"
const char *algo_name(AllreduceAlgo a);

// One chip-to-chip link, priced per message: latency + bytes / bandwidth.
struct LinkModel {
  double bytes_per_cycle = 1.0;  // at the cluster clock
  int64_t latency_cycles = 0;    // per message (setup, handshake)
  int64_t cycles_for(int64_t bytes) const;
};

// What one collective did to this chip's clock and link.
struct CollectiveTiming {
  int64_t arrival = 0;      // this chip's clock when it entered
  int64_t latest = 0;       // max arrival over all chips
  int64_t end = 0;          // latest + link cycles: every chip leaves at this clock
  int64_t idle_cycles = 0;  // latest - arrival
  int64_t link_cycles = 0;  // end - latest
  int64_t bytes_sent = 0;   // payload bytes this chip put on its link
  int messages_sent = 0;
};

class Cluster {
 public:
  explicit Cluster(MPI_Comm comm, LinkModel link = {});
  int rank() const { return rank_; }
  int size() const { return size_; }
  const LinkModel &link() const { return link_; }
  void set_link(LinkModel link) { link_ = link; }

  // In-place sum of int32 partials over all chips, along `algo`'s hops.
  // `wire_bytes` per element is what the modelled link carries (4 for int32 partials, 2 for
  // int16 sums of int8 partials); MPI always moves int32 here, only the price changes.
  CollectiveTiming allreduce_sum(std::span<int32_t> data, int64_t clock, AllreduceAlgo algo,
                                 int wire_bytes = 4);
  // `root`'s bytes end up on every chip (binomial tree).
  CollectiveTiming broadcast(std::span<int8_t> data, int root, int64_t clock);
  // Global arg-max: the largest value and, among equal values, the lowest global index.
  CollectiveTiming argmax(int32_t &value, int64_t &index, int64_t clock);

  // Diagnostics outside the modelled schedule (no simulated time): gather to rank 0.
  std::vector<int32_t> gather_to_root(std::span<const int32_t> local) const;
  void barrier() const { MPI_Barrier(comm_); }
  MPI_Comm comm() const { return comm_; }

  // Checks that every rank passed the same string (e.g. the options); throws, on every rank, a
  // CollectiveError (mpi/hosts.hpp) reported by rank 0 naming the ranks that differ from it.
  void check_same_everywhere(const std::string &what, const std::string &value) const;

 private:
  // A message is the payload followed by the sender's clock (8 bytes).
  using Combine = void (*)(std::span<std::byte> acc, std::span<const std::byte> in);
  void tree_reduce_bcast(std::span<std::byte> data, int64_t &latest, Combine combine,
                         CollectiveTiming &t);
  void binomial_bcast(std::span<std::byte> data, int root, int64_t &latest, CollectiveTiming &t);
  void send(std::span<const std::byte> payload, int64_t clock, int to, CollectiveTiming &t);
  int64_t recv(std::span<std::byte> payload, int from);
  int64_t sendrecv(std::span<const std::byte> out, int64_t clock, int to, std::span<std::byte> in,
                   int from, CollectiveTiming &t);

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  LinkModel link_;
  std::vector<std::byte> sbuf_, rbuf_;  // reused message buffers, no allocation per token
  std::vector<int32_t> tmp_;            // received partials (direct, ring)
  std::vector<std::byte> tree_in_;      // a child's partial in the tree reduction
};

// Report an error from this rank as one line and end the whole job (no rank is left waiting in
// a collective): "mcuemu: rank R (host H): error: what", H being the host the rank runs on
// (mpi/hosts.hpp, host_name), so that a multi-host job says where it failed.
[[noreturn]] void abort_job(const std::string &what, int exit_code = 1);

}  // namespace mcuemu::mpi
