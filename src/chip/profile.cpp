// Loading a hardware profile: Boost.Program_options reads the INI file; this file adds line
// numbers, the key table with types and bounds, --set overrides, and one-line errors.
#include "chip/profile.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chip/error.hpp"

#ifndef MCUEMU_PROFILE_DIR
#define MCUEMU_PROFILE_DIR "experiments/hw"
#endif

namespace mcuemu::chip {
namespace {

namespace po = boost::program_options;

// ---------------------------------------------------------------------------------------------
// The key table: name, type, bound, and where the value goes in Profile.
// ---------------------------------------------------------------------------------------------

enum class Type {
  Real,     // a finite number up to kMaxValue
  Integer,  // a whole number up to kMaxValue (byte sizes: int64)
  Count,    // a whole number up to kMaxCount (fields of type int: cores, ports)
  Flag,     // 0 or 1
  Text
};
// Bounds that keep every later computation in range (no float-to-int overflow, no int
// overflow): no physical quantity of a profile comes near them.
constexpr double kMaxValue = 1e15;
constexpr double kMaxCount = 1e6;
constexpr double kMinPositive = 1e-9;  // smallest value of a key that must be > 0
enum class Bound {
  NonNegative,  // >= 0
  Positive,     // > 0
  Fraction,     // in (0, 1]
};

struct KeySpec {
  const char *key;
  Type type;
  Bound bound;
  void (*set_number)(Profile &, double);
  void (*set_text)(Profile &, const std::string &);
};

using P = Profile;
#define NUM(key, type, bound, expr)                         \
  KeySpec {                                                 \
    key, type, bound, [](P &p, double v) { expr; }, nullptr \
  }
#define TEXT(key, expr)                                                                    \
  KeySpec {                                                                                \
    key, Type::Text, Bound::NonNegative, nullptr, [](P &p, const std::string &v) { expr; } \
  }

const std::vector<KeySpec> &key_specs() {
  using B = Bound;
  using T = Type;
  static const std::vector<KeySpec> specs = {
      TEXT("chip.name", p.name = v),
      NUM("chip.freq_mhz", T::Real, B::Positive, p.freq_mhz = v),
      NUM("chip.cores", T::Count, B::Positive, p.cores = static_cast<int>(v)),

      NUM("compute.gemm_macs_per_cycle", T::Real, B::Positive, p.gemm_macs_per_cycle = v),
      NUM("compute.gemv_macs_per_cycle", T::Real, B::Positive, p.gemv_macs_per_cycle = v),
      NUM("compute.op_overhead_cycles", T::Real, B::NonNegative, p.op_overhead_cycles = v),

      NUM("kernel_cycles.softmax", T::Real, B::NonNegative, p.kernel_cycles.softmax = v),
      NUM("kernel_cycles.softmax_itamax", T::Real, B::NonNegative,
          p.kernel_cycles.softmax_itamax = v),
      NUM("kernel_cycles.rmsnorm", T::Real, B::NonNegative, p.kernel_cycles.rmsnorm = v),
      NUM("kernel_cycles.layernorm", T::Real, B::NonNegative, p.kernel_cycles.layernorm = v),
      NUM("kernel_cycles.nonorm", T::Real, B::NonNegative, p.kernel_cycles.nonorm = v),
      NUM("kernel_cycles.gelu", T::Real, B::NonNegative, p.kernel_cycles.gelu = v),
      NUM("kernel_cycles.hswish", T::Real, B::NonNegative, p.kernel_cycles.hswish = v),
      NUM("kernel_cycles.relu", T::Real, B::NonNegative, p.kernel_cycles.relu = v),
      NUM("kernel_cycles.requant", T::Real, B::NonNegative, p.kernel_cycles.requant = v),
      NUM("kernel_cycles.add", T::Real, B::NonNegative, p.kernel_cycles.add = v),
      NUM("kernel_cycles.mul", T::Real, B::NonNegative, p.kernel_cycles.mul = v),
      NUM("kernel_cycles.rope", T::Real, B::NonNegative, p.kernel_cycles.rope = v),
      NUM("kernel_cycles.argmax", T::Real, B::NonNegative, p.kernel_cycles.argmax = v),

      NUM("memory.l1_bytes", T::Integer, B::Positive, p.bytes[Level::L1] = std::int64_t(v)),
      NUM("memory.l1_reserved_bytes", T::Integer, B::NonNegative,
          p.reserved_bytes[Level::L1] = std::int64_t(v)),
      NUM("memory.l2_bytes", T::Integer, B::Positive, p.bytes[Level::L2] = std::int64_t(v)),
      NUM("memory.l2_reserved_bytes", T::Integer, B::NonNegative,
          p.reserved_bytes[Level::L2] = std::int64_t(v)),
      NUM("memory.mram_bytes", T::Integer, B::NonNegative, p.bytes[Level::MRAM] = std::int64_t(v)),
      NUM("memory.mram_reserved_bytes", T::Integer, B::NonNegative,
          p.reserved_bytes[Level::MRAM] = std::int64_t(v)),
      NUM("memory.l3_bytes", T::Integer, B::NonNegative, p.bytes[Level::L3] = std::int64_t(v)),
      NUM("memory.l3_reserved_bytes", T::Integer, B::NonNegative,
          p.reserved_bytes[Level::L3] = std::int64_t(v)),

      NUM("dma.l2_l1_bytes_per_cycle", T::Real, B::Positive, p.dma.l2_l1_bytes_per_cycle = v),
      NUM("dma.l2_l1_setup_cycles", T::Real, B::NonNegative, p.dma.l2_l1_setup_cycles = v),
      NUM("dma.mram_mb_per_s", T::Real, B::Positive, p.dma.mram_mb_per_s = v),
      NUM("dma.mram_setup_cycles", T::Real, B::NonNegative, p.dma.mram_setup_cycles = v),
      NUM("dma.mram_via_l2", T::Flag, B::NonNegative, p.dma.mram_via_l2 = (v != 0)),
      NUM("dma.l3_peak_mb_per_s", T::Real, B::Positive, p.dma.l3_peak_mb_per_s = v),
      NUM("dma.l3_efficiency", T::Real, B::Fraction, p.dma.l3_efficiency = v),
      NUM("dma.l3_setup_cycles", T::Real, B::NonNegative, p.dma.l3_setup_cycles = v),

      NUM("energy.mac_pj", T::Real, B::NonNegative, p.energy.mac_pj = v),
      NUM("energy.instr_pj", T::Real, B::NonNegative, p.energy.instr_pj = v),
      NUM("energy.l1_pj_per_byte", T::Real, B::NonNegative, p.energy.pj_per_byte[Level::L1] = v),
      NUM("energy.l2_pj_per_byte", T::Real, B::NonNegative, p.energy.pj_per_byte[Level::L2] = v),
      NUM("energy.mram_pj_per_byte", T::Real, B::NonNegative,
          p.energy.pj_per_byte[Level::MRAM] = v),
      NUM("energy.l3_pj_per_byte", T::Real, B::NonNegative, p.energy.pj_per_byte[Level::L3] = v),
      NUM("energy.link_pj_per_byte", T::Real, B::NonNegative, p.energy.link_pj_per_byte = v),

      NUM("power.active_mw", T::Real, B::NonNegative, p.power.active_mw = v),
      NUM("power.idle_mw", T::Real, B::NonNegative, p.power.idle_mw = v),

      NUM("link.mb_per_s", T::Real, B::Positive, p.link.mb_per_s = v),
      NUM("link.latency_ns", T::Real, B::NonNegative, p.link.latency_ns = v),
      TEXT("link.topology", p.link.topology = v),
      NUM("link.ports", T::Count, B::Positive, p.link.ports = static_cast<int>(v)),
  };
  return specs;
}

#undef NUM
#undef TEXT

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

std::string trim(const std::string &s) {
  const char *ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// One `key = value` line of the file, as Boost will see it.
struct Line {
  std::string key;  // section.key
  std::string value;
  int line = 0;
};

// What the line scan learns about a file: every key with its line, every section header.
struct FileIndex {
  std::vector<Line> keys;
  std::map<std::string, int> sections;  // section name -> line of its header
  int last_line = 0;
};

// Scans the file the way Boost 1.74's config-file parser does (comments from '#', `[section]`
// headers, `name = value`), to learn the line of every key; syntax errors and repeated keys are
// reported here because Boost reports them without a line number.
FileIndex scan_lines(const std::string &text, const std::string &path) {
  FileIndex index;
  std::map<std::string, int> first_line;
  std::istringstream in(text);
  std::string raw;
  std::string section;
  int n = 0;
  while (std::getline(in, raw)) {
    ++n;
    std::string s = raw;
    if (const auto hash = s.find('#'); hash != std::string::npos) s.resize(hash);
    s = trim(s);
    if (s.empty()) continue;
    if (s.front() == '[') {
      if (s.back() != ']') {
        throw ChipError(fmt::format("{}:{}: invalid section header '{}'", path, n, s));
      }
      section = trim(s.substr(1, s.size() - 2));
      index.sections.emplace(section, n);
      continue;
    }
    const auto eq = s.find('=');
    if (eq == std::string::npos) {
      throw ChipError(fmt::format(
          "{}:{}: invalid line '{}' (expected 'key = value', '[section]' or a '#' comment)", path,
          n, s));
    }
    const std::string name = trim(s.substr(0, eq));
    const std::string key = section.empty() ? name : section + "." + name;
    if (name.empty()) throw ChipError(fmt::format("{}:{}: line '{}' has no key", path, n, s));
    if (const auto it = first_line.find(key); it != first_line.end()) {
      throw ChipError(
          fmt::format("{}:{}: key '{}' repeated (first at line {})", path, n, key, it->second));
    }
    first_line.emplace(key, n);
    index.keys.push_back(Line{key, trim(s.substr(eq + 1)), n});
  }
  index.last_line = n;
  return index;
}

const KeySpec *find_spec(const std::string &key) {
  for (const KeySpec &spec : key_specs()) {
    if (key == spec.key) return &spec;
  }
  return nullptr;
}

// Parses `text` as the value of `spec`; on failure returns the reason (empty on success).
std::string convert(const KeySpec &spec, const std::string &text, double &out) {
  if (text.empty()) return "empty value (expected a number)";
  const char *begin = text.c_str();
  char *end = nullptr;
  const double v = std::strtod(begin, &end);
  if (end == begin || *end != '\0' || !std::isfinite(v)) {
    return fmt::format("non-numeric value '{}'", text);
  }
  if (v < 0) return fmt::format("negative value '{}'", text);
  if (v > kMaxValue)
    return fmt::format("value '{}' is implausibly large (> {:g})", text, kMaxValue);
  switch (spec.type) {
    case Type::Integer:
      if (v != std::floor(v)) return fmt::format("value '{}' must be a whole number", text);
      break;
    case Type::Count:
      if (v != std::floor(v) || v > kMaxCount)
        return fmt::format("value '{}' must be a whole number up to {:g}", text, kMaxCount);
      break;
    case Type::Flag:
      if (v != 0 && v != 1) return fmt::format("value '{}' must be 0 or 1", text);
      break;
    default:
      break;
  }
  switch (spec.bound) {
    case Bound::Positive:
      if (v <= 0) return fmt::format("value '{}' must be greater than 0", text);
      if (v < kMinPositive)
        return fmt::format("value '{}' is implausibly small (< {:g})", text, kMinPositive);
      break;
    case Bound::Fraction:
      if (v <= 0 || v > 1) return fmt::format("value '{}' must be in (0, 1]", text);
      break;
    case Bound::NonNegative:
      break;
  }
  out = v;
  return {};
}

// `origin` of an entry, as the prefix of an error message ("path:line" or the --set text).
[[noreturn]] void fail(const ProfileEntry &entry, const std::string &key, const std::string &why) {
  throw ChipError(fmt::format("{}: key '{}': {}", entry.origin, key, why));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

const std::vector<std::string> &profile_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const KeySpec &spec : key_specs()) k.emplace_back(spec.key);
    return k;
  }();
  return keys;
}

std::string default_profile_dir() {
  return MCUEMU_PROFILE_DIR;
}

std::string resolve_profile_path(const std::string &path_or_name, const std::string &search_dir) {
  const bool bare =
      path_or_name.find('/') == std::string::npos &&
      !(path_or_name.size() > 4 && path_or_name.compare(path_or_name.size() - 4, 4, ".ini") == 0);
  if (!bare) return path_or_name;
  const std::string dir = search_dir.empty() ? default_profile_dir() : search_dir;
  return dir + "/" + path_or_name + ".ini";
}

std::string read_profile_text(const std::string &path_or_name, const std::string &search_dir,
                              std::string *resolved) {
  const std::string path = resolve_profile_path(path_or_name, search_dir);
  // Only a regular file of reasonable size: a directory, a FIFO or /dev/zero would make the
  // reader fail obscurely or never finish.
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    throw ChipError(
        fmt::format("cannot open hardware profile '{}' (given as '{}')", path, path_or_name));
  }
  if (!std::filesystem::is_regular_file(st)) {
    throw ChipError(fmt::format("hardware profile '{}' is not a regular file{}", path,
                                std::filesystem::is_directory(st) ? " (a directory)" : ""));
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxProfileBytes) {
    throw ChipError(
        fmt::format("hardware profile '{}' is {} bytes, more than the {} a profile "
                    "may have (not a profile?)",
                    path, size, kMaxProfileBytes));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw ChipError(
        fmt::format("cannot open hardware profile '{}' (given as '{}')", path, path_or_name));
  }
  std::stringstream buffer;
  buffer << file.rdbuf();
  if (file.bad()) throw ChipError(fmt::format("cannot read hardware profile '{}'", path));
  if (resolved) *resolved = path;
  return buffer.str();
}

Profile load_profile(const std::string &path_or_name, const std::vector<std::string> &set_overrides,
                     const std::string &search_dir) {
  std::string path;
  const std::string text = read_profile_text(path_or_name, search_dir, &path);
  return parse_profile(text, path, set_overrides);
}

Profile parse_profile(const std::string &text, const std::string &path,
                      const std::vector<std::string> &set_overrides) {
  if (text.find('\0') != std::string::npos)
    throw ChipError(fmt::format("{}: contains a NUL byte (not a text file?)", path));
  const FileIndex index = scan_lines(text, path);
  std::map<std::string, int> line_of;
  for (const Line &l : index.keys) line_of.emplace(l.key, l.line);

  // Boost reads the values. Every known key is declared as a string so that type and bound
  // errors are ours (with a line number) rather than Boost's (without one); unknown keys come
  // back as "unregistered" options.
  po::options_description description;
  for (const KeySpec &spec : key_specs()) {
    description.add_options()(spec.key, po::value<std::string>());
  }
  Profile profile;
  profile.path = path;
  try {
    std::istringstream in(text);
    const po::parsed_options parsed = po::parse_config_file(in, description, true);
    for (const po::option &option : parsed.options) {
      const auto it = line_of.find(option.string_key);
      const int line = it == line_of.end() ? 0 : it->second;
      if (option.unregistered) {
        throw ChipError(fmt::format("{}:{}: unknown key '{}' (known keys are listed in {})", path,
                                    line, option.string_key, "experiments/hw/README.md"));
      }
      const std::string value = option.value.empty() ? "" : trim(option.value.front());
      profile.entries[option.string_key] =
          ProfileEntry{value, fmt::format("{}:{}", path, line), line};
    }
  } catch (const po::error &e) {
    throw ChipError(fmt::format("{}: {}", path, e.what()));
  }

  for (const std::string &assignment : set_overrides) {
    const auto eq = assignment.find('=');
    if (eq == std::string::npos) {
      throw ChipError(fmt::format("--set '{}': expected key=value (profile {})", assignment, path));
    }
    const std::string key = trim(assignment.substr(0, eq));
    const std::string value = trim(assignment.substr(eq + 1));
    if (find_spec(key) == nullptr) {
      throw ChipError(
          fmt::format("--set '{}': unknown key '{}' (profile {})", assignment, key, path));
    }
    ProfileEntry &entry = profile.entries[key];
    const std::string over =
        entry.line > 0 ? fmt::format(" over {}:{}", path, entry.line) : std::string();
    entry.value = value;
    entry.origin = fmt::format("--set '{}'{}", assignment, over);
  }

  for (const KeySpec &spec : key_specs()) {
    const auto it = profile.entries.find(spec.key);
    if (it == profile.entries.end()) {
      const std::string key = spec.key;
      const std::string section = key.substr(0, key.find('.'));
      const auto sec = index.sections.find(section);
      if (sec != index.sections.end()) {
        throw ChipError(fmt::format("{}:{}: missing key '{}' in section [{}]", path, sec->second,
                                    key, section));
      }
      throw ChipError(fmt::format("{}:{}: missing key '{}' (the file has no section [{}])", path,
                                  index.last_line, key, section));
    }
    const ProfileEntry &entry = it->second;
    if (spec.type == Type::Text) {
      if (entry.value.empty()) fail(entry, spec.key, "empty value");
      spec.set_text(profile, entry.value);
      continue;
    }
    double v = 0;
    if (const std::string why = convert(spec, entry.value, v); !why.empty()) {
      fail(entry, spec.key, why);
    }
    spec.set_number(profile, v);
  }

  // Checks across keys, reported at the key that breaks them.
  const auto &topologies = kLinkTopologies;
  if (std::find(topologies.begin(), topologies.end(), profile.link.topology) == topologies.end()) {
    fail(profile.entries.at("link.topology"), "link.topology",
         fmt::format("unknown topology '{}' (expected one of: {})", profile.link.topology,
                     fmt::join(topologies, ", ")));
  }
  for (Level level : kAllLevels) {
    const std::string lname = level == Level::MRAM ? "mram"
                              : level == Level::L1 ? "l1"
                              : level == Level::L2 ? "l2"
                                                   : "l3";
    const std::string key = fmt::format("memory.{}_reserved_bytes", lname);
    if (profile.reserved_bytes[level] > profile.bytes[level]) {
      fail(profile.entries.at(key), key,
           fmt::format("reserves {} B but memory.{}_bytes is only {} B",
                       profile.reserved_bytes[level], lname, profile.bytes[level]));
    }
  }
  if (profile.usable_bytes(Level::L1) <= 0 || profile.usable_bytes(Level::L2) <= 0) {
    const std::string key = profile.usable_bytes(Level::L1) <= 0 ? "memory.l1_reserved_bytes"
                                                                 : "memory.l2_reserved_bytes";
    fail(profile.entries.at(key), key, "leaves no usable bytes (L1 and L2 must not be empty)");
  }
  return profile;
}

std::string describe(const Profile &profile) {
  std::string out = fmt::format("hardware profile '{}' ({})\n", profile.name, profile.path);
  for (const std::string &key : profile_keys()) {
    const ProfileEntry &e = profile.entries.at(key);
    out += fmt::format("  {:<32} = {:<14} # {}\n", key, e.value, e.origin);
  }
  return out;
}

}  // namespace mcuemu::chip
