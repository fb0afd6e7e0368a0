#include "runtime/llama_chip.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "runtime/kernels.hpp"

namespace mcuemu::runtime {
namespace k = mcuemu::kernels;

const char *nonlinear_name(Nonlinear kind) {
  switch (kind) {
    case Nonlinear::RmsNorm:
      return "rmsnorm";
    case Nonlinear::Softmax:
      return "softmax";
    case Nonlinear::Requant:
      return "requant";
    case Nonlinear::Add:
      return "add";
    case Nonlinear::Mul:
      return "mul";
    case Nonlinear::Hswish:
      return "hswish";
    case Nonlinear::Rope:
      return "rope";
    case Nonlinear::Argmax:
      return "argmax";
    case Nonlinear::Copy:
      return "copy";
  }
  return "?";
}

const char *sync_name(SyncKind kind) {
  switch (kind) {
    case SyncKind::EmbeddingBroadcast:
      return "embedding_broadcast";
    case SyncKind::AttentionAllreduce:
      return "attention_allreduce";
    case SyncKind::FfnAllreduce:
      return "ffn_allreduce";
    case SyncKind::LogitsArgmax:
      return "logits_argmax";
  }
  return "?";
}

namespace {

ShardLinear rows_of(const weights::QLinear &q, int begin, int end, std::string name) {
  ShardLinear s;
  s.name = std::move(name);
  s.out = end - begin;
  s.in = q.in;
  s.w.assign(q.w.begin() + static_cast<size_t>(begin) * q.in,
             q.w.begin() + static_cast<size_t>(end) * q.in);
  s.rq_mul.assign(q.rq_mul.begin() + begin, q.rq_mul.begin() + end);
  s.rq_add.assign(q.rq_add.begin() + begin, q.rq_add.begin() + end);
  s.rq_shift = q.rq_shift;
  return s;
}

// Columns [begin, end) of every row; the requant stays full-width (it runs after the all-reduce).
ShardLinear cols_of(const weights::QLinear &q, int begin, int end, std::string name) {
  ShardLinear s;
  s.name = std::move(name);
  s.out = q.out;
  s.in = end - begin;
  s.w.resize(static_cast<size_t>(s.out) * s.in);
  for (int o = 0; o < q.out; ++o)
    std::copy_n(q.w.begin() + static_cast<size_t>(o) * q.in + begin, s.in,
                s.w.begin() + static_cast<size_t>(o) * s.in);
  s.rq_mul = q.rq_mul;
  s.rq_add = q.rq_add;
  s.rq_shift = q.rq_shift;
  return s;
}

void requant(const ShardLinear &lin, std::span<const int32_t> acc, std::span<int8_t> y) {
  k::rqs_per_channel(lin.rq_mul, lin.rq_add, 0, lin.rq_shift, 0, -128, 127, acc, y);
}

}  // namespace

LlamaChip::LlamaChip(const weights::QLlamaModel &model, const model::ChipPlan &plan, int context,
                     mpi::Cluster &cluster, Meter &meter, mpi::AllreduceAlgo algo)
    : cfg_(model.config), plan_(plan), cluster_(cluster), meter_(meter), algo_(algo) {
  if (context < 1 || context > cfg_.seq_len)
    throw std::invalid_argument(fmt::format("context of {} positions: must be 1..{} ({}'s seq_len)",
                                            context, cfg_.seq_len, cfg_.name));
  context_ = context;
  const int D = cfg_.dim, hd = cfg_.head_dim();
  n_heads_ = plan.heads.size();
  head_dim_ = hd;
  ffn_ = plan.ffn.size();
  vocab_ = plan.vocab.size();
  const int h0 = plan.heads.begin * hd, h1 = plan.heads.end * hd;
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const auto &ql = model.layers[l];
    ShardLayer s;
    const std::string p = fmt::format("L{}.", l);
    s.attn_norm = ql.attn_norm;
    s.ffn_norm = ql.ffn_norm;
    s.wq = rows_of(ql.wq, h0, h1, p + "wq");
    s.wk = rows_of(ql.wk, h0, h1, p + "wk");
    s.wv = rows_of(ql.wv, h0, h1, p + "wv");
    s.wo = cols_of(ql.wo, h0, h1, p + "wo");
    s.w1 = rows_of(ql.w1, plan.ffn.begin, plan.ffn.end, p + "w1");
    s.w3 = rows_of(ql.w3, plan.ffn.begin, plan.ffn.end, p + "w3");
    s.w2 = cols_of(ql.w2, plan.ffn.begin, plan.ffn.end, p + "w2");
    s.scores = ql.scores;
    s.attn = ql.attn;
    s.silu = ql.silu;
    s.softmax = ql.softmax;
    s.resid_attn = ql.resid_attn;
    s.resid_ffn = ql.resid_ffn;
    s.hswish = ql.hswish;
    s.gate = ql.gate;
    layers_.push_back(std::move(s));
  }
  embedding_.assign(model.token_embedding.begin() + static_cast<size_t>(plan.vocab.begin) * D,
                    model.token_embedding.begin() + static_cast<size_t>(plan.vocab.end) * D);
  final_norm_ = model.final_norm;
  rope_ = model.rope;
  rope_cos_ = model.rope_cos;
  rope_sin_ = model.rope_sin;

  const size_t T = context_, own = static_cast<size_t>(n_heads_) * hd;
  k_cache_.assign(cfg_.n_layers * own * T, 0);
  v_cache_.assign(cfg_.n_layers * own * T, 0);
  x_.resize(D), xn_.resize(D), delta_.resize(D);
  q_.resize(own), k_.resize(own), v_.resize(own), att_.resize(own);
  h1_.resize(ffn_), h3_.resize(ffn_), g_.resize(ffn_);
  acc_.resize(std::max<size_t>(own, D)), part_.resize(D), acc_ffn_.resize(std::max(ffn_, 1));
  scores32_.resize(T), scores8_.resize(T), probs_.resize(T), av32_.resize(hd);
  logits_.resize(vocab_);
}

std::vector<std::pair<std::string, int64_t>> LlamaChip::weight_tensors() const {
  std::vector<std::pair<std::string, int64_t>> t;
  for (const auto &l : layers_)
    for (const ShardLinear *w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w3, &l.w2})
      t.emplace_back(w->name, static_cast<int64_t>(w->w.size()));
  t.emplace_back("embedding", static_cast<int64_t>(embedding_.size()));
  return t;
}

int64_t LlamaChip::activation_bytes() const {
  int64_t b = 0;
  for (const auto *v :
       {&x_, &xn_, &q_, &k_, &v_, &att_, &h1_, &h3_, &g_, &delta_, &scores8_, &probs_})
    b += static_cast<int64_t>(v->size());
  for (const auto *v : {&acc_, &acc_ffn_, &part_, &scores32_, &av32_, &logits_})
    b += static_cast<int64_t>(v->size() * sizeof(int32_t));
  return b;
}

int64_t LlamaChip::kv_cache_bytes() const {
  return static_cast<int64_t>(k_cache_.size() + v_cache_.size());
}

int LlamaChip::step(int token, int pos) {
  if (token < 0 || token >= cfg_.vocab_size)
    throw std::invalid_argument(
        fmt::format("token {} outside the vocabulary 0..{}", token, cfg_.vocab_size - 1));
  if (pos < 0 || pos >= context_)
    throw std::invalid_argument(
        fmt::format("position {} outside the context 0..{}", pos, context_ - 1));
  const int D = cfg_.dim;

  // Exchange before the blocks: the owner of the token's row broadcasts it.
  const int owner = [&] {
    for (int c = 0; c < cluster_.size(); ++c)
      if (token < model::split_range(cfg_.vocab_size, cluster_.size(), c).end) return c;
    return cluster_.size() - 1;
  }();
  if (owner == cluster_.rank()) {
    k::embedding_row(embedding_, D, token - plan_.vocab.begin, x_);
    meter_.nonlinear(-1, Nonlinear::Copy, D);
  }
  meter_.sync(-1, SyncKind::EmbeddingBroadcast, cluster_.broadcast(x_, owner, meter_.clock()));
  ++stats_.edge_exchanges;

  for (int l = 0; l < cfg_.n_layers; ++l) {
    attention(l, pos);
    ffn(l);
  }

  // Exchange after the blocks: own vocabulary rows of the LM head, then the global arg-max.
  k::rmsnorm(final_norm_.w, 0, final_norm_.log2D, 0, final_norm_.k, x_, xn_);
  meter_.nonlinear(-1, Nonlinear::RmsNorm, D);
  int32_t best = INT32_MIN;
  int64_t best_index = INT64_MAX;
  if (vocab_ > 0) {
    k::gemv({0, 0}, embedding_, xn_, {}, logits_);
    meter_.linear(-1, "embedding", 1, vocab_, D);
    const auto am = k::argmax(logits_);
    meter_.nonlinear(-1, Nonlinear::Argmax, vocab_);
    best = am.value;
    best_index = plan_.vocab.begin + static_cast<int64_t>(am.index);
  }
  meter_.sync(-1, SyncKind::LogitsArgmax, cluster_.argmax(best, best_index, meter_.clock()));
  ++stats_.edge_exchanges;
  ++stats_.tokens;
  return static_cast<int>(best_index);
}

void LlamaChip::attention(int l, int pos) {
  ShardLayer &L = layers_[l];
  const int D = cfg_.dim, hd = head_dim_, own = n_heads_ * hd, T = pos + 1;
  const size_t seq = context_;
  k::rmsnorm(L.attn_norm.w, 0, L.attn_norm.log2D, 0, L.attn_norm.k, x_, xn_);
  meter_.nonlinear(l, Nonlinear::RmsNorm, D);

  if (own > 0) {
    const std::span<int32_t> acc(acc_.data(), own);
    for (auto [lin, out] : {std::pair{&L.wq, &q_}, std::pair{&L.wk, &k_}, std::pair{&L.wv, &v_}}) {
      k::gemv({0, 0}, lin->w, xn_, {}, acc);
      meter_.linear(l, lin->name, 1, own, D);
      requant(*lin, acc, *out);
      meter_.nonlinear(l, Nonlinear::Requant, own);
    }
    const std::span<const int16_t> cs(rope_cos_.data() + static_cast<size_t>(pos) * (hd / 2),
                                      hd / 2);
    const std::span<const int16_t> sn(rope_sin_.data() + static_cast<size_t>(pos) * (hd / 2),
                                      hd / 2);
    k::rope(rope_, q_, cs, sn, q_, n_heads_);
    k::rope(rope_, k_, cs, sn, k_, n_heads_);
    meter_.nonlinear(l, Nonlinear::Rope, 2 * own);

    for (int h = 0; h < n_heads_; ++h) {
      const size_t base = (static_cast<size_t>(l) * n_heads_ + h) * seq * hd;
      int8_t *kc = k_cache_.data() + base;  // (seq, hd)
      int8_t *vc = v_cache_.data() + base;  // (hd, seq)
      std::copy_n(k_.data() + h * hd, hd, kc + static_cast<size_t>(pos) * hd);
      for (int d = 0; d < hd; ++d) vc[static_cast<size_t>(d) * seq + pos] = v_[h * hd + d];

      // scores (1, T) = q_h . K_h^T, requantized with 1/sqrt(head_dim) folded in.
      const std::span<const int8_t> qh(q_.data() + h * hd, hd);
      k::gemm({0, 0}, qh, hd, std::span<const int8_t>(kc, static_cast<size_t>(T) * hd), hd, {},
              std::span(scores32_.data(), T), T, 1, T, hd);
      meter_.matmul(l, "qk", 1, T, hd);
      k::rqs(L.scores, std::span(scores32_.data(), T), std::span(scores8_.data(), T));
      k::softmax_ibert(L.softmax, std::span(scores8_.data(), T), std::span(probs_.data(), T), 1, T,
                       T);
      meter_.nonlinear(l, Nonlinear::Requant, T);
      meter_.nonlinear(l, Nonlinear::Softmax, T);
      // out (1, hd) = probs . V_h, probs have zero point -128 (a_off = 128).
      k::gemm({128, 0}, std::span(probs_.data(), T), T,
              std::span<const int8_t>(vc, (static_cast<size_t>(hd) - 1) * seq + T), seq, {}, av32_,
              hd, 1, hd, T);
      meter_.matmul(l, "pv", 1, hd, T);
      k::rqs(L.attn, av32_, std::span(att_.data() + h * hd, hd));
      meter_.nonlinear(l, Nonlinear::Requant, hd);
    }
    k::gemv({0, 0}, L.wo.w, att_, {}, part_);
    meter_.linear(l, L.wo.name, 1, D, own);
  } else {
    std::fill(part_.begin(), part_.end(), 0);  // a chip without heads contributes zeros
  }
  allreduce_requant_add(l, SyncKind::AttentionAllreduce, L.wo, L.resid_attn);
}

void LlamaChip::ffn(int l) {
  ShardLayer &L = layers_[l];
  const int D = cfg_.dim, F = ffn_;
  k::rmsnorm(L.ffn_norm.w, 0, L.ffn_norm.log2D, 0, L.ffn_norm.k, x_, xn_);
  meter_.nonlinear(l, Nonlinear::RmsNorm, D);
  if (F > 0) {
    const std::span<int32_t> acc(acc_ffn_.data(), F);
    k::gemv({0, 0}, L.w1.w, xn_, {}, acc);
    meter_.linear(l, L.w1.name, 1, F, D);
    requant(L.w1, acc, h1_);
    k::gemv({0, 0}, L.w3.w, xn_, {}, acc);
    meter_.linear(l, L.w3.name, 1, F, D);
    requant(L.w3, acc, h3_);
    meter_.nonlinear(l, Nonlinear::Requant, 2 * F);
    k::hswish(L.hswish, h1_, acc);
    k::rqs(L.silu, acc, g_);
    meter_.nonlinear(l, Nonlinear::Hswish, F);
    k::mul_rq(L.gate, g_, h3_, g_);
    meter_.nonlinear(l, Nonlinear::Mul, F);
    k::gemv({0, 0}, L.w2.w, g_, {}, part_);
    meter_.linear(l, L.w2.name, 1, D, F);
  } else {
    std::fill(part_.begin(), part_.end(), 0);
  }
  allreduce_requant_add(l, SyncKind::FfnAllreduce, L.w2, L.resid_ffn);
}

void LlamaChip::allreduce_requant_add(int l, SyncKind kind, const ShardLinear &lin,
                                      const mcu_add_rq_t &add) {
  meter_.sync(l, kind, cluster_.allreduce_sum(part_, meter_.clock(), algo_));
  ++stats_.block_syncs;
  ++stats_.syncs_per_block[kind == SyncKind::AttentionAllreduce ? 0 : 1];
  const int D = cfg_.dim;
  requant(lin, part_, delta_);
  k::add_rq(add, x_, delta_, x_);
  meter_.nonlinear(l, Nonlinear::Requant, D);
  meter_.nonlinear(l, Nonlinear::Add, D);
}

}  // namespace mcuemu::runtime
