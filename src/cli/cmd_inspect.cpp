// mcuemu inspect: what a model file holds, and what each chip would hold for N chips.
#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <iostream>
#include <map>

#include "cli/cli_util.hpp"
#include "cli/commands.hpp"
#include "weights/h5io.hpp"
#include "weights/model_file.hpp"
#include "weights/sharding.hpp"

namespace po = boost::program_options;

namespace mcuemu::cli {

namespace {

std::string dims(const std::vector<std::size_t> &shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? " x " : "") + std::to_string(shape[i]);
  return s;
}

}  // namespace

int inspect(const std::vector<std::string> &args) {
  std::string path;
  int n_chips = 0;
  po::options_description opts("inspect options");
  opts.add_options()("help,h", "show this help")("file", po::value<std::string>(&path),
                                                 "model file (.h5), fp32 or int8")(
      "chips", po::value<int>(&n_chips), "also show the bytes each of N chips would hold")(
      "brief", "omit the per-tensor list");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    fmt::print(
        "usage: mcuemu inspect F.h5 [--chips N] [--brief]\n\n"
        "Prints the configuration, every dataset (name, shape, element type, bytes) and totals.\n"
        "With --chips N, the bytes each chip would hold under tensor parallelism: whole heads\n"
        "per chip (uneven when N does not divide the heads), FFN columns sliced, vocabulary rows\n"
        "sliced, no weight matrix duplicated; norm weights are replicated. This is an estimate\n"
        "from the slicing rules of weights/float_model.hpp; a run's partition plan is final.\n\n");
    std::cout << opts << "\n";
    return 0;
  }
  if (path.empty()) throw po::error("a model file is required");
  if (vm.count("chips") && n_chips < 1) throw po::error("--chips must be >= 1");

  const H5::H5File f = weights::h5::open_read(path);
  const weights::FileInfo info = weights::read_file_info(f);
  const auto &c = info.config;
  if (n_chips > 0) weights::chip_bytes(c, {}, n_chips);  // a bad --chips fails before any output
  fmt::print("file            {}\n", path);
  fmt::print("kind            {} (format_version {})\n", info.kind, info.format_version);
  fmt::print("name            {}\n", c.name.empty() ? "(none)" : c.name);
  if (!info.source.empty()) fmt::print("source          {}\n", info.source);
  fmt::print("config          {}\n", weights::describe(c));

  // Datasets in the order of the tensor table (a dataset inside a group named like a table
  // tensor, as int8 files store "/layers/0/wq/w", sorts with that tensor), then the others.
  auto names = weights::h5::list_datasets(f);
  const auto specs = weights::tensor_specs(c);
  auto table_index = [&](const std::string &n) {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const auto &t = specs[i].name;
      if (n == t || (n.size() > t.size() && n.compare(0, t.size(), t) == 0 && n[t.size()] == '/')) {
        return i;
      }
    }
    return specs.size();
  };
  std::map<std::string, std::size_t> order;
  for (const auto &n : names) order[n] = table_index(n);
  std::stable_sort(names.begin(), names.end(),
                   [&](const std::string &a, const std::string &b) { return order[a] < order[b]; });
  std::vector<weights::StoredTensor> stored;
  const weights::SplitRules rules(c);
  std::map<std::string, std::pair<std::size_t, std::size_t>> by_dtype;  // dtype -> (n, bytes)
  std::size_t total_bytes = 0, total_elems = 0;
  std::size_t width = 24;
  for (const auto &n : names) width = std::max(width, n.size());
  if (!vm.count("brief")) {
    fmt::print("\n{:<{}}  {:>16}  {:>6}  {:>12}  {}\n", "tensor", width, "shape", "dtype", "bytes",
               "sliced by");
  }
  for (const auto &n : names) {
    const auto d = weights::h5::dataset_info(f, n);
    const auto split = rules.split_for(n, d.shape);
    stored.push_back({n, d.shape, d.elem_size, split});
    total_bytes += d.bytes();
    total_elems += d.numel();
    auto &[cnt, b] = by_dtype[d.dtype];
    ++cnt;
    b += d.bytes();
    if (!vm.count("brief")) {
      const std::string how =
          split.axis < 0 ? "replicated"
                         : fmt::format("{} ({})", split.what, split.axis == 0 ? "rows" : "cols");
      fmt::print("{:<{}}  {:>16}  {:>6}  {:>12}  {}\n", n, width, dims(d.shape), d.dtype, d.bytes(),
                 how);
    }
  }
  fmt::print("\ntotal           {} tensors, {} elements, {} bytes ({})\n", names.size(),
             total_elems, total_bytes, mb(static_cast<double>(total_bytes)));
  for (const auto &[dtype, nb] : by_dtype) {
    fmt::print("  {:<13} {} tensors, {} bytes ({})\n", dtype, nb.first, nb.second,
               mb(static_cast<double>(nb.second)));
  }

  if (n_chips > 0) {
    const auto per_chip = weights::chip_bytes(c, stored, n_chips);
    std::int64_t lo = per_chip[0].total(), hi = lo, sum = 0;
    fmt::print(
        "\nper chip (N = {}): whole heads, FFN sliced, vocab rows sliced, norms replicated\n",
        n_chips);
    fmt::print("  {:>4}  {:>5}  {:>14}  {:>14}  {:>14}  {:>10}\n", "chip", "heads", "sliced",
               "replicated", "total", "");
    for (int i = 0; i < n_chips; ++i) {
      const auto &cb = per_chip[static_cast<std::size_t>(i)];
      lo = std::min(lo, cb.total());
      hi = std::max(hi, cb.total());
      sum += cb.total();
      fmt::print("  {:>4}  {:>5}  {:>14}  {:>14}  {:>14}  {:>10}\n", i,
                 weights::units_of_chip(c.n_heads, n_chips, i), cb.sliced, cb.replicated,
                 cb.total(), mb(static_cast<double>(cb.total())));
    }
    fmt::print("  sum {} bytes ({} in the copies of replicated tensors), max/min {:.3f}\n", sum,
               mb(static_cast<double>(sum - static_cast<std::int64_t>(total_bytes))),
               lo > 0 ? static_cast<double>(hi) / static_cast<double>(lo) : 0.0);
  }
  return 0;
}

}  // namespace mcuemu::cli
