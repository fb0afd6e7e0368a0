#include "runtime/populated.hpp"

#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace mcuemu::runtime {

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
