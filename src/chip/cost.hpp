// Cost: the cycles, bytes and per-event energy of one op, priced from its shape and the profile.
//
// Kernels never time themselves (DESIGN.md): the runtime asks this model for an OpCost and
// charges it to the chip's Ledger. The model, in the order it is applied:
//
// 1. Data starts and ends outside L1. Activations and KV cache are read from L2 and results are
//    written back to L2; weights are read from the level the placement put them in. L1 is only
//    the staging buffer of a double-buffered pipeline (a conservative choice: fused kernels that
//    keep data in L1 between ops would be cheaper).
// 2. Paths to L1 ("hops"), each with a bandwidth and a setup cost per transfer:
//      L2   -> L1               cluster DMA: dma.l2_l1_bytes_per_cycle, dma.l2_l1_setup_cycles
//      MRAM -> L1               dma.mram_mb_per_s if !dma.mram_via_l2 (Siracusa)
//      MRAM -> L2 -> L1         dma.mram_mb_per_s, then the cluster DMA (GAP9: MRAM is a uDMA
//                               peripheral that delivers into L2)
//      L3   -> L2 -> L1         dma.l3_peak_mb_per_s x dma.l3_efficiency, then the cluster DMA
//    A hop that touches L1 is the cluster DMA; it also carries the results back L1 -> L2.
// 3. Tiling (GEMM C[M,N] = A[M,K] W[K,N], GEMV is M = 1): a block of m_t rows of A stays in L1
//    (m_t = min(M, floor(L1 / 2 / K))) while tiles of n_t columns of W stream past it, double
//    buffered, with double-buffered output tiles: m_t*K + 2*K*n_t + 2*m_t*n_t*out_bytes <= L1.
//    Weights are streamed again for every block of rows. Element-wise ops stream tiles of
//    elements: 2*e_t*(in_bytes + out_bytes) <= L1.
// 4. Pipeline of one block with tiles j = 0..T-1 (compute c_j, transfers on every hop):
//      first load  = sum over hops of (setup + bytes of tile 0 / bandwidth) + the A block load
//      step j      = max(c_j, DMA_j), DMA_j = max over hops of the time that hop spends moving
//                    tile j+1 in and (for the cluster DMA) output tile j-1 out
//      final store = setup + output tile T-1 / bandwidth
//      cycles      = op_overhead + sum over blocks (first load + sum of steps + final store)
//    Hops run concurrently, each a tile ahead of the next. The tile count is chosen by trying
//    n_t = n_max, n_max/2, n_max/4, ... and keeping the fastest: a tiler that trades the
//    un-overlapped first load against setup costs, as DORY/Deeploy tilers do.
// 5. Compute cycles: MACs / compute.gemm_macs_per_cycle (or gemv_...), elements x
//    kernel_cycles.<kind> / chip.cores for the non-linear kernels.
// 6. Per-event energy: MACs x energy.mac_pj, elements x kernel_cycles.<kind> x energy.instr_pj,
//    every byte at every level it is read from or written to x energy.<level>_pj_per_byte (a
//    transfer X -> Y charges its bytes at X and at Y, so L3 -> L2 -> L1 charges L3, L2 twice and
//    L1). Active and idle power are charged by the Ledger from time, not here.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "chip/energy.hpp"
#include "chip/level.hpp"
#include "chip/profile.hpp"

namespace mcuemu::chip {

enum class OpKind {
  gemm,
  gemv,
  softmax,
  softmax_itamax,
  rmsnorm,
  layernorm,
  nonorm,
  gelu,
  hswish,
  relu,
  requant,
  add,
  mul,
  rope,
  argmax,
  copy,  // a DMA transfer between levels (KV-cache write, embedding row fetch, ...)
  link,  // a chip-to-chip transfer
};

std::string_view op_kind_name(OpKind kind);
// True for the kinds price_eltwise accepts (the non-linear and element-wise kernels).
bool is_eltwise(OpKind kind);
// kernel_cycles.<kind> of the profile (core cycles per element); throws for non-eltwise kinds.
double cycles_per_element(const Profile &profile, OpKind kind);

struct OpCost {
  OpKind kind = OpKind::copy;
  std::int64_t cycles = 0;     // busy cycles the op takes: ceil of the pipeline model
  double compute_cycles = 0;   // cycles the cores compute (sum over tiles, no overhead)
  double dma_cycles = 0;       // cycles of transfers on the slowest hop, summed over the pipeline
  std::int64_t tiles = 0;      // tiles per block x blocks
  std::int64_t tile_rows = 0;  // m_t (GEMM/GEMV) or 0
  std::int64_t tile_cols = 0;  // n_t (GEMM/GEMV) or e_t (element-wise) or 0
  std::int64_t macs = 0;
  std::int64_t elements = 0;
  PerLevel<std::int64_t> bytes;  // bytes read + written at each level
  std::int64_t link_bytes = 0;
  Energy energy;  // per-event terms only (compute, levels, link); active/idle come from time
};

// One DMA hop: a transfer engine between two levels.
struct Hop {
  Level src;
  Level dst;
  double bytes_per_cycle;
  double setup_cycles;
  double cycles(double bytes) const {
    return bytes > 0 ? setup_cycles + bytes / bytes_per_cycle : 0;
  }
};

class CostModel {
 public:
  explicit CostModel(Profile profile);
  const Profile &profile() const { return profile_; }

  // y[out] = W[out, in] x[in]: int8 weights at `weight_level`, x in L2, y written to L2 with
  // `out_bytes` per element (1 for int8 outputs, 4 for int32 partial sums).
  OpCost price_gemv(std::int64_t out, std::int64_t in, Level weight_level,
                    std::int64_t out_bytes = 1) const;
  // C[M, N] = A[M, K] W[K, N]: A in L2, W at `weight_level` (a KV cache is "weights" in L2).
  OpCost price_gemm(std::int64_t M, std::int64_t N, std::int64_t K, Level weight_level,
                    std::int64_t out_bytes = 1) const;
  // An element-wise / non-linear kernel over `elements` elements, L2 -> L1 -> L2.
  OpCost price_eltwise(OpKind kind, std::int64_t elements, std::int64_t in_bytes = 1,
                       std::int64_t out_bytes = 1) const;
  // A DMA transfer of `bytes` from one level to another (through L2 or in L1-sized chunks where
  // the path needs it). A copy within L2 goes L2 -> L1 -> L2 through the cluster DMA, within L3
  // through L2; within L1 it is free (the cores' loads and stores are not modelled). Writing
  // MRAM at run time is not modelled and throws.
  OpCost price_copy(std::int64_t bytes, Level from, Level to) const;
  // One chip-to-chip transfer: link.latency_ns + bytes / link.mb_per_s, bytes x link pJ/B.
  OpCost price_link(std::int64_t bytes) const;

  // The same GEMM/GEMV model with a tiling chosen by the caller (for tests and studies).
  OpCost price_matmul_tiled(OpKind kind, std::int64_t M, std::int64_t N, std::int64_t K,
                            Level weight_level, std::int64_t out_bytes, std::int64_t m_t,
                            std::int64_t n_t) const;
  // The element-wise model with tiles of e_t elements chosen by the caller (1 <= e_t, and e_t
  // elements double-buffered must fit L1; for tests and studies).
  OpCost price_eltwise_tiled(OpKind kind, std::int64_t elements, std::int64_t in_bytes,
                             std::int64_t out_bytes, std::int64_t e_t) const;

  // The hops a transfer from `from` to `to` takes (empty for L1 -> L1).
  std::vector<Hop> path(Level from, Level to) const;
  // The same without allocating: a path has at most two hops.
  struct HopPath {
    HopPath() = default;
    explicit HopPath(Hop a) : hop{a, a}, n(1) {}
    HopPath(Hop a, Hop b) : hop{a, b}, n(2) {}
    std::array<Hop, 2> hop{};
    int n = 0;
    const Hop *begin() const { return hop.data(); }
    const Hop *end() const { return hop.data() + n; }
    bool empty() const { return n == 0; }
    const Hop &front() const { return hop[0]; }
  };
  HopPath hops(Level from, Level to) const;
  // Sustained bytes per cycle of streaming from a level into L1 (the slowest hop).
  double stream_bytes_per_cycle(Level from) const;
  // Traffic energy of moving one byte from a level into L1 (every level it touches).
  double stream_pj_per_byte(Level from) const;
  // Largest n_t that fits L1 for a block of m_t rows of K (0 if none fits).
  std::int64_t max_tile_cols(std::int64_t m_t, std::int64_t K, std::int64_t out_bytes) const;

 private:
  OpCost price_matmul(OpKind kind, std::int64_t M, std::int64_t N, std::int64_t K,
                      Level weight_level, std::int64_t out_bytes) const;

  Profile profile_;
};

}  // namespace mcuemu::chip
