#include "runtime/weight_arena.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

#include "runtime/env.hpp"
#include "runtime/kernels.hpp"

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
  const std::size_t whole = bytes / kHugePage * kHugePage;
  // Best effort: a kernel without transparent huge pages refuses the advice (EINVAL), and the
  // weights stay on 4 KB pages, as they would without the arena.
  if (huge && whole > 0 && ::madvise(base_, whole, MADV_HUGEPAGE) == 0) huge_advised_ = whole;
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

PlacedWeights weight_arena_for(const weights::ModelConfig &c, const weights::LlamaSlice &slice,
                               bool huge) {
  const auto bytes = [](int out, int in) {
    return WeightArena::round_up(kernels::GemvMatrix::host_weight_bytes(
        static_cast<std::size_t>(out), static_cast<std::size_t>(in)));
  };
  const int D = c.dim, heads = slice.head_rows_end - slice.head_rows_begin,
            ffn = slice.ffn_end - slice.ffn_begin, vocab = slice.vocab_end - slice.vocab_begin;
  const std::size_t per_layer =
      3 * bytes(heads, D) + bytes(D, heads) + 2 * bytes(ffn, D) + bytes(D, ffn);
  PlacedWeights p;
  p.arena = std::make_shared<WeightArena>(
      static_cast<std::size_t>(c.n_layers) * per_layer + bytes(vocab, D), huge);
  p.place = [arena = p.arena.get()](std::size_t out, std::size_t in) {
    return arena->take(kernels::GemvMatrix::host_weight_bytes(out, in));
  };
  return p;
}

void PlacedWeights::check_filled() const {
  if (arena->used() != arena->capacity())
    throw std::logic_error(
        fmt::format("the weight arena was sized for {} bytes, the reader placed {}",
                    arena->capacity(), arena->used()));
}

bool huge_pages_from_env() {
  return on_off_from_env("MCUEMU_HUGE_PAGES");
}

}  // namespace mcuemu::runtime
