// Hardware profiles: both shipped profiles load, --set overrides, and every parsing error names
// the file, the line and the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chip/profile.hpp"
#include "test_util.hpp"

namespace mcuemu::chip {
namespace {

using test::error_of;
using test::hw_dir;
using test::line_of;
using test::read_text;
using test::replace_once;
using test::write_temp;
using ::testing::HasSubstr;

std::string gap9_text() {
  return read_text(hw_dir() + "/gap9.ini");
}

// Writes `text` as a temporary profile, loads it and returns the error message.
std::string load_error(const std::string &name, const std::string &text,
                       const std::vector<std::string> &overrides = {}) {
  const std::string path = write_temp(name, text);
  return error_of([&] { load_profile(path, overrides); });
}

TEST(Profile, Gap9LoadsWithItsNumbers) {
  const Profile p = load_profile("gap9", {}, hw_dir());
  EXPECT_EQ(p.name, "gap9");
  EXPECT_DOUBLE_EQ(p.freq_mhz, 370);
  EXPECT_EQ(p.cores, 8);
  EXPECT_DOUBLE_EQ(p.gemm_macs_per_cycle, 15.5);
  EXPECT_EQ(p.usable_bytes(Level::L1), 131072 - 27300);
  EXPECT_EQ(p.usable_bytes(Level::L2), 1536000);  // DORY's L2 dimension
  EXPECT_EQ(p.usable_bytes(Level::MRAM), 2097152);
  EXPECT_DOUBLE_EQ(p.dma.l2_l1_bytes_per_cycle, 8);
  EXPECT_TRUE(p.dma.mram_via_l2);
  EXPECT_NEAR(p.dma.l3_mb_per_s(), 333 * 0.8, 1e-9);
  EXPECT_DOUBLE_EQ(p.energy.pj_per_byte[Level::L3], 324);
  EXPECT_EQ(p.link.topology, "tree");
  EXPECT_EQ(p.entries.size(), profile_keys().size());
  EXPECT_EQ(p.entries.at("chip.freq_mhz").line, line_of(gap9_text(), "freq_mhz"));
}

TEST(Profile, SiracusaLoadsWithItsNumbers) {
  const Profile p = load_profile("siracusa", {}, hw_dir());
  EXPECT_EQ(p.name, "siracusa");
  EXPECT_EQ(p.bytes[Level::L1], 256 * 1024);
  EXPECT_EQ(p.bytes[Level::L2], 2 * 1024 * 1024);
  EXPECT_EQ(p.bytes[Level::MRAM], 8 * 1024 * 1024);
  EXPECT_FALSE(p.dma.mram_via_l2);
  EXPECT_EQ(p.link.ports, 1);
}

TEST(Profile, DefaultDirectoryAndPaths) {
  EXPECT_EQ(resolve_profile_path("gap9", "/x"), "/x/gap9.ini");
  EXPECT_EQ(resolve_profile_path("dir/gap9.ini", "/x"), "dir/gap9.ini");
  EXPECT_EQ(resolve_profile_path("my.ini", "/x"), "my.ini");
  // The compiled-in directory is the repository's experiments/hw.
  EXPECT_EQ(load_profile("gap9").name, "gap9");
  EXPECT_EQ(load_profile(hw_dir() + "/siracusa.ini").name, "siracusa");
}

TEST(Profile, ReadThenParseIsLoad) {
  // `mcuemu run` reads the file on rank 0 and parses the broadcast text on every rank.
  std::string path;
  const std::string text = read_profile_text("gap9", hw_dir(), &path);
  EXPECT_EQ(path, hw_dir() + "/gap9.ini");
  EXPECT_EQ(text, gap9_text());
  const Profile parsed = parse_profile(text, path, {"chip.freq_mhz=100"});
  const Profile loaded = load_profile("gap9", {"chip.freq_mhz=100"}, hw_dir());
  EXPECT_EQ(describe(parsed), describe(loaded));
  EXPECT_EQ(parsed.path, loaded.path);
  EXPECT_THAT(error_of([] { read_profile_text("no_such_chip", "/nonexistent"); }),
              HasSubstr("/nonexistent/no_such_chip.ini"));
}

TEST(Profile, UnitConversions) {
  const Profile p = load_profile("gap9", {}, hw_dir());
  EXPECT_DOUBLE_EQ(p.ns_from_cycles(370), 1000);
  EXPECT_DOUBLE_EQ(p.cycles_from_ns(1000), 370);
  EXPECT_DOUBLE_EQ(p.bytes_per_cycle(740), 2);
  EXPECT_DOUBLE_EQ(p.pj_per_cycle(37), 100);  // 37 mW at 370 MHz = 100 pJ per cycle
}

TEST(Profile, SetOverridesAnyKeyAndRemembersItsOrigin) {
  const Profile p =
      load_profile("gap9", {"dma.l3_efficiency=0.5", " chip.freq_mhz = 100 "}, hw_dir());
  EXPECT_DOUBLE_EQ(p.dma.l3_efficiency, 0.5);
  EXPECT_DOUBLE_EQ(p.freq_mhz, 100);
  EXPECT_THAT(p.entries.at("chip.freq_mhz").origin, HasSubstr("--set"));
  EXPECT_THAT(p.entries.at("chip.freq_mhz").origin,
              HasSubstr("gap9.ini:" + std::to_string(line_of(gap9_text(), "freq_mhz"))));
  EXPECT_THAT(describe(p), HasSubstr("dma.l3_efficiency"));
}

TEST(ProfileErrors, UnknownKeyNamesFileLineKey) {
  const std::string text = replace_once(gap9_text(), "cores = 8", "cores = 8\nbogus = 1");
  const std::string msg = load_error("unknown.ini", text);
  const int line = line_of(text, "bogus");
  EXPECT_THAT(msg, HasSubstr("unknown.ini:" + std::to_string(line) + ":"));
  EXPECT_THAT(msg, HasSubstr("unknown key 'chip.bogus'"));
}

TEST(ProfileErrors, MissingKeyNamesFileSectionLineKey) {
  const std::string text = replace_once(gap9_text(), "\ncores = 8", "\n");
  const std::string msg = load_error("missing.ini", text);
  EXPECT_THAT(msg, HasSubstr("missing.ini:" + std::to_string(line_of(text, "[chip]")) + ":"));
  EXPECT_THAT(msg, HasSubstr("missing key 'chip.cores'"));
}

TEST(ProfileErrors, MissingSectionNamesEndOfFile) {
  std::string text = gap9_text();
  text = text.substr(0, text.find("[link]"));
  const std::string msg = load_error("nosection.ini", text);
  EXPECT_THAT(msg, HasSubstr("nosection.ini:"));
  EXPECT_THAT(msg, HasSubstr("missing key 'link.mb_per_s'"));
  EXPECT_THAT(msg, HasSubstr("no section [link]"));
}

TEST(ProfileErrors, NegativeValueNamesFileLineKey) {
  const std::string text = replace_once(gap9_text(), "freq_mhz = 370", "freq_mhz = -370");
  const std::string msg = load_error("negative.ini", text);
  EXPECT_THAT(msg, HasSubstr("negative.ini:" + std::to_string(line_of(text, "freq_mhz")) + ":"));
  EXPECT_THAT(msg, HasSubstr("key 'chip.freq_mhz'"));
  EXPECT_THAT(msg, HasSubstr("negative value '-370'"));
}

TEST(ProfileErrors, NonNumericValueNamesFileLineKey) {
  const std::string text = replace_once(gap9_text(), "l2_bytes = 1638400", "l2_bytes = lots");
  const std::string msg = load_error("nonnumeric.ini", text);
  EXPECT_THAT(msg, HasSubstr("nonnumeric.ini:" + std::to_string(line_of(text, "l2_bytes")) + ":"));
  EXPECT_THAT(msg, HasSubstr("key 'memory.l2_bytes'"));
  EXPECT_THAT(msg, HasSubstr("non-numeric value 'lots'"));
}

TEST(ProfileErrors, SemicolonIsNotAComment) {
  // Boost keeps "; ..." in the value, so an inline ';' comment is a non-numeric value.
  const std::string text =
      replace_once(gap9_text(), "l2_l1_bytes_per_cycle = 8", "l2_l1_bytes_per_cycle = 8 ; DORY");
  EXPECT_THAT(load_error("semicolon.ini", text), HasSubstr("non-numeric value '8 ; DORY'"));
  // ...while '#' is.
  const std::string ok =
      replace_once(gap9_text(), "l2_l1_bytes_per_cycle = 8", "l2_l1_bytes_per_cycle = 8 # DORY");
  EXPECT_DOUBLE_EQ(load_profile(write_temp("hash.ini", ok)).dma.l2_l1_bytes_per_cycle, 8);
}

TEST(ProfileErrors, EmptyValue) {
  const std::string text = replace_once(gap9_text(), "idle_mw = 3", "idle_mw =");
  const std::string msg = load_error("empty.ini", text);
  EXPECT_THAT(msg, HasSubstr("empty.ini:" + std::to_string(line_of(text, "idle_mw")) + ":"));
  EXPECT_THAT(msg, HasSubstr("key 'power.idle_mw': empty value"));
}

TEST(ProfileErrors, TypeAndBoundChecks) {
  const std::string base = gap9_text();
  struct Case {
    const char *from, *to, *key, *why;
  };
  const Case cases[] = {
      {"cores = 8", "cores = 7.5", "chip.cores", "must be a whole number"},
      {"cores = 8", "cores = 0", "chip.cores", "must be greater than 0"},
      {"l3_efficiency = 0.8", "l3_efficiency = 1.2", "dma.l3_efficiency", "must be in (0, 1]"},
      {"mram_via_l2 = 1", "mram_via_l2 = 2", "dma.mram_via_l2", "must be 0 or 1"},
      {"l2_l1_bytes_per_cycle = 8", "l2_l1_bytes_per_cycle = 0", "dma.l2_l1_bytes_per_cycle",
       "must be greater than 0"},
      {"freq_mhz = 370", "freq_mhz = inf", "chip.freq_mhz", "non-numeric value 'inf'"},
      {"topology = tree", "topology = torus", "link.topology", "unknown topology 'torus'"},
      {"l1_reserved_bytes = 27300", "l1_reserved_bytes = 200000", "memory.l1_reserved_bytes",
       "but memory.l1_bytes is only 131072 B"},
  };
  for (const Case &c : cases) {
    const std::string text = replace_once(base, c.from, c.to);
    const std::string msg = load_error("bound.ini", text);
    const std::string name = std::string(c.to).substr(0, std::string(c.to).find(' '));
    EXPECT_THAT(msg, HasSubstr("bound.ini:" + std::to_string(line_of(text, name + " ")) + ":"))
        << c.to;
    EXPECT_THAT(msg, HasSubstr(std::string("key '") + c.key + "'")) << c.to;
    EXPECT_THAT(msg, HasSubstr(c.why)) << c.to;
  }
}

TEST(ProfileErrors, SyntaxErrorsHaveLines) {
  const std::string text = replace_once(gap9_text(), "cores = 8", "cores = 8\njust words");
  EXPECT_THAT(load_error("syntax.ini", text),
              HasSubstr("syntax.ini:" + std::to_string(line_of(text, "just words")) +
                        ": invalid line 'just words'"));
  const std::string twice = replace_once(gap9_text(), "cores = 8", "cores = 8\ncores = 9");
  const int first = line_of(twice, "cores");
  EXPECT_THAT(
      load_error("twice.ini", twice),
      HasSubstr("twice.ini:" + std::to_string(first + 1) +
                ": key 'chip.cores' repeated (first at line " + std::to_string(first) + ")"));
}

TEST(ProfileErrors, BadSetOverrides) {
  const std::string gap9 = hw_dir() + "/gap9.ini";
  EXPECT_THAT(error_of([&] { load_profile(gap9, {"chip.freq_mhz"}); }),
              HasSubstr("--set 'chip.freq_mhz': expected key=value"));
  EXPECT_THAT(error_of([&] { load_profile(gap9, {"chip.turbo=1"}); }),
              HasSubstr("--set 'chip.turbo=1': unknown key 'chip.turbo'"));
  const std::string msg = error_of([&] { load_profile(gap9, {"memory.l2_bytes=-1"}); });
  EXPECT_THAT(msg, HasSubstr("--set 'memory.l2_bytes=-1' over " + gap9 + ":" +
                             std::to_string(line_of(gap9_text(), "l2_bytes"))));
  EXPECT_THAT(msg, HasSubstr("key 'memory.l2_bytes': negative value '-1'"));
  EXPECT_THAT(error_of([&] { load_profile(gap9, {"power.idle_mw=low"}); }),
              HasSubstr("key 'power.idle_mw': non-numeric value 'low'"));
}

TEST(ProfileErrors, MissingFile) {
  EXPECT_THAT(error_of([] { load_profile("no_such_chip", {}, "/nonexistent"); }),
              HasSubstr("cannot open hardware profile '/nonexistent/no_such_chip.ini'"));
}

TEST(Profile, EveryKeyIsDocumentedAndSourced) {
  const std::string readme = read_text(hw_dir() + "/README.md");
  for (const std::string &key : profile_keys()) {
    EXPECT_THAT(readme, HasSubstr("`" + key + "`")) << "README.md does not document " << key;
  }
  // Every key line has a comment block right above it that says source:, derived: or assumed:
  // (in [kernel_cycles] one block may cover a run of keys).
  for (const char *name : {"gap9.ini", "siracusa.ini"}) {
    std::istringstream in(read_text(hw_dir() + "/" + name));
    std::string line, block, section;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.rfind("#", 0) == 0) {
        block += line + "\n";
        continue;
      }
      if (line.rfind("[", 0) == 0) section = line;
      if (!line.empty() && line[0] != '[') {
        const bool tagged = block.find("source:") != std::string::npos ||
                            block.find("derived:") != std::string::npos ||
                            block.find("assumed:") != std::string::npos;
        EXPECT_TRUE(tagged || (block.empty() && section == "[kernel_cycles]"))
            << name << ":" << n << " '" << line << "' has no source comment above it";
      }
      block.clear();
    }
  }
}

}  // namespace
}  // namespace mcuemu::chip
