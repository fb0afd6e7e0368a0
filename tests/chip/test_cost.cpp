// Pricing checked against values computed by hand (the arithmetic is in the comments).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "chip/cost.hpp"
#include "test_util.hpp"

namespace mcuemu::chip {
namespace {

using test::error_of;
using ::testing::HasSubstr;

// The GAP9 profile with round numbers, so that costs can be computed by hand:
// 100 MHz; L1 10000 B; L2->L1 8 B/cycle + 10; MRAM (via L2) 200 MB/s = 2 B/cycle + 20;
// L3 100 MB/s = 1 B/cycle + 50; GEMV 16 MAC/cycle, GEMM 32; launch 100 cycles;
// pJ: MAC 1, instruction 1, L1 1, L2 2, MRAM 10, L3 100, link 50; link 200 MB/s + 1000 ns.
Profile round_profile(std::vector<std::string> extra = {}) {
  std::vector<std::string> set = {
      "chip.freq_mhz=100",
      "chip.cores=8",
      "compute.gemv_macs_per_cycle=16",
      "compute.gemm_macs_per_cycle=32",
      "compute.op_overhead_cycles=100",
      "kernel_cycles.rmsnorm=16",
      "memory.l1_bytes=10000",
      "memory.l1_reserved_bytes=0",
      "dma.l2_l1_bytes_per_cycle=8",
      "dma.l2_l1_setup_cycles=10",
      "dma.mram_mb_per_s=200",
      "dma.mram_setup_cycles=20",
      "dma.mram_via_l2=1",
      "dma.l3_peak_mb_per_s=100",
      "dma.l3_efficiency=1",
      "dma.l3_setup_cycles=50",
      "energy.mac_pj=1",
      "energy.instr_pj=1",
      "energy.l1_pj_per_byte=1",
      "energy.l2_pj_per_byte=2",
      "energy.mram_pj_per_byte=10",
      "energy.l3_pj_per_byte=100",
      "energy.link_pj_per_byte=50",
      "link.mb_per_s=200",
      "link.latency_ns=1000",
  };
  set.insert(set.end(), extra.begin(), extra.end());
  return load_profile("gap9", set, test::hw_dir());
}

TEST(Cost, GemvFromL2OneTileByHand) {
  const CostModel cm(round_profile());
  // out 16, in 256, one tile (m_t 1, n_t 16): L1 use 256 + 2*256*16 + 2*16 = 8480 <= 10000.
  // first load: W 10 + 4096/8 = 522, x 10 + 256/8 = 42      -> 564
  // step 0:     max(compute 4096/16 = 256, no DMA)           -> 256
  // store:      10 + 16/8                                     -> 12
  // total:      100 + 564 + 256 + 12                          =  932
  const OpCost c = cm.price_matmul_tiled(OpKind::gemv, 1, 16, 256, Level::L2, 1, 1, 16);
  EXPECT_EQ(c.cycles, 932);
  EXPECT_DOUBLE_EQ(c.compute_cycles, 256);
  EXPECT_DOUBLE_EQ(c.dma_cycles, 564 + 12);
  EXPECT_EQ(c.tiles, 1);
  EXPECT_EQ(c.macs, 4096);
  // Bytes: L2 reads W 4096 + x 256, writes y 16; L1 the same amounts.
  EXPECT_EQ(c.bytes[Level::L2], 4368);
  EXPECT_EQ(c.bytes[Level::L1], 4368);
  EXPECT_EQ(c.bytes[Level::L3], 0);
  EXPECT_DOUBLE_EQ(c.energy.compute_pj, 4096);
  EXPECT_DOUBLE_EQ(c.energy.level_pj[Level::L2], 8736);
  EXPECT_DOUBLE_EQ(c.energy.level_pj[Level::L1], 4368);
}

TEST(Cost, GemvFromL2FourTilesByHand) {
  const CostModel cm(round_profile());
  // n_t 4: tile in 1024 B (10 + 128 = 138), tile out 4 B (10 + 0.5 = 10.5), compute 64.
  // first: 138 + 42 = 180
  // j0: max(64, 138) = 138           (load tile 1)
  // j1: max(64, 138 + 10.5) = 148.5  (load tile 2, store tile 0)
  // j2: 148.5
  // j3: max(64, 10.5) = 64           (store tile 2)
  // store tile 3: 10.5
  // total: 100 + 180 + 138 + 148.5 + 148.5 + 64 + 10.5 = 789.5 -> 790
  const OpCost c = cm.price_matmul_tiled(OpKind::gemv, 1, 16, 256, Level::L2, 1, 1, 4);
  EXPECT_EQ(c.cycles, 790);
  EXPECT_DOUBLE_EQ(c.compute_cycles, 256);
  EXPECT_DOUBLE_EQ(c.dma_cycles, 180 + 138 + 148.5 + 148.5 + 10.5 + 10.5);
  EXPECT_EQ(c.tiles, 4);
  // The tiler keeps the fastest tiling, which is at least as fast as both hand-priced ones.
  const OpCost best = cm.price_gemv(16, 256, Level::L2);
  EXPECT_LE(best.cycles, 790);
  EXPECT_EQ(best.bytes[Level::L2], 4368);  // bytes do not depend on the tiling
}

TEST(Cost, GemvFromL3ByHand) {
  const CostModel cm(round_profile());
  // One tile: L3->L2 50 + 4096/1 = 4146, L2->L1 522, x 42 -> first 4710; 100 + 4710 + 256 + 12.
  const OpCost one = cm.price_matmul_tiled(OpKind::gemv, 1, 16, 256, Level::L3, 1, 1, 16);
  EXPECT_EQ(one.cycles, 5078);
  EXPECT_EQ(one.bytes[Level::L3], 4096);
  EXPECT_EQ(one.bytes[Level::L2], 2 * 4096 + 256 + 16);  // staged through L2: written and read
  EXPECT_EQ(one.bytes[Level::L1], 4368);
  EXPECT_DOUBLE_EQ(one.energy.level_pj[Level::L3], 409600);
  // Four tiles: the L3 hop (50 + 1024 = 1074) bounds every step that loads a tile.
  // first 1074 + 138 + 42 = 1254; j0..j2: 1074 each; j3: max(64, 10.5) = 64; store 10.5
  // total 100 + 1254 + 3 * 1074 + 64 + 10.5 = 4650.5 -> 4651
  const OpCost four = cm.price_matmul_tiled(OpKind::gemv, 1, 16, 256, Level::L3, 1, 1, 4);
  EXPECT_EQ(four.cycles, 4651);
}

TEST(Cost, GemvFromMramViaL2ByHand) {
  const CostModel cm(round_profile());
  // MRAM->L2 20 + 4096/2 = 2068, L2->L1 522, x 42: first 2632; total 100 + 2632 + 256 + 12.
  const OpCost c = cm.price_matmul_tiled(OpKind::gemv, 1, 16, 256, Level::MRAM, 1, 1, 16);
  EXPECT_EQ(c.cycles, 3000);
  EXPECT_EQ(c.bytes[Level::MRAM], 4096);
  EXPECT_DOUBLE_EQ(c.energy.level_pj[Level::MRAM], 40960);
  // Directly into L1 (Siracusa's path): MRAM->L1 20 + 2048, x 42: 100 + 2110 + 256 + 12.
  const CostModel direct(round_profile({"dma.mram_via_l2=0"}));
  const OpCost d = direct.price_matmul_tiled(OpKind::gemv, 1, 16, 256, Level::MRAM, 1, 1, 16);
  EXPECT_EQ(d.cycles, 2478);
  EXPECT_EQ(d.bytes[Level::L2], 256 + 16);  // only x and y touch L2
}

TEST(Cost, GemmByHand) {
  const CostModel cm(round_profile());
  // M 4, N 8, K 64, one block, one tile: W 10 + 512/8 = 74, A 10 + 256/8 = 42,
  // compute 2048/32 = 64, store 10 + 32/8 = 14: 100 + 116 + 64 + 14 = 294.
  const OpCost c = cm.price_matmul_tiled(OpKind::gemm, 4, 8, 64, Level::L2, 1, 4, 8);
  EXPECT_EQ(c.cycles, 294);
  EXPECT_EQ(c.macs, 2048);
  // Two blocks of 2 rows: each W 74 + A (10 + 16) + compute 32 + store (10 + 2) = 144;
  // W is streamed twice.
  const OpCost b = cm.price_matmul_tiled(OpKind::gemm, 4, 8, 64, Level::L2, 1, 2, 8);
  EXPECT_EQ(b.cycles, 100 + 2 * 144);
  EXPECT_EQ(b.bytes[Level::L2], 2 * 512 + 256 + 32);
  EXPECT_EQ(b.tiles, 2);
}

TEST(Cost, EltwiseByHand) {
  // rmsnorm: 16 core cycles per element / 8 cores = 2 cycles per element.
  const CostModel cm(round_profile());
  // 1 element: in 10 + 1/8, compute 2, out 10 + 1/8: 100 + 22.25 -> 123.
  EXPECT_EQ(cm.price_eltwise(OpKind::rmsnorm, 1).cycles, 123);
  // 100 elements with L1 = 400 B (at most 100 per tile, in + out double buffered). The tiler
  // tries 100, 50, 25, 13, 7, 4, 2, 1 per tile; 13 is fastest: 8 tiles (7 x 13 + 9), every
  // step compute-bound (26 > 11.625 + 11.625), so steps add up to 200:
  // 100 + first 11.625 + 200 + last store (10 + 9/8) = 322.75 -> 323.
  const CostModel small(round_profile({"memory.l1_bytes=400"}));
  const OpCost c = small.price_eltwise(OpKind::rmsnorm, 100);
  EXPECT_EQ(c.cycles, 323);
  EXPECT_EQ(c.tiles, 8);
  EXPECT_EQ(c.tile_cols, 13);
  EXPECT_DOUBLE_EQ(c.compute_cycles, 200);
  EXPECT_EQ(c.bytes[Level::L2], 200);
  EXPECT_DOUBLE_EQ(c.energy.compute_pj, 100 * 16 * 1.0);  // elements x cycles x pJ/instruction
  EXPECT_THAT(error_of([&] { cm.price_eltwise(OpKind::gemv, 10); }),
              HasSubstr("'gemv' is not an element-wise kernel"));
}

TEST(Cost, CopyAndLinkByHand) {
  const CostModel cm(round_profile());
  EXPECT_EQ(cm.price_copy(800, Level::L2, Level::L1).cycles, 110);    // 10 + 800/8
  EXPECT_EQ(cm.price_copy(1000, Level::L3, Level::L2).cycles, 1050);  // 50 + 1000/1, one transfer
  // L3 -> L1 in chunks of L1/2 = 5000 B: 5000, 5000, 2000.
  // chunk 0 through both hops: (50 + 5000) + (10 + 625) = 5685; chunk 1: max(5050, 635);
  // chunk 2: max(2050, 260): total 5685 + 5050 + 2050 = 12785.
  const OpCost c = cm.price_copy(12000, Level::L3, Level::L1);
  EXPECT_EQ(c.cycles, 12785);
  EXPECT_EQ(c.bytes[Level::L2], 24000);
  // Within L2 the data goes through L1 on the cluster DMA: (10 + 100) + (10 + 100).
  const OpCost l2 = cm.price_copy(800, Level::L2, Level::L2);
  EXPECT_EQ(l2.cycles, 220);
  EXPECT_EQ(l2.bytes[Level::L2], 1600);
  // 12000 B within L2 in chunks of 5000: the two hops share the cluster DMA, so later chunks
  // cost the sum of both: 2 x 635 + 2 x 635 + 2 x 260 = 3060.
  EXPECT_EQ(cm.price_copy(12000, Level::L2, Level::L2).cycles, 3060);
  EXPECT_EQ(cm.price_copy(800, Level::L1, Level::L1).cycles, 0);
  EXPECT_THAT(error_of([&] { cm.price_copy(10, Level::L2, Level::MRAM); }),
              HasSubstr("writing MRAM"));
  // Link: 1000 ns at 100 MHz = 100 cycles + 1000 B / 2 B per cycle = 600; 50 pJ/B.
  const OpCost l = cm.price_link(1000);
  EXPECT_EQ(l.cycles, 600);
  EXPECT_EQ(l.link_bytes, 1000);
  EXPECT_DOUBLE_EQ(l.energy.link_pj, 50000);
  EXPECT_DOUBLE_EQ(l.energy.level_pj[Level::L2], 2000);
}

TEST(Cost, PathsAndStreamRates) {
  const CostModel gap9(load_profile("gap9", {}, test::hw_dir()));
  EXPECT_EQ(gap9.path(Level::MRAM, Level::L1).size(), 2u);
  EXPECT_EQ(gap9.path(Level::L3, Level::L1).size(), 2u);
  EXPECT_DOUBLE_EQ(gap9.stream_bytes_per_cycle(Level::L2), 8);
  EXPECT_NEAR(gap9.stream_bytes_per_cycle(Level::MRAM), 320.0 / 370, 1e-12);
  EXPECT_NEAR(gap9.stream_bytes_per_cycle(Level::L3), 333 * 0.8 / 370, 1e-12);
  const CostModel sir(load_profile("siracusa", {}, test::hw_dir()));
  ASSERT_EQ(sir.path(Level::MRAM, Level::L1).size(), 1u);
  EXPECT_NEAR(sir.stream_bytes_per_cycle(Level::MRAM), 8, 1e-12);
}

TEST(Cost, Gap9GemvFromL2IsBoundByTheDmaAt8BytesPerCycle) {
  const CostModel cm(load_profile("gap9", {}, test::hw_dir()));
  const OpCost c = cm.price_gemv(512, 512, Level::L2);
  const double dma_bound = 512.0 * 512 / 8;  // 32768 cycles of weight transfer
  EXPECT_LT(c.compute_cycles, dma_bound);    // compute alone: 262144 / 12 = 21845
  EXPECT_GE(c.cycles, dma_bound);
  EXPECT_LT(c.cycles, dma_bound * 1.10);  // setups, first load, store, launch
  // From L3 the same GEMV is bound by 266.4 MB/s: 262144 B / 0.72 B/cycle ~ 364,000 cycles.
  const OpCost l3 = cm.price_gemv(512, 512, Level::L3);
  const double l3_bound = 512.0 * 512 / (333 * 0.8 / 370);
  EXPECT_GE(l3.cycles, l3_bound);
  EXPECT_LT(l3.cycles, l3_bound * 1.05);
}

// Prices over many tiles, bit for bit: the values the cost model gave before its tile loop was
// made faster (commit c14da8c, the full pipeline worked out tile by tile). The host-speed work
// must add the same numbers in the same order; any change to the model shows here first.
TEST(Cost, ManyTilesPricedBitForBitAsTileByTile) {
  struct Golden {
    const char *profile;
    OpCost cost;
    int64_t cycles;
    double compute, dma;
    int64_t tiles, tile_rows, tile_cols;
  };
  const Profile gap9 = load_profile("gap9", {}, test::hw_dir());
  const Profile sir = load_profile("siracusa", {}, test::hw_dir());
  const CostModel g(gap9), s(sir);
  const Golden golden[] = {
      {"gap9", g.price_gemm(1, 200, 64, Level::L2, 4), 2059, 0x1.9ce739ce739cfp+9, 0x1.d58p+10, 8,
       1, 25},
      {"gap9", g.price_gemm(1, 64, 259, Level::L3, 4), 25178, 0x1.0b5ad6b5ad6b6p+10,
       0x1.83f2638e38e38p+14, 4, 1, 16},
      {"gap9", g.price_gemv(1376, 512, Level::MRAM, 1), 821899, 0x1.caaaaaaaaaaaep+15,
       0x1.90bc3p+19, 28, 1, 50},
      {"gap9", g.price_gemm(12, 512, 512, Level::L2, 1), 203914, 0x1.8c6318c63189bp+17,
       0x1.5c14p+15, 512, 12, 1},
      {"gap9", g.price_eltwise(OpKind::softmax, 300), 1697, 0x1.89cp+10, 0x1.3ecp+10, 60, 0, 5},
      {"gap9", g.price_eltwise(OpKind::requant, 5000), 4505, 0x1.117p+12, 0x1.d4cp+11, 125, 0, 40},
      {"siracusa", s.price_gemm(1, 64, 259, Level::L3, 4), 24556, 0x1.0b5ad6b5ad6b6p+10,
       0x1.7a397ffffffffp+14, 4, 1, 16},
      {"siracusa", s.price_gemv(1376, 512, Level::MRAM, 1), 90293, 0x1.caaaaaaaaaaafp+15,
       0x1.5cb6p+16, 48, 1, 29},
  };
  for (const Golden &x : golden) {
    SCOPED_TRACE(::testing::Message()
                 << x.profile << " " << op_kind_name(x.cost.kind) << " " << x.cost.cycles);
    EXPECT_EQ(x.cost.cycles, x.cycles);
    EXPECT_EQ(x.cost.compute_cycles, x.compute);
    EXPECT_EQ(x.cost.dma_cycles, x.dma);
    EXPECT_EQ(x.cost.tiles, x.tiles);
    EXPECT_EQ(x.cost.tile_rows, x.tile_rows);
    EXPECT_EQ(x.cost.tile_cols, x.tile_cols);
  }
}

// The exhaustive searches below run over these cost models: both profiles with their own L2-L1
// setup, a slow one and a free one (where ties between tilings are likeliest).
template <typename Test>
void for_each_search_model(Test test) {
  for (const char *name : {"gap9", "siracusa"})
    for (const std::vector<std::string> &sets :
         {std::vector<std::string>{}, std::vector<std::string>{"dma.l2_l1_setup_cycles=300"},
          std::vector<std::string>{"dma.l2_l1_setup_cycles=0"}}) {
      SCOPED_TRACE(::testing::Message() << name << (sets.empty() ? "" : " " + sets[0]));
      test(CostModel(load_profile(name, sets, test::hw_dir())));
    }
}

// Every candidate a tile search tries (n_max, then halves, at most 4096 tiles: cost.cpp's
// kMaxTilesSearched), priced, and the first with the fewest cycles kept.
template <typename Price>
OpCost fastest_of_all(int64_t n, int64_t n_max, Price price) {
  OpCost best = price(n_max);
  for (int64_t t = (n_max + 1) / 2; t >= 1; t = (t + 1) / 2) {
    if ((n + t - 1) / t > 4096) break;
    const OpCost c = price(t);
    if (c.cycles < best.cycles) best = c;
    if (t == 1) break;
  }
  return best;
}

void expect_same_tiling(const OpCost &got, const OpCost &best) {
  EXPECT_EQ(got.cycles, best.cycles);
  EXPECT_EQ(got.tile_cols, best.tile_cols);
  EXPECT_EQ(got.tiles, best.tiles);
  EXPECT_EQ(got.dma_cycles, best.dma_cycles);
  EXPECT_EQ(got.compute_cycles, best.compute_cycles);
}

// The tile search skips the tilings a lower bound shows cannot be the fastest: it must keep the
// tiling an exhaustive search over every candidate keeps (the first with the fewest cycles).
TEST(Cost, TileSearchKeepsWhatAnExhaustiveSearchKeeps) {
  for_each_search_model([](const CostModel &cm) {
    const int64_t l1 = cm.profile().usable_bytes(Level::L1);
    for (Level level : {Level::L2, Level::L3, Level::MRAM})
      for (int64_t K : {8, 64, 512})
        for (int64_t M : {1, 3, 12})
          for (int64_t N : {1, 7, 64, 129, 300, 1376})
            for (int64_t ob : {1, 4}) {
              // The candidates of price_matmul (cost.hpp, item 3), all of them.
              int64_t m_t = std::clamp<int64_t>(l1 / 2 / K, 1, M);
              while (m_t > 1 && cm.max_tile_cols(m_t, K, ob) < 1) m_t /= 2;
              const int64_t n_max = std::min(N, cm.max_tile_cols(m_t, K, ob));
              const OpKind kind = M == 1 ? OpKind::gemv : OpKind::gemm;
              const OpCost best = fastest_of_all(N, n_max, [&](int64_t n_t) {
                return cm.price_matmul_tiled(kind, M, N, K, level, ob, m_t, n_t);
              });
              const OpCost got =
                  M == 1 ? cm.price_gemv(N, K, level, ob) : cm.price_gemm(M, N, K, level, ob);
              SCOPED_TRACE(::testing::Message() << level_name(level) << " M=" << M << " N=" << N
                                                << " K=" << K << " ob=" << ob);
              expect_same_tiling(got, best);
            }
  });
}

// The same for the element-wise kernels: the search (pruned by a lower bound of the pipeline)
// keeps the tiling an exhaustive search of the same candidates keeps.
TEST(Cost, EltwiseTileSearchKeepsWhatAnExhaustiveSearchKeeps) {
  for_each_search_model([](const CostModel &cm) {
    const int64_t l1 = cm.profile().usable_bytes(Level::L1);
    for (OpKind kind : {OpKind::requant, OpKind::softmax, OpKind::rmsnorm, OpKind::add})
      for (int64_t n : {0, 1, 7, 64, 129, 257, 1000, 5000, 70000})
        for (auto [in, out] : {std::pair<int64_t, int64_t>{1, 1}, {4, 1}, {2, 0}, {0, 1}, {0, 0}}) {
          const int64_t per = 2 * (in + out);
          const int64_t e_max = per == 0 ? n : std::min(n, l1 / per);
          const OpCost best = fastest_of_all(
              n, e_max, [&](int64_t e_t) { return cm.price_eltwise_tiled(kind, n, in, out, e_t); });
          SCOPED_TRACE(::testing::Message()
                       << op_kind_name(kind) << " n=" << n << " in=" << in << " out=" << out);
          expect_same_tiling(cm.price_eltwise(kind, n, in, out), best);
        }
  });
  const CostModel cm(load_profile("gap9", {}, test::hw_dir()));
  EXPECT_THROW(cm.price_eltwise_tiled(OpKind::add, 10, 1, 1, 0), ChipError);
  EXPECT_THROW(cm.price_eltwise_tiled(OpKind::add, 10, 1, 1, 1 << 30), ChipError);
}

TEST(Cost, ShapesThatCannotBeTiledAreErrors) {
  const CostModel cm(round_profile());
  EXPECT_THAT(error_of([&] { cm.price_gemv(4, 5000, Level::L2); }), HasSubstr("cannot be tiled"));
  EXPECT_THAT(error_of([&] { cm.price_gemv(-1, 5, Level::L2); }), HasSubstr("negative"));
  EXPECT_EQ(cm.price_gemv(0, 5, Level::L2).cycles, 0);
}

}  // namespace
}  // namespace mcuemu::chip
