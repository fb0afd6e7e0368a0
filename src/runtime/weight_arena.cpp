#include "runtime/weight_arena.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mcuemu::runtime {

WeightArena::WeightArena(std::size_t bytes, bool huge) : capacity_(bytes) {
  const std::size_t page = 4096;
  const std::size_t span = (bytes + page - 1) / page * page;
  if (span == 0) return;
  // Map 2 MB more than needed and start the blocks at the first 2 MB boundary: huge pages must
  // be aligned. The spare part is address space only (never touched, never resident).
  map_bytes_ = span + kHugePage;
  map_ = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw std::bad_alloc();
  }
  const auto start = reinterpret_cast<std::uintptr_t>(map_);
  base_ = reinterpret_cast<int8_t *>((start + kHugePage - 1) / kHugePage * kHugePage);
  huge_ = huge;
}

void WeightArena::make_huge() {
  const std::size_t whole = capacity_ / kHugePage * kHugePage;
  if (!huge_ || whole == 0 || huge_advised_ == whole) return;
  // Best effort: a kernel without transparent huge pages refuses the advice (EINVAL), and the
  // weights stay on 4 KB pages, as they would without the arena.
  if (::madvise(base_, whole, MADV_HUGEPAGE) != 0) return;
  huge_advised_ = whole;
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1 (asm-generic/mman-common.h); older glibc headers lack it
#endif
  // Now rather than when khugepaged comes by (it scans every 10 s by default). A kernel before
  // 6.1 refuses it, and one short of huge pages may fail it: khugepaged then does it later.
  ::madvise(base_, whole, MADV_COLLAPSE);
}

WeightArena::~WeightArena() {
  if (map_) ::munmap(map_, map_bytes_);
}

std::span<int8_t> WeightArena::take(std::size_t bytes) {
  const std::size_t need = round_up(bytes);
  if (need > capacity_ - used_)
    throw std::length_error(
        fmt::format("WeightArena: a block of {} bytes does not fit ({} of {} bytes taken)", bytes,
                    used_, capacity_));
  std::span<int8_t> block(base_ + used_, bytes);
  used_ += need;
  return block;
}

bool huge_pages_from_env() {
  const char *v = std::getenv("MCUEMU_HUGE_PAGES");
  if (!v || !*v || std::string_view(v) == "on") return true;
  if (std::string_view(v) == "off") return false;
  throw std::invalid_argument(
      fmt::format("MCUEMU_HUGE_PAGES={}: expected on or off", std::string(v)));
}

}  // namespace mcuemu::runtime
