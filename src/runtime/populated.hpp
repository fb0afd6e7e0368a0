// Memory whose pages are all made present at once, for the buffers a run keeps growing.
//
// The first write to a fresh page is a page fault. On the 2-core reference VM one costs 11-16 us
// (measured: 1000 pages written one by one), about as long as a cost-only chip takes to price a
// decode step; when the kernel populates a whole mapping in one call (MAP_POPULATE) it is about
// 2 us a page. So allocations of at least kPopulateBytes are mapped populated (std::bad_alloc if
// the mapping fails); smaller ones come from operator new.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>

namespace mcuemu::runtime {

inline constexpr std::size_t kPopulateBytes = 16 * 1024;

// Bytes of memory, populated if there are at least kPopulateBytes; free with free_populated.
inline void *allocate_populated(std::size_t bytes) {
  if (bytes >= kPopulateBytes) {
    void *p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
  }
  return ::operator new(bytes);
}

inline void free_populated(void *p, std::size_t bytes) {
  if (bytes >= kPopulateBytes)
    ::munmap(p, bytes);
  else
    ::operator delete(p);
}

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
