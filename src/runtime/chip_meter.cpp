#include "runtime/chip_meter.hpp"

#include "runtime/populated.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>

namespace mcuemu::runtime {
namespace {

chip::OpKind op_kind(Nonlinear k) {
  switch (k) {
    case Nonlinear::RmsNorm:
      return chip::OpKind::rmsnorm;
    case Nonlinear::Softmax:
      return chip::OpKind::softmax;
    case Nonlinear::Requant:
      return chip::OpKind::requant;
    case Nonlinear::Add:
      return chip::OpKind::add;
    case Nonlinear::Mul:
      return chip::OpKind::mul;
    case Nonlinear::Hswish:
      return chip::OpKind::hswish;
    case Nonlinear::Rope:
      return chip::OpKind::rope;
    case Nonlinear::Argmax:
      return chip::OpKind::argmax;
    case Nonlinear::Copy:
      return chip::OpKind::copy;
    case Nonlinear::NoNorm:
      return chip::OpKind::nonorm;
  }
  return chip::OpKind::copy;
}

// Names are a few characters: compared in line, without a call to memcmp.
bool same_name(const std::string &a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < b.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// "L3.wq" -> "wq": the ledger groups by op, the layer is its own key.
std::string weight_kind(const std::string &name) {
  const auto dot = name.find('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

}  // namespace

ChipMeter::ChipMeter(chip::Chip &chip, const chip::Placement &placement) : chip_(chip) {
  for (const auto &a : placement.tensors) level_[a.name] = a.level;
  for (const auto &a : placement.tensors)
    if (a.tag == chip::Tag::kv_cache) kv_level_ = a.level;
  // The price store's first memory, made here at setup rather than at the first prices in the
  // run loop: populated memory is mapped a page at a time by the kernel (~2 us a page on the
  // reference VM, and each page counted as a minor fault by getrusage: the 28 per chip that
  // host_wall's page_faults showed in every run loop until session 6).
  price_chunks_.push_back(std::make_unique<PriceChunk>());
  passing_.resize(kPassingSets);
  price_table_.assign(256, {});
  pushed_out_.assign(kPushedOutBits / 64, 0);
  // Room for the synchronisations of 32 layers (more grow the table when they first come).
  sync_accounts_.reserve(33 * (static_cast<size_t>(SyncKind::OutputGather) + 1));
}

ChipMeter::Charge ChipMeter::linear_op(int layer, const std::string &weight, int tokens, int out,
                                       int in) {
  return find({Call::Linear, Nonlinear::Copy, layer, weight, {tokens, out, in, 0}});
}

ChipMeter::Charge ChipMeter::linear_partial_op(int layer, const std::string &weight, int tokens,
                                               int out, int in) {
  return find({Call::LinearPartial, Nonlinear::Copy, layer, weight, {tokens, out, in, 0}});
}

ChipMeter::Charge ChipMeter::matmul_op(int layer, const char *op, int M, int N, int K) {
  return find({Call::Matmul, Nonlinear::Copy, layer, op, {M, N, K, 0}});
}

ChipMeter::Charge ChipMeter::nonlinear_op(int layer, Nonlinear kind, int64_t elements) {
  return find({Call::Nonlinear, kind, layer, {}, {0, 0, 0, elements}});
}

ChipMeter::CallKey::CallKey(Call c, Nonlinear k, int l, std::string_view n, Shape sh)
    : call(c), nonlinear(k), layer(l), name(n), name8(0), shape(sh) {
  if (!n.empty()) std::memcpy(&name8, n.data(), std::min<size_t>(n.size(), sizeof name8));
}

ChipMeter::Charge ChipMeter::find(const CallKey &k) {
  // The guess: a call that followed the last one before, the same call (site) if not the same
  // shape (the attention's grow by one position per token).
  if (last_) {
    Slot *same_site = nullptr;
    for (Slot *s : last_->next) {
      if (!s) break;
      if (s->call != k.call || s->layer != k.layer || s->nonlinear != k.nonlinear ||
          s->name_size != k.name.size() || s->name8 != k.name8 ||
          (k.name.size() > sizeof k.name8 && !same_name(s->site->name, k.name)))
        continue;
      if (s->shape == k.shape) {
        last_ = s;
        return {s->site, s->priced};
      }
      if (!same_site) same_site = s;
    }
    if (same_site) {
      Slot *s = last_ = same_site;
      // The price this place had last time, if it is still this shape's (a price kept for a
      // while only may since have been replaced by another shape's: its key tells).
      if (!s->other || !(s->other->key == key_of(*s->site, k.shape)))
        s->other = &price_for(*s->site, k.shape, true);
      return {s->site, s->other};
    }
  }
  site_key_.clear();
  auto put = [](std::string &to, const auto &v) {
    to.append(reinterpret_cast<const char *>(&v), sizeof v);
  };
  put(site_key_, k.call), put(site_key_, k.nonlinear), put(site_key_, k.layer);
  site_key_.append(k.name);
  slot_key_ = site_key_;
  put(slot_key_, k.shape.a), put(slot_key_, k.shape.b), put(slot_key_, k.shape.c);
  put(slot_key_, k.shape.elements);
  auto it = slots_.find(slot_key_);
  if (it == slots_.end()) {
    Site &site = site_for(k);
    const Priced &priced = price_for(site, k.shape, false);
    Slot slot;
    slot.site = &site;
    slot.call = k.call;
    slot.nonlinear = k.nonlinear;
    slot.layer = k.layer;
    slot.name_size = k.name.size();
    slot.name8 = k.name8;
    slot.shape = k.shape;
    slot.priced = &priced;
    it = slots_.emplace(slot_key_, slot).first;
  }
  Slot &slot = it->second;
  if (last_) {  // a new follower: in the first free place, or instead of the last one
    auto &next = last_->next;
    size_t i = 0;
    while (i + 1 < next.size() && next[i]) ++i;
    next[i] = &slot;
  }
  last_ = &slot;
  return {slot.site, slot.priced};
}

ChipMeter::Site &ChipMeter::site_for(const CallKey &k) {
  if (auto it = sites_.find(site_key_); it != sites_.end()) return it->second;
  Site site;
  site.call = k.call;
  site.nonlinear = k.nonlinear;
  site.layer = k.layer;
  site.name = k.name;
  std::string label;
  switch (k.call) {
    case Call::Linear:
    case Call::LinearPartial: {
      auto it = level_.find(site.name);
      if (it == level_.end()) throw std::logic_error("weight '" + site.name + "' was never placed");
      site.level = it->second;
      label = weight_kind(site.name);
      // Partials that go to an all-reduce (wo, w2) and the logits leave the tile as int32 (4 B);
      // every other projection is requantized in L1, fused, and written back as int8 (1 B).
      site.out_bytes =
          k.call == Call::LinearPartial || (label == "wo" || label == "w2" || label == "embedding")
              ? 4
              : 1;
      break;
    }
    case Call::Matmul:
      // Activation x KV cache (Q.K^T, P.V): the cache's keys / values are the streamed operand,
      // read from where the placement put the cache (L2, or L3 if it spilled); activations are
      // in L2; the int32 products leave the tile (4 B each).
      site.level = kv_level_;
      site.out_bytes = 4;
      label = site.name;
      break;
    case Call::Nonlinear:
      label = nonlinear_name(k.nonlinear);
      break;
  }
  site.account = chip::Ledger::Account(std::move(label), k.layer);
  return sites_.emplace(site_key_, std::move(site)).first->second;
}

// Prices are made in place one at a time (nothing to destroy) in memory populated at once.
static_assert(std::is_trivially_destructible_v<ChipMeter::Priced>);

ChipMeter::PriceChunk::PriceChunk()
    : prices(static_cast<Priced *>(allocate_populated(kPriceChunk * sizeof(Priced)))) {}

ChipMeter::PriceChunk::~PriceChunk() {
  free_populated(prices, kPriceChunk * sizeof(Priced));
}

ChipMeter::Priced &ChipMeter::new_priced(const Priced &p) {
  if (chunk_used_ == kPriceChunk) {  // (the first chunk is made by the constructor)
    price_chunks_.push_back(std::make_unique<PriceChunk>());
    chunk_used_ = 0;
  }
  return *new (price_chunks_.back()->prices + chunk_used_++) Priced(p);
}

ChipMeter::PriceKey ChipMeter::key_of(const Site &site, const Shape &sh) {
  switch (site.call) {
    case Call::Linear:
    case Call::LinearPartial:  // a GEMV for one token, a GEMM for several
      return {sh.a == 1 ? 0 : 1, static_cast<int>(site.level), sh.a, sh.b, sh.c, site.out_bytes};
    case Call::Matmul:
      return {2, static_cast<int>(site.level), sh.a, sh.b, sh.c, site.out_bytes};
    case Call::Nonlinear:
      break;
  }
  return {3 + static_cast<int>(site.nonlinear),
          static_cast<int>(chip::Level::L2),
          sh.elements,
          0,
          0,
          0};
}

ChipMeter::Priced ChipMeter::priced(const Site &site, const Shape &sh, const PriceKey &key) {
  const chip::CostModel &cm = chip_.cost();
  const auto level = static_cast<chip::Level>(key.level);
  chip::OpCost cost;
  switch (site.call) {
    case Call::Linear:
    case Call::LinearPartial:
      cost = sh.a == 1 ? cm.price_gemv(sh.b, sh.c, level, site.out_bytes)
                       : cm.price_gemm(sh.a, sh.b, sh.c, level, site.out_bytes);
      break;
    case Call::Matmul:
      cost = cm.price_gemm(sh.a, sh.b, sh.c, level, site.out_bytes);
      break;
    case Call::Nonlinear:
      cost = site.nonlinear == Nonlinear::Copy
                 ? cm.price_copy(sh.elements, chip::Level::L2, chip::Level::L2)
                 : cm.price_eltwise(op_kind(site.nonlinear), sh.elements);
      break;
  }
  return {key, chip_.ledger().delta(cost), cost.compute_cycles, cost.dma_cycles};
}

const ChipMeter::Priced &ChipMeter::price_for(const Site &site, const Shape &sh, bool passing) {
  const PriceKey key = key_of(site, sh);
  const uint64_t h = hash(key);
  RecentPrice &recent = recent_[h % recent_.size()];
  if (recent.priced && recent.key == key) return *recent.priced;
  size_t mask = price_table_.size() - 1, i = h & mask;
  for (; price_table_[i].priced; i = (i + 1) & mask)
    if (price_table_[i].hash == h && price_table_[i].priced->key == key) {
      recent = {key, price_table_[i].priced};
      return *price_table_[i].priced;
    }

  if (passing && !keep_prices_) {
    PassingSet &set = passing_[h % kPassingSets];
    for (int w = 0; w < 2; ++w)
      if (set.used[w] && set.way[w].key == key) {
        set.older = 1 - w;
        return set.way[w];
      }
    // Not here: kept for a while only, unless it was here before and pushed out (then its
    // shape recurs further apart than this cache holds, as a prompt's do from layer to layer).
    if (!maybe_pushed_out(h)) {
      const int w = set.used[0] ? set.older : 0;
      if (set.used[w]) note_pushed_out(hash(set.way[w].key));
      set.way[w] = priced(site, sh, key);
      set.used[w] = true;
      set.older = 1 - w;
      return set.way[w];
    }
  }

  Priced &p = new_priced(priced(site, sh, key));  // pricing may throw: nothing made yet
  if (2 * (prices_ + 1) > price_table_.size()) {  // keep the table at most half full
    decltype(price_table_) bigger(2 * price_table_.size());
    mask = bigger.size() - 1;
    for (const PriceEntry &e : price_table_)
      if (e.priced) {
        size_t j = e.hash & mask;
        while (bigger[j].priced) j = (j + 1) & mask;
        bigger[j] = e;
      }
    price_table_.swap(bigger);
    for (i = h & mask; price_table_[i].priced;) i = (i + 1) & mask;
  }
  price_table_[i] = {h, &p};
  ++prices_;
  recent = {key, &p};
  return p;
}

void ChipMeter::note_pushed_out(uint64_t h) {
  for (uint64_t b : {h % kPushedOutBits, (h >> 32) % kPushedOutBits})
    pushed_out_[b / 64] |= uint64_t{1} << (b % 64);
}

bool ChipMeter::maybe_pushed_out(uint64_t h) const {
  for (uint64_t b : {h % kPushedOutBits, (h >> 32) % kPushedOutBits})
    if (!(pushed_out_[b / 64] >> (b % 64) & 1)) return false;
  return true;
}

void ChipMeter::charge(const Charge &c) {
  if (!trace_) {
    chip_.ledger().charge(c.priced->delta, c.site->account);
    return;
  }
  const Site &s = *c.site;
  const PriceKey &k = c.priced->key;
  switch (s.call) {
    case Call::Linear:
    case Call::LinearPartial:
      charge_traced(c, {{"op", s.account.label()},
                        {"weight", s.name},
                        {"tokens", k.a},
                        {"out", k.b},
                        {"in", k.c},
                        {"weight_level", std::string(chip::level_name(s.level))}});
      break;
    case Call::Matmul:
      charge_traced(c, {{"op", s.name}, {"M", k.a}, {"N", k.b}, {"K", k.c}});
      break;
    case Call::Nonlinear:
      charge_traced(c, {{"op", s.account.label()}, {"elements", k.a}});
      break;
  }
}

void ChipMeter::charge_ahead(const Charge &c) {
  if (trace_) throw std::logic_error("a traced chip charges every op at its clock");
  chip_.ledger().charge_ahead(c.priced->delta, c.site->account);
}

chip::Ledger::Prepared ChipMeter::prepare_ahead(const Charge &c) {
  if (trace_) throw std::logic_error("a traced chip charges every op at its clock");
  return chip_.ledger().prepare_ahead(c.priced->delta, c.site->account);
}

void ChipMeter::charge_ahead(const chip::Ledger::Prepared *ops, size_t n) {
  if (trace_) throw std::logic_error("a traced chip charges every op at its clock");
  chip_.ledger().charge_ahead(ops, n);
}

void ChipMeter::charge_traced(const Charge &ch, nlohmann::json shape) {
  const Priced &c = *ch.priced;
  const std::string &label = ch.site->account.label();
  const int layer = ch.site->layer;
  const int64_t start = chip_.ledger().now();
  const double e0 = chip_.ledger().total().energy.total_pj();
  chip_.ledger().charge(ch.priced->delta, ch.site->account);
  const int64_t dur = chip_.ledger().now() - start;
  shape["energy_pj"] = chip_.ledger().total().energy.total_pj() - e0;
  shape["macs"] = c.delta.totals.macs;
  shape["elements"] = c.delta.totals.elements;
  shape["compute_cycles"] = c.compute_cycles;
  shape["dma_cycles"] = c.dma_cycles;
  trace_->slice(Trace::Compute, label, layer, start, dur, shape);
  if (c.dma_cycles > 0)
    trace_->slice(Trace::Dma, label, layer, start,
                  std::min<int64_t>(dur, static_cast<int64_t>(std::ceil(c.dma_cycles))),
                  {{"op", label}, {"dma_cycles", c.dma_cycles}});
}

ChipMeter::SyncAccounts &ChipMeter::sync_accounts(int layer, SyncKind kind) {
  constexpr int kKinds = static_cast<int>(SyncKind::OutputGather) + 1;
  const int k = static_cast<int>(kind);
  if (layer < -1 || k < 0 || k >= kKinds)
    throw std::invalid_argument(
        fmt::format("synchronisation at layer {}, kind {}: no such place", layer, k));
  const size_t i = (static_cast<size_t>(layer) + 1) * kKinds + static_cast<size_t>(k);
  if (i >= sync_accounts_.size()) sync_accounts_.resize(i + 1);
  SyncAccounts &a = sync_accounts_[i];
  if (!a.made) a = {true, {"idle", layer}, {sync_name(kind), layer}};
  return a;
}

void ChipMeter::sync(int layer, SyncKind kind, const mpi::CollectiveTiming &t) {
  const double e0 = trace_ ? chip_.ledger().total().energy.total_pj() : 0;
  SyncAccounts &accounts = sync_accounts(layer, kind);
  chip_.ledger().wait_until(t.latest, accounts.idle);
  chip_.ledger().charge_link(t.bytes_sent, t.link_cycles, accounts.link);
  if (!trace_) return;
  if (t.latest > t.arrival)
    trace_->slice(Trace::Link, "wait", layer, t.arrival, t.latest - t.arrival,
                  {{"op", "wait"}, {"for", sync_name(kind)}});
  trace_->slice(Trace::Link, sync_name(kind), layer, t.latest, t.end - t.latest,
                {{"op", sync_name(kind)},
                 {"bytes_sent", t.bytes_sent},
                 {"messages", t.messages_sent},
                 {"idle_cycles", t.idle_cycles},
                 {"energy_pj", chip_.ledger().total().energy.total_pj() - e0}});
  // A marker for every synchronisation inside a block (not the exchanges at the edges).
  const char *mark = kind == SyncKind::AttentionAllreduce    ? "sync 1 (attention)"
                     : kind == SyncKind::FfnAllreduce        ? "sync 2 (ffn)"
                     : kind == SyncKind::BottleneckAllreduce ? "sync (bottleneck)"
                                                             : nullptr;
  if (mark)
    trace_->marker(Trace::Link, fmt::format("{} L{}", mark, layer), layer, t.latest,
                   {{"op", sync_name(kind)}});
}

mpi::LinkModel link_model(const chip::Profile &p) {
  mpi::LinkModel m;
  m.bytes_per_cycle = p.bytes_per_cycle(p.link.mb_per_s);
  m.latency_cycles = static_cast<int64_t>(std::ceil(p.cycles_from_ns(p.link.latency_ns)));
  return m;
}

}  // namespace mcuemu::runtime
