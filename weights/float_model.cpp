// The tensor table of the fp32 models: names, shapes, init roles and slicing rules.
#include "weights/float_model.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "weights/file_error.hpp"

namespace mcuemu::weights {

std::size_t TensorSpec::numel() const {
  std::size_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string shape_string(const std::vector<std::size_t> &shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

namespace {

using Shape = std::vector<std::size_t>;

std::size_t z(int v) {
  return static_cast<std::size_t>(v);
}

Split replicated() {
  return {};
}
Split rows(std::int64_t units, const char *what) {
  return {0, units, what};
}
Split cols(std::int64_t units, const char *what) {
  return {1, units, what};
}

// Appends tensor specs bound to model vectors.
struct Table {
  std::vector<TensorRef> refs;
  void add(std::string name, Shape shape, Init init, Split split, std::vector<float> &data) {
    refs.push_back({TensorSpec{std::move(name), std::move(shape), init, split}, &data});
  }
};

void require_layers(const ModelConfig &c, std::size_t have, const char *what) {
  if (have != z(c.n_layers)) {
    throw std::invalid_argument(
        fmt::format("{}: model has {} layers, config says n_layers {}", what, have, c.n_layers));
  }
}

}  // namespace

std::vector<TensorRef> tensors(FloatModel &m) {
  const ModelConfig &c = m.config;
  if (c.arch != Arch::Llama) throw std::invalid_argument("tensors(FloatModel): not a llama config");
  require_layers(c, m.layers.size(), "llama");
  const Shape vec = {z(c.dim)};
  const Split heads = rows(c.n_heads, "heads"), kv_heads = rows(c.n_kv_heads, "heads");
  Table t;
  t.add("/token_embedding", {z(c.vocab_size), z(c.dim)}, Init::Normal, rows(c.vocab_size, "vocab"),
        m.token_embedding);
  for (int l = 0; l < c.n_layers; ++l) {
    auto &L = m.layers[z(l)];
    const std::string p = fmt::format("/layers/{}/", l);
    t.add(p + "rms_att", vec, Init::NormWeight, replicated(), L.rms_att);
    t.add(p + "wq", {z(c.dim), z(c.dim)}, Init::Normal, heads, L.wq);
    t.add(p + "wk", {z(c.kv_dim()), z(c.dim)}, Init::Normal, kv_heads, L.wk);
    t.add(p + "wv", {z(c.kv_dim()), z(c.dim)}, Init::Normal, kv_heads, L.wv);
    t.add(p + "wo", {z(c.dim), z(c.dim)}, Init::ResidualNormal, cols(c.n_heads, "heads"), L.wo);
    t.add(p + "rms_ffn", vec, Init::NormWeight, replicated(), L.rms_ffn);
    t.add(p + "w1", {z(c.hidden_dim), z(c.dim)}, Init::Normal, rows(c.hidden_dim, "ffn"), L.w1);
    t.add(p + "w3", {z(c.hidden_dim), z(c.dim)}, Init::Normal, rows(c.hidden_dim, "ffn"), L.w3);
    t.add(p + "w2", {z(c.dim), z(c.hidden_dim)}, Init::ResidualNormal, cols(c.hidden_dim, "ffn"),
          L.w2);
  }
  t.add("/rms_final", vec, Init::NormWeight, replicated(), m.rms_final);
  if (!c.shared_classifier) {
    t.add("/wcls", {z(c.vocab_size), z(c.dim)}, Init::Normal, rows(c.vocab_size, "vocab"), m.wcls);
  }
  return t.refs;
}

std::vector<TensorRef> tensors(FloatMobileBertModel &m) {
  const ModelConfig &c = m.config;
  if (c.arch != Arch::MobileBert) {
    throw std::invalid_argument("tensors(FloatMobileBertModel): not a mobilebert config");
  }
  require_layers(c, m.layers.size(), "mobilebert");
  const std::size_t D = z(c.dim), B = z(c.intra_bottleneck), E = z(c.embedding_size),
                    H = z(c.hidden_dim);
  // The slicing of src/model/PARTITIONING.md (FFNs split): the D-wide residual stream is cut by
  // columns ("dim"), so the D -> B projections that read it are cut by input columns, the output
  // bottleneck and the embedding projection by output rows.
  const Split heads = rows(c.n_heads, "heads"), dim_rows = rows(c.dim, "dim"),
              dim_cols = cols(c.dim, "dim");
  Table t;
  t.add("/embedding/word", {z(c.vocab_size), E}, Init::Normal, rows(c.vocab_size, "vocab"),
        m.word_embedding);
  t.add("/embedding/position", {z(c.seq_len), D}, Init::Normal, dim_cols, m.position_embedding);
  t.add("/embedding/token_type", {z(c.type_vocab_size), D}, Init::Normal, dim_cols,
        m.token_type_embedding);
  t.add("/embedding/w", {D, 3 * E}, Init::Normal, dim_rows, m.emb_w);
  t.add("/embedding/b", {D}, Init::Bias, dim_rows, m.emb_b);
  t.add("/embedding/gamma", {D}, Init::NormWeight, dim_rows, m.emb_gamma);
  t.add("/embedding/beta", {D}, Init::Bias, dim_rows, m.emb_beta);
  for (int l = 0; l < c.n_layers; ++l) {
    auto &L = m.layers[z(l)];
    if (L.ffn.size() != z(c.n_ffn)) {
      throw std::invalid_argument(fmt::format("mobilebert layer {}: {} FFNs, config says n_ffn {}",
                                              l, L.ffn.size(), c.n_ffn));
    }
    const std::string p = fmt::format("/layers/{}/", l);
    t.add(p + "bn_in_w", {B, D}, Init::Normal, dim_cols, L.bn_in_w);
    t.add(p + "bn_in_b", {B}, Init::Bias, replicated(), L.bn_in_b);
    t.add(p + "bn_in_gamma", {B}, Init::NormWeight, replicated(), L.bn_in_gamma);
    t.add(p + "bn_in_beta", {B}, Init::Bias, replicated(), L.bn_in_beta);
    t.add(p + "bn_kq_w", {B, D}, Init::Normal, dim_cols, L.bn_kq_w);
    t.add(p + "bn_kq_b", {B}, Init::Bias, replicated(), L.bn_kq_b);
    t.add(p + "bn_kq_gamma", {B}, Init::NormWeight, replicated(), L.bn_kq_gamma);
    t.add(p + "bn_kq_beta", {B}, Init::Bias, replicated(), L.bn_kq_beta);
    t.add(p + "wq", {B, B}, Init::Normal, heads, L.wq);
    t.add(p + "bq", {B}, Init::Bias, heads, L.bq);
    t.add(p + "wk", {B, B}, Init::Normal, heads, L.wk);
    t.add(p + "bk", {B}, Init::Bias, heads, L.bk);
    t.add(p + "wv", {B, D}, Init::Normal, dim_cols, L.wv);
    t.add(p + "bv", {B}, Init::Bias, replicated(), L.bv);
    t.add(p + "wo", {B, B}, Init::Normal, cols(c.n_heads, "heads"), L.wo);
    t.add(p + "bo", {B}, Init::Bias, replicated(), L.bo);
    t.add(p + "attn_gamma", {B}, Init::NormWeight, replicated(), L.attn_gamma);
    t.add(p + "attn_beta", {B}, Init::Bias, replicated(), L.attn_beta);
    for (int j = 0; j < c.n_ffn; ++j) {
      auto &F = L.ffn[z(j)];
      const std::string f = fmt::format("{}ffn/{}/", p, j);
      t.add(f + "w1", {H, B}, Init::Normal, rows(c.hidden_dim, "ffn"), F.w1);
      t.add(f + "b1", {H}, Init::Bias, rows(c.hidden_dim, "ffn"), F.b1);
      t.add(f + "w2", {B, H}, Init::Normal, cols(c.hidden_dim, "ffn"), F.w2);
      t.add(f + "b2", {B}, Init::Bias, replicated(), F.b2);
      t.add(f + "gamma", {B}, Init::NormWeight, replicated(), F.gamma);
      t.add(f + "beta", {B}, Init::Bias, replicated(), F.beta);
    }
    t.add(p + "bn_out_w", {D, B}, Init::Normal, dim_rows, L.bn_out_w);
    t.add(p + "bn_out_b", {D}, Init::Bias, dim_rows, L.bn_out_b);
    t.add(p + "bn_out_gamma", {D}, Init::NormWeight, dim_rows, L.bn_out_gamma);
    t.add(p + "bn_out_beta", {D}, Init::Bias, dim_rows, L.bn_out_beta);
  }
  return t.refs;
}

FloatModel make_float_model(const ModelConfig &c) {
  validate(c);
  FloatModel m;
  m.config = c;
  m.layers.resize(z(c.n_layers));
  for (auto &r : tensors(m)) r.data->assign(r.spec.numel(), 0.0f);
  return m;
}

FloatMobileBertModel make_float_mobilebert(const ModelConfig &c) {
  validate(c);
  FloatMobileBertModel m;
  m.config = c;
  m.layers.resize(z(c.n_layers));
  for (auto &L : m.layers) L.ffn.resize(z(c.n_ffn));
  for (auto &r : tensors(m)) r.data->assign(r.spec.numel(), 0.0f);
  return m;
}

std::vector<TensorSpec> tensor_specs(const ModelConfig &c) {
  validate(c);
  std::vector<TensorSpec> specs;
  auto take = [&](std::vector<TensorRef> refs) {
    for (auto &r : refs) specs.push_back(std::move(r.spec));
  };
  if (c.arch == Arch::Llama) {
    FloatModel m;  // tensors stay empty: only the table is wanted
    m.config = c;
    m.layers.resize(z(c.n_layers));
    take(tensors(m));
  } else {
    FloatMobileBertModel m;
    m.config = c;
    m.layers.resize(z(c.n_layers));
    for (auto &L : m.layers) L.ffn.resize(z(c.n_ffn));
    take(tensors(m));
  }
  return specs;
}

std::int64_t parameter_count(const ModelConfig &c) {
  std::int64_t n = 0;
  for (const auto &s : tensor_specs(c)) n += static_cast<std::int64_t>(s.numel());
  return n;
}

namespace {

template <class M>
void check_shapes_impl(const M &m) {
  for (const auto &r : tensors(const_cast<M &>(m))) {
    if (r.data->size() != r.spec.numel()) {
      throw std::invalid_argument(fmt::format("tensor '{}' has {} elements, shape {} needs {}",
                                              r.spec.name, r.data->size(),
                                              shape_string(r.spec.shape), r.spec.numel()));
    }
  }
}

template <class M>
void check_finite_impl(const M &m, const std::string &source) {
  for (const auto &r : tensors(const_cast<M &>(m))) {
    const auto &v = *r.data;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i])) {
        throw FileError(fmt::format("{}: tensor '{}': non-finite value {} at index {}", source,
                                    r.spec.name, v[i], i));
      }
    }
  }
}

}  // namespace

void check_shapes(const FloatModel &m) {
  check_shapes_impl(m);
}
void check_shapes(const FloatMobileBertModel &m) {
  check_shapes_impl(m);
}
void check_finite(const FloatModel &m, const std::string &source) {
  check_finite_impl(m, source);
}
void check_finite(const FloatMobileBertModel &m, const std::string &source) {
  check_finite_impl(m, source);
}

}  // namespace mcuemu::weights
