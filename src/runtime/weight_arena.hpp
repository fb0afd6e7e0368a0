// Host memory for a chip's weight matrices, on transparent huge pages where the host gives them.
//
// A rank's GEMVs stream its whole weight slice once per token. With 4 KB pages that is one page
// walk per 4 KB of weights, and on the 2-core reference VM (a PVM guest without PCID) every
// context switch empties the TLB, so with four ranks per core the walks start cold at every turn.
// On 2 MB pages a rank's slice of tinyllama-42m (~5 MB) needs a few TLB entries instead of ~1300.
//
// The arena is one anonymous mapping sized exactly for the matrices of a chip's slice, its start
// aligned to 2 MB; only the whole 2 MB pages it spans are advised MADV_HUGEPAGE, the rest stays
// on 4 KB pages, so no page is resident beyond what the weights fill. The model reader reads
// each matrix straight into its block (weights::WeightPlacer) and the chip rearranges it there
// (kernels::GemvMatrix): the weights are never held twice and no page is handed back, which both
// matter on the reference VM (a copy into the arena either doubled a rank's peak memory or, with
// the copied pages handed back, cost ~0.4 s of setup per rank: docs/host-speed.md, session 9).
// Whether the kernel backs the advice depends on the host's transparent-huge-page setting
// (`madvise` or `always`; `never` leaves 4 KB pages): each rank reports the huge-page bytes it
// got (`anon_huge_bytes`). MCUEMU_HUGE_PAGES=off keeps 4 KB pages (for comparison). The layout
// of the weights, and every number the emulator gives, do not depend on any of this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "runtime/populated.hpp"
#include "weights/qmodel.hpp"
#include "weights/qmodel_io.hpp"

namespace mcuemu::runtime {

class WeightArena {
 public:
  static constexpr std::size_t kAlign = 64;  // every block starts on a cache line

  // Room for `bytes` of blocks (each rounded up to kAlign: see round_up). `huge`: advise the
  // whole huge pages it spans. Throws std::bad_alloc if the mapping fails.
  WeightArena(std::size_t bytes, bool huge);
  ~WeightArena() = default;
  WeightArena(const WeightArena &) = delete;
  WeightArena &operator=(const WeightArena &) = delete;

  // A block of `bytes`, kAlign-aligned, that lives as long as the arena (std::length_error if
  // the arena has no room left: the caller sized it wrongly).
  std::span<int8_t> take(std::size_t bytes);

  std::size_t capacity() const { return capacity_; }
  std::size_t used() const { return used_; }
  // Bytes advised MADV_HUGEPAGE (0 when not asked, or when the kernel refused the advice).
  std::size_t huge_advised() const { return huge_advised_; }

  static std::size_t round_up(std::size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

 private:
  HugeAlignedMapping map_;  // the blocks, from its 2 MB-aligned start
  std::size_t capacity_ = 0, used_ = 0, huge_advised_ = 0;
};

// An arena sized for the int8 weight matrices of `slice` of a model with `config` (each one's
// GemvMatrix::host_weight_bytes), and a placer that hands out its blocks for
// weights::read_qllama_slice. After the read, check_filled says whether every byte was placed.
struct PlacedWeights {
  std::shared_ptr<WeightArena> arena;
  weights::WeightPlacer place;
  // std::logic_error unless the reader took exactly the arena's capacity.
  void check_filled() const;
};
PlacedWeights weight_arena_for(const weights::ModelConfig &config, const weights::LlamaSlice &slice,
                               bool huge);

// Whether weights go on huge pages: yes unless MCUEMU_HUGE_PAGES is "off"; any value but "on" or
// "off" is an error (std::invalid_argument naming the variable and the value).
bool huge_pages_from_env();

}  // namespace mcuemu::runtime
