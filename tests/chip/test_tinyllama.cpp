// The acceptance test: build a chip from each profile, place the TinyLlama-42M shard of
// 1 chip and of 8 chips with the real tensor sizes, and price a GEMV from on-chip memory and
// from L3. The numbers printed here are the ones reported in experiments/hw/README.md.
//
// The tensor list is built here because model code comes in a later issue (src/model will own
// the partition plan; this is the same arithmetic, kept small).
#include <gtest/gtest.h>

#include <iostream>

#include "chip/chip.hpp"
#include "chip/placement.hpp"
#include "test_util.hpp"

namespace mcuemu::chip {
namespace {

// ---------------------------------------------------------------------------------------------
// TinyLlama-42M = llama2.c stories42M (REFERENCES.md 3.1), int8 weights (1 B per parameter).
// ---------------------------------------------------------------------------------------------
struct TinyLlama42M {
  std::int64_t dim = 512;
  std::int64_t n_layers = 8;
  std::int64_t n_heads = 8;
  std::int64_t head_dim = 64;
  std::int64_t hidden_dim = 1376;
  std::int64_t vocab = 32000;
  std::int64_t norm_weight_bytes = 4;  // RMSNorm weights are int32 per channel (iRMSNorm)
};

// Per-chip activation buffers (int8 unless noted) for one autoregressive token.
std::int64_t activation_bytes(const TinyLlama42M &m, std::int64_t n_chips, std::int64_t ctx) {
  const std::int64_t heads = m.n_heads / n_chips;
  const std::int64_t x = m.dim;                           // residual stream
  const std::int64_t xb = m.dim;                          // normalised input
  const std::int64_t qkv = 3 * heads * m.head_dim;        // this chip's q, k, v
  const std::int64_t att_out = heads * m.head_dim;        // attention output
  const std::int64_t partial = 4 * m.dim;                 // int32 partial sums (all-reduce)
  const std::int64_t ffn = 2 * (m.hidden_dim / n_chips);  // gate and up slices
  const std::int64_t scores = 4 * heads * ctx;            // int32 attention scores
  const std::int64_t logits = 4 * (m.vocab / n_chips);    // int32 logits of the slice
  return x + xb + qkv + att_out + partial + ffn + scores + logits;
}

// The tensors of chip `rank` of `n_chips` (n_chips divides the heads): weights in the order
// they should claim on-chip memory (norms, then blocks layer by layer, then the embedding /
// classifier slice), then the KV cache of its heads for `ctx` tokens and its activations.
std::vector<TensorSpec> tinyllama_shard(std::int64_t n_chips, std::int64_t ctx,
                                        const TinyLlama42M &m = {}) {
  const std::int64_t heads = m.n_heads / n_chips;
  const std::int64_t qkv_cols = heads * m.head_dim;      // columns of Wq, Wk, Wv (rows of Wo)
  const std::int64_t ffn_cols = m.hidden_dim / n_chips;  // columns of W1, W3 (rows of W2)
  std::vector<TensorSpec> t;
  for (std::int64_t l = 0; l < m.n_layers; ++l) {
    t.push_back(
        {"attention_norm.l" + std::to_string(l), Tag::weights, m.dim * m.norm_weight_bytes});
    t.push_back({"ffn_norm.l" + std::to_string(l), Tag::weights, m.dim * m.norm_weight_bytes});
  }
  t.push_back({"final_norm", Tag::weights, m.dim * m.norm_weight_bytes});
  for (std::int64_t l = 0; l < m.n_layers; ++l) {
    const std::string s = ".l" + std::to_string(l);
    t.push_back({"wq" + s, Tag::weights, qkv_cols * m.dim});  // (dim -> heads*head_dim)
    t.push_back({"wk" + s, Tag::weights, qkv_cols * m.dim});
    t.push_back({"wv" + s, Tag::weights, qkv_cols * m.dim});
    t.push_back({"wo" + s, Tag::weights, m.dim * qkv_cols});  // (heads*head_dim -> dim)
    t.push_back({"w1" + s, Tag::weights, ffn_cols * m.dim});  // gate (dim -> hidden slice)
    t.push_back({"w3" + s, Tag::weights, ffn_cols * m.dim});  // up
    t.push_back({"w2" + s, Tag::weights, m.dim * ffn_cols});  // down (hidden slice -> dim)
  }
  // Shared embedding / classifier, vocab-sliced.
  t.push_back({"embedding", Tag::weights, (m.vocab / n_chips) * m.dim});
  for (std::int64_t l = 0; l < m.n_layers; ++l) {
    // K and V of this chip's heads, int8, ctx positions.
    t.push_back({"kv_cache.l" + std::to_string(l), Tag::kv_cache, 2 * qkv_cols * ctx});
  }
  t.push_back({"activations", Tag::activations, activation_bytes(m, n_chips, ctx)});
  return t;
}

bool is_block_weight(const std::string &name) {
  return name.rfind("wq", 0) == 0 || name.rfind("wk", 0) == 0 || name.rfind("wv", 0) == 0 ||
         name.rfind("wo", 0) == 0 || name.rfind("w1", 0) == 0 || name.rfind("w2", 0) == 0 ||
         name.rfind("w3", 0) == 0;
}

std::int64_t block_weight_bytes(const std::vector<TensorSpec> &t) {
  std::int64_t sum = 0;
  for (const TensorSpec &s : t) {
    if (is_block_weight(s.name)) sum += s.bytes;
  }
  return sum;
}

void print_placement(const std::string &profile, std::int64_t n, const Chip &chip,
                     const Placement &p) {
  std::cout << "[ tinyllama ] " << profile << " N=" << n << ":";
  for (Level l : {Level::L2, Level::MRAM, Level::L3}) {
    std::cout << "  " << level_name(l) << " weights " << p.bytes_in(l, Tag::weights)
              << " B (+ other " << p.bytes_in(l) - p.bytes_in(l, Tag::weights) << " B), used "
              << chip.memory()[l].used() << "/" << chip.memory()[l].capacity() << ";";
  }
  std::int64_t blocks_on_chip = 0;
  for (const Allocation &a : p.tensors) {
    if (is_block_weight(a.name) && on_chip(a.level)) blocks_on_chip += a.bytes;
  }
  std::cout << "  block weights on chip " << blocks_on_chip << " B; embedding in "
            << level_name(p.level_of("embedding")) << "\n";
}

constexpr std::int64_t kCtx = 128;  // KV cache sized for 128 positions

TEST(TinyLlama, ShardSizesMatchReferences) {
  const auto one = tinyllama_shard(1, kCtx);
  const auto eight = tinyllama_shard(8, kCtx);
  EXPECT_EQ(block_weight_bytes(one), 25296896);   // REFERENCES.md: 25,296,896 params
  EXPECT_EQ(block_weight_bytes(eight), 3162112);  // 3.16 MB per chip
  std::int64_t emb1 = 0, emb8 = 0;
  for (const auto &s : one) emb1 += s.name == "embedding" ? s.bytes : 0;
  for (const auto &s : eight) emb8 += s.name == "embedding" ? s.bytes : 0;
  EXPECT_EQ(emb1, 16384000);
  EXPECT_EQ(emb8, 2048000);
  // KV cache: 8 KiB per token for the whole model, 1 KiB per token per chip at N = 8.
  std::int64_t kv8 = 0;
  for (const auto &s : eight) kv8 += s.tag == Tag::kv_cache ? s.bytes : 0;
  EXPECT_EQ(kv8, 1024 * kCtx);
}

TEST(TinyLlama, OneChipMustStreamFromL3) {
  for (const char *name : {"gap9", "siracusa"}) {
    Chip chip(0, load_profile(name, {}, test::hw_dir()));
    const auto tensors = tinyllama_shard(1, kCtx);
    const Placement p = place_tensors(chip, tensors);
    print_placement(name, 1, chip, p);
    EXPECT_GT(p.bytes_in(Level::L3, Tag::weights), 0) << name;
    EXPECT_EQ(p.level_of("embedding"), Level::L3) << name;
    EXPECT_EQ(p.level_of("kv_cache.l0"), Level::L2) << name;
    // Everything placed; nothing on chip beyond the caps.
    std::int64_t total = 0;
    for (const auto &t : tensors) total += t.bytes;
    EXPECT_EQ(p.bytes_in(Level::L2) + p.bytes_in(Level::MRAM) + p.bytes_in(Level::L3), total);
    for (Level l : kAllLevels) {
      EXPECT_LE(chip.memory()[l].used(), chip.memory()[l].capacity()) << name;
    }
  }
}

TEST(TinyLlama, EightChipsGap9KeepsTheBlocksOnChipButNotTheEmbedding) {
  for (int rank = 0; rank < 8; ++rank) {
    Chip chip(rank, load_profile("gap9", {}, test::hw_dir()));
    const Placement p = place_tensors(chip, tinyllama_shard(8, kCtx));
    if (rank == 0) print_placement("gap9", 8, chip, p);
    for (const Allocation &a : p.tensors) {
      if (a.tag == Tag::weights && a.name != "embedding") {
        EXPECT_TRUE(on_chip(a.level)) << a.name << " of chip " << rank;
      }
    }
    // 2.05 MB of embedding slice cannot join 3.16 MB of blocks in 1.5 MB L2 + 2 MiB MRAM.
    EXPECT_EQ(p.level_of("embedding"), Level::L3);
    EXPECT_EQ(p.bytes_in(Level::L3), 2048000);
  }
}

TEST(TinyLlama, EightChipsSiracusaKeepsEverythingOnChip) {
  Chip chip(0, load_profile("siracusa", {}, test::hw_dir()));
  const Placement p = place_tensors(chip, tinyllama_shard(8, kCtx));
  print_placement("siracusa", 8, chip, p);
  EXPECT_EQ(p.bytes_in(Level::L3), 0);
  EXPECT_NE(p.level_of("embedding"), Level::L3);
}

TEST(TinyLlama, KvCacheOfOneGap9SpillsToL3BeyondL2) {
  // On one GAP9, 1.5 MB of L2 holds ~170 positions of the 8 KiB-per-token cache: with a
  // 256-token context the per-layer caches fill L2 first and the rest spill to L3 (the
  // attention then streams them from there); at 128 positions all of them stay in L2.
  Chip chip(0, load_profile("gap9", {}, test::hw_dir()));
  const Placement p = place_tensors(chip, tinyllama_shard(1, 256));
  int in_l2 = 0, in_l3 = 0;
  for (const Allocation &a : p.tensors)
    if (a.tag == Tag::kv_cache) (a.level == Level::L2 ? in_l2 : in_l3) += 1;
  EXPECT_GT(in_l2, 0);
  EXPECT_GT(in_l3, 0);
  EXPECT_EQ(in_l2 + in_l3, 8);
  Chip short_ctx(0, load_profile("gap9", {}, test::hw_dir()));
  const Placement q = place_tensors(short_ctx, tinyllama_shard(1, 128));
  for (const Allocation &a : q.tensors)
    if (a.tag == Tag::kv_cache) {
      EXPECT_EQ(a.level, Level::L2) << a.name;
    }
}

TEST(TinyLlama, GemvFromOnChipMemoryAndFromL3) {
  for (const char *name : {"gap9", "siracusa"}) {
    const CostModel cm(load_profile(name, {}, test::hw_dir()));
    const Profile &prof = cm.profile();
    // N = 8: W1 slice, 172 x 512 (88,064 B); N = 1: W1, 1376 x 512 (704,512 B).
    for (std::int64_t out : {std::int64_t{172}, std::int64_t{1376}}) {
      const OpCost l2 = cm.price_gemv(out, 512, Level::L2);
      const OpCost mram = cm.price_gemv(out, 512, Level::MRAM);
      const OpCost l3 = cm.price_gemv(out, 512, Level::L3);
      std::cout << "[ tinyllama ] " << name << " gemv " << out << "x512: L2 " << l2.cycles
                << " cycles (" << prof.ns_from_cycles(static_cast<double>(l2.cycles)) / 1e3
                << " us), MRAM " << mram.cycles << " ("
                << prof.ns_from_cycles(static_cast<double>(mram.cycles)) / 1e3 << " us), L3 "
                << l3.cycles << " (" << prof.ns_from_cycles(static_cast<double>(l3.cycles)) / 1e3
                << " us); energy pJ L2 " << l2.energy.total_pj() << ", L3 " << l3.energy.total_pj()
                << "\n";
      const double bytes = static_cast<double>(out * 512);
      // From L2 the 8 B/cycle DMA bounds the GEMV; from L3 the HyperBus does.
      EXPECT_GE(static_cast<double>(l2.cycles), bytes / 8);
      EXPECT_GE(static_cast<double>(l3.cycles), bytes / cm.stream_bytes_per_cycle(Level::L3));
      EXPECT_GT(l3.cycles, 8 * l2.cycles);
      EXPECT_GE(mram.cycles, l2.cycles);
      EXPECT_GT(l3.energy.level_pj[Level::L3], 0);
      EXPECT_EQ(l2.energy.level_pj[Level::L3], 0);
    }
  }
}

}  // namespace
}  // namespace mcuemu::chip
