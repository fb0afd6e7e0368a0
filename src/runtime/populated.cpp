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

struct Region {
  std::mutex mutex;
  HugeAlignedMapping *mapping = nullptr;  // kept until the process ends (never unmapped)
  std::size_t used = 0;
  char *base() const { return mapping ? mapping->data() : nullptr; }
  std::size_t size() const { return mapping ? mapping->size() : 0; }
  bool holds(const void *p) const {
    const char *c = static_cast<const char *>(p);
    return mapping && c >= base() && c < base() + size();
  }
};

Region &region() {
  static Region r;
  return r;
}

}  // namespace

HugeAlignedMapping::HugeAlignedMapping(std::size_t bytes) {
  constexpr std::size_t page = 4096;
  size_ = (bytes + page - 1) / page * page;
  if (size_ == 0) return;
  map_bytes_ = size_ + kHugePage;  // room to start at the first 2 MB boundary
  map_ = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw std::bad_alloc();
  }
  const auto start = reinterpret_cast<std::uintptr_t>(map_);
  base_ = reinterpret_cast<char *>((start + kHugePage - 1) / kHugePage * kHugePage);
}

HugeAlignedMapping::~HugeAlignedMapping() {
  if (map_) ::munmap(map_, map_bytes_);
}

std::size_t HugeAlignedMapping::advise_huge(std::size_t bytes) {
  const std::size_t whole = std::min(bytes, size_) / kHugePage * kHugePage;
  if (whole == 0 || ::madvise(base_, whole, MADV_HUGEPAGE) != 0) return 0;
  return whole;
}

void use_huge_page_region(std::size_t bytes) {
  Region &r = region();
  std::lock_guard lock(r.mutex);
  if (r.mapping || bytes == 0) return;
  const std::size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  HugeAlignedMapping *m = nullptr;
  try {
    m = new HugeAlignedMapping(size);
  } catch (const std::bad_alloc &) {
    return;  // best effort: populated memory comes as before
  }
  m->advise_huge(size);
  char *base = m->data();
#ifdef MADV_POPULATE_WRITE
  if (::madvise(base, size, MADV_POPULATE_WRITE) != 0)
#endif
    for (std::size_t i = 0; i < size; i += 4096) base[i] = 0;
  r.mapping = m;
}

std::size_t huge_page_region_used() {
  Region &r = region();
  std::lock_guard lock(r.mutex);
  return r.used;
}

std::size_t huge_page_region_size() {
  Region &r = region();
  std::lock_guard lock(r.mutex);
  return r.size();
}

void *allocate_populated(std::size_t bytes) {
  Region &r = region();
  {
    std::lock_guard lock(r.mutex);
    const std::size_t need = (bytes + 63) / 64 * 64;  // cache lines, like operator new's blocks
    if (r.mapping && need <= r.size() - r.used) {
      void *p = r.base() + r.used;
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
