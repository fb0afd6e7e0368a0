// llama2.c float checkpoint reader (layouts in llama2c.hpp).
#include "weights/llama2c.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "weights/h5io.hpp"

namespace mcuemu::weights {

static_assert(std::endian::native == std::endian::little,
              "the llama2.c reader copies little-endian floats directly");

namespace {

constexpr std::uint32_t kMagic = 0x616b3432;  // "ak42"
constexpr std::size_t kV1HeaderBytes = 256;
constexpr std::size_t kLegacyHeaderBytes = 7 * 4;

std::vector<char> read_all(const std::string &path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw FileError(fmt::format("{}: no such file", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(fmt::format("{}: cannot open", path));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  in.seekg(0);
  std::vector<char> bytes(size);
  if (size > 0 && !in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    throw FileError(fmt::format("{}: read error", path));
  }
  return bytes;
}

template <class T>
T load(const std::vector<char> &b, std::size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

// Sequential float reader over the weight area.
struct Cursor {
  const std::vector<char> &bytes;
  std::size_t off;
  void take(std::vector<float> &dst) {
    std::memcpy(dst.data(), bytes.data() + off, dst.size() * sizeof(float));
    off += dst.size() * sizeof(float);
  }
  void skip(std::size_t n_floats) { off += n_floats * sizeof(float); }
};

}  // namespace

Llama2cCheckpoint read_llama2c(const std::string &path) {
  const std::vector<char> bytes = read_all(path);
  Llama2cCheckpoint ck;
  std::size_t header = 0;
  int raw[7];
  bool shared = true;
  if (bytes.size() >= 4 && load<std::uint32_t>(bytes, 0) == kMagic) {
    if (bytes.size() < kV1HeaderBytes) {
      throw FileError(
          fmt::format("{}: truncated llama2.c header: {} bytes, the version-1 header "
                      "has {}",
                      path, bytes.size(), kV1HeaderBytes));
    }
    ck.version = load<std::int32_t>(bytes, 4);
    if (ck.version != 1) {
      throw FileError(fmt::format(
          "{}: llama2.c checkpoint version {} is not supported (float versions: legacy and 1; "
          "version 2 is llama2.c's own Q8_0 int8 format)",
          path, ck.version));
    }
    for (int i = 0; i < 7; ++i)
      raw[i] = load<std::int32_t>(bytes, 8 + 4 * static_cast<std::size_t>(i));
    const std::uint8_t flag = load<std::uint8_t>(bytes, 36);
    if (flag > 1) {
      throw FileError(fmt::format("{}: shared_classifier byte is {}, expected 0 or 1", path, flag));
    }
    shared = flag == 1;
    header = kV1HeaderBytes;
  } else {
    if (bytes.size() < kLegacyHeaderBytes) {
      throw FileError(
          fmt::format("{}: truncated llama2.c header: {} bytes, the legacy header has "
                      "{}",
                      path, bytes.size(), kLegacyHeaderBytes));
    }
    ck.version = 0;
    for (int i = 0; i < 7; ++i) raw[i] = load<std::int32_t>(bytes, 4 * static_cast<std::size_t>(i));
    shared = raw[5] > 0;
    if (raw[5] < 0) raw[5] = -raw[5];
    header = kLegacyHeaderBytes;
  }

  ModelConfig c;
  c.arch = Arch::Llama;
  c.dim = raw[0];
  c.hidden_dim = raw[1];
  c.n_layers = raw[2];
  c.n_heads = raw[3];
  c.n_kv_heads = raw[4];
  c.vocab_size = raw[5];
  c.seq_len = raw[6];
  c.shared_classifier = shared;
  c.name = "";
  try {
    validate(c);
  } catch (const std::invalid_argument &e) {
    throw FileError(
        fmt::format("{}: not a supported llama2.c float checkpoint: {}", path, e.what()));
  }
  const std::string known = known_name_for(c);
  c.name = known.empty() ? "llama2c-" + std::filesystem::path(path).stem().string() : known;

  // Expected size of the weight area.
  const std::size_t head_dim = static_cast<std::size_t>(c.head_dim());
  const std::size_t freq =
      ck.version == 0 ? 2 * static_cast<std::size_t>(c.seq_len) * head_dim / 2 : 0;
  std::size_t floats = freq;
  for (const auto &s : tensor_specs(c)) floats += s.numel();
  const std::size_t need = header + floats * sizeof(float);
  if (bytes.size() < need) {
    throw FileError(fmt::format("{}: truncated: the header ({}) needs {} bytes, the file has {}",
                                path, describe(c), need, bytes.size()));
  }
  if (bytes.size() > need) {
    throw FileError(fmt::format(
        "{}: {} trailing bytes after the weights of the header ({}): not a llama2.c float "
        "checkpoint of this shape",
        path, bytes.size() - need, describe(c)));
  }

  ck.model = make_float_model(c);
  FloatModel &m = ck.model;
  Cursor cur{bytes, header};
  auto each = [&](std::vector<float> FloatLayer::*field) {
    for (auto &L : m.layers) cur.take(L.*field);
  };
  if (ck.version == 0) {
    cur.take(m.token_embedding);
    each(&FloatLayer::rms_att);
    each(&FloatLayer::wq);
    each(&FloatLayer::wk);
    each(&FloatLayer::wv);
    each(&FloatLayer::wo);
    each(&FloatLayer::rms_ffn);
    each(&FloatLayer::w1);
    each(&FloatLayer::w2);
    each(&FloatLayer::w3);
    cur.take(m.rms_final);
    cur.skip(freq);  // freq_cis_real, freq_cis_imag: recomputed by the forward
  } else {
    each(&FloatLayer::rms_att);
    each(&FloatLayer::rms_ffn);
    cur.take(m.rms_final);
    cur.take(m.token_embedding);
    each(&FloatLayer::wq);
    each(&FloatLayer::wk);
    each(&FloatLayer::wv);
    each(&FloatLayer::wo);
    each(&FloatLayer::w1);
    each(&FloatLayer::w2);
    each(&FloatLayer::w3);
  }
  if (!shared) cur.take(m.wcls);
  if (cur.off != bytes.size()) {
    throw std::logic_error("read_llama2c: size accounting mismatch");  // cannot happen
  }
  check_finite(m, path);
  return ck;
}

}  // namespace mcuemu::weights
