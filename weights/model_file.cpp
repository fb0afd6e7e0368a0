// Reading and writing fp32 model files (FORMAT.md).
#include "weights/model_file.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <span>

namespace mcuemu::weights {

namespace {

// Integer configuration attributes, in the order FORMAT.md lists them.
struct IntField {
  const char *name;
  int ModelConfig::*field;
};
const IntField kCommonInts[] = {
    {"dim", &ModelConfig::dim},
    {"hidden_dim", &ModelConfig::hidden_dim},
    {"n_layers", &ModelConfig::n_layers},
    {"n_heads", &ModelConfig::n_heads},
    {"n_kv_heads", &ModelConfig::n_kv_heads},
    {"vocab_size", &ModelConfig::vocab_size},
    {"seq_len", &ModelConfig::seq_len},
};
const IntField kMobileBertInts[] = {
    {"embedding_size", &ModelConfig::embedding_size},
    {"intra_bottleneck", &ModelConfig::intra_bottleneck},
    {"n_ffn", &ModelConfig::n_ffn},
    {"type_vocab_size", &ModelConfig::type_vocab_size},
};

int to_int(const std::string &file, const char *name, std::int64_t v) {
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    throw FileError(fmt::format("{}: attribute '{}': value {} is out of range", file, name, v));
  }
  return static_cast<int>(v);
}

std::size_t total_bytes(const std::vector<TensorRef> &refs) {
  std::size_t n = 0;
  for (const auto &r : refs) n += r.spec.numel() * sizeof(float);
  return n;
}

template <class M>
void write_impl(const std::string &path, const M &m, const std::string &source,
                const Progress &progress) {
  check_shapes(m);
  // A NaN in the output would only be caught by the next reader: refuse it here, naming the
  // tensor, before anything is written.
  check_finite(m, path + " (not written)");
  auto refs = tensors(const_cast<M &>(m));
  const std::size_t total = total_bytes(refs);
  h5::write_atomically(path, [&](H5::H5File &f) {
    write_config_attrs(f, m.config, "fp32", source);
    std::size_t done = 0;
    for (const auto &r : refs) {
      h5::write_dataset<float>(f, r.spec.name, std::span<const float>(*r.data), r.spec.shape);
      done += r.spec.numel() * sizeof(float);
      if (progress) progress(done, total);
    }
  });
}

template <class M>
void read_tensors(const H5::H5File &f, const std::string &path, M &m) {
  for (auto &r : tensors(m)) {
    h5::read_dataset_into<float>(f, r.spec.name, r.spec.shape, std::span<float>(*r.data));
    const auto &v = *r.data;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i])) {
        throw FileError(fmt::format("{}: dataset '{}': non-finite value {} at index {}", path,
                                    r.spec.name, v[i], i));
      }
    }
  }
}

FileInfo open_fp32(const H5::H5File &f, const std::string &path, Arch want) {
  FileInfo info = read_file_info(f);
  if (info.kind != "fp32") {
    throw FileError(fmt::format("{}: kind is '{}', expected an fp32 model file", path, info.kind));
  }
  if (info.config.arch != want) {
    throw FileError(fmt::format("{}: architecture is '{}', expected '{}'", path,
                                arch_name(info.config.arch), arch_name(want)));
  }
  return info;
}

}  // namespace

void write_config_attrs(H5::H5File &f, const ModelConfig &c, const std::string &kind,
                        const std::string &source) {
  validate(c);
  H5::Group root = f.openGroup("/");
  h5::write_int_attr(root, "format_version", kFormatVersion);
  h5::write_string_attr(root, "kind", kind);
  h5::write_string_attr(root, "architecture", arch_name(c.arch));
  h5::write_string_attr(root, "name", c.name);
  h5::write_string_attr(root, "source", source);
  for (const auto &fld : kCommonInts) h5::write_int_attr(root, fld.name, c.*fld.field);
  h5::write_int_attr(root, "shared_classifier", c.shared_classifier ? 1 : 0);
  h5::write_float_attr(root, "norm_eps", c.norm_eps);
  h5::write_float_attr(root, "rope_theta", c.rope_theta);
  if (c.arch == Arch::MobileBert) {
    for (const auto &fld : kMobileBertInts) h5::write_int_attr(root, fld.name, c.*fld.field);
  }
}

FileInfo read_file_info(const H5::H5File &f) {
  FileInfo info;
  H5::Group root;
  try {
    info.path = f.getFileName();
    root = f.openGroup("/");
  } catch (const H5::Exception &e) {
    throw FileError(fmt::format("{}: cannot read the root group: {}", info.path, e.getDetailMsg()));
  }
  const std::string &path = info.path;
  info.format_version = h5::read_int_attr(root, "format_version");
  if (info.format_version != kFormatVersion) {
    throw FileError(fmt::format("{}: format_version {} is not supported (this build reads {})",
                                path, info.format_version, kFormatVersion));
  }
  info.kind = h5::read_string_attr(root, "kind");
  if (h5::has_attr(root, "source")) info.source = h5::read_string_attr(root, "source");
  ModelConfig &c = info.config;
  try {
    c.arch = parse_arch(h5::read_string_attr(root, "architecture"));
  } catch (const std::invalid_argument &e) {
    throw FileError(fmt::format("{}: attribute 'architecture': {}", path, e.what()));
  }
  if (h5::has_attr(root, "name")) c.name = h5::read_string_attr(root, "name");
  for (const auto &fld : kCommonInts) {
    c.*fld.field = to_int(path, fld.name, h5::read_int_attr(root, fld.name));
  }
  c.shared_classifier = h5::read_int_attr(root, "shared_classifier") != 0;
  c.norm_eps = static_cast<float>(h5::read_float_attr(root, "norm_eps"));
  c.rope_theta = static_cast<float>(h5::read_float_attr(root, "rope_theta"));
  if (c.arch == Arch::MobileBert) {
    for (const auto &fld : kMobileBertInts) {
      c.*fld.field = to_int(path, fld.name, h5::read_int_attr(root, fld.name));
    }
  }
  try {
    validate(c);
  } catch (const std::invalid_argument &e) {
    throw FileError(fmt::format("{}: invalid configuration: {}", path, e.what()));
  }
  return info;
}

FileInfo read_file_info(const std::string &path) {
  return h5::guard(path, [&] {
    const H5::H5File f = h5::open_read(path);
    FileInfo info = read_file_info(f);
    info.path = path;
    return info;
  });
}

void write_float_model(const std::string &path, const FloatModel &m, const std::string &source,
                       const Progress &progress) {
  write_impl(path, m, source, progress);
}

void write_float_model(const std::string &path, const FloatMobileBertModel &m,
                       const std::string &source, const Progress &progress) {
  write_impl(path, m, source, progress);
}

FloatModel read_float_model(const std::string &path) {
  return h5::guard(path, [&] {
    const H5::H5File f = h5::open_read(path);
    const FileInfo info = open_fp32(f, path, Arch::Llama);
    FloatModel m = make_float_model(info.config);
    read_tensors(f, path, m);
    return m;
  });
}

FloatMobileBertModel read_float_mobilebert(const std::string &path) {
  return h5::guard(path, [&] {
    const H5::H5File f = h5::open_read(path);
    const FileInfo info = open_fp32(f, path, Arch::MobileBert);
    FloatMobileBertModel m = make_float_mobilebert(info.config);
    read_tensors(f, path, m);
    return m;
  });
}

}  // namespace mcuemu::weights
