#include "weights/qmodel_io.hpp"

#include <fmt/format.h>

#include "weights/h5io.hpp"
#include "weights/model_file.hpp"

namespace mcuemu::weights {
namespace {

using h5::Shape;

// The integer fields of each kernel parameter struct, stored as int attributes of a group.
template <class T>
struct Fields;
template <>
struct Fields<mcu_rqs_t> {
  static constexpr std::pair<const char *, int32_t mcu_rqs_t::*> list[] = {
      {"zx", &mcu_rqs_t::zx},       {"mul", &mcu_rqs_t::mul}, {"add", &mcu_rqs_t::add},
      {"shift", &mcu_rqs_t::shift}, {"zy", &mcu_rqs_t::zy},   {"lo", &mcu_rqs_t::lo},
      {"hi", &mcu_rqs_t::hi}};
};
template <>
struct Fields<mcu_add_rq_t> {
  static constexpr std::pair<const char *, int32_t mcu_add_rq_t::*> list[] = {
      {"za", &mcu_add_rq_t::za},       {"zb", &mcu_add_rq_t::zb},   {"mul_a", &mcu_add_rq_t::mul_a},
      {"mul_b", &mcu_add_rq_t::mul_b}, {"add", &mcu_add_rq_t::add}, {"shift", &mcu_add_rq_t::shift},
      {"zy", &mcu_add_rq_t::zy},       {"lo", &mcu_add_rq_t::lo},   {"hi", &mcu_add_rq_t::hi}};
};
template <>
struct Fields<mcu_mul_rq_t> {
  static constexpr std::pair<const char *, int32_t mcu_mul_rq_t::*> list[] = {
      {"za", &mcu_mul_rq_t::za},   {"zb", &mcu_mul_rq_t::zb},       {"mul", &mcu_mul_rq_t::mul},
      {"add", &mcu_mul_rq_t::add}, {"shift", &mcu_mul_rq_t::shift}, {"zy", &mcu_mul_rq_t::zy},
      {"lo", &mcu_mul_rq_t::lo},   {"hi", &mcu_mul_rq_t::hi}};
};
template <>
struct Fields<mcu_softmax_ibert_t> {
  static constexpr std::pair<const char *, int32_t mcu_softmax_ibert_t::*> list[] = {
      {"A", &mcu_softmax_ibert_t::A},
      {"B", &mcu_softmax_ibert_t::B},
      {"C", &mcu_softmax_ibert_t::C},
      {"log2", &mcu_softmax_ibert_t::log2}};
};
template <>
struct Fields<mcu_hswish_t> {
  static constexpr std::pair<const char *, int32_t mcu_hswish_t::*> list[] = {
      {"zx", &mcu_hswish_t::zx}, {"three", &mcu_hswish_t::three}, {"six", &mcu_hswish_t::six}};
};
template <>
struct Fields<mcu_rope_t> {
  static constexpr std::pair<const char *, int32_t mcu_rope_t::*> list[] = {
      {"zx", &mcu_rope_t::zx},       {"mul", &mcu_rope_t::mul}, {"add", &mcu_rope_t::add},
      {"shift", &mcu_rope_t::shift}, {"zy", &mcu_rope_t::zy},   {"lo", &mcu_rope_t::lo},
      {"hi", &mcu_rope_t::hi}};
};

// Ranges of the integer constants that keep the kernels' arithmetic defined (no shift of 32 or
// more, no division by zero, no 64-bit overflow; kernels/README.md): a file outside them is
// refused when read, naming the group and the constant, rather than crashing a run later.
constexpr int64_t kMaxOffset = 1 << 15;  // zero points and offsets
constexpr int64_t kMaxSoftmax = 1 << 20;

void check_range(const H5::H5File &f, const std::string &path, const char *name, int64_t v,
                 int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    throw FileError(fmt::format("{}: attribute '{}' of '{}' = {} is outside [{}, {}]",
                                f.getFileName(), name, path, v, lo, hi));
}
void check_clamp(const H5::H5File &f, const std::string &path, int32_t lo, int32_t hi) {
  check_range(f, path, "lo", lo, -128, 127);
  check_range(f, path, "hi", hi, lo, 127);
}
void check(const H5::H5File &f, const std::string &path, const mcu_rqs_t &p) {
  check_range(f, path, "zx", p.zx, -kMaxOffset, kMaxOffset);
  check_range(f, path, "shift", p.shift, 0, 31);
  check_range(f, path, "zy", p.zy, -kMaxOffset, kMaxOffset);
  check_clamp(f, path, p.lo, p.hi);
}
void check(const H5::H5File &f, const std::string &path, const mcu_add_rq_t &p) {
  check_range(f, path, "za", p.za, -kMaxOffset, kMaxOffset);
  check_range(f, path, "zb", p.zb, -kMaxOffset, kMaxOffset);
  check_range(f, path, "shift", p.shift, 0, 31);
  check_range(f, path, "zy", p.zy, -kMaxOffset, kMaxOffset);
  check_clamp(f, path, p.lo, p.hi);
}
void check(const H5::H5File &f, const std::string &path, const mcu_mul_rq_t &p) {
  check_range(f, path, "za", p.za, -kMaxOffset, kMaxOffset);
  check_range(f, path, "zb", p.zb, -kMaxOffset, kMaxOffset);
  check_range(f, path, "shift", p.shift, 0, 31);
  check_range(f, path, "zy", p.zy, -kMaxOffset, kMaxOffset);
  check_clamp(f, path, p.lo, p.hi);
}
void check(const H5::H5File &f, const std::string &path, const mcu_softmax_ibert_t &p) {
  check_range(f, path, "A", p.A, -kMaxSoftmax, kMaxSoftmax);
  check_range(f, path, "B", p.B, -kMaxSoftmax, kMaxSoftmax);
  check_range(f, path, "log2", p.log2, 1, kMaxSoftmax);
}
void check(const H5::H5File &f, const std::string &path, const mcu_hswish_t &p) {
  check_range(f, path, "zx", p.zx, -kMaxOffset, kMaxOffset);
  check_range(f, path, "three", p.three, -kMaxOffset, kMaxOffset);
  check_range(f, path, "six", p.six, -kMaxOffset, kMaxOffset);
}
void check(const H5::H5File &f, const std::string &path, const mcu_rope_t &p) {
  check_range(f, path, "zx", p.zx, -kMaxOffset, kMaxOffset);
  check_range(f, path, "shift", p.shift, 0, 31);
  check_range(f, path, "zy", p.zy, -kMaxOffset, kMaxOffset);
  check_clamp(f, path, p.lo, p.hi);
}

H5::Group make_group(H5::H5File &f, const std::string &path) {
  // Every missing level of an absolute path, created like every other group (h5io.hpp).
  H5::Group root = f.openGroup("/");
  return h5::ensure_group(root, path);
}

template <class T>
void write_params(H5::H5File &f, const std::string &path, const T &p) {
  H5::Group g = make_group(f, path);
  for (const auto &[name, member] : Fields<T>::list) h5::write_int_attr(g, name, p.*member);
}

template <class T>
T read_params(const H5::H5File &f, const std::string &path) {
  if (!h5::exists(f, path))
    throw FileError(fmt::format("{}: group '{}' is missing", f.getFileName(), path));
  H5::Group g = f.openGroup(path);
  T p{};
  for (const auto &[name, member] : Fields<T>::list) {
    const int64_t v = h5::read_int_attr(g, name);
    if (v < INT32_MIN || v > INT32_MAX)
      throw FileError(fmt::format("{}: attribute '{}' of '{}' = {} does not fit int32",
                                  f.getFileName(), name, path, v));
    p.*member = static_cast<int32_t>(v);
  }
  check(f, path, p);
  return p;
}

int32_t read_i32_attr(const H5::H5File &f, const std::string &path, const char *name) {
  if (!h5::exists(f, path))
    throw FileError(fmt::format("{}: group '{}' is missing", f.getFileName(), path));
  const int64_t v = h5::read_int_attr(f.openGroup(path), name);
  if (v < INT32_MIN || v > INT32_MAX)
    throw FileError(fmt::format("{}: attribute '{}' of '{}' = {} does not fit int32",
                                f.getFileName(), name, path, v));
  return static_cast<int32_t>(v);
}

void write_linear(H5::H5File &f, const std::string &path, const QLinear &q) {
  H5::Group g = make_group(f, path);
  const Shape wshape{static_cast<size_t>(q.out), static_cast<size_t>(q.in)};
  h5::write_dataset<int8_t>(g, "w", q.w, wshape);
  h5::write_dataset<int32_t>(g, "rq_mul", q.rq_mul, {static_cast<size_t>(q.out)});
  h5::write_dataset<int32_t>(g, "rq_add", q.rq_add, {static_cast<size_t>(q.out)});
  h5::write_int_attr(g, "rq_shift", q.rq_shift);
}

// Rows [rb, re) x columns [cb, ce) of the int8 matrix `dataset` (of shape `shape`): into
// memory from `place` when there is a placer (kept in `placed`; the reader needs the block's
// bytes of it, std::logic_error naming the dataset otherwise), else into `w`.
void read_weights(const H5::H5File &f, const std::string &dataset, const Shape &shape, size_t rb,
                  size_t re, size_t cb, size_t ce, const WeightPlacer *place,
                  std::vector<int8_t> &w, std::span<int8_t> &placed) {
  const auto col_end = static_cast<std::ptrdiff_t>(ce);
  if (!place) {
    w = h5::read_dataset_block<int8_t>(f, dataset, shape, rb, re, cb, col_end);
    return;
  }
  const size_t out = re - rb, in = ce - cb;
  placed = (*place)(out, in);
  if (placed.size() < out * in)
    throw std::logic_error(fmt::format("'{}': {} bytes placed for a ({}, {}) matrix", dataset,
                                       placed.size(), out, in));
  h5::read_dataset_block_into<int8_t>(f, dataset, shape, rb, re, cb, col_end,
                                      placed.first(out * in));
}

// Rows [b, e) of a linear (its weights and per-row requant).
QLinear read_linear_rows(const H5::H5File &f, const std::string &path, int out, int in, int b,
                         int e, const WeightPlacer *place = nullptr) {
  QLinear q;
  q.out = e - b;
  q.in = in;
  const size_t o = static_cast<size_t>(out), i = static_cast<size_t>(in);
  read_weights(f, path + "/w", {o, i}, b, e, 0, i, place, q.w, q.placed);
  q.rq_mul = h5::read_dataset_block<int32_t>(f, path + "/rq_mul", {o}, b, e);
  q.rq_add = h5::read_dataset_block<int32_t>(f, path + "/rq_add", {o}, b, e);
  q.rq_shift = read_i32_attr(f, path, "rq_shift");
  check_range(f, path, "rq_shift", q.rq_shift, 0, 31);
  return q;
}

// The whole linear: all of its rows.
QLinear read_linear(const H5::H5File &f, const std::string &path, int out, int in) {
  return read_linear_rows(f, path, out, in, 0, out);
}

// Columns [b, e) of every row; the requant stays whole (it runs after the all-reduce).
QLinear read_linear_cols(const H5::H5File &f, const std::string &path, int out, int in, int b,
                         int e, const WeightPlacer *place = nullptr) {
  QLinear q;
  q.out = out;
  q.in = e - b;
  const size_t o = static_cast<size_t>(out), i = static_cast<size_t>(in);
  read_weights(f, path + "/w", {o, i}, 0, o, b, e, place, q.w, q.placed);
  q.rq_mul = h5::read_dataset<int32_t>(f, path + "/rq_mul", {o});
  q.rq_add = h5::read_dataset<int32_t>(f, path + "/rq_add", {o});
  q.rq_shift = read_i32_attr(f, path, "rq_shift");
  check_range(f, path, "rq_shift", q.rq_shift, 0, 31);
  return q;
}

void write_norm(H5::H5File &f, const std::string &path, const QRmsNorm &n) {
  H5::Group g = make_group(f, path);
  h5::write_dataset<int32_t>(g, "w", n.w, {n.w.size()});
  h5::write_int_attr(g, "log2D", n.log2D);
  h5::write_int_attr(g, "k", n.k);
}

QRmsNorm read_norm(const H5::H5File &f, const std::string &path, int dim) {
  QRmsNorm n;
  n.w = h5::read_dataset<int32_t>(f, path + "/w", {static_cast<size_t>(dim)});
  n.log2D = read_i32_attr(f, path, "log2D");
  n.k = read_i32_attr(f, path, "k");
  check_range(f, path, "log2D", n.log2D, 0, 31);
  check_range(f, path, "k", n.k, 0, 15);
  return n;
}

// MobileBERT linears carry a bias dataset; NoNorms are per-channel (mul, add) plus a shift.
void write_linear_b(H5::H5File &f, const std::string &path, const QLinear &q) {
  write_linear(f, path, q);
  H5::Group g = f.openGroup(path);
  h5::write_dataset<int32_t>(g, "bias", q.bias, {static_cast<size_t>(q.out)});
}

QLinear read_linear_b(const H5::H5File &f, const std::string &path, int out, int in) {
  QLinear q = read_linear(f, path, out, in);
  q.bias = h5::read_dataset<int32_t>(f, path + "/bias", {static_cast<size_t>(out)});
  return q;
}

void write_nonorm(H5::H5File &f, const std::string &path, const QNoNorm &n) {
  H5::Group g = make_group(f, path);
  h5::write_dataset<int32_t>(g, "mul", n.mul, {n.mul.size()});
  h5::write_dataset<int32_t>(g, "add", n.add, {n.add.size()});
  h5::write_int_attr(g, "shift", n.shift);
}

QNoNorm read_nonorm(const H5::H5File &f, const std::string &path, int dim) {
  QNoNorm n;
  n.mul = h5::read_dataset<int32_t>(f, path + "/mul", {static_cast<size_t>(dim)});
  n.add = h5::read_dataset<int32_t>(f, path + "/add", {static_cast<size_t>(dim)});
  n.shift = read_i32_attr(f, path, "shift");
  check_range(f, path, "shift", n.shift, 0, 31);
  return n;
}

QLlamaModel read_qllama_impl(const std::string &path, const LlamaSlice *slice,
                             const WeightPlacer *place);
QMobileBertModel read_qmobilebert_impl(const std::string &path);

}  // namespace

void write_qllama(const std::string &path, const QLlamaModel &m, const std::string &source) {
  const auto &c = m.config;
  h5::write_atomically(path, [&](H5::H5File &f) {
    write_config_attrs(f, c, "int8", source);
    H5::Group root = f.openGroup("/");
    h5::write_float_attr(root, "logit_scale", m.logit_scale);
    h5::write_dataset<int8_t>(root, "token_embedding", m.token_embedding,
                              {static_cast<size_t>(c.vocab_size), static_cast<size_t>(c.dim)});
    write_norm(f, "/final_norm", m.final_norm);
    write_params(f, "/rope", m.rope);
    H5::Group rope = f.openGroup("/rope");
    h5::write_int_attr(rope, "frac", m.rope_frac);
    const Shape tab{static_cast<size_t>(c.seq_len), static_cast<size_t>(c.head_dim() / 2)};
    h5::write_dataset<int16_t>(rope, "cos", m.rope_cos, tab);
    h5::write_dataset<int16_t>(rope, "sin", m.rope_sin, tab);
    for (int l = 0; l < c.n_layers; ++l) {
      const auto &L = m.layers[l];
      const std::string p = fmt::format("/layers/{}/", l);
      write_norm(f, p + "attn_norm", L.attn_norm);
      write_linear(f, p + "wq", L.wq);
      write_linear(f, p + "wk", L.wk);
      write_linear(f, p + "wv", L.wv);
      write_params(f, p + "scores", L.scores);
      write_params(f, p + "softmax", L.softmax);
      write_params(f, p + "attn", L.attn);
      write_linear(f, p + "wo", L.wo);
      write_params(f, p + "resid_attn", L.resid_attn);
      write_norm(f, p + "ffn_norm", L.ffn_norm);
      write_linear(f, p + "w1", L.w1);
      write_linear(f, p + "w3", L.w3);
      write_params(f, p + "hswish", L.hswish);
      write_params(f, p + "silu", L.silu);
      write_params(f, p + "gate", L.gate);
      write_linear(f, p + "w2", L.w2);
      write_params(f, p + "resid_ffn", L.resid_ffn);
    }
  });
}

QLlamaModel read_qllama(const std::string &path) {
  return h5::guard(path, [&] { return read_qllama_impl(path, nullptr, nullptr); });
}

QLlamaModel read_qllama_slice(const std::string &path, const LlamaSlice &slice) {
  return h5::guard(path, [&] { return read_qllama_impl(path, &slice, nullptr); });
}

QLlamaModel read_qllama_slice(const std::string &path, const LlamaSlice &slice,
                              const WeightPlacer &place, std::shared_ptr<void> storage) {
  QLlamaModel m = h5::guard(path, [&] { return read_qllama_impl(path, &slice, &place); });
  m.placed_storage = std::move(storage);
  return m;
}

QMobileBertModel read_qmobilebert(const std::string &path) {
  return h5::guard(path, [&] { return read_qmobilebert_impl(path); });
}

namespace {

QLlamaModel read_qllama_impl(const std::string &path, const LlamaSlice *slice,
                             const WeightPlacer *place) {
  const FileInfo info = read_file_info(path);
  if (info.kind != "int8")
    throw FileError(
        fmt::format("{}: kind is '{}', expected an int8 model (run `mcuemu quantize` "
                    "on an fp32 file first)",
                    path, info.kind));
  if (info.config.arch != Arch::Llama)
    throw FileError(
        fmt::format("{}: holds a {} model, not a Llama model", path, arch_name(info.config.arch)));
  H5::H5File f = h5::open_read(path);
  QLlamaModel m;
  m.config = info.config;
  const auto &c = m.config;
  const size_t D = c.dim, F = c.hidden_dim;
  if (slice) {
    const auto bad = [](int b, int e, int n) { return b < 0 || b > e || e > n; };
    if (bad(slice->head_rows_begin, slice->head_rows_end, c.dim) ||
        bad(slice->ffn_begin, slice->ffn_end, c.hidden_dim) ||
        bad(slice->vocab_begin, slice->vocab_end, c.vocab_size))
      throw std::invalid_argument(
          fmt::format("{}: slice rows [{}, {}) / ffn [{}, {}) / vocab [{}, {}) outside the model",
                      path, slice->head_rows_begin, slice->head_rows_end, slice->ffn_begin,
                      slice->ffn_end, slice->vocab_begin, slice->vocab_end));
    m.slice = *slice;
  }
  // A whole linear, or the slice's rows / columns of it.
  const auto rows = [&](const std::string &p, int out, int in, int b, int e) {
    return slice ? read_linear_rows(f, p, out, in, b, e, place) : read_linear(f, p, out, in);
  };
  const auto cols = [&](const std::string &p, int out, int in, int b, int e) {
    return slice ? read_linear_cols(f, p, out, in, b, e, place) : read_linear(f, p, out, in);
  };
  const int hb = slice ? slice->head_rows_begin : 0, he = slice ? slice->head_rows_end : 0;
  const int fb = slice ? slice->ffn_begin : 0, fe = slice ? slice->ffn_end : 0;
  m.logit_scale = static_cast<float>(h5::read_float_attr(f.openGroup("/"), "logit_scale"));
  const Shape emb{static_cast<size_t>(c.vocab_size), D};
  if (slice)
    read_weights(f, "/token_embedding", emb, slice->vocab_begin, slice->vocab_end, 0, D, place,
                 m.token_embedding, m.token_embedding_placed);
  else
    m.token_embedding = h5::read_dataset<int8_t>(f, "/token_embedding", emb);
  m.final_norm = read_norm(f, "/final_norm", c.dim);
  m.rope = read_params<mcu_rope_t>(f, "/rope");
  m.rope_frac = read_i32_attr(f, "/rope", "frac");
  check_range(f, "/rope", "frac", m.rope_frac, 0, 15);
  const Shape tab{static_cast<size_t>(c.seq_len), static_cast<size_t>(c.head_dim() / 2)};
  m.rope_cos = h5::read_dataset<int16_t>(f, "/rope/cos", tab);
  m.rope_sin = h5::read_dataset<int16_t>(f, "/rope/sin", tab);
  for (int l = 0; l < c.n_layers; ++l) {
    QLlamaLayer L;
    const std::string p = fmt::format("/layers/{}/", l);
    L.attn_norm = read_norm(f, p + "attn_norm", c.dim);
    L.wq = rows(p + "wq", c.dim, c.dim, hb, he);
    L.wk = rows(p + "wk", c.dim, c.dim, hb, he);
    L.wv = rows(p + "wv", c.dim, c.dim, hb, he);
    L.scores = read_params<mcu_rqs_t>(f, p + "scores");
    L.softmax = read_params<mcu_softmax_ibert_t>(f, p + "softmax");
    L.attn = read_params<mcu_rqs_t>(f, p + "attn");
    L.wo = cols(p + "wo", c.dim, c.dim, hb, he);
    L.resid_attn = read_params<mcu_add_rq_t>(f, p + "resid_attn");
    L.ffn_norm = read_norm(f, p + "ffn_norm", c.dim);
    L.w1 = rows(p + "w1", static_cast<int>(F), c.dim, fb, fe);
    L.w3 = rows(p + "w3", static_cast<int>(F), c.dim, fb, fe);
    L.hswish = read_params<mcu_hswish_t>(f, p + "hswish");
    L.silu = read_params<mcu_rqs_t>(f, p + "silu");
    L.gate = read_params<mcu_mul_rq_t>(f, p + "gate");
    L.w2 = cols(p + "w2", c.dim, static_cast<int>(F), fb, fe);
    L.resid_ffn = read_params<mcu_add_rq_t>(f, p + "resid_ffn");
    m.layers.push_back(std::move(L));
  }
  return m;
}

}  // namespace

void write_qmobilebert(const std::string &path, const QMobileBertModel &m,
                       const std::string &source) {
  const auto &c = m.config;
  if (c.arch != Arch::MobileBert)
    throw std::invalid_argument("write_qmobilebert: not a mobilebert configuration");
  const size_t D = c.dim, E = c.embedding_size;
  h5::write_atomically(path, [&](H5::H5File &f) {
    write_config_attrs(f, c, "int8", source);
    H5::Group root = f.openGroup("/");
    h5::write_float_attr(root, "output_scale", m.output_scale);
    H5::Group emb = make_group(f, "/embedding");
    h5::write_dataset<int8_t>(emb, "word", m.word_embedding,
                              {static_cast<size_t>(c.vocab_size), E});
    h5::write_dataset<int8_t>(emb, "position", m.position_embedding,
                              {static_cast<size_t>(c.seq_len), D});
    h5::write_dataset<int8_t>(emb, "token_type", m.token_type_embedding,
                              {static_cast<size_t>(c.type_vocab_size), D});
    write_linear_b(f, "/embedding/proj", m.emb_proj);
    write_params(f, "/embedding/pos_add", m.emb_pos);
    write_params(f, "/embedding/type_add", m.emb_type);
    write_nonorm(f, "/embedding/norm", m.emb_norm);
    for (int l = 0; l < c.n_layers; ++l) {
      const auto &L = m.layers[l];
      const std::string p = fmt::format("/layers/{}/", l);
      write_linear_b(f, p + "bn_in", L.bn_in);
      write_linear_b(f, p + "bn_kq", L.bn_kq);
      write_linear_b(f, p + "wq", L.wq);
      write_linear_b(f, p + "wk", L.wk);
      write_linear_b(f, p + "wv", L.wv);
      write_params(f, p + "scores", L.scores);
      write_params(f, p + "softmax", L.softmax);
      write_params(f, p + "attn", L.attn);
      write_linear_b(f, p + "wo", L.wo);
      write_params(f, p + "attn_resid", L.attn_resid);
      write_nonorm(f, p + "attn_norm", L.attn_norm);
      for (int j = 0; j < c.n_ffn; ++j) {
        const auto &F = L.ffn[j];
        const std::string q = fmt::format("{}ffn/{}/", p, j);
        write_linear_b(f, q + "w1", F.w1);
        write_linear_b(f, q + "w2", F.w2);
        write_params(f, q + "resid", F.resid);
        write_nonorm(f, q + "norm", F.norm);
      }
      write_linear_b(f, p + "bn_out", L.bn_out);
      write_params(f, p + "out_resid", L.out_resid);
      write_nonorm(f, p + "out_norm", L.out_norm);
    }
  });
}

namespace {

QMobileBertModel read_qmobilebert_impl(const std::string &path) {
  const FileInfo info = read_file_info(path);
  if (info.kind != "int8")
    throw FileError(
        fmt::format("{}: kind is '{}', expected an int8 model (run `mcuemu quantize` "
                    "on an fp32 file first)",
                    path, info.kind));
  if (info.config.arch != Arch::MobileBert)
    throw FileError(fmt::format("{}: holds a {} model, not a MobileBERT model", path,
                                arch_name(info.config.arch)));
  H5::H5File f = h5::open_read(path);
  QMobileBertModel m;
  m.config = info.config;
  const auto &c = m.config;
  const int D = c.dim, B = c.intra_bottleneck, E = c.embedding_size, H = c.hidden_dim;
  const auto z = [](int v) { return static_cast<size_t>(v); };
  m.output_scale = static_cast<float>(h5::read_float_attr(f.openGroup("/"), "output_scale"));
  m.word_embedding = h5::read_dataset<int8_t>(f, "/embedding/word", {z(c.vocab_size), z(E)});
  m.position_embedding = h5::read_dataset<int8_t>(f, "/embedding/position", {z(c.seq_len), z(D)});
  m.token_type_embedding =
      h5::read_dataset<int8_t>(f, "/embedding/token_type", {z(c.type_vocab_size), z(D)});
  m.emb_proj = read_linear_b(f, "/embedding/proj", D, 3 * E);
  m.emb_pos = read_params<mcu_add_rq_t>(f, "/embedding/pos_add");
  m.emb_type = read_params<mcu_add_rq_t>(f, "/embedding/type_add");
  m.emb_norm = read_nonorm(f, "/embedding/norm", D);
  for (int l = 0; l < c.n_layers; ++l) {
    QMobileBertLayer L;
    const std::string p = fmt::format("/layers/{}/", l);
    L.bn_in = read_linear_b(f, p + "bn_in", B, D);
    L.bn_kq = read_linear_b(f, p + "bn_kq", B, D);
    L.wq = read_linear_b(f, p + "wq", B, B);
    L.wk = read_linear_b(f, p + "wk", B, B);
    L.wv = read_linear_b(f, p + "wv", B, D);
    L.scores = read_params<mcu_rqs_t>(f, p + "scores");
    L.softmax = read_params<mcu_softmax_ibert_t>(f, p + "softmax");
    L.attn = read_params<mcu_rqs_t>(f, p + "attn");
    L.wo = read_linear_b(f, p + "wo", B, B);
    L.attn_resid = read_params<mcu_add_rq_t>(f, p + "attn_resid");
    L.attn_norm = read_nonorm(f, p + "attn_norm", B);
    for (int j = 0; j < c.n_ffn; ++j) {
      QMobileBertFfn F;
      const std::string q = fmt::format("{}ffn/{}/", p, j);
      F.w1 = read_linear_b(f, q + "w1", H, B);
      F.w2 = read_linear_b(f, q + "w2", B, H);
      F.resid = read_params<mcu_add_rq_t>(f, q + "resid");
      F.norm = read_nonorm(f, q + "norm", B);
      L.ffn.push_back(std::move(F));
    }
    L.bn_out = read_linear_b(f, p + "bn_out", D, B);
    L.out_resid = read_params<mcu_add_rq_t>(f, p + "out_resid");
    L.out_norm = read_nonorm(f, p + "out_norm", D);
    m.layers.push_back(std::move(L));
  }
  return m;
}

}  // namespace

}  // namespace mcuemu::weights
