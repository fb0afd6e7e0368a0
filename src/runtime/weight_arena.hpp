// Host memory for a chip's weight matrices, on transparent huge pages where the host gives them.
//
// A rank's GEMVs stream its whole weight slice once per token. With 4 KB pages that is one page
// walk per 4 KB of weights, and on the 2-core reference VM (a PVM guest without PCID) every
// context switch empties the TLB, so with four ranks per core the walks start cold at every turn.
// On 2 MB pages a rank's slice of tinyllama-42m (~5 MB) needs a few TLB entries instead of ~1300.
// Measured on that VM (interleaved runs, 256 steps; see docs/host-speed.md, session 9): one chip
// 0.271 -> 0.243 s of kernels (+12-15 % tokens/s), eight chips a few per cent.
//
// The arena is one anonymous mapping sized exactly for the matrices it will hold, its start
// aligned to 2 MB. Once they are in, only the whole 2 MB pages it spans are made huge: the rest
// stays on 4 KB pages, so the resident memory is what the weights need and no more (a huge page
// that the weights filled only in part would be resident in full). Whether the kernel really backs
// the advised part with huge pages depends on the host's transparent-huge-page setting
// (`madvise` or `always`; `never` leaves 4 KB pages): the run's summary reports the huge-page
// bytes each rank got. MCUEMU_HUGE_PAGES=off keeps 4 KB pages (for comparison). The layout of
// the weights, and every number the emulator gives, do not depend on any of this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mcuemu::runtime {

class WeightArena {
 public:
  static constexpr std::size_t kHugePage = std::size_t(2) << 20;
  static constexpr std::size_t kAlign = 64;  // every block starts on a cache line

  // Room for `bytes` of blocks (each rounded up to kAlign: see round_up). `huge`: make_huge
  // advises the whole huge pages it spans. Throws std::bad_alloc if the mapping fails.
  WeightArena(std::size_t bytes, bool huge);
  ~WeightArena();
  WeightArena(const WeightArena &) = delete;
  WeightArena &operator=(const WeightArena &) = delete;

  // A block of `bytes`, kAlign-aligned, that lives as long as the arena (std::length_error if
  // the arena has no room left: the caller sized it wrongly).
  std::span<int8_t> take(std::size_t bytes);

  std::size_t capacity() const { return capacity_; }
  std::size_t used() const { return used_; }
  // Once the blocks are written: the whole huge pages advised MADV_HUGEPAGE and collapsed into
  // huge pages now (MADV_COLLAPSE, Linux 6.1; else khugepaged does it in the background). Not
  // before: a huge page is resident whole from its first byte written, while the weights copied
  // into it are still held elsewhere (2 MB more at the peak per rank, a memory target).
  void make_huge();
  // Bytes advised MADV_HUGEPAGE (0 before make_huge, when not asked, or when refused).
  std::size_t huge_advised() const { return huge_advised_; }

  static std::size_t round_up(std::size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

 private:
  void *map_ = nullptr;  // the whole mapping (2 MB more than capacity, for the alignment)
  std::size_t map_bytes_ = 0;
  int8_t *base_ = nullptr;  // 2 MB-aligned start of the blocks
  std::size_t capacity_ = 0, used_ = 0, huge_advised_ = 0;
  bool huge_ = false;
};

// Whether weights go on huge pages: yes unless MCUEMU_HUGE_PAGES is "off"; any value but "on" or
// "off" is an error (std::invalid_argument naming the variable and the value).
bool huge_pages_from_env();

}  // namespace mcuemu::runtime
