#include "runtime/populated.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace mcuemu::runtime {

namespace {

constexpr std::size_t kHugePage = std::size_t(2) << 20;

struct Region {
  std::mutex mutex;
  char *base = nullptr;
  std::size_t size = 0, used = 0;
  bool holds(const void *p) const {
    const char *c = static_cast<const char *>(p);
    return base && c >= base && c < base + size;
  }
};

Region &region() {
  static Region r;
  return r;
}

}  // namespace

void use_huge_page_region(std::size_t bytes) {
  Region &r = region();
  std::lock_guard lock(r.mutex);
  if (r.base || bytes == 0) return;
  const std::size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // 2 MB more than the region, to start it on a huge-page boundary (the rest is never touched).
  void *p =
      ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;  // best effort: populated memory comes as before
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  char *base = reinterpret_cast<char *>((start + kHugePage - 1) / kHugePage * kHugePage);
  ::madvise(base, size, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
  if (::madvise(base, size, MADV_POPULATE_WRITE) != 0)
#endif
    for (std::size_t i = 0; i < size; i += 4096) base[i] = 0;
  r.base = base;
  r.size = size;
}

std::size_t huge_page_region_used() {
  Region &r = region();
  std::lock_guard lock(r.mutex);
  return r.used;
}

std::size_t huge_page_region_size() {
  Region &r = region();
  std::lock_guard lock(r.mutex);
  return r.size;
}

void *allocate_populated(std::size_t bytes) {
  Region &r = region();
  {
    std::lock_guard lock(r.mutex);
    const std::size_t need = (bytes + 63) / 64 * 64;  // cache lines, like operator new's blocks
    if (r.base && need <= r.size - r.used) {
      void *p = r.base + r.used;
      r.used += need;
      return p;
    }
  }
  if (bytes >= kPopulateBytes) {
    void *p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
  }
  return ::operator new(bytes);
}

void free_populated(void *p, std::size_t bytes) {
  Region &r = region();
  {
    std::lock_guard lock(r.mutex);
    if (r.holds(p)) return;  // kept until the process ends (use_huge_page_region)
  }
  if (bytes >= kPopulateBytes)
    ::munmap(p, bytes);
  else
    ::operator delete(p);
}

void reserve_heap(std::size_t bytes) {
  // Below malloc's mmap threshold (128 KB unless set): from the heap. malloc writes each block's
  // header, one fault per block; madvise makes the rest present in one call.
  constexpr std::size_t kBlock = 64 * 1024;
  const std::size_t n = (bytes + kBlock - 1) / kBlock;
  // Freed blocks merge into the top of the heap; keep it rather than give it back.
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::max<std::size_t>(2 * n * kBlock, 1 << 20)));
  std::vector<void *> blocks;
  blocks.reserve(n);
  auto lo = UINTPTR_MAX, hi = uintptr_t{0};
  for (std::size_t i = 0; i < n; ++i) {
    void *p = std::malloc(kBlock);
    if (!p) break;
    blocks.push_back(p);
    lo = std::min(lo, reinterpret_cast<uintptr_t>(p));
    hi = std::max(hi, reinterpret_cast<uintptr_t>(p) + kBlock);
  }
#ifdef MADV_POPULATE_WRITE
  const uintptr_t page = 4096, a = (lo + page - 1) & ~(page - 1), b = hi & ~(page - 1);
  // Contiguous when the heap grew for them (the usual case); otherwise each block alone.
  if (a < b && b - a <= 2 * n * kBlock)
    madvise(reinterpret_cast<void *>(a), b - a, MADV_POPULATE_WRITE);
#endif
  for (void *p : blocks) std::free(p);
}

}  // namespace mcuemu::runtime
