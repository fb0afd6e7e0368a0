#include "runtime/llama_chip.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "runtime/kernels.hpp"

namespace mcuemu::runtime {

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
    case Nonlinear::NoNorm:
      return "nonorm";
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
    case SyncKind::BottleneckAllreduce:
      return "bottleneck_allreduce";
    case SyncKind::OutputGather:
      return "output_gather";
  }
  return "?";
}

namespace {

// Where the chip's op calls go while its meter replays them (Meter::begin_ops): nowhere. A
// synchronisation or a clock asked of it is a bug in the chip (they go to the meter itself).
class SkippedOps final : public Meter {
 public:
  void linear(int, const std::string &, int, int, int) override {}
  void matmul(int, const char *, int, int, int) override {}
  void nonlinear(int, Nonlinear, int64_t) override {}
  void sync(int, SyncKind, const mpi::CollectiveTiming &) override { misuse(); }
  int64_t clock() const override { misuse(); }

 private:
  [[noreturn]] static void misuse() {
    throw std::logic_error("LlamaChip: a synchronisation or clock asked of the skipped ops");
  }
};

Meter &skipped_ops() {
  static SkippedOps m;
  return m;
}

ShardLinear rows_of(const weights::QLinear &q, int begin, int end, std::string name) {
  ShardLinear s;
  s.name = std::move(name);
  s.out = end - begin;
  s.in = q.in;
  s.w = kernels::GemvMatrix(std::vector<int8_t>(q.w.begin() + static_cast<size_t>(begin) * q.in,
                                                q.w.begin() + static_cast<size_t>(end) * q.in),
                            s.out, s.in);
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
  std::vector<int8_t> w(static_cast<size_t>(s.out) * s.in);
  for (int o = 0; o < q.out; ++o)
    std::copy_n(q.w.begin() + static_cast<size_t>(o) * q.in + begin, s.in,
                w.begin() + static_cast<size_t>(o) * s.in);
  s.w = kernels::GemvMatrix(std::move(w), s.out, s.in);
  s.rq_mul = q.rq_mul;
  s.rq_add = q.rq_add;
  s.rq_shift = q.rq_shift;
  return s;
}

// The whole of a linear that was read as this chip's slice, moved when allowed.
ShardLinear whole(const weights::QLinear &q, weights::QLinear *movable, std::string name) {
  ShardLinear s;
  s.name = std::move(name);
  s.out = q.out;
  s.in = q.in;
  if (movable && !movable->placed.empty()) {  // read into a weight arena: rearranged there
    s.w = kernels::GemvMatrix(movable->placed, s.out, s.in);
    movable->placed = {};  // the bytes there are the chip's layout now, not (out, in)
    s.rq_mul = std::move(movable->rq_mul);
    s.rq_add = std::move(movable->rq_add);
  } else if (!q.placed.empty()) {
    const auto n = static_cast<std::ptrdiff_t>(static_cast<size_t>(s.out) * s.in);
    s.w = kernels::GemvMatrix(std::vector<int8_t>(q.placed.begin(), q.placed.begin() + n), s.out,
                              s.in);
    s.rq_mul = q.rq_mul;
    s.rq_add = q.rq_add;
  } else if (movable) {
    s.w = kernels::GemvMatrix(std::move(movable->w), s.out, s.in);
    s.rq_mul = std::move(movable->rq_mul);
    s.rq_add = std::move(movable->rq_add);
  } else {
    s.w = kernels::GemvMatrix(std::vector<int8_t>(q.w), s.out, s.in);
    s.rq_mul = q.rq_mul;
    s.rq_add = q.rq_add;
  }
  s.rq_shift = q.rq_shift;
  return s;
}

void requant(const ShardLinear &lin, std::span<const int32_t> acc, std::span<int8_t> y) {
  kernels::rqs_per_channel(lin.rq_mul, lin.rq_add, 0, lin.rq_shift, 0, -128, 127, acc, y);
}

}  // namespace

Exchange parse_exchange(const std::string &name) {
  if (name == "int32") return Exchange::Int32;
  if (name == "int8") return Exchange::Int8;
  throw std::invalid_argument("unknown exchange '" + name +
                              "' (int32: exact, int8: half the bytes)");
}

weights::LlamaSlice chip_slice(const weights::ModelConfig &config, const model::ChipPlan &plan) {
  const int hd = config.head_dim();
  return {.head_rows_begin = plan.heads.begin * hd,
          .head_rows_end = plan.heads.end * hd,
          .ffn_begin = plan.ffn.begin,
          .ffn_end = plan.ffn.end,
          .vocab_begin = plan.vocab.begin,
          .vocab_end = plan.vocab.end};
}

LlamaChip::LlamaChip(const weights::QLlamaModel &model, const model::ChipPlan &plan, int context,
                     int max_rows, mpi::Cluster &cluster, Meter &meter, mpi::AllreduceAlgo algo,
                     Exchange exchange)
    : LlamaChip(model, nullptr, plan, context, max_rows, cluster, meter, algo, exchange) {}

LlamaChip::LlamaChip(weights::QLlamaModel &&model, const model::ChipPlan &plan, int context,
                     int max_rows, mpi::Cluster &cluster, Meter &meter, mpi::AllreduceAlgo algo,
                     Exchange exchange)
    : LlamaChip(model, &model, plan, context, max_rows, cluster, meter, algo, exchange) {}

LlamaChip::LlamaChip(const weights::QLlamaModel &model, weights::QLlamaModel *movable,
                     const model::ChipPlan &plan, int context, int max_rows, mpi::Cluster &cluster,
                     Meter &meter, mpi::AllreduceAlgo algo, Exchange exchange)
    : cfg_(model.config),
      plan_(plan),
      cluster_(cluster),
      meter_(meter),
      algo_(algo),
      exchange_(exchange) {
  context_ = context;
  max_rows_ = max_rows;
  build(model, movable);
}

void LlamaChip::build(const weights::QLlamaModel &model, weights::QLlamaModel *movable) {
  const int context = context_, max_rows = max_rows_;
  const model::ChipPlan &plan = plan_;
  if (context < 1 || context > cfg_.seq_len)
    throw std::invalid_argument(fmt::format("context of {} positions: must be 1..{} ({}'s seq_len)",
                                            context, cfg_.seq_len, cfg_.name));
  if (max_rows < 1 || max_rows > context)
    throw std::invalid_argument(
        fmt::format("{} rows per forward: must be 1..{}", max_rows, context));
  const int D = cfg_.dim, hd = cfg_.head_dim();
  n_heads_ = plan.heads.size();
  head_dim_ = hd;
  ffn_ = plan.ffn.size();
  vocab_ = plan.vocab.size();
  const int h0 = plan.heads.begin * hd, h1 = plan.heads.end * hd;
  compute_ = !model.layers.empty();
  if (compute_ && meter_.settles_syncs())
    throw std::logic_error(
        "a meter that settles synchronisations later is for cost-only chips only (no data moves)");
  for (int c = 0, N = cluster_.size(); c < N; ++c)
    if (const auto r = model::split_range(cfg_.vocab_size, N, c); r.end > r.begin) {
      placeholder_token_ = r.begin;
      break;
    }
  if (!compute_) {
    // Cost-only: the shard's shapes without any weight (nothing is allocated or computed;
    // the meter and the collectives see exactly the calls of a full run).
    const int own = h1 - h0;
    auto shape = [](std::string name, int out, int in) {
      ShardLinear s;
      s.name = std::move(name);
      s.out = out;
      s.in = in;
      return s;
    };
    for (int l = 0; l < cfg_.n_layers; ++l) {
      ShardLayer s;
      const std::string p = fmt::format("L{}.", l);
      s.wq = shape(p + "wq", own, D);
      s.wk = shape(p + "wk", own, D);
      s.wv = shape(p + "wv", own, D);
      s.wo = shape(p + "wo", D, own);
      s.w1 = shape(p + "w1", ffn_, D);
      s.w3 = shape(p + "w3", ffn_, D);
      s.w2 = shape(p + "w2", D, ffn_);
      layers_.push_back(std::move(s));
    }
  }
  const bool sliced = model.slice.has_value();
  if (sliced && *model.slice != chip_slice(cfg_, plan))
    throw std::invalid_argument(
        fmt::format("chip {}: the model was read for another chip's slice", plan.chip));
  for (int l = 0; compute_ && l < cfg_.n_layers; ++l) {
    const auto &ql = model.layers[l];
    weights::QLlamaLayer *ml = movable ? &movable->layers[l] : nullptr;
    ShardLayer s;
    const std::string p = fmt::format("L{}.", l);
    s.attn_norm = ql.attn_norm;
    s.ffn_norm = ql.ffn_norm;
    if (sliced) {
      s.wq = whole(ql.wq, ml ? &ml->wq : nullptr, p + "wq");
      s.wk = whole(ql.wk, ml ? &ml->wk : nullptr, p + "wk");
      s.wv = whole(ql.wv, ml ? &ml->wv : nullptr, p + "wv");
      s.wo = whole(ql.wo, ml ? &ml->wo : nullptr, p + "wo");
      s.w1 = whole(ql.w1, ml ? &ml->w1 : nullptr, p + "w1");
      s.w3 = whole(ql.w3, ml ? &ml->w3 : nullptr, p + "w3");
      s.w2 = whole(ql.w2, ml ? &ml->w2 : nullptr, p + "w2");
    } else {
      s.wq = rows_of(ql.wq, h0, h1, p + "wq");
      s.wk = rows_of(ql.wk, h0, h1, p + "wk");
      s.wv = rows_of(ql.wv, h0, h1, p + "wv");
      s.wo = cols_of(ql.wo, h0, h1, p + "wo");
      s.w1 = rows_of(ql.w1, plan.ffn.begin, plan.ffn.end, p + "w1");
      s.w3 = rows_of(ql.w3, plan.ffn.begin, plan.ffn.end, p + "w3");
      s.w2 = cols_of(ql.w2, plan.ffn.begin, plan.ffn.end, p + "w2");
    }
    s.scores = ql.scores;
    s.attn = ql.attn;
    s.silu = ql.silu;
    s.softmax = ql.softmax;
    s.softmax_table = kernels::SoftmaxIbert(ql.softmax);
    s.resid_attn = ql.resid_attn;
    s.resid_ffn = ql.resid_ffn;
    s.hswish = ql.hswish;
    s.gate = ql.gate;
    layers_.push_back(std::move(s));
  }
  const size_t V = vocab_;
  if (compute_ && sliced && movable && !movable->token_embedding_placed.empty()) {
    embedding_ = kernels::GemvMatrix(movable->token_embedding_placed, V, D);
    movable->token_embedding_placed = {};
  } else if (compute_ && sliced && !model.token_embedding_placed.empty())
    embedding_ = kernels::GemvMatrix(std::vector<int8_t>(model.token_embedding_placed.begin(),
                                                         model.token_embedding_placed.begin() +
                                                             static_cast<std::ptrdiff_t>(V * D)),
                                     V, D);
  else if (compute_ && sliced && movable)
    embedding_ = kernels::GemvMatrix(std::move(movable->token_embedding), V, D);
  else if (compute_ && sliced)
    embedding_ = kernels::GemvMatrix(std::vector<int8_t>(model.token_embedding), V, D);
  else if (compute_)
    embedding_ = kernels::GemvMatrix(
        std::vector<int8_t>(
            model.token_embedding.begin() + static_cast<size_t>(plan.vocab.begin) * D,
            model.token_embedding.begin() + static_cast<size_t>(plan.vocab.end) * D),
        V, D);
  placed_storage_ = model.placed_storage;  // the weight arena the matrices may live in
  final_norm_ = model.final_norm;
  rope_ = model.rope;
  rope_cos_ = model.rope_cos;
  rope_sin_ = model.rope_sin;

  const size_t T = context_, R = max_rows_, own = static_cast<size_t>(n_heads_) * hd;
  kv_bytes_ = static_cast<int64_t>(2 * cfg_.n_layers * own * T);
  kv_packed_ = compute_ && kernels::packed_gemv_available() && hd % 16 == 0;
  kv_rows_ = kv_packed_ ? (T + 15) / 16 * 16 : T;
  kv_cols_ = kv_packed_ ? (T + 3) / 4 * 4 : T;
  if (compute_) {
    k_cache_.assign(cfg_.n_layers * own * kv_rows_, 0);
    v_cache_.assign(cfg_.n_layers * own * kv_cols_, 0);
  }
  if (kv_packed_) {
    k_sums_.assign(cfg_.n_layers * n_heads_ * kv_rows_, 0);
    probs_pad_.assign(kv_cols_, -128);
  }
  x_.resize(R * D), xn_.resize(R * D), delta_.resize(R * D);
  q_.resize(R * own), k_.resize(R * own), v_.resize(R * own), att_.resize(R * own);
  h1_.resize(R * ffn_), h3_.resize(R * ffn_), g_.resize(R * ffn_);
  acc_.resize(R * std::max<size_t>(own, D)), part_.resize(R * D);
  acc_ffn_.resize(R * std::max(ffn_, 1));
  scores32_.resize(T), scores8_.resize(T), probs_.resize(T), av32_.resize(hd);
  logits_.resize(vocab_);
}

std::vector<std::pair<std::string, int64_t>> LlamaChip::weight_tensors() const {
  std::vector<std::pair<std::string, int64_t>> t;
  for (const auto &l : layers_)
    for (const ShardLinear *w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w3, &l.w2})
      t.emplace_back(w->name, static_cast<int64_t>(w->out) * w->in);
  t.emplace_back("embedding", static_cast<int64_t>(vocab_) * cfg_.dim);
  return t;
}

int64_t LlamaChip::activation_bytes() const {
  int64_t b = 0;
  for (const auto *v :
       {&x_, &xn_, &q_, &k_, &v_, &att_, &h1_, &h3_, &g_, &delta_, &scores8_, &probs_})
    b += static_cast<int64_t>(v->size());
  // int32 buffers that live in L2: the all-reduce partials, the scores row and the logits. The
  // int32 outputs of Q/K/V, W1/W3 and P.V are requantized in L1 tile by tile (fused on the
  // chip; the emulator keeps whole buffers only for convenience), so they take no L2.
  for (const auto *v : {&part_, &scores32_, &logits_})
    b += static_cast<int64_t>(v->size() * sizeof(int32_t));
  return b;
}

int64_t LlamaChip::kv_cache_bytes() const {
  return kv_bytes_;
}

void LlamaChip::embed(std::span<const int> tokens) {
  const int D = cfg_.dim, S = static_cast<int>(tokens.size()), N = cluster_.size();
  if (S == 1) {
    // One token: the owner of its row broadcasts it.
    const int token = tokens[0];
    int owner = 0;
    while (token >= model::split_range(cfg_.vocab_size, N, owner).end) ++owner;
    const bool carried = carried_.token == token;  // the same on every chip (see argmax())
    const Carried c = carried_;
    carried_.token = -1;
    if (owner == cluster_.rank()) {
      if (compute_ && !carried) embedding_.row(token - plan_.vocab.begin, std::span(x_).first(D));
      meter_.nonlinear(-1, Nonlinear::Copy, D);
    }
    if (!carried) {
      broadcast(meter_, cluster_, -1, SyncKind::EmbeddingBroadcast, std::span(x_).first(D), owner);
    } else {
      // The row came with the arg-max; the broadcast's timing as Cluster::broadcast reports it:
      // this chip's share of the tree, and the latest arrival, which is the owner's (every chip
      // left the arg-max at c.clock; the owner has charged its copy of the row since).
      const auto *row = reinterpret_cast<const int8_t *>(carry_.data() + sizeof(int64_t));
      std::copy_n(row, D, x_.begin());
      const int64_t arrival = meter_.clock(), latest = c.clock + c.copy_cycles;
      if (arrival != (owner == cluster_.rank() ? latest : c.clock))
        throw std::logic_error(fmt::format(
            "chip {}: its clock moved between the arg-max and the next step's embedding ({} "
            "cycles, expected {})",
            cluster_.rank(), arrival, owner == cluster_.rank() ? latest : c.clock));
      meter_.sync(-1, SyncKind::EmbeddingBroadcast,
                  mpi::settled(cluster_.broadcast_share(D, owner), arrival, latest));
      ++stats_.carried_embeddings;
    }
  } else {
    // Several tokens with different owners: each chip writes the rows it owns into a zeroed
    // (S, D) block and one all-reduce assembles them (exact: one non-zero term per element).
    std::span<int32_t> rows(part_.data(), static_cast<size_t>(S) * D);
    std::fill(rows.begin(), rows.end(), 0);
    std::vector<int8_t> row(D);
    for (int i = 0; i < S; ++i) {
      if (tokens[i] < plan_.vocab.begin || tokens[i] >= plan_.vocab.end) continue;
      if (compute_) embedding_.row(tokens[i] - plan_.vocab.begin, row);
      if (compute_) std::copy(row.begin(), row.end(), rows.begin() + static_cast<size_t>(i) * D);
      meter_.nonlinear(-1, Nonlinear::Copy, D);
    }
    allreduce(meter_, cluster_, -1, SyncKind::EmbeddingBroadcast, rows, algo_);
    if (compute_)
      for (size_t i = 0; i < rows.size(); ++i) x_[i] = static_cast<int8_t>(rows[i]);
  }
  ++stats_.edge_exchanges;
}

int LlamaChip::forward(std::span<const int> tokens, int start) {
  const int S = static_cast<int>(tokens.size()), D = cfg_.dim;
  if (S < 1 || S > max_rows_)
    throw std::invalid_argument(
        fmt::format("{} tokens in one forward: must be 1..{}", S, max_rows_));
  for (int t : tokens)
    if (t < 0 || t >= cfg_.vocab_size)
      throw std::invalid_argument(
          fmt::format("token {} outside the vocabulary 0..{}", t, cfg_.vocab_size - 1));
  if (start < 0 || start + S > context_)
    throw std::invalid_argument(fmt::format("positions {}..{} outside the context 0..{}", start,
                                            start + S - 1, context_ - 1));
  // Cost-only, one token: the meter may make this step's calls itself, from the steps it
  // recorded (BatchedMeter's step replay); the chip's counters then move as in the steps before.
  const bool step = S == 1 && meter_.settles_syncs();
  if (step && meter_.begin_step(start, tokens[0])) {
    stats_ += step_stats_;
    return placeholder_token_;
  }
  const RunStats before = stats_;
  embed(tokens);
  // A full run, one token: the meter may charge the ops of the blocks and the head itself, from
  // the steps it recorded (DeferredMeter's op replay); the chip then runs the same arithmetic
  // and meets the other chips at every synchronisation, and makes no op call until end_ops().
  const bool ops_step = S == 1 && !meter_.settles_syncs();
  struct OpsBack {  // the ops' calls go to the meter again, however the step ends
    Meter *&ops;
    Meter &meter;
    ~OpsBack() { ops = &meter; }
  } ops_back{ops_, meter_};
  if (ops_step && meter_.begin_ops(start)) ops_ = &skipped_ops();
  for (int l = 0; l < cfg_.n_layers; ++l) {
    attention(l, start, S);
    ffn(l, S);
  }

  // Exchange after the blocks: the last row only; own vocabulary rows of the LM head, then
  // the global arg-max.
  const std::span<const int8_t> last(x_.data() + static_cast<size_t>(S - 1) * D, D);
  const std::span<int8_t> last_n(xn_.data(), D);
  if (compute_)
    kernels::rmsnorm(final_norm_.w, 0, final_norm_.log2D, 0, final_norm_.k, last, last_n);
  ops_->nonlinear(-1, Nonlinear::RmsNorm, D);
  int32_t best = INT32_MIN;
  int64_t best_index = INT64_MAX;
  if (vocab_ > 0) {
    if (compute_) embedding_.apply({0, 0}, last_n, 1, {}, logits_, logits_.size());
    ops_->linear(-1, "embedding", 1, vocab_, D);
    ops_->nonlinear(-1, Nonlinear::Argmax, vocab_);
    if (compute_) {
      const auto am = kernels::argmax(logits_);
      best = am.value;
      best_index = plan_.vocab.begin + static_cast<int64_t>(am.index);
    } else {
      best = 0;
      best_index = plan_.vocab.begin;  // cost-only: no logits, the token id is a placeholder
    }
  }
  if (meter_.settles_syncs()) {
    // Cost-only, the clocks settled later: no chip has logits, so the arg-max over the chips'
    // placeholders (0 at the first row of each chip that has vocabulary rows, the lowest index
    // winning ties) is the first row of the first chip with any.
    meter_.sync_later(-1, SyncKind::LogitsArgmax, cluster_.argmax_share());
    best_index = placeholder_token_;
  } else {
    argmax(best, best_index);
  }
  if (ops_step) meter_.end_ops();
  ++stats_.edge_exchanges;
  stats_.tokens += S;
  ++stats_.forwards;
  if (step) {
    meter_.end_step();
    step_stats_ = stats_ - before;
  }
  return static_cast<int>(best_index);
}

void LlamaChip::argmax(int32_t &best, int64_t &best_index) {
  const int D = cfg_.dim;
  carried_.token = -1;
  if (!compute_ || !cluster_.shared_memory() || cluster_.size() < 2 ||
      sizeof(int64_t) + static_cast<size_t>(D) > mpi::Cluster::kMaxArgmaxPayload) {
    meter_.sync(-1, SyncKind::LogitsArgmax, cluster_.argmax(best, best_index, meter_.clock()));
    return;
  }
  // Each chip's candidate carries its embedding row and what the owner's copy of it costs (-1
  // when the chip has no rows or its meter cannot tell: the winner's -1 means no carry, for
  // every chip alike).
  carry_.assign(sizeof(int64_t) + D, std::byte{0});
  int64_t cycles = -1;
  if (vocab_ > 0) {
    if (copy_cycles_ < 0) copy_cycles_ = meter_.nonlinear_cycles(-1, Nonlinear::Copy, D);
    cycles = copy_cycles_;
    embedding_.row(static_cast<size_t>(best_index - plan_.vocab.begin),
                   std::span(reinterpret_cast<int8_t *>(carry_.data() + sizeof cycles), D));
  }
  std::memcpy(carry_.data(), &cycles, sizeof cycles);
  meter_.sync(-1, SyncKind::LogitsArgmax,
              cluster_.argmax(best, best_index, meter_.clock(), carry_));
  std::memcpy(&cycles, carry_.data(), sizeof cycles);
  if (cycles >= 0) carried_ = {best_index, cycles, meter_.clock()};
}

void LlamaChip::linear(int l, const ShardLinear &w, std::span<const int8_t> x, std::span<int32_t> y,
                       int S) {
  // S rows of x against the weights (one GEMV per row; the packed layout keeps a block of
  // weights in L1 across the rows).
  if (compute_) w.w.apply({0, 0}, x, static_cast<size_t>(S), {}, y, static_cast<size_t>(w.out));
  ops_->linear(l, w.name, S, w.out, w.in);
}

void LlamaChip::attention(int l, int start, int S) {
  ShardLayer &L = layers_[l];
  const int D = cfg_.dim, hd = head_dim_, own = n_heads_ * hd;
  const size_t seq = context_, SD = static_cast<size_t>(S) * D, SO = static_cast<size_t>(S) * own;
  if (compute_)
    kernels::rmsnorm(L.attn_norm.w, 0, L.attn_norm.log2D, 0, L.attn_norm.k, std::span(x_).first(SD),
                     std::span(xn_).first(SD));
  ops_->nonlinear(l, Nonlinear::RmsNorm, static_cast<int64_t>(SD));

  const std::span<int32_t> part(part_.data(), SD);
  if (own > 0) {
    const std::span<int32_t> acc(acc_.data(), SO);
    for (auto [lin, out] : {std::pair{&L.wq, &q_}, std::pair{&L.wk, &k_}, std::pair{&L.wv, &v_}}) {
      linear(l, *lin, std::span(xn_).first(SD), acc, S);
      if (compute_) requant(*lin, acc, std::span(*out).first(SO));
      ops_->nonlinear(l, Nonlinear::Requant, static_cast<int64_t>(SO));
    }
    for (int i = 0; i < S; ++i) {
      const size_t pos = static_cast<size_t>(start + i);
      const std::span<const int16_t> cs(rope_cos_.data() + pos * (hd / 2), hd / 2);
      const std::span<const int16_t> sn(rope_sin_.data() + pos * (hd / 2), hd / 2);
      const std::span<int8_t> qi(q_.data() + static_cast<size_t>(i) * own, own);
      const std::span<int8_t> ki(k_.data() + static_cast<size_t>(i) * own, own);
      if (compute_) kernels::rope(rope_, qi, cs, sn, qi, n_heads_);
      if (compute_) kernels::rope(rope_, ki, cs, sn, ki, n_heads_);
    }
    ops_->nonlinear(l, Nonlinear::Rope, static_cast<int64_t>(2 * SO));

    for (int h = 0; h < n_heads_; ++h) {
      const size_t lh = static_cast<size_t>(l) * n_heads_ + h;
      int8_t *kc = k_cache_.data() + lh * kv_rows_ * hd;  // (context, hd)
      int8_t *vc = v_cache_.data() + lh * hd * kv_cols_;  // (hd, context)
      int32_t *ks = kv_packed_ ? k_sums_.data() + lh * kv_rows_ : nullptr;
      for (int i = 0; i < S; ++i) {
        const size_t pos = static_cast<size_t>(start + i),
                     row = static_cast<size_t>(i) * own + h * hd;
        if (!compute_) continue;
        if (kv_packed_) {
          int32_t sum = 0;
          for (int d = 0; d < hd; ++d) {
            kc[kernels::packed_index(pos, d, hd)] = k_[row + d];
            vc[kernels::packed_index(d, pos, kv_cols_)] = v_[row + d];
            sum += k_[row + d];
          }
          ks[pos] = sum;
        } else {
          std::copy_n(k_.data() + row, hd, kc + pos * hd);
          for (int d = 0; d < hd; ++d) vc[static_cast<size_t>(d) * seq + pos] = v_[row + d];
        }
      }
      // Row i attends to positions 0 .. start + i (causal).
      for (int i = 0; i < S; ++i) {
        const int T = start + i + 1;
        const size_t row = static_cast<size_t>(i) * own + h * hd;
        const std::span<const int8_t> qi(q_.data() + row, hd);
        // scores (1, T) = q . K^T, requantized with 1/sqrt(head_dim) folded in.
        // One query row: a GEMV over the T cached keys (exact integer sums, the same as the
        // 1 x T GEMM; on the host it takes the fast GEMV path).
        if (kv_packed_)
          kernels::gemv_packed({0, 0}, std::span<const int8_t>(kc, kv_rows_ * hd),
                               std::span<const int32_t>(ks, T), qi, std::span(scores32_.data(), T),
                               gemv_u_);
        else if (compute_)
          kernels::gemv({0, 0}, std::span<const int8_t>(kc, static_cast<size_t>(T) * hd), qi, {},
                        std::span(scores32_.data(), T));
        ops_->matmul(l, "qk", 1, T, hd);
        if (compute_)
          kernels::rqs(L.scores, std::span(scores32_.data(), T), std::span(scores8_.data(), T));
        if (compute_)
          L.softmax_table(std::span(scores8_.data(), T), std::span(probs_.data(), T), 1, T, T);
        ops_->nonlinear(l, Nonlinear::Requant, T);
        ops_->nonlinear(l, Nonlinear::Softmax, T);
        // out (1, hd) = probs . V, probs have zero point -128 (x_off = 128). On the host it is
        // a GEMV over V's whole rows (hd, context): the positions past T get probability
        // -128, which the offset turns into 0, so they add nothing (the same integers as the
        // 1 x hd x T product the chip runs and is charged for below).
        if (kv_packed_) {
          std::copy_n(probs_.begin(), T, probs_pad_.begin());
          std::fill(probs_pad_.begin() + T, probs_pad_.end(), static_cast<int8_t>(-128));
          kernels::gemv_packed({128, 0}, std::span<const int8_t>(vc, hd * kv_cols_), {}, probs_pad_,
                               av32_, gemv_u_);
        } else if (compute_) {
          std::fill(probs_.begin() + T, probs_.end(), static_cast<int8_t>(-128));
          kernels::gemv({128, 0}, std::span<const int8_t>(vc, static_cast<size_t>(hd) * seq),
                        probs_, {}, av32_);
        }
        ops_->matmul(l, "pv", 1, hd, T);
        if (compute_) kernels::rqs(L.attn, av32_, std::span(att_.data() + row, hd));
        ops_->nonlinear(l, Nonlinear::Requant, hd);
      }
    }
    linear(l, L.wo, std::span(att_).first(SO), part, S);
  } else {
    std::fill(part.begin(), part.end(), 0);  // a chip without heads contributes zeros
  }
  allreduce_requant_add(l, SyncKind::AttentionAllreduce, L.wo, L.resid_attn, S);
}

void LlamaChip::ffn(int l, int S) {
  ShardLayer &L = layers_[l];
  const int D = cfg_.dim, F = ffn_;
  const size_t SD = static_cast<size_t>(S) * D, SF = static_cast<size_t>(S) * F;
  if (compute_)
    kernels::rmsnorm(L.ffn_norm.w, 0, L.ffn_norm.log2D, 0, L.ffn_norm.k, std::span(x_).first(SD),
                     std::span(xn_).first(SD));
  ops_->nonlinear(l, Nonlinear::RmsNorm, static_cast<int64_t>(SD));
  const std::span<int32_t> part(part_.data(), SD);
  if (F > 0) {
    const std::span<int32_t> acc(acc_ffn_.data(), SF);
    const std::span<int8_t> h1(h1_.data(), SF), h3(h3_.data(), SF), g(g_.data(), SF);
    linear(l, L.w1, std::span(xn_).first(SD), acc, S);
    if (compute_) requant(L.w1, acc, h1);
    linear(l, L.w3, std::span(xn_).first(SD), acc, S);
    if (compute_) requant(L.w3, acc, h3);
    ops_->nonlinear(l, Nonlinear::Requant, static_cast<int64_t>(2 * SF));
    if (compute_) kernels::hswish(L.hswish, h1, acc);
    if (compute_) kernels::rqs(L.silu, acc, g);
    ops_->nonlinear(l, Nonlinear::Hswish, static_cast<int64_t>(SF));
    if (compute_) kernels::mul_rq(L.gate, g, h3, g);
    ops_->nonlinear(l, Nonlinear::Mul, static_cast<int64_t>(SF));
    linear(l, L.w2, g, part, S);
  } else {
    std::fill(part.begin(), part.end(), 0);
  }
  allreduce_requant_add(l, SyncKind::FfnAllreduce, L.w2, L.resid_ffn, S);
}

void LlamaChip::allreduce_requant_add(int l, SyncKind kind, const ShardLinear &lin,
                                      const mcu_add_rq_t &add, int S) {
  const size_t SD = static_cast<size_t>(S) * cfg_.dim;
  const std::span<int32_t> part(part_.data(), SD);
  const std::span<int8_t> delta(delta_.data(), SD), x(x_.data(), SD);
  if (exchange_ == Exchange::Int32) {
    allreduce(meter_, cluster_, l, kind, part, algo_);
    if (compute_) requant(lin, part, delta);
  } else {
    // Requantize this chip's partial first; sum the int8 terms (carried as int16), clamp.
    if (compute_) requant(lin, part, delta);
    if (compute_)
      for (size_t i = 0; i < SD; ++i) part[i] = delta[i];
    allreduce(meter_, cluster_, l, kind, part, algo_, 2);
    if (compute_)
      for (size_t i = 0; i < SD; ++i)
        delta[i] = static_cast<int8_t>(std::clamp(part[i], -128, 127));
  }
  ++stats_.block_syncs;
  ++stats_.syncs_per_block[kind == SyncKind::AttentionAllreduce ? 0 : 1];
  if (compute_) kernels::add_rq(add, x, delta, x);
  ops_->nonlinear(l, Nonlinear::Requant, static_cast<int64_t>(SD));
  ops_->nonlinear(l, Nonlinear::Add, static_cast<int64_t>(SD));
}

}  // namespace mcuemu::runtime
