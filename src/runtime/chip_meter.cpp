#include "runtime/chip_meter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

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
}

void ChipMeter::linear(int layer, const std::string &weight, int tokens, int out, int in) {
  // Partials that go to an all-reduce (wo, w2) and the logits leave the tile as int32 (4 B);
  // every other projection is requantized in L1, fused, and written back as int8 (1 B).
  const std::string kind = weight_kind(weight);
  charge_linear(layer, weight, tokens, out, in,
                (kind == "wo" || kind == "w2" || kind == "embedding") ? 4 : 1);
}

void ChipMeter::linear_partial(int layer, const std::string &weight, int tokens, int out, int in) {
  charge_linear(layer, weight, tokens, out, in, 4);
}

void ChipMeter::charge_linear(int layer, const std::string &weight, int tokens, int out, int in,
                              int64_t out_bytes) {
  auto it = level_.find(weight);
  if (it == level_.end()) throw std::logic_error("weight '" + weight + "' was never placed");
  const std::string kind = weight_kind(weight);
  const chip::Level level = it->second;
  const chip::OpCost &c = price(tokens == 1 ? 0 : 1, tokens, out, in, level, out_bytes, [&] {
    return tokens == 1 ? chip_.cost().price_gemv(out, in, level, out_bytes)
                       : chip_.cost().price_gemm(tokens, out, in, level, out_bytes);
  });
  charge(c, layer, kind,
         trace_ ? nlohmann::json{{"op", kind},
                                 {"weight", weight},
                                 {"tokens", tokens},
                                 {"out", out},
                                 {"in", in},
                                 {"weight_level", std::string(chip::level_name(level))}}
                : nlohmann::json());
}

template <class F>
const chip::OpCost &ChipMeter::price(int op, int64_t a, int64_t b, int64_t c, chip::Level level,
                                     int64_t d, F &&compute) {
  const PriceKey key{op, static_cast<int>(level), a, b, c, d};
  auto it = prices_.find(key);
  if (it == prices_.end()) it = prices_.emplace(key, compute()).first;
  return it->second;
}

void ChipMeter::charge(const chip::OpCost &c, int layer, const std::string &label,
                       nlohmann::json shape) {
  const int64_t start = chip_.ledger().now();
  const double e0 = chip_.ledger().total().energy.total_pj();
  chip_.ledger().charge(c, layer, label);
  if (!trace_) return;
  const int64_t dur = chip_.ledger().now() - start;
  shape["energy_pj"] = chip_.ledger().total().energy.total_pj() - e0;
  shape["macs"] = c.macs;
  shape["elements"] = c.elements;
  shape["compute_cycles"] = c.compute_cycles;
  shape["dma_cycles"] = c.dma_cycles;
  trace_->slice(Trace::Compute, label, layer, start, dur, shape);
  if (c.dma_cycles > 0)
    trace_->slice(Trace::Dma, label, layer, start,
                  std::min<int64_t>(dur, static_cast<int64_t>(std::ceil(c.dma_cycles))),
                  {{"op", label}, {"dma_cycles", c.dma_cycles}});
}

void ChipMeter::matmul(int layer, const char *op, int M, int N, int K) {
  // Activation x KV cache (Q.K^T, P.V): the cache's keys / values are the streamed operand, read
  // from where the placement put the cache (L2, or L3 if it spilled); activations are in L2.
  const chip::Level level = kv_level_;
  const chip::OpCost &c =
      price(2, M, N, K, level, 4, [&] { return chip_.cost().price_gemm(M, N, K, level, 4); });
  charge(c, layer, op,
         trace_ ? nlohmann::json{{"op", op}, {"M", M}, {"N", N}, {"K", K}} : nlohmann::json());
}

void ChipMeter::nonlinear(int layer, Nonlinear kind, int64_t elements) {
  const chip::OpCost &c =
      price(3 + static_cast<int>(kind), elements, 0, 0, chip::Level::L2, 0, [&] {
        return kind == Nonlinear::Copy
                   ? chip_.cost().price_copy(elements, chip::Level::L2, chip::Level::L2)
                   : chip_.cost().price_eltwise(op_kind(kind), elements);
      });
  charge(c, layer, nonlinear_name(kind),
         trace_ ? nlohmann::json{{"op", nonlinear_name(kind)}, {"elements", elements}}
                : nlohmann::json());
}

void ChipMeter::sync(int layer, SyncKind kind, const mpi::CollectiveTiming &t) {
  const double e0 = chip_.ledger().total().energy.total_pj();
  chip_.ledger().wait_until(t.latest, layer);
  chip_.ledger().charge_link(t.bytes_sent, t.link_cycles, layer, sync_name(kind));
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
