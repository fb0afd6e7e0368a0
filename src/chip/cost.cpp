#include "chip/cost.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "chip/error.hpp"

namespace mcuemu::chip {
namespace {

// The tile search stops at this many tiles per block (finer tiles only add setup costs).
constexpr std::int64_t kMaxTilesSearched = 4096;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

bool touches_l1(const Hop &h) {
  return h.src == Level::L1 || h.dst == Level::L1;
}

void check_non_negative(std::string_view what, std::int64_t v) {
  if (v < 0) throw ChipError(fmt::format("cost model: {} = {} is negative", what, v));
}

// Adds the bytes of a transfer of `bytes` along `path` to `cost.bytes`.
template <class Hops>
void count_transfer(OpCost &cost, const Hops &path, std::int64_t bytes) {
  for (const Hop &h : path) {
    cost.bytes[h.src] += bytes;
    cost.bytes[h.dst] += bytes;
  }
}
void count_transfer(OpCost &cost, const Hop &hop, std::int64_t bytes) {
  cost.bytes[hop.src] += bytes;
  cost.bytes[hop.dst] += bytes;
}

void price_traffic(OpCost &cost, const Profile &p) {
  for (Level l : kAllLevels) {
    cost.energy.level_pj[l] = static_cast<double>(cost.bytes[l]) * p.energy.pj_per_byte[l];
  }
}

// One tile of a pipeline: bytes coming in over the input path, bytes going out over the cluster
// DMA, and compute cycles.
struct TileWork {
  double in_bytes = 0;
  double out_bytes = 0;
  double compute = 0;
};

struct PipelineTime {
  double cycles = 0;
  double dma = 0;
  double compute = 0;
};

// The double-buffered pipeline of one block (see cost.hpp, item 4).
// `tile(j)` describes tile j of `n_tiles`; `in_path` brings tiles into L1 (empty if the data is
// already there); `out_hop` is the cluster DMA L1 -> L2; `prologue` is loaded once over the
// cluster DMA before the first tile (the A block of a GEMM).
// Every tile but the last is a full one: tile(j) is the same for every j < n_tiles - 1.
// (Host speed, no change to any number: the tile search prices thousands of tiles per new
// shape, so `tile` is a template, and the steps 2 .. n_tiles-3, which see a full tile before,
// at and after them like step 1, add step 1's figures again instead of working them out anew:
// the same numbers added in the same order.)
template <class Tile, class Hops>
PipelineTime run_pipeline(std::int64_t n_tiles, const Tile &tile, const Hops &in_path,
                          const Hop &out_hop, double prologue_bytes) {
  PipelineTime t;
  if (n_tiles <= 0) return t;
  const Hop l2_l1{Level::L2, Level::L1, out_hop.bytes_per_cycle, out_hop.setup_cycles};

  TileWork current = tile(0);
  double first = l2_l1.cycles(prologue_bytes);
  for (const Hop &h : in_path) first += h.cycles(current.in_bytes);
  t.cycles += first;
  t.dma += first;

  double previous_out = 0;  // output of tile j-1, written back during step j
  for (std::int64_t j = 0; j < n_tiles; ++j) {
    const bool has_next = j + 1 < n_tiles;
    const TileWork next = has_next ? tile(j + 1) : TileWork{};
    double dma = 0;
    bool out_done = false;
    for (const Hop &h : in_path) {
      double hop_time = has_next ? h.cycles(next.in_bytes) : 0;
      if (touches_l1(h)) {
        hop_time += out_hop.cycles(previous_out);
        out_done = true;
      }
      dma = std::max(dma, hop_time);
    }
    if (!out_done) dma = std::max(dma, out_hop.cycles(previous_out));
    const double step = std::max(current.compute, dma);
    t.cycles += step;
    t.dma += dma;
    t.compute += current.compute;
    if (j == 1) {
      // Steps 2 .. n_tiles-3 repeat this one; after them previous_out and current are again
      // a full tile's, as now.
      for (; j + 1 < n_tiles - 2; ++j) {
        t.cycles += step;
        t.dma += dma;
        t.compute += current.compute;
      }
    }
    previous_out = current.out_bytes;
    current = next;
  }
  const double last = out_hop.cycles(previous_out);
  t.cycles += last;
  t.dma += last;
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string_view op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::gemm:
      return "gemm";
    case OpKind::gemv:
      return "gemv";
    case OpKind::softmax:
      return "softmax";
    case OpKind::softmax_itamax:
      return "softmax_itamax";
    case OpKind::rmsnorm:
      return "rmsnorm";
    case OpKind::layernorm:
      return "layernorm";
    case OpKind::nonorm:
      return "nonorm";
    case OpKind::gelu:
      return "gelu";
    case OpKind::hswish:
      return "hswish";
    case OpKind::relu:
      return "relu";
    case OpKind::requant:
      return "requant";
    case OpKind::add:
      return "add";
    case OpKind::mul:
      return "mul";
    case OpKind::rope:
      return "rope";
    case OpKind::argmax:
      return "argmax";
    case OpKind::copy:
      return "copy";
    case OpKind::link:
      return "link";
  }
  return "?";
}

bool is_eltwise(OpKind kind) {
  return kind != OpKind::gemm && kind != OpKind::gemv && kind != OpKind::copy &&
         kind != OpKind::link;
}

double cycles_per_element(const Profile &p, OpKind kind) {
  const KernelCycles &k = p.kernel_cycles;
  switch (kind) {
    case OpKind::softmax:
      return k.softmax;
    case OpKind::softmax_itamax:
      return k.softmax_itamax;
    case OpKind::rmsnorm:
      return k.rmsnorm;
    case OpKind::layernorm:
      return k.layernorm;
    case OpKind::nonorm:
      return k.nonorm;
    case OpKind::gelu:
      return k.gelu;
    case OpKind::hswish:
      return k.hswish;
    case OpKind::relu:
      return k.relu;
    case OpKind::requant:
      return k.requant;
    case OpKind::add:
      return k.add;
    case OpKind::mul:
      return k.mul;
    case OpKind::rope:
      return k.rope;
    case OpKind::argmax:
      return k.argmax;
    default:
      break;
  }
  throw ChipError(
      fmt::format("cost model: '{}' is not an element-wise kernel", op_kind_name(kind)));
}

CostModel::CostModel(Profile profile) : profile_(std::move(profile)) {}

std::vector<Hop> CostModel::path(Level from, Level to) const {
  const HopPath h = hops(from, to);
  return {h.begin(), h.end()};
}

CostModel::HopPath CostModel::hops(Level from, Level to) const {
  const Profile &p = profile_;
  const Hop cluster_in{Level::L2, Level::L1, p.dma.l2_l1_bytes_per_cycle, p.dma.l2_l1_setup_cycles};
  const Hop cluster_out{Level::L1, Level::L2, p.dma.l2_l1_bytes_per_cycle,
                        p.dma.l2_l1_setup_cycles};
  const double l3_bpc = p.bytes_per_cycle(p.dma.l3_mb_per_s());
  const double mram_bpc = p.bytes_per_cycle(p.dma.mram_mb_per_s);
  const Hop l3_in{Level::L3, Level::L2, l3_bpc, p.dma.l3_setup_cycles};
  const Hop l3_out{Level::L2, Level::L3, l3_bpc, p.dma.l3_setup_cycles};

  if (to == Level::MRAM) {
    throw ChipError(fmt::format(
        "cost model: writing MRAM ({} -> MRAM) is not modelled: MRAM is programmed offline",
        level_name(from)));
  }
  if (from == to) {
    // Within L1 the cores move data (no DMA); within L2 or L3 the data goes through the level
    // the DMA engines connect it to.
    if (from == Level::L2) return HopPath(cluster_in, cluster_out);
    if (from == Level::L3) return HopPath(l3_in, l3_out);
    return HopPath{};
  }
  switch (from) {
    case Level::L1:
      if (to == Level::L2) return HopPath(cluster_out);
      return HopPath(cluster_out, l3_out);  // to L3
    case Level::L2:
      if (to == Level::L1) return HopPath(cluster_in);
      return HopPath(l3_out);  // to L3
    case Level::MRAM: {
      const Hop to_l2{Level::MRAM, Level::L2, mram_bpc, p.dma.mram_setup_cycles};
      const Hop to_l1{Level::MRAM, Level::L1, mram_bpc, p.dma.mram_setup_cycles};
      if (to == Level::L2) return HopPath(to_l2);
      if (to == Level::L1) {
        if (p.dma.mram_via_l2) return HopPath(to_l2, cluster_in);
        return HopPath(to_l1);
      }
      return HopPath(to_l2, l3_out);  // to L3
    }
    case Level::L3:
      if (to == Level::L2) return HopPath(l3_in);
      return HopPath(l3_in, cluster_in);  // to L1
  }
  return HopPath{};
}

double CostModel::stream_bytes_per_cycle(Level from) const {
  double bpc = std::numeric_limits<double>::infinity();
  for (const Hop &h : hops(from, Level::L1)) bpc = std::min(bpc, h.bytes_per_cycle);
  return bpc;
}

double CostModel::stream_pj_per_byte(Level from) const {
  double pj = 0;
  for (const Hop &h : hops(from, Level::L1)) {
    pj += profile_.energy.pj_per_byte[h.src] + profile_.energy.pj_per_byte[h.dst];
  }
  return pj;
}

std::int64_t CostModel::max_tile_cols(std::int64_t m_t, std::int64_t K,
                                      std::int64_t out_bytes) const {
  const std::int64_t budget = profile_.usable_bytes(Level::L1) - m_t * K;
  const std::int64_t per_col = 2 * K + 2 * m_t * out_bytes;
  if (budget <= 0 || per_col <= 0) return 0;
  return budget / per_col;
}

OpCost CostModel::price_matmul_tiled(OpKind kind, std::int64_t M, std::int64_t N, std::int64_t K,
                                     Level weight_level, std::int64_t out_bytes, std::int64_t m_t,
                                     std::int64_t n_t) const {
  check_non_negative("M", M);
  check_non_negative("N", N);
  check_non_negative("K", K);
  check_non_negative("out_bytes", out_bytes);
  OpCost cost;
  cost.kind = kind;
  if (M == 0 || N == 0 || K == 0) return cost;
  if (m_t < 1 || n_t < 1 || m_t > M || n_t > N) {
    throw ChipError(
        fmt::format("cost model: tiling m_t={} n_t={} is invalid for M={} N={}", m_t, n_t, M, N));
  }
  if (m_t * K + 2 * K * n_t + 2 * m_t * n_t * out_bytes > profile_.usable_bytes(Level::L1)) {
    throw ChipError(fmt::format("cost model: tiles m_t={} n_t={} of K={} need {} B of L1, cap {} B",
                                m_t, n_t, K, m_t * K + 2 * K * n_t + 2 * m_t * n_t * out_bytes,
                                profile_.usable_bytes(Level::L1)));
  }
  const Profile &p = profile_;
  const double rate = kind == OpKind::gemv ? p.gemv_macs_per_cycle : p.gemm_macs_per_cycle;
  const HopPath in_path = hops(weight_level, Level::L1);
  const Hop out_hop = hops(Level::L1, Level::L2).front();

  const std::int64_t n_blocks = ceil_div(M, m_t);
  const std::int64_t n_tiles = ceil_div(N, n_t);
  double cycles = 0;
  for (std::int64_t b = 0; b < n_blocks; ++b) {
    const std::int64_t rows = std::min(m_t, M - b * m_t);
    auto tile = [&](std::int64_t j) {
      const auto cols = static_cast<double>(std::min(n_t, N - j * n_t));
      return TileWork{cols * static_cast<double>(K), cols * static_cast<double>(rows * out_bytes),
                      cols * static_cast<double>(rows * K) / rate};
    };
    const PipelineTime t =
        run_pipeline(n_tiles, tile, in_path, out_hop, static_cast<double>(rows * K));
    cycles += t.cycles;
    cost.dma_cycles += t.dma;
    cost.compute_cycles += t.compute;
  }
  cost.cycles = static_cast<std::int64_t>(std::ceil(p.op_overhead_cycles + cycles));
  cost.tiles = n_blocks * n_tiles;
  cost.tile_rows = m_t;
  cost.tile_cols = n_t;
  cost.macs = M * N * K;
  count_transfer(cost, in_path, n_blocks * N * K);          // weights, once per block
  count_transfer(cost, hops(Level::L2, Level::L1), M * K);  // A
  count_transfer(cost, out_hop, M * N * out_bytes);         // C
  cost.energy.compute_pj = static_cast<double>(cost.macs) * p.energy.mac_pj;
  price_traffic(cost, p);
  return cost;
}

namespace {

// Tries n_t = n_max, n_max/2, ... (at most kMaxTilesSearched tiles) and keeps the fastest.
// `bound(n_t)` is a lower bound of the cycles with tiles of n_t: a tiling it puts above the
// fastest so far could not be kept (a tie is not kept either), so it is not priced. (Host speed
// only, the same tiling and numbers: the tilings with the most tiles cost the most to price and
// are the ones the bound rules out.)
template <typename Price, typename Bound>
OpCost fastest_tiling(std::int64_t n, std::int64_t n_max, Price price, Bound bound) {
  OpCost best = price(n_max);
  for (std::int64_t n_t = (n_max + 1) / 2; n_t >= 1; n_t = (n_t + 1) / 2) {
    if (ceil_div(n, n_t) > kMaxTilesSearched) break;
    // The bound is worked out in doubles as the price is: 1e-9 of it more than covers the
    // rounding of either sum (a few thousand terms, 2^-53 each).
    if (bound(n_t) * (1 - 1e-9) <= static_cast<double>(best.cycles)) {
      OpCost c = price(n_t);
      if (c.cycles < best.cycles) best = c;
    }
    if (n_t == 1) break;
  }
  return best;
}

// A lower bound of the cycles of run_pipeline for a whole op (`blocks` pipelines of `n_tiles`
// tiles each; `in_bytes`, `out_bytes` and `compute` are the sums over all tiles of all blocks,
// and `prologue_bytes` the sum of the bytes each block loads before its first tile; every tile
// brings some bytes in when in_bytes > 0 and writes some out when out_bytes > 0, and every
// block loads some before its first tile when prologue_bytes > 0: one setup each). A hop that
// touches L1 carries, in the first load and in every step until the last, its tile's load plus the
// write-back of the tile before, and the write-back of the last tile follows the last step:
// every tile's load and write-back, one after the other, on top of the prologue (first, before
// any step). And every step takes at least its tile's compute. (run_pipeline's first, steps and
// last are disjoint sums.)
template <class Hops>
double pipeline_bound(const Hops &in_path, const Hop &out_hop, std::int64_t blocks,
                      std::int64_t n_tiles, double in_bytes, double out_bytes, double compute,
                      double prologue_bytes) {
  const Hop l2_l1{Level::L2, Level::L1, out_hop.bytes_per_cycle, out_hop.setup_cycles};
  const double tiles = static_cast<double>(blocks) * static_cast<double>(n_tiles);
  const double prologue = prologue_bytes > 0 ? static_cast<double>(blocks) * l2_l1.setup_cycles +
                                                   prologue_bytes / l2_l1.bytes_per_cycle
                                             : 0;
  const double out =
      out_bytes > 0 ? tiles * out_hop.setup_cycles + out_bytes / out_hop.bytes_per_cycle : 0;
  double b = compute;
  for (const Hop &h : in_path) {
    const double in = in_bytes > 0 ? tiles * h.setup_cycles + in_bytes / h.bytes_per_cycle : 0;
    b = std::max(b, in + (touches_l1(h) ? out : 0));
  }
  return prologue + b;
}

}  // namespace

OpCost CostModel::price_gemm(std::int64_t M, std::int64_t N, std::int64_t K, Level weight_level,
                             std::int64_t out_bytes) const {
  return price_matmul(OpKind::gemm, M, N, K, weight_level, out_bytes);
}

OpCost CostModel::price_gemv(std::int64_t out, std::int64_t in, Level weight_level,
                             std::int64_t out_bytes) const {
  return price_matmul(OpKind::gemv, 1, out, in, weight_level, out_bytes);
}

OpCost CostModel::price_matmul(OpKind kind, std::int64_t M, std::int64_t N, std::int64_t K,
                               Level weight_level, std::int64_t out_bytes) const {
  check_non_negative("M", M);
  check_non_negative("N", N);
  check_non_negative("K", K);
  check_non_negative("out_bytes", out_bytes);
  if (M == 0 || N == 0 || K == 0) {
    OpCost zero;
    zero.kind = kind;
    return zero;
  }
  const std::int64_t l1 = profile_.usable_bytes(Level::L1);
  std::int64_t m_t = std::clamp<std::int64_t>(l1 / 2 / K, 1, M);
  while (m_t > 1 && max_tile_cols(m_t, K, out_bytes) < 1) m_t /= 2;
  const std::int64_t n_max = std::min(N, max_tile_cols(m_t, K, out_bytes));
  if (n_max < 1) {
    throw ChipError(fmt::format(
        "cost model: {} with K={} cannot be tiled: one row of A and two columns of W need {} B "
        "of L1, cap {} B",
        op_kind_name(kind), K, 3 * K + 2 * out_bytes, l1));
  }
  const HopPath in_path = hops(weight_level, Level::L1);
  const Hop out_hop = hops(Level::L1, Level::L2).front();
  const double rate =
      kind == OpKind::gemv ? profile_.gemv_macs_per_cycle : profile_.gemm_macs_per_cycle;
  const std::int64_t n_blocks = ceil_div(M, m_t);
  return fastest_tiling(
      N, n_max,
      [&](std::int64_t n_t) {
        return price_matmul_tiled(kind, M, N, K, weight_level, out_bytes, m_t, n_t);
      },
      [&](std::int64_t n_t) {  // every block streams all of W: N x K bytes
        return profile_.op_overhead_cycles +
               pipeline_bound(in_path, out_hop, n_blocks, ceil_div(N, n_t),
                              static_cast<double>(n_blocks * N * K),
                              static_cast<double>(M * N * out_bytes),
                              static_cast<double>(M * N * K) / rate, static_cast<double>(M * K));
      });
}

OpCost CostModel::price_eltwise_tiled(OpKind kind, std::int64_t elements, std::int64_t in_bytes,
                                      std::int64_t out_bytes, std::int64_t e_t) const {
  const double cpe = cycles_per_element(profile_, kind);
  check_non_negative("elements", elements);
  check_non_negative("in_bytes", in_bytes);
  check_non_negative("out_bytes", out_bytes);
  const Profile &p = profile_;
  OpCost cost;
  cost.kind = kind;
  if (elements == 0) return cost;
  if (e_t < 1 || 2 * e_t * (in_bytes + out_bytes) > p.usable_bytes(Level::L1))
    throw ChipError(fmt::format("cost model: tiles of {} elements of {} B do not fit L1 ({} B)",
                                e_t, in_bytes + out_bytes, p.usable_bytes(Level::L1)));
  const HopPath in_path = hops(Level::L2, Level::L1);
  const Hop out_hop = hops(Level::L1, Level::L2).front();
  const std::int64_t n_tiles = ceil_div(elements, e_t);
  auto tile = [&](std::int64_t j) {
    const auto e = static_cast<double>(std::min(e_t, elements - j * e_t));
    return TileWork{e * static_cast<double>(in_bytes), e * static_cast<double>(out_bytes),
                    e * cpe / p.cores};
  };
  const PipelineTime t = run_pipeline(n_tiles, tile, in_path, out_hop, 0);
  cost.cycles = static_cast<std::int64_t>(std::ceil(p.op_overhead_cycles + t.cycles));
  cost.compute_cycles = t.compute;
  cost.dma_cycles = t.dma;
  cost.tiles = n_tiles;
  cost.tile_cols = e_t;
  cost.elements = elements;
  count_transfer(cost, in_path, elements * in_bytes);
  count_transfer(cost, out_hop, elements * out_bytes);
  cost.energy.compute_pj = static_cast<double>(elements) * cpe * p.energy.instr_pj;
  price_traffic(cost, p);
  return cost;
}

OpCost CostModel::price_eltwise(OpKind kind, std::int64_t elements, std::int64_t in_bytes,
                                std::int64_t out_bytes) const {
  const double cpe = cycles_per_element(profile_, kind);
  check_non_negative("elements", elements);
  check_non_negative("in_bytes", in_bytes);
  check_non_negative("out_bytes", out_bytes);
  const Profile &p = profile_;
  auto price = [&](std::int64_t e_t) {
    return price_eltwise_tiled(kind, elements, in_bytes, out_bytes, e_t);
  };
  if (elements == 0) return price(1);
  const std::int64_t per_element = 2 * (in_bytes + out_bytes);
  const std::int64_t e_max =
      per_element == 0 ? elements : std::min(elements, p.usable_bytes(Level::L1) / per_element);
  if (e_max < 1) {
    throw ChipError(fmt::format("cost model: {} elements of {} B do not fit L1 ({} B)",
                                op_kind_name(kind), in_bytes + out_bytes,
                                p.usable_bytes(Level::L1)));
  }
  const HopPath in_path = hops(Level::L2, Level::L1);
  const Hop out_hop = hops(Level::L1, Level::L2).front();
  return fastest_tiling(elements, e_max, price, [&](std::int64_t e_t) {
    return p.op_overhead_cycles + pipeline_bound(in_path, out_hop, 1, ceil_div(elements, e_t),
                                                 static_cast<double>(elements * in_bytes),
                                                 static_cast<double>(elements * out_bytes),
                                                 static_cast<double>(elements) * cpe / p.cores, 0);
  });
}

OpCost CostModel::price_copy(std::int64_t bytes, Level from, Level to) const {
  check_non_negative("bytes", bytes);
  const HopPath hops = this->hops(from, to);
  OpCost cost;
  cost.kind = OpKind::copy;
  if (bytes == 0 || hops.empty()) return cost;
  // Paths through L1 move L1-sized chunks, double buffered; others move everything at once.
  const bool chunked = std::any_of(hops.begin(), hops.end(), touches_l1);
  const std::int64_t chunk =
      chunked ? std::max<std::int64_t>(1, profile_.usable_bytes(Level::L1) / 2) : bytes;
  const std::int64_t n_chunks = ceil_div(bytes, chunk);
  double cycles = 0;
  for (std::int64_t j = 0; j < n_chunks; ++j) {
    const auto b = static_cast<double>(std::min(chunk, bytes - j * chunk));
    // The first chunk crosses every hop in turn; later chunks overlap across engines, while the
    // hops that touch L1 share the cluster DMA and add up.
    double serial = 0, cluster = 0, other = 0;
    for (const Hop &h : hops) {
      serial += h.cycles(b);
      if (touches_l1(h)) {
        cluster += h.cycles(b);
      } else {
        other = std::max(other, h.cycles(b));
      }
    }
    cycles += j == 0 ? serial : std::max(cluster, other);
  }
  cost.cycles = static_cast<std::int64_t>(std::ceil(cycles));
  cost.dma_cycles = cycles;
  cost.tiles = n_chunks;
  cost.tile_cols = chunk;
  count_transfer(cost, hops, bytes);
  price_traffic(cost, profile_);
  return cost;
}

OpCost CostModel::price_link(std::int64_t bytes) const {
  check_non_negative("bytes", bytes);
  const Profile &p = profile_;
  OpCost cost;
  cost.kind = OpKind::link;
  const double cycles = p.cycles_from_ns(p.link.latency_ns) +
                        static_cast<double>(bytes) / p.bytes_per_cycle(p.link.mb_per_s);
  cost.cycles = static_cast<std::int64_t>(std::ceil(cycles));
  cost.dma_cycles = cycles;
  cost.link_bytes = bytes;
  cost.bytes[Level::L2] = bytes;  // this chip's side of the transfer: L2 read (send) or write
  price_traffic(cost, p);
  cost.energy.link_pj = static_cast<double>(bytes) * p.energy.link_pj_per_byte;
  return cost;
}

}  // namespace mcuemu::chip
