#include "runtime/weight_arena.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "runtime/env.hpp"
#include "runtime/kernels.hpp"

namespace mcuemu::runtime {

WeightArena::WeightArena(std::size_t bytes, bool huge) : map_(bytes), capacity_(bytes) {
  // Only the whole 2 MB pages: the rest stays on 4 KB pages, resident only as far as written.
  if (huge) huge_advised_ = map_.advise_huge(bytes);
}

std::span<int8_t> WeightArena::take(std::size_t bytes) {
  const std::size_t need = round_up(bytes);
  if (need > capacity_ - used_)
    throw std::length_error(
        fmt::format("WeightArena: a block of {} bytes does not fit ({} of {} bytes taken)", bytes,
                    used_, capacity_));
  std::span<int8_t> block(reinterpret_cast<int8_t *>(map_.data()) + used_, bytes);
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
