// The emulated cluster: MPI rank = chip.
//
// Collectives move real data between the ranks and move simulated time: every contribution
// carries its chip's simulated clock, so each collective learns the latest arrival, and it ends
// for every participant at
//     end = max(arrival clocks) + link_cycles(algorithm, bytes, N)
// The time a chip waits for the latest arrival is its idle time. Link parameters come from the
// hardware profile (LinkModel); the host clock is read only for the host-time breakdown
// (HostCommTime), never for simulated time.
//
// How the data moves (Transport): with every rank on one host, one round through an MPI-3
// shared-memory window (ShmCollective: the last rank to arrive combines, the others sleep until
// it is done); across hosts, MPI point-to-point along the hops of the chosen algorithm, waiting
// on a futex doorbell rather than spinning (Doorbells). Either way the algorithm's hops decide
// what each chip puts on its link (bytes, messages), and the results are identical.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mpi/doorbell.hpp"
#include "mpi/shm_collective.hpp"

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
  bool operator==(const CollectiveTiming &) const = default;
};

// A chip's timing of a collective from its share (Cluster::*_share: bytes, messages, link
// cycles) once the clocks are known: it arrived at `arrival`, the latest chip at `latest`.
inline CollectiveTiming settled(CollectiveTiming share, int64_t arrival, int64_t latest) {
  share.arrival = arrival;
  share.latest = latest;
  share.end = latest + share.link_cycles;
  share.idle_cycles = latest - arrival;
  return share;
}

// Host wall-clock spent in this rank's collectives (for the host-speed breakdown; it never
// touches simulated time).
struct HostCommTime {
  int64_t wait_ns = 0;      // waiting for peers' messages (sleeping on the doorbell or polling)
  int64_t transfer_ns = 0;  // posting, packing, copying and combining messages
  int64_t messages = 0;     // MPI messages posted (a large payload is sent in several)
  int64_t sleeps = 0;       // times this rank slept (on its doorbell or its group's futex)
  int64_t yields = 0;       // times it handed its core to its group with sched_yield
};

class Cluster {
 public:
  // How the data moves (the results and simulated times are the same either way):
  //   Auto: when every rank shares one host, each collective is one round in shared memory
  //         (ShmCollective) and the chosen algorithm's hops are only counted (bytes and messages
  //         per chip, for the link model); otherwise MPI point-to-point along the hops.
  //   PointToPoint: always along the hops.
  enum class Transport { Auto, PointToPoint };
  // From MCUEMU_COLLECTIVES (auto | p2p; default auto). Throws on anything else.
  static Transport transport_from_env();

  // Collective over `comm`. How a rank waits for messages: wait_policy_from_env() unless given.
  explicit Cluster(MPI_Comm comm, LinkModel link = {});
  Cluster(MPI_Comm comm, LinkModel link, WaitPolicy policy, Transport transport);
  bool shared_memory() const { return shm_ != nullptr; }
  // Shared memory with the ranks pinned in one group per core (oversubscribed host; see
  // mpi/shm_collective.hpp).
  bool pinned_to_cores() const { return shm_ != nullptr && shm_->pinned(); }
  // The CPU this rank is pinned to when pinned_to_cores(), else -1 (host diagnostics).
  int pinned_cpu() const { return shm_ ? shm_->cpu() : -1; }
  // Completes this rank's sends still in flight (their receivers have them by the end of every
  // collective; only the sender's MPI request may still be open).
  ~Cluster();
  Cluster(const Cluster &) = delete;
  Cluster &operator=(const Cluster &) = delete;
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
  // `payload` (optional, the same size on every rank): bytes that follow the value, so that every
  // rank ends up with the winner's (host-side only: the timing, bytes and messages are those of
  // the value and index alone, which is all the chips' link carries). A non-empty payload needs
  // the shared-memory transport (shared_memory(); std::logic_error otherwise) or one rank.
  CollectiveTiming argmax(int32_t &value, int64_t &index, int64_t clock,
                          std::span<std::byte> payload = {});
  // The largest payload: the record (value and index as two int64, then the payload) must fit
  // one shared-memory round.
  static constexpr size_t kMaxArgmaxPayload = ShmCollective::kRoundBytes - 2 * sizeof(int64_t);

  // This chip's share of a collective, worked out without communicating: bytes_sent,
  // messages_sent and link_cycles exactly as the collective above reports them (they do not
  // depend on the clocks or the data), and the clocks of a chip arriving alone at 0 (arrival =
  // latest = idle = 0, end = link_cycles). For runs that settle the clocks later (cost-only,
  // runtime::BatchedMeter). Memoized per shape: cheap to call for every synchronisation.
  CollectiveTiming allreduce_share(size_t elements, AllreduceAlgo algo, int wire_bytes = 4);
  CollectiveTiming broadcast_share(size_t bytes, int root);
  CollectiveTiming argmax_share();

  // Element-wise maximum of `values` over all ranks, in place: bookkeeping outside the modelled
  // schedule (no simulated time, nothing on the chips' links; the host time goes to
  // host_time()). Every rank passes the same number of values.
  void max_over_ranks(std::span<int64_t> values);
  // Every rank waits here for all the others, asleep when they share a host (one round in shared
  // memory; MPI_Barrier otherwise): bookkeeping, no simulated time. For the end of a run, so
  // that no rank starts on work that calls MPI collectives (whose waits poll) while the others
  // still compute on the same cores.
  void wait_for_all();

  // Diagnostics outside the modelled schedule (no simulated time): gather to rank 0.
  std::vector<int32_t> gather_to_root(std::span<const int32_t> local) const;
  void barrier() const { MPI_Barrier(comm_); }
  MPI_Comm comm() const { return comm_; }
  HostCommTime host_time() const;

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

  // A message in flight. Open MPI completes a send request only when the receiver has taken
  // the message, so sends are not waited for: each goes out of its own buffer, and a buffer is
  // reused once its send has completed.
  struct SendSlot {
    std::vector<std::byte> buf;
    std::vector<MPI_Request> reqs;
    int to = -1;
  };
  // Packs payload + clock into a free send buffer, posts it (in eager-sized chunks) and rings
  // the receiver.
  void post_send(std::span<const std::byte> payload, int64_t clock, int to);
  // Posts the receive of a message into rbuf_ (its chunks' requests go to reqs_).
  void post_recv(size_t payload_bytes, int from);
  void wait_posted(std::initializer_list<int> peers);
  SendSlot &free_slot();
  int64_t shm_round(std::span<std::byte> data, int64_t clock, Combine combine, int root);

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  std::unique_ptr<Doorbells> bells_;
  std::unique_ptr<ShmCollective> shm_;
  // While set, send / recv / sendrecv only count what they would put on the link (the data
  // moves in shared memory) and receive nothing: recv returns INT64_MIN as the peer's clock.
  bool count_only_ = false;
  std::vector<std::byte> argmax_record_;  // argmax with a payload: value, index, payload
  // While set (the *_share functions), a collective moves nothing at all, not even in shared
  // memory: it only counts its hops, as if this chip arrived alone.
  bool dry_ = false;
  struct Share {
    int op;  // 0 all-reduce, 1 broadcast, 2 arg-max
    size_t size;
    int algo, wire_bytes, root;
    CollectiveTiming timing;
  };
  std::vector<Share> shares_;
  std::vector<int32_t> dry_i32_;
  std::vector<int8_t> dry_i8_;
  std::vector<MPI_Request> reqs_;
  std::vector<SendSlot> slots_;
  size_t next_slot_ = 0;
  HostCommTime host_;
  LinkModel link_;
  std::vector<std::byte> rbuf_;     // reused receive buffer, no allocation per token
  std::vector<int32_t> tmp_;        // received partials (direct, ring)
  std::vector<int32_t> mine_;       // this chip's partial (direct)
  std::vector<std::byte> tree_in_;  // a child's partial in the tree reduction
};

// Report an error from this rank as one line and end the whole job (no rank is left waiting in
// a collective): "mcuemu: rank R (host H): error: what", H being the host the rank runs on
// (mpi/hosts.hpp, host_name), so that a multi-host job says where it failed.
[[noreturn]] void abort_job(const std::string &what, int exit_code = 1);

}  // namespace mcuemu::mpi
