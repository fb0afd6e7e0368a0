#include "runtime/mobilebert_chip.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "runtime/kernels.hpp"

namespace mcuemu::runtime {
namespace {

using weights::QLinear;
using weights::QNoNorm;

size_t z(int v) {
  return static_cast<size_t>(v);
}

std::vector<int32_t> rounding_only(const QLinear &q, int begin, int end) {
  const int32_t r = q.rq_shift > 0 ? int32_t{1} << (q.rq_shift - 1) : 0;
  return std::vector<int32_t>(z(end - begin), r);
}

// Rows [begin, end) with their bias and requant: the outputs this chip computes in full.
MbLinear rows_of(const QLinear &q, int begin, int end, std::string name) {
  MbLinear s;
  s.name = std::move(name);
  s.out = end - begin;
  s.in = q.in;
  s.w.assign(q.w.begin() + static_cast<long>(z(begin) * z(q.in)),
             q.w.begin() + static_cast<long>(z(end) * z(q.in)));
  if (!q.bias.empty()) s.bias.assign(q.bias.begin() + begin, q.bias.begin() + end);
  s.rq_mul.assign(q.rq_mul.begin() + begin, q.rq_mul.begin() + end);
  s.rq_add.assign(q.rq_add.begin() + begin, q.rq_add.begin() + end);
  s.rq_round = rounding_only(q, begin, end);
  s.rq_shift = q.rq_shift;
  return s;
}

// Input columns [begin, end) of every row: partial sums over this chip's share of the input. The
// requant stays full width (it runs after the all-reduce); the bias is added by chip 0 only.
MbLinear cols_of(const QLinear &q, int begin, int end, bool with_bias, std::string name) {
  MbLinear s;
  s.name = std::move(name);
  s.out = q.out;
  s.in = end - begin;
  s.w.resize(z(s.out) * z(s.in));
  for (int o = 0; o < q.out; ++o)
    std::copy_n(q.w.begin() + static_cast<long>(z(o) * z(q.in) + z(begin)), s.in,
                s.w.begin() + static_cast<long>(z(o) * z(s.in)));
  if (with_bias) s.bias = q.bias;
  s.rq_mul = q.rq_mul;
  s.rq_add = q.rq_add;
  s.rq_round = rounding_only(q, 0, q.out);
  s.rq_shift = q.rq_shift;
  s.partial = true;
  return s;
}

QNoNorm nonorm_cols(const QNoNorm &n, int begin, int end) {
  QNoNorm s;
  s.mul.assign(n.mul.begin() + begin, n.mul.begin() + end);
  s.add.assign(n.add.begin() + begin, n.add.begin() + end);
  s.shift = n.shift;
  return s;
}

// Columns [begin, end) of a (rows, width) int8 table.
std::vector<int8_t> table_cols(const std::vector<int8_t> &t, int rows, int width, int begin,
                               int end) {
  std::vector<int8_t> s(z(rows) * z(end - begin));
  for (int r = 0; r < rows; ++r)
    std::copy_n(t.begin() + static_cast<long>(z(r) * z(width) + z(begin)), end - begin,
                s.begin() + static_cast<long>(z(r) * z(end - begin)));
  return s;
}

}  // namespace

FfnPlacement parse_ffn_placement(const std::string &name) {
  if (name == "split") return FfnPlacement::Split;
  if (name == "replicated") return FfnPlacement::Replicated;
  throw std::invalid_argument("unknown FFN placement '" + name +
                              "' (split: sliced, one all-reduce per FFN; replicated: every chip "
                              "holds every FFN, two synchronisations per block)");
}

const char *ffn_placement_name(FfnPlacement p) {
  return p == FfnPlacement::Split ? "split" : "replicated";
}

MobileBertChip::MobileBertChip(const weights::QMobileBertModel &model, const model::ChipPlan &plan,
                               int max_rows, mpi::Cluster &cluster, Meter &meter,
                               mpi::AllreduceAlgo algo, FfnPlacement ffn, Exchange exchange)
    : cfg_(model.config),
      plan_(plan),
      cluster_(cluster),
      meter_(meter),
      algo_(algo),
      ffn_mode_(ffn),
      exchange_(exchange) {
  if (cfg_.arch != weights::Arch::MobileBert)
    throw std::invalid_argument("MobileBertChip: not a mobilebert model");
  if (max_rows < 1 || max_rows > cfg_.seq_len)
    throw std::invalid_argument(fmt::format("--seq {}: {} takes 1..{} tokens (its seq_len)",
                                            max_rows, cfg_.name, cfg_.seq_len));
  if (plan.dim.size() < 1 || plan.dim.end > cfg_.dim)
    throw std::invalid_argument(
        fmt::format("chip {}: no columns of the residual stream in its plan", plan.chip));
  max_rows_ = max_rows;
  const int D = cfg_.dim, B = cfg_.intra_bottleneck, E = cfg_.embedding_size, H = cfg_.hidden_dim;
  hd_ = cfg_.head_dim();
  nh_ = plan.heads.size();
  d0_ = plan.dim.begin;
  nd_ = plan.dim.size();
  first_ = plan.chip == 0;
  if (ffn_mode_ == FfnPlacement::Split) {
    f0_ = plan.ffn.begin;
    nf_ = plan.ffn.size();
  } else {
    f0_ = 0;
    nf_ = H;
  }
  const int a0 = plan.heads.begin * hd_, a1 = plan.heads.end * hd_, d1 = d0_ + nd_;

  compute_ = !model.layers.empty();
  if (!compute_) {
    // Cost-only: the shard's shapes without any weight (nothing is allocated or computed; the
    // meter and the collectives see exactly the calls of a full run).
    auto shape = [](std::string name, int out, int in, bool partial) {
      MbLinear s;
      s.name = std::move(name);
      s.out = out;
      s.in = in;
      s.partial = partial;
      return s;
    };
    const bool split = ffn_mode_ == FfnPlacement::Split;
    proj_ = shape("emb_proj", nd_, 3 * E, false);
    for (int l = 0; l < cfg_.n_layers; ++l) {
      const std::string p = fmt::format("L{}.", l);
      MbLayer s;
      s.bn_in = shape(p + "bn_in", B, nd_, true);
      s.bn_kq = shape(p + "bn_kq", B, nd_, true);
      s.wv = shape(p + "wv", B, nd_, true);
      s.wq = shape(p + "wq", a1 - a0, B, false);
      s.wk = shape(p + "wk", a1 - a0, B, false);
      s.wo = shape(p + "wo", B, a1 - a0, true);
      for (int j = 0; j < cfg_.n_ffn; ++j) {
        MbFfn f;
        const std::string fp = fmt::format("{}ffn{}.", p, j);
        f.w1 = shape(fp + "w1", nf_, B, false);
        f.w2 = shape(fp + "w2", B, nf_, split);
        s.ffn.push_back(std::move(f));
      }
      s.bn_out = shape(p + "bn_out", nd_, B, false);
      layers_.push_back(std::move(s));
    }
  } else {
    word_.assign(model.word_embedding.begin() + static_cast<long>(z(plan.vocab.begin) * z(E)),
                 model.word_embedding.begin() + static_cast<long>(z(plan.vocab.end) * z(E)));
    position_ = table_cols(model.position_embedding, cfg_.seq_len, D, d0_, d1);
    type_ = table_cols(model.token_type_embedding, cfg_.type_vocab_size, D, d0_, d1);
    proj_ = rows_of(model.emb_proj, d0_, d1, "emb_proj");
    emb_pos_ = model.emb_pos;
    emb_type_ = model.emb_type;
    emb_norm_ = nonorm_cols(model.emb_norm, d0_, d1);
  }

  for (int l = 0; compute_ && l < cfg_.n_layers; ++l) {
    const auto &q = model.layers[z(l)];
    const std::string p = fmt::format("L{}.", l);
    MbLayer s;
    s.bn_in = cols_of(q.bn_in, d0_, d1, first_, p + "bn_in");
    s.bn_kq = cols_of(q.bn_kq, d0_, d1, first_, p + "bn_kq");
    s.wv = cols_of(q.wv, d0_, d1, first_, p + "wv");
    s.wq = rows_of(q.wq, a0, a1, p + "wq");
    s.wk = rows_of(q.wk, a0, a1, p + "wk");
    s.wo = cols_of(q.wo, a0, a1, first_, p + "wo");
    s.scores = q.scores;
    s.softmax = q.softmax;
    s.attn = q.attn;
    s.attn_resid = q.attn_resid;
    s.attn_norm = q.attn_norm;
    for (int j = 0; j < cfg_.n_ffn; ++j) {
      const auto &qf = q.ffn[z(j)];
      MbFfn f;
      const std::string fp = fmt::format("{}ffn{}.", p, j);
      f.w1 = rows_of(qf.w1, f0_, f0_ + nf_, fp + "w1");
      if (ffn_mode_ == FfnPlacement::Split) {
        f.w2 = cols_of(qf.w2, f0_, f0_ + nf_, first_, fp + "w2");
      } else {
        f.w2 = rows_of(qf.w2, 0, B, fp + "w2");
      }
      f.resid = qf.resid;
      f.norm = qf.norm;
      s.ffn.push_back(std::move(f));
    }
    s.bn_out = rows_of(q.bn_out, d0_, d1, p + "bn_out");
    s.out_resid = q.out_resid;
    s.out_norm = nonorm_cols(q.out_norm, d0_, d1);
    layers_.push_back(std::move(s));
  }

  const size_t S = z(max_rows_), own = z(nh_ * hd_);
  x_.resize(S * z(nd_));
  xrow_.resize(S * z(nd_));
  tri_.resize(S * z(3 * E));
  bnin_.resize(S * z(B)), kq_.resize(S * z(B)), v_.resize(S * z(B));
  q_.resize(S * own), k_.resize(S * own), att_.resize(S * own), vt_.resize(S * own);
  scores8_.resize(S * S), probs_.resize(S * S);
  h_.resize(S * z(B)), d8_.resize(S * z(B));
  relu_.resize(S * z(std::max(nf_, 1)));
  output_.resize(S * z(D));
  part_.resize(3 * S * z(B));
  acc_.resize(S * z(std::max({nd_, nf_, B, static_cast<int>(own), 1})));
  scores32_.resize(S * S);
  av32_.resize(S * z(hd_));
  gather_.resize(S * z(std::max(D, E)));
}

std::vector<std::pair<std::string, int64_t>> MobileBertChip::weight_tensors() const {
  std::vector<std::pair<std::string, int64_t>> t;
  auto add = [&](const MbLinear &w) { t.emplace_back(w.name, static_cast<int64_t>(w.out) * w.in); };
  for (const auto &l : layers_) {
    for (const MbLinear *w : {&l.bn_in, &l.bn_kq, &l.wv, &l.wq, &l.wk, &l.wo}) add(*w);
    for (const auto &f : l.ffn) add(f.w1), add(f.w2);
    add(l.bn_out);
  }
  add(proj_);
  const int64_t cols = nd_;
  t.emplace_back("word_embedding", static_cast<int64_t>(plan_.vocab.size()) * cfg_.embedding_size);
  t.emplace_back("position_embedding", static_cast<int64_t>(cfg_.seq_len) * cols);
  t.emplace_back("token_type_embedding", static_cast<int64_t>(cfg_.type_vocab_size) * cols);
  return t;
}

int64_t MobileBertChip::duplicated_weight_bytes() const {
  if (ffn_mode_ != FfnPlacement::Replicated || cluster_.size() == 1) return 0;
  int64_t b = 0;
  for (const auto &l : layers_)
    for (const auto &f : l.ffn)
      b += static_cast<int64_t>(f.w1.out) * f.w1.in + static_cast<int64_t>(f.w2.out) * f.w2.in;
  return b;
}

int64_t MobileBertChip::activation_bytes() const {
  int64_t b = 0;
  for (const auto *v : {&x_, &xrow_, &tri_, &bnin_, &kq_, &v_, &q_, &k_, &att_, &vt_, &scores8_,
                        &probs_, &h_, &d8_, &relu_, &output_})
    b += static_cast<int64_t>(v->size());
  // int32 buffers in L2: the all-reduce partials and one head's scores. The other int32 outputs
  // (acc_, av32_) are requantized in L1 tile by tile on the chip; the embedding rows and the
  // output travel as int8 (gather_ is the emulator's int32 carrier of the same bytes).
  for (const auto *v : {&part_, &scores32_}) b += static_cast<int64_t>(v->size() * sizeof(int32_t));
  return b;
}

void MobileBertChip::linear(int l, const MbLinear &w, std::span<const int8_t> x,
                            std::span<int32_t> y) {
  const size_t S = z(rows_);
  if (compute_ && S == 1) {
    kernels::gemv({0, 0}, w.w, x.first(z(w.in)), w.bias, y.first(z(w.out)));
  } else if (compute_) {
    kernels::gemm({0, 0}, x, z(w.in), w.w, z(w.in), w.bias, y, z(w.out), S, z(w.out), z(w.in));
  }
  if (w.partial)
    meter_.linear_partial(l, w.name, rows_, w.out, w.in);
  else
    meter_.linear(l, w.name, rows_, w.out, w.in);
}

void MobileBertChip::requant(const MbLinear &w, std::span<const int32_t> acc, std::span<int8_t> y,
                             bool local, int32_t lo) {
  if (!compute_) return;
  const auto &add = (local && !first_) ? w.rq_round : w.rq_add;
  kernels::rqs_per_channel(w.rq_mul, add, 0, w.rq_shift, 0, lo, 127, acc, y);
}

void MobileBertChip::nonorm(const QNoNorm &n, std::span<int8_t> x) {
  if (compute_) kernels::nonorm(n.mul, n.add, 0, n.shift, 0, -128, 127, x, x);
}

void MobileBertChip::allreduce_requant(int l, SyncKind kind, std::span<const MbLinear *const> lins,
                                       std::span<const std::span<int8_t>> outs) {
  size_t n = 0;
  for (const MbLinear *w : lins) n += z(rows_) * z(w->out);
  const std::span<int32_t> all(part_.data(), n);
  if (exchange_ == Exchange::Int32) {
    meter_.sync(l, kind, cluster_.allreduce_sum(all, meter_.clock(), algo_));
    size_t at = 0;
    for (size_t i = 0; i < lins.size(); ++i) {
      const size_t m = z(rows_) * z(lins[i]->out);
      requant(*lins[i], all.subspan(at, m), outs[i]);
      at += m;
    }
  } else {
    // Requantize this chip's partial first (offsets from chip 0 only), sum the int8 terms
    // (carried as int16), clamp.
    size_t at = 0;
    for (size_t i = 0; i < lins.size(); ++i) {
      const size_t m = z(rows_) * z(lins[i]->out);
      requant(*lins[i], all.subspan(at, m), outs[i], true);
      for (size_t k = 0; k < m; ++k) all[at + k] = outs[i][k];
      at += m;
    }
    meter_.sync(l, kind, cluster_.allreduce_sum(all, meter_.clock(), algo_, 2));
    at = 0;
    for (size_t i = 0; i < lins.size(); ++i) {
      const size_t m = z(rows_) * z(lins[i]->out);
      for (size_t k = 0; k < m; ++k)
        outs[i][k] = static_cast<int8_t>(std::clamp(all[at + k], -128, 127));
      at += m;
    }
  }
  meter_.nonlinear(l, Nonlinear::Requant, static_cast<int64_t>(n));
  ++stats_.block_syncs;
  if (kind == SyncKind::BottleneckAllreduce) ++stats_.bottleneck_syncs;
  if (kind == SyncKind::AttentionAllreduce) ++stats_.attention_syncs;
  if (kind == SyncKind::FfnAllreduce) ++stats_.ffn_syncs;
}

void MobileBertChip::forward(std::span<const int> tokens, std::span<const int> token_types) {
  const int S = static_cast<int>(tokens.size());
  if (S < 1 || S > max_rows_)
    throw std::invalid_argument(
        fmt::format("{} tokens in one forward: must be 1..{}", S, max_rows_));
  if (!token_types.empty() && token_types.size() != tokens.size())
    throw std::invalid_argument(
        fmt::format("{} token types for {} tokens", token_types.size(), tokens.size()));
  for (int t : tokens)
    if (t < 0 || t >= cfg_.vocab_size)
      throw std::invalid_argument(
          fmt::format("token {} outside the vocabulary 0..{}", t, cfg_.vocab_size - 1));
  for (int t : token_types)
    if (t < 0 || t >= cfg_.type_vocab_size)
      throw std::invalid_argument(
          fmt::format("token type {} outside 0..{}", t, cfg_.type_vocab_size - 1));
  rows_ = S;
  embed(tokens, token_types);
  for (int l = 0; l < cfg_.n_layers; ++l) block(l);

  // Exchange after the blocks: every chip contributes its columns of the output (one non-zero
  // term per element, so the sum is exact and travels as int8).
  const int D = cfg_.dim;
  const std::span<int32_t> out(gather_.data(), z(S) * z(D));
  std::fill(out.begin(), out.end(), 0);
  for (int t = 0; t < S; ++t)
    for (int c = 0; c < nd_; ++c) out[z(t) * z(D) + z(d0_ + c)] = x_[z(t) * z(nd_) + z(c)];
  meter_.sync(-1, SyncKind::OutputGather, cluster_.allreduce_sum(out, meter_.clock(), algo_, 1));
  for (size_t i = 0; i < out.size(); ++i) output_[i] = static_cast<int8_t>(out[i]);
  ++stats_.edge_exchanges;
  stats_.tokens += S;
  ++stats_.forwards;
}

void MobileBertChip::embed(std::span<const int> tokens, std::span<const int> types) {
  const int S = rows_, E = cfg_.embedding_size;
  // The S word-embedding rows: each chip writes the rows of the tokens it owns into a zeroed
  // (S, E) block and one all-reduce assembles them (exact: one non-zero term per element).
  const std::span<int32_t> rows(gather_.data(), z(S) * z(E));
  std::fill(rows.begin(), rows.end(), 0);
  std::vector<int8_t> row(z(E));
  for (int i = 0; i < S; ++i) {
    if (tokens[z(i)] < plan_.vocab.begin || tokens[z(i)] >= plan_.vocab.end) continue;
    if (compute_) {
      kernels::embedding_row(word_, z(E), z(tokens[z(i)] - plan_.vocab.begin), row);
      std::copy(row.begin(), row.end(), rows.begin() + static_cast<long>(z(i) * z(E)));
    }
    meter_.nonlinear(-1, Nonlinear::Copy, E);
  }
  meter_.sync(-1, SyncKind::EmbeddingBroadcast,
              cluster_.allreduce_sum(rows, meter_.clock(), algo_, 1));
  ++stats_.edge_exchanges;

  // Trigram input [emb(t+1), emb(t), emb(t-1)], zeros past the ends (HF MobileBertEmbeddings).
  std::fill(tri_.begin(), tri_.begin() + static_cast<long>(z(S) * z(3 * E)), 0);
  for (int t = 0; t < S; ++t) {
    int8_t *dst = tri_.data() + z(t) * z(3 * E);
    auto emb = [&](int r, int8_t *to) {
      for (int e = 0; e < E; ++e) to[e] = static_cast<int8_t>(rows[z(r) * z(E) + z(e)]);
    };
    if (t + 1 < S) emb(t + 1, dst);
    emb(t, dst + E);
    if (t > 0) emb(t - 1, dst + 2 * E);
  }
  meter_.nonlinear(-1, Nonlinear::Copy, static_cast<int64_t>(S) * 3 * E);

  // Own columns: projection rows, + position, + token type, NoNorm.
  const size_t SN = z(S) * z(nd_);
  const std::span<int8_t> x(x_.data(), SN), tmp(xrow_.data(), SN);
  const std::span<int32_t> acc(acc_.data(), SN);
  linear(-1, proj_, std::span(tri_).first(z(S) * z(3 * E)), acc);
  requant(proj_, acc, x);
  meter_.nonlinear(-1, Nonlinear::Requant, static_cast<int64_t>(SN));
  if (compute_) {
    kernels::add_rq(emb_pos_, x, std::span(position_).first(SN), x);
    for (int t = 0; t < S; ++t) {
      const int type = types.empty() ? 0 : types[z(t)];
      std::copy_n(type_.begin() + static_cast<long>(z(type) * z(nd_)), nd_,
                  tmp.begin() + static_cast<long>(z(t) * z(nd_)));
    }
    kernels::add_rq(emb_type_, x, tmp, x);
  }
  meter_.nonlinear(-1, Nonlinear::Add, static_cast<int64_t>(2 * SN));
  nonorm(emb_norm_, x);
  meter_.nonlinear(-1, Nonlinear::NoNorm, static_cast<int64_t>(SN));
}

void MobileBertChip::block(int l) {
  MbLayer &L = layers_[z(l)];
  const int S = rows_, B = cfg_.intra_bottleneck, own = nh_ * hd_;
  const size_t SB = z(S) * z(B), SO = z(S) * z(own), SN = z(S) * z(nd_), SS = z(S) * z(S);
  const std::span<const int8_t> x(x_.data(), SN);
  const std::span<int8_t> bnin(bnin_.data(), SB), kq(kq_.data(), SB), v(v_.data(), SB);

  // Sync 1: the three projections of the residual stream, partial over own columns.
  linear(l, L.bn_in, x, std::span(part_).subspan(0, SB));
  linear(l, L.bn_kq, x, std::span(part_).subspan(SB, SB));
  linear(l, L.wv, x, std::span(part_).subspan(2 * SB, SB));
  {
    const MbLinear *lins[] = {&L.bn_in, &L.bn_kq, &L.wv};
    const std::span<int8_t> outs[] = {bnin, kq, v};
    allreduce_requant(l, SyncKind::BottleneckAllreduce, lins, outs);
  }

  // Attention of own heads over all S positions (bidirectional).
  const std::span<int32_t> part(part_.data(), SB);
  if (own > 0) {
    const std::span<int32_t> acc(acc_.data(), SO);
    const std::span<int8_t> q(q_.data(), SO), k(k_.data(), SO), att(att_.data(), SO);
    linear(l, L.wq, kq, acc);
    requant(L.wq, acc, q);
    linear(l, L.wk, kq, acc);
    requant(L.wk, acc, k);
    meter_.nonlinear(l, Nonlinear::Requant, static_cast<int64_t>(2 * SO));
    // V of own heads, transposed (own, S) so that P.V reads rows.
    const int a0 = plan_.heads.begin * hd_;
    for (int t = 0; compute_ && t < S; ++t)
      for (int c = 0; c < own; ++c) vt_[z(c) * z(S) + z(t)] = v[z(t) * z(B) + z(a0 + c)];
    meter_.nonlinear(l, Nonlinear::Copy, static_cast<int64_t>(SO));
    const std::span<int32_t> s32(scores32_.data(), SS);
    const std::span<int8_t> s8(scores8_.data(), SS), p8(probs_.data(), SS);
    const std::span<int32_t> av(av32_.data(), z(S) * z(hd_));
    for (int h = 0; h < nh_; ++h) {
      const size_t off = z(h) * z(hd_);
      // scores (S, S) = Q_h K_h^T, requantized with 1/sqrt(head_dim) folded in.
      if (compute_) {
        kernels::gemm({0, 0}, q.subspan(off), z(own), k.subspan(off), z(own), {}, s32, z(S), z(S),
                      z(S), z(hd_));
        kernels::rqs(L.scores, s32, s8);
        kernels::softmax_ibert(L.softmax, s8, p8, z(S), z(S), z(S));
      }
      meter_.matmul(l, "qk", S, S, hd_);
      meter_.nonlinear(l, Nonlinear::Requant, static_cast<int64_t>(SS));
      meter_.nonlinear(l, Nonlinear::Softmax, static_cast<int64_t>(SS));
      // out (S, hd) = P V_h, probs have zero point -128 (a_off = 128).
      if (compute_)
        kernels::gemm({128, 0}, p8, z(S), std::span<const int8_t>(vt_).subspan(off * z(S)), z(S),
                      {}, av, z(hd_), z(S), z(hd_), z(S));
      meter_.matmul(l, "pv", S, hd_, S);
      for (int t = 0; compute_ && t < S; ++t)
        kernels::rqs(L.attn, av.subspan(z(t) * z(hd_), z(hd_)),
                     att.subspan(z(t) * z(own) + off, z(hd_)));
      meter_.nonlinear(l, Nonlinear::Requant, static_cast<int64_t>(z(S) * z(hd_)));
    }
    linear(l, L.wo, att, part);
  } else {
    std::fill(part.begin(), part.end(), 0);  // a chip without heads contributes zeros
  }
  // Sync 2: the attention output, then + bn_in, NoNorm.
  const std::span<int8_t> h(h_.data(), SB), d(d8_.data(), SB);
  {
    const MbLinear *lins[] = {&L.wo};
    const std::span<int8_t> outs[] = {d};
    allreduce_requant(l, SyncKind::AttentionAllreduce, lins, outs);
  }
  if (compute_) kernels::add_rq(L.attn_resid, d, bnin, h);
  meter_.nonlinear(l, Nonlinear::Add, static_cast<int64_t>(SB));
  nonorm(L.attn_norm, h);
  meter_.nonlinear(l, Nonlinear::NoNorm, static_cast<int64_t>(SB));

  for (int j = 0; j < cfg_.n_ffn; ++j) ffn(l, j);

  // Output bottleneck: own rows = own columns of the residual, + x, NoNorm.
  const std::span<int32_t> acc(acc_.data(), SN);
  const std::span<int8_t> o(xrow_.data(), SN), xo(x_.data(), SN);
  linear(l, L.bn_out, h, acc);
  requant(L.bn_out, acc, o);
  meter_.nonlinear(l, Nonlinear::Requant, static_cast<int64_t>(SN));
  if (compute_) kernels::add_rq(L.out_resid, o, xo, xo);
  meter_.nonlinear(l, Nonlinear::Add, static_cast<int64_t>(SN));
  nonorm(L.out_norm, xo);
  meter_.nonlinear(l, Nonlinear::NoNorm, static_cast<int64_t>(SN));
}

void MobileBertChip::ffn(int l, int j) {
  MbFfn &F = layers_[z(l)].ffn[z(j)];
  const int S = rows_, B = cfg_.intra_bottleneck;
  const size_t SB = z(S) * z(B), SF = z(S) * z(nf_);
  const std::span<int8_t> h(h_.data(), SB), d(d8_.data(), SB);
  const std::span<int32_t> part(part_.data(), SB);
  if (nf_ > 0) {
    const std::span<int32_t> acc(acc_.data(), SF);
    const std::span<int8_t> r(relu_.data(), SF);
    linear(l, F.w1, h, acc);
    requant(F.w1, acc, r, false, 0);  // clamped at the zero point: the ReLU
    meter_.nonlinear(l, Nonlinear::Requant, static_cast<int64_t>(SF));
    linear(l, F.w2, r, part);
  } else {
    std::fill(part.begin(), part.end(), 0);
  }
  if (F.w2.partial) {
    const MbLinear *lins[] = {&F.w2};
    const std::span<int8_t> outs[] = {d};
    allreduce_requant(l, SyncKind::FfnAllreduce, lins, outs);
  } else {
    requant(F.w2, part, d);
    meter_.nonlinear(l, Nonlinear::Requant, static_cast<int64_t>(SB));
  }
  if (compute_) kernels::add_rq(F.resid, d, h, h);
  meter_.nonlinear(l, Nonlinear::Add, static_cast<int64_t>(SB));
  nonorm(F.norm, h);
  meter_.nonlinear(l, Nonlinear::NoNorm, static_cast<int64_t>(SB));
}

}  // namespace mcuemu::runtime
