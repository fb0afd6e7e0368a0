#include "mpi/cluster.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "mpi/hosts.hpp"

namespace mcuemu::mpi {
namespace {

constexpr int kTagData = 17;

int ceil_log2(int n) {
  int steps = 0;
  while ((1 << steps) < n) ++steps;
  return steps;
}

// Contiguous split of n elements into `parts` ranges differing by at most one.
std::pair<size_t, size_t> chunk(size_t n, int parts, int index) {
  const size_t base = n / parts, extra = n % parts, i = static_cast<size_t>(index);
  const size_t begin = i * base + std::min(i, extra);
  return {begin, begin + base + (i < extra ? 1 : 0)};
}

std::span<std::byte> as_bytes(std::span<int32_t> v) {
  return std::as_writable_bytes(v);
}

void sum_i32(std::span<std::byte> acc, std::span<const std::byte> in) {
  const size_t n = acc.size() / 4;
  for (size_t i = 0; i < n; ++i) {
    uint32_t a, b;  // wrap-around addition: exact mod 2^32, no signed-overflow UB
    std::memcpy(&a, acc.data() + 4 * i, 4);
    std::memcpy(&b, in.data() + 4 * i, 4);
    a += b;
    std::memcpy(acc.data() + 4 * i, &a, 4);
  }
}

struct ValueIndex {
  int64_t value;
  int64_t index;
};

// The record (a ValueIndex, then any payload) of the larger value, of the lower index among
// equal values: the whole record goes with its value.
void max_lowest_index(std::span<std::byte> acc, std::span<const std::byte> in) {
  ValueIndex a, b;
  std::memcpy(&a, acc.data(), sizeof a);
  std::memcpy(&b, in.data(), sizeof b);
  if (b.value > a.value || (b.value == a.value && b.index < a.index))
    std::memcpy(acc.data(), in.data(), acc.size());
}

}  // namespace

AllreduceAlgo parse_algo(const std::string &name) {
  if (name == "tree") return AllreduceAlgo::Tree;
  if (name == "ring") return AllreduceAlgo::Ring;
  if (name == "direct") return AllreduceAlgo::Direct;
  throw std::invalid_argument("unknown all-reduce algorithm '" + name + "' (tree, ring, direct)");
}

const char *algo_name(AllreduceAlgo a) {
  switch (a) {
    case AllreduceAlgo::Tree:
      return "tree";
    case AllreduceAlgo::Ring:
      return "ring";
    case AllreduceAlgo::Direct:
      return "direct";
  }
  return "?";
}

int64_t LinkModel::cycles_for(int64_t bytes) const {
  return latency_cycles +
         static_cast<int64_t>(std::ceil(static_cast<double>(bytes) / bytes_per_cycle));
}

Cluster::Transport Cluster::transport_from_env() {
  const char *v = std::getenv("MCUEMU_COLLECTIVES");
  if (!v || !*v || std::strcmp(v, "auto") == 0) return Transport::Auto;
  if (std::strcmp(v, "p2p") == 0) return Transport::PointToPoint;
  throw std::invalid_argument(
      fmt::format("MCUEMU_COLLECTIVES={}: expected auto or p2p", std::string(v)));
}

Cluster::Cluster(MPI_Comm comm, LinkModel link)
    : Cluster(comm, link, wait_policy_from_env(), transport_from_env()) {}

Cluster::Cluster(MPI_Comm comm, LinkModel link, WaitPolicy policy, Transport transport)
    : comm_(comm), link_(link) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  if (size_ > 1) bells_ = std::make_unique<Doorbells>(comm_, policy);
  if (size_ > 1 && transport == Transport::Auto) shm_ = ShmCollective::create(comm_, policy);
}

HostCommTime Cluster::host_time() const {
  HostCommTime t = host_;
  if (bells_) t.sleeps = bells_->sleeps();
  if (shm_) t.sleeps += shm_->sleeps();
  if (shm_) t.yields = shm_->yields();
  if (shm_) t.wait_ns += shm_->wait_ns();
  return t;
}

namespace {

// Open MPI's shared-memory transport sends a message of up to 4 KiB (its eager limit, header
// included) at once, without waiting for the receiver; larger ones need a handshake in which
// both sides make progress. Sending payloads in eager-sized chunks keeps every send one-sided,
// so a rank never has to be scheduled just to let its peer's send finish.
constexpr size_t kChunkBytes = 4096 - 128;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Cluster::~Cluster() {
  // On an error the job ends through abort_job; do not wait for peers while unwinding.
  if (std::uncaught_exceptions() > 0) return;
  for (SendSlot &s : slots_)
    if (!s.reqs.empty()) {
      bells_->wait(static_cast<int>(s.reqs.size()), s.reqs.data(), {s.to}, true);
      s.reqs.clear();
    }
}

int64_t Cluster::shm_round(std::span<std::byte> data, int64_t clock, Combine combine, int root) {
  const int64_t t0 = now_ns(), w0 = shm_->wait_ns();
  const int64_t latest = shm_->round(data, clock, combine, root);
  host_.transfer_ns += now_ns() - t0 - (shm_->wait_ns() - w0);
  return latest;
}

Cluster::SendSlot &Cluster::free_slot() {
  constexpr size_t kSlots = 16;  // more sends in flight than any collective here posts at once
  if (slots_.empty()) slots_.resize(kSlots);
  for (size_t i = 0; i < slots_.size(); ++i) {
    SendSlot &s = slots_[(next_slot_ + i) % slots_.size()];
    int done = 1;
    if (!s.reqs.empty())
      MPI_Testall(static_cast<int>(s.reqs.size()), s.reqs.data(), &done, MPI_STATUSES_IGNORE);
    if (done) {
      s.reqs.clear();
      next_slot_ = (next_slot_ + i + 1) % slots_.size();
      return s;
    }
  }
  // All in flight: wait for the oldest.
  SendSlot &s = slots_[next_slot_];
  const int64_t t0 = now_ns();
  bells_->wait(static_cast<int>(s.reqs.size()), s.reqs.data(), {s.to}, true);
  host_.wait_ns += now_ns() - t0;
  s.reqs.clear();
  next_slot_ = (next_slot_ + 1) % slots_.size();
  return s;
}

void Cluster::post_send(std::span<const std::byte> payload, int64_t clock, int to) {
  SendSlot &s = free_slot();
  s.to = to;
  s.buf.resize(payload.size() + sizeof clock);
  if (!payload.empty()) std::memcpy(s.buf.data(), payload.data(), payload.size());
  std::memcpy(s.buf.data() + payload.size(), &clock, sizeof clock);
  for (size_t off = 0; off < s.buf.size(); off += kChunkBytes) {
    const size_t n = std::min(kChunkBytes, s.buf.size() - off);
    s.reqs.emplace_back();
    MPI_Isend(s.buf.data() + off, static_cast<int>(n), MPI_BYTE, to, kTagData, comm_,
              &s.reqs.back());
    ++host_.messages;
  }
  bells_->ring(to);
}

void Cluster::post_recv(size_t payload_bytes, int from) {
  rbuf_.resize(payload_bytes + sizeof(int64_t));
  for (size_t off = 0; off < rbuf_.size(); off += kChunkBytes) {
    const size_t n = std::min(kChunkBytes, rbuf_.size() - off);
    reqs_.emplace_back();
    MPI_Irecv(rbuf_.data() + off, static_cast<int>(n), MPI_BYTE, from, kTagData, comm_,
              &reqs_.back());
  }
}

void Cluster::wait_posted(std::initializer_list<int> peers) {
  const int64_t t0 = now_ns();
  bells_->wait(static_cast<int>(reqs_.size()), reqs_.data(), peers, false);
  host_.wait_ns += now_ns() - t0;
  reqs_.clear();
}

void Cluster::send(std::span<const std::byte> payload, int64_t clock, int to, CollectiveTiming &t) {
  if (count_only_) {
    t.bytes_sent += static_cast<int64_t>(payload.size());
    ++t.messages_sent;
    return;
  }
  const int64_t t0 = now_ns(), w0 = host_.wait_ns;
  post_send(payload, clock, to);
  t.bytes_sent += static_cast<int64_t>(payload.size());
  ++t.messages_sent;
  host_.transfer_ns += now_ns() - t0 - (host_.wait_ns - w0);
}

int64_t Cluster::recv(std::span<std::byte> payload, int from) {
  if (count_only_) return INT64_MIN;
  const int64_t t0 = now_ns(), w0 = host_.wait_ns;
  int64_t clock = 0;
  post_recv(payload.size(), from);
  wait_posted({from});
  bells_->ring_sender(from);
  if (!payload.empty()) std::memcpy(payload.data(), rbuf_.data(), payload.size());
  std::memcpy(&clock, rbuf_.data() + payload.size(), sizeof clock);
  host_.transfer_ns += now_ns() - t0 - (host_.wait_ns - w0);
  return clock;
}

int64_t Cluster::sendrecv(std::span<const std::byte> out, int64_t clock, int to,
                          std::span<std::byte> in, int from, CollectiveTiming &t) {
  if (count_only_) {
    t.bytes_sent += static_cast<int64_t>(out.size());
    ++t.messages_sent;
    return INT64_MIN;
  }
  const int64_t t0 = now_ns(), w0 = host_.wait_ns;
  int64_t their = 0;
  post_recv(in.size(), from);
  post_send(out, clock, to);
  wait_posted({from});
  bells_->ring_sender(from);
  std::memcpy(in.data(), rbuf_.data(), in.size());
  std::memcpy(&their, rbuf_.data() + in.size(), sizeof their);
  t.bytes_sent += static_cast<int64_t>(out.size());
  ++t.messages_sent;
  host_.transfer_ns += now_ns() - t0 - (host_.wait_ns - w0);
  return their;
}

// Binomial-tree reduction to rank 0 followed by a binomial broadcast: the "hierarchical"
// all-reduce. The running max of the clocks travels with the partial results.
void Cluster::tree_reduce_bcast(std::span<std::byte> data, int64_t &latest, Combine combine,
                                CollectiveTiming &t) {
  tree_in_.resize(data.size());
  const std::span<std::byte> in(tree_in_);
  for (int mask = 1; mask < size_; mask <<= 1) {
    if (rank_ & mask) {
      send(data, latest, rank_ - mask, t);
      break;
    }
    if (rank_ + mask < size_) {
      latest = std::max(latest, recv(in, rank_ + mask));
      if (!count_only_) combine(data, in);
    }
  }
  binomial_bcast(data, 0, latest, t);
}

void Cluster::binomial_bcast(std::span<std::byte> data, int root, int64_t &latest,
                             CollectiveTiming &t) {
  const int rel = (rank_ - root + size_) % size_;
  int mask = 1;
  while (mask < size_) {
    if (rel & mask) {
      latest = std::max(latest, recv(data, (rank_ - mask + size_) % size_));
      break;
    }
    mask <<= 1;
  }
  for (mask >>= 1; mask > 0; mask >>= 1)
    if (rel + mask < size_) send(data, latest, (rank_ + mask) % size_, t);
}

CollectiveTiming Cluster::allreduce_sum(std::span<int32_t> data, int64_t clock, AllreduceAlgo algo,
                                        int wire_bytes) {
  if (wire_bytes < 1 || wire_bytes > 4)
    throw std::invalid_argument("wire bytes per element must be 1..4");
  CollectiveTiming t;
  t.arrival = clock;
  int64_t latest = clock;
  const int64_t bytes = static_cast<int64_t>(data.size()) * wire_bytes;
  int64_t link = 0;
  if (size_ > 1) {
    // Shared memory: the data and the clocks move in one round; the algorithm's hops below are
    // only counted.
    int64_t shm_latest = clock;
    if (shm_ && !dry_) shm_latest = shm_round(as_bytes(data), clock, sum_i32, 0);
    count_only_ = shm_ != nullptr || dry_;
    switch (algo) {
      case AllreduceAlgo::Tree:
        tree_reduce_bcast(as_bytes(data), latest, sum_i32, t);
        link = 2 * ceil_log2(size_) * link_.cycles_for(bytes);
        break;
      case AllreduceAlgo::Ring: {
        // Reduce-scatter then all-gather, N-1 steps each, one chunk per step to the right.
        const int right = (rank_ + 1) % size_, left = (rank_ - 1 + size_) % size_;
        tmp_.resize(chunk(data.size(), size_, 0).second);
        for (int s = 0; s < size_ - 1; ++s) {
          auto [sb, se] = chunk(data.size(), size_, (rank_ - s + size_) % size_);
          auto [rb, re] = chunk(data.size(), size_, (rank_ - s - 1 + 2 * size_) % size_);
          auto out = std::as_bytes(data.subspan(sb, se - sb));
          auto in = as_bytes(std::span(tmp_).first(re - rb));
          latest = std::max(latest, sendrecv(out, latest, right, in, left, t));
          if (!count_only_) sum_i32(as_bytes(data.subspan(rb, re - rb)), in);
        }
        for (int s = 0; s < size_ - 1; ++s) {
          auto [sb, se] = chunk(data.size(), size_, (rank_ + 1 - s + size_) % size_);
          auto [rb, re] = chunk(data.size(), size_, (rank_ - s + size_) % size_);
          latest = std::max(latest, sendrecv(std::as_bytes(data.subspan(sb, se - sb)), latest,
                                             right, as_bytes(data.subspan(rb, re - rb)), left, t));
        }
        const int64_t chunk_bytes =
            static_cast<int64_t>(chunk(data.size(), size_, 0).second) * wire_bytes;
        link = 2 * (size_ - 1) * link_.cycles_for(chunk_bytes);
        break;
      }
      case AllreduceAlgo::Direct: {
        // Every chip sends its whole partial to every other chip and sums what it receives.
        // The N-1 sends share the chip's one link, so they are serialised in the cost.
        mine_.assign(data.begin(), data.end());
        tmp_.resize(data.size());
        for (int s = 1; s < size_; ++s) {
          const int to = (rank_ + s) % size_, from = (rank_ - s + size_) % size_;
          latest = std::max(latest, sendrecv(std::as_bytes(std::span(mine_)), clock, to,
                                             as_bytes(std::span(tmp_)), from, t));
          if (!count_only_) sum_i32(as_bytes(data), std::as_bytes(std::span(tmp_)));
        }
        link = (size_ - 1) * link_.cycles_for(bytes);
        break;
      }
    }
    if (count_only_) latest = shm_latest;
    count_only_ = false;
  }
  t.bytes_sent = t.bytes_sent / 4 * wire_bytes;  // MPI moved int32; the link carries wire_bytes
  t.latest = latest;
  t.link_cycles = link;
  t.end = latest + link;
  t.idle_cycles = latest - clock;
  return t;
}

CollectiveTiming Cluster::broadcast(std::span<int8_t> data, int root, int64_t clock) {
  CollectiveTiming t;
  t.arrival = clock;
  int64_t latest = clock;
  if (size_ > 1) {
    // First the clocks reach the root (binomial reduction of the max, relative to the root),
    // then the root's bytes and the latest clock go out along the same tree: every chip ends
    // up with the same latest arrival (the max over all chips) and the root's data.
    int64_t shm_latest = clock;
    if (shm_ && !dry_) shm_latest = shm_round(std::as_writable_bytes(data), clock, nullptr, root);
    count_only_ = shm_ != nullptr || dry_;
    const int rel = (rank_ - root + size_) % size_;
    for (int mask = 1; mask < size_; mask <<= 1) {
      if (rel & mask) {
        send({}, latest, (rank_ - mask + size_) % size_, t);
        --t.messages_sent;  // clocks only: the chips' link carries no data for them
        break;
      }
      if (rel + mask < size_) latest = std::max(latest, recv({}, (rank_ + mask) % size_));
    }
    binomial_bcast(std::as_writable_bytes(data), root, latest, t);
    if (count_only_) latest = shm_latest;
    count_only_ = false;
    t.link_cycles = ceil_log2(size_) * link_.cycles_for(static_cast<int64_t>(data.size()));
  }
  const int64_t global_latest = latest;
  t.latest = global_latest;
  t.end = global_latest + t.link_cycles;
  t.idle_cycles = global_latest - clock;
  return t;
}

CollectiveTiming Cluster::argmax(int32_t &value, int64_t &index, int64_t clock,
                                 std::span<std::byte> payload) {
  CollectiveTiming t;
  t.arrival = clock;
  int64_t latest = clock;
  ValueIndex vi{value, index};
  if (size_ > 1) {
    if (!payload.empty() && (!shm_ || dry_))
      throw std::logic_error(
          "an arg-max with a payload needs the shared-memory transport (and moves data: not a "
          "share)");
    static_assert(sizeof vi + kMaxArgmaxPayload == ShmCollective::kRoundBytes);
    if (payload.size() > kMaxArgmaxPayload)
      throw std::logic_error("an arg-max payload must fit one shared-memory round");
    int64_t shm_latest = clock;
    if (shm_ && !dry_ && payload.empty()) {
      shm_latest = shm_round(std::as_writable_bytes(std::span(&vi, 1)), clock, max_lowest_index, 0);
    } else if (shm_ && !dry_) {
      // The payload rides in the same round, behind the value and index.
      argmax_record_.resize(sizeof vi + payload.size());
      std::memcpy(argmax_record_.data(), &vi, sizeof vi);
      std::memcpy(argmax_record_.data() + sizeof vi, payload.data(), payload.size());
      shm_latest = shm_round(argmax_record_, clock, max_lowest_index, 0);
      std::memcpy(&vi, argmax_record_.data(), sizeof vi);
      std::memcpy(payload.data(), argmax_record_.data() + sizeof vi, payload.size());
    }
    count_only_ = shm_ != nullptr || dry_;
    tree_reduce_bcast(std::as_writable_bytes(std::span(&vi, 1)), latest, max_lowest_index, t);
    if (count_only_) latest = shm_latest;
    count_only_ = false;
    t.link_cycles = 2 * ceil_log2(size_) * link_.cycles_for(sizeof vi);
  }
  value = static_cast<int32_t>(vi.value);
  index = vi.index;
  t.latest = latest;
  t.end = latest + t.link_cycles;
  t.idle_cycles = latest - clock;
  return t;
}

namespace {

void max_i64(std::span<std::byte> acc, std::span<const std::byte> in) {
  const size_t n = acc.size() / 8;
  for (size_t i = 0; i < n; ++i) {
    int64_t a, b;
    std::memcpy(&a, acc.data() + 8 * i, 8);
    std::memcpy(&b, in.data() + 8 * i, 8);
    if (b > a) std::memcpy(acc.data() + 8 * i, &b, 8);
  }
}

}  // namespace

CollectiveTiming Cluster::allreduce_share(size_t elements, AllreduceAlgo algo, int wire_bytes) {
  for (const Share &s : shares_)
    if (s.op == 0 && s.size == elements && s.algo == static_cast<int>(algo) &&
        s.wire_bytes == wire_bytes)
      return s.timing;
  dry_i32_.assign(elements, 0);
  dry_ = true;
  CollectiveTiming t;
  try {
    t = allreduce_sum(dry_i32_, 0, algo, wire_bytes);
  } catch (...) {
    dry_ = false;
    throw;
  }
  dry_ = false;
  shares_.push_back({0, elements, static_cast<int>(algo), wire_bytes, 0, t});
  return t;
}

CollectiveTiming Cluster::broadcast_share(size_t bytes, int root) {
  for (const Share &s : shares_)
    if (s.op == 1 && s.size == bytes && s.root == root) return s.timing;
  dry_i8_.assign(bytes, 0);
  dry_ = true;
  const CollectiveTiming t = broadcast(dry_i8_, root, 0);
  dry_ = false;
  shares_.push_back({1, bytes, 0, 0, root, t});
  return t;
}

CollectiveTiming Cluster::argmax_share() {
  for (const Share &s : shares_)
    if (s.op == 2) return s.timing;
  int32_t value = 0;
  int64_t index = 0;
  dry_ = true;
  const CollectiveTiming t = argmax(value, index, 0);
  dry_ = false;
  shares_.push_back({2, 0, 0, 0, 0, t});
  return t;
}

void Cluster::max_over_ranks(std::span<int64_t> values) {
  if (size_ == 1) return;
  if (shm_) {
    shm_round(std::as_writable_bytes(values), 0, max_i64, 0);
    return;
  }
  const int64_t t0 = now_ns();
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_MAX,
                comm_);
  host_.wait_ns += now_ns() - t0;
}

void Cluster::wait_for_all() {
  if (size_ == 1) return;
  if (shm_) {
    shm_round({}, 0, nullptr, 0);
    return;
  }
  const int64_t t0 = now_ns();
  MPI_Barrier(comm_);
  host_.wait_ns += now_ns() - t0;
}

std::vector<int32_t> Cluster::gather_to_root(std::span<const int32_t> local) const {
  int n = static_cast<int>(local.size());
  std::vector<int> counts(size_), displs(size_);
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm_);
  std::vector<int32_t> all;
  if (rank_ == 0) {
    int total = 0;
    for (int r = 0; r < size_; ++r) displs[r] = total, total += counts[r];
    all.resize(total);
  }
  MPI_Gatherv(local.data(), n, MPI_INT32_T, all.data(), counts.data(), displs.data(), MPI_INT32_T,
              0, comm_);
  return all;
}

void Cluster::check_same_everywhere(const std::string &what, const std::string &value) const {
  // Compare a 64-bit FNV-1a hash of the value across ranks.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : value) h = (h ^ ch) * 1099511628211ull;
  std::vector<uint64_t> all(size_);
  MPI_Allgather(&h, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm_);
  std::string bad;
  for (int r = 1; r < size_; ++r)
    if (all[r] != all[0]) bad += (bad.empty() ? "" : ", ") + std::to_string(r);
  if (!bad.empty())  // every rank knows: rank 0 reports
    throw CollectiveError(
        fmt::format("{} differ between ranks: rank(s) {} do not match rank 0", what, bad),
        rank_ == 0);
}

void abort_job(const std::string &what, int exit_code) {
  int rank = -1, initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "mcuemu: rank %d (host %s): error: %s\n", rank, host_name().c_str(),
               what.c_str());
  std::fflush(stderr);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

}  // namespace mcuemu::mpi
