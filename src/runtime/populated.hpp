// Memory whose pages are all made present at once, for the buffers a run keeps growing.
//
// The first write to a fresh page is a page fault. On the 2-core reference VM one costs 11-16 us
// (measured: 1000 pages written one by one), about as long as a cost-only chip takes to price a
// decode step; when the kernel populates a whole mapping in one call (MAP_POPULATE) it is about
// 2 us a page. So allocations of at least kPopulateBytes are mapped populated (std::bad_alloc if
// the mapping fails); smaller ones come from operator new.
#pragma once

#include <cstddef>
#include <new>

namespace mcuemu::runtime {

inline constexpr std::size_t kPopulateBytes = 16 * 1024;
inline constexpr std::size_t kHugePage = std::size_t{2} << 20;  // a transparent huge page (x86-64)

// An anonymous read-write mapping of `bytes` rounded up to whole 4 KB pages, starting on a 2 MB
// boundary (huge pages must be aligned): 2 MB more of address space is mapped and the part
// outside [data(), data() + size()) is never touched, so never resident. Nothing is made
// present here. Unmapped when destroyed; `bytes` = 0 maps nothing. std::bad_alloc if the
// mapping fails. Serves the weight arena (weight_arena.hpp) and the populated region below.
class HugeAlignedMapping {
 public:
  explicit HugeAlignedMapping(std::size_t bytes);
  ~HugeAlignedMapping();
  HugeAlignedMapping(const HugeAlignedMapping &) = delete;
  HugeAlignedMapping &operator=(const HugeAlignedMapping &) = delete;

  char *data() const { return base_; }
  std::size_t size() const { return size_; }
  // Advises the whole 2 MB pages among the first `bytes` (at most size()) MADV_HUGEPAGE and
  // returns how many bytes that is: 0 when there is no whole page, or when the kernel refuses
  // the advice (no transparent huge pages: the memory stays on 4 KB pages, best effort).
  std::size_t advise_huge(std::size_t bytes);

 private:
  void *map_ = nullptr;  // the whole mapping
  std::size_t map_bytes_ = 0;
  char *base_ = nullptr;
  std::size_t size_ = 0;
};

// Bytes of memory, populated if there are at least kPopulateBytes; free with free_populated.
// After use_huge_page_region, from that region while it has room.
void *allocate_populated(std::size_t bytes);
void free_populated(void *p, std::size_t bytes);

// From now on, populated memory comes from one region of `bytes` (rounded up to 2 MB) on
// transparent huge pages, made present at once, while it has room; then as before. For the
// cost-only run, whose meter walks a few hundred KB of prices and queued ops at every step: on
// 4 KB pages, and with every context switch emptying the TLB (four ranks per core on the
// reference VM, a PVM guest without PCID), each step starts its page walks cold (measured:
// the cost-only loop ~9 % faster with them on one huge page; docs/host-speed.md, session 9).
// Memory taken from the region is not handed back before the process ends (free_populated
// forgets it): the region serves what a run keeps (price chunks, queued-op chunks), and its
// pages are resident anyway. Process-wide, set up once (later calls change nothing); best
// effort: without transparent huge pages the region is populated 4 KB pages.
void use_huge_page_region(std::size_t bytes);
// Bytes of the region taken so far, and its size (0 before use_huge_page_region).
std::size_t huge_page_region_used();
std::size_t huge_page_region_size();

// Makes about `bytes` of the heap present now, so that the small allocations that follow
// (operator new below malloc's mmap threshold: map nodes, strings) take pages already there
// instead of faulting them in one by one: the heap is grown by blocks of 64 KB, made present
// with one madvise(MADV_POPULATE_WRITE), and handed back to malloc, which keeps them (its trim
// threshold is raised above them). Best effort: on a kernel without MADV_POPULATE_WRITE the
// pages come one fault at a time later, as without it.
void reserve_heap(std::size_t bytes);

// A std::allocator that takes its memory from allocate_populated (for std::vector).
template <class T>
struct PopulatedAllocator {
  using value_type = T;
  PopulatedAllocator() = default;
  template <class U>
  PopulatedAllocator(const PopulatedAllocator<U> &) {}
  T *allocate(std::size_t n) { return static_cast<T *>(allocate_populated(n * sizeof(T))); }
  void deallocate(T *p, std::size_t n) { free_populated(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const PopulatedAllocator<U> &) const {
    return true;
  }
};

}  // namespace mcuemu::runtime
