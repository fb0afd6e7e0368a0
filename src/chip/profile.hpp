// Hardware profile: every number the chip model uses, read from an INI file.
//
// A profile is a file such as experiments/hw/gap9.ini (the default target) or
// experiments/hw/siracusa.ini (the chip of Bochem et al.). The file is read with
// Boost.Program_options' config-file parser, so it has sections and `key = value` lines; the key
// of a value is `section.key` (e.g. `memory.l2_bytes`), both in the file and in `--set`.
// experiments/hw/README.md explains every key, its unit and where each number comes from.
//
// File rules (what Boost 1.74 accepts, and what this loader adds):
//   - `#` starts a comment anywhere on a line; `;` does NOT (Boost would keep it in the value).
//     By convention the source of each value is a `#` comment on the lines above the key.
//   - every key of kProfileKeys must be present exactly once; unknown keys are errors;
//   - numeric values must parse completely as finite numbers ("370", "1.5e6"); integer keys must
//     be whole numbers; no value may be negative; rates, sizes of L1 and frequencies must be > 0;
//     every value is at most 1e15 (cores and ports at most 1e6) and a value that must be > 0 is
//     at least 1e-9, so later arithmetic cannot overflow;
//   - the file is a regular text file (no NUL byte) of at most 1 MiB.
// Every violation throws ChipError naming the file, the line and the key, e.g.
//   experiments/hw/gap9.ini:57: key 'dma.l3_efficiency': value '1.2' must be in (0, 1]
//
// Overrides: `--set key=value` strings are applied after the file and obey the same checks; an
// override of an unknown key is an error too. Overridden values remember that they came from the
// command line, so reports can say which numbers were not the file's.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "chip/level.hpp"

namespace mcuemu::chip {

// Where a value of the profile came from, for error messages and reports.
struct ProfileEntry {
  std::string value;   // the text as written (after trimming)
  std::string origin;  // "path:line" in the file, or "--set key=value (over path:line)"
  int line = 0;        // line in the file (0 if the key came only from --set)
};

// Cycles per element of each non-linear kernel, in core cycles (instructions of one core);
// price_eltwise divides by the number of cores. See experiments/hw/README.md for the counts.
struct KernelCycles {
  double softmax = 0;         // I-BERT integer softmax (kernels: mcu_softmax_ibert_s8)
  double softmax_itamax = 0;  // ITAMax power-of-two softmax (mcu_softmax_itamax_s8)
  double rmsnorm = 0;         // integer RMSNorm (mcu_rmsnorm_s8)
  double layernorm = 0;       // integer LayerNorm (mcu_layernorm_s8)
  double nonorm = 0;          // MobileBERT NoNorm affine (mcu_nonorm_s8)
  double gelu = 0;            // I-BERT i-GELU + requant (mcu_gelu_s8_s32 + RQS)
  double hswish = 0;          // integer hard-swish used as SiLU (mcu_hswish_s8_s32 + RQS)
  double relu = 0;            // ReLU (mcu_relu_s8)
  double requant = 0;         // int32 -> int8 RequantShift (mcu_rqs_s32_s8)
  double add = 0;             // residual add with requant (mcu_add_rq_s8)
  double mul = 0;             // element-wise product with requant (mcu_mul_rq_s8)
  double rope = 0;            // integer RoPE rotation (mcu_rope_s8)
  double argmax = 0;          // arg-max over logits (mcu_argmax_s32)
};

// DMA between levels. Bandwidths inside the cluster are in bytes per cluster cycle; those of the
// SoC peripherals (MRAM, L3) in MB/s (1 MB = 1e6 B) because they run on their own clocks.
struct DmaSpec {
  double l2_l1_bytes_per_cycle = 0;  // cluster DMA, L2 <-> L1
  double l2_l1_setup_cycles = 0;     // per transfer
  double mram_mb_per_s = 0;          // MRAM read bandwidth on its path to L1
  double mram_setup_cycles = 0;      // per transfer
  bool mram_via_l2 = false;          // true: MRAM -> L2 -> L1 (GAP9 uDMA); false: MRAM -> L1
  double l3_peak_mb_per_s = 0;       // device peak of the off-chip memory
  double l3_efficiency = 0;          // fraction of the peak the controller sustains, in (0, 1]
  double l3_setup_cycles = 0;        // per transfer (uDMA programming + command/latency phase)
  double l3_mb_per_s() const { return l3_peak_mb_per_s * l3_efficiency; }
};

// Per-event energies in pJ.
struct EnergySpec {
  double mac_pj = 0;             // one int8 MAC on the cores, incl. its L1 operand reads
  double instr_pj = 0;           // one core instruction (prices the non-linear kernels)
  PerLevel<double> pj_per_byte;  // one byte read or written at a level
  double link_pj_per_byte = 0;   // one byte on the chip-to-chip link
};

struct PowerSpec {
  double active_mw = 0;  // chip busy (cluster on): clocks, control, leakage; not the events above
  double idle_mw = 0;    // chip waiting (for a sync or a link transfer): leakage + clocked SoC
};

struct LinkSpec {
  double mb_per_s = 0;    // bandwidth of one chip-to-chip link
  double latency_ns = 0;  // fixed cost per transfer (setup, command, handshake)
  std::string topology;   // one of: full, tree, ring, bus (see kLinkTopologies)
  int ports = 0;          // links a chip can drive at the same time
};

struct Profile {
  // [chip]
  std::string name;     // e.g. "gap9"
  double freq_mhz = 0;  // cluster clock; the simulated clock counts these cycles
  int cores = 0;        // worker cores of the cluster
  // [compute]
  double gemm_macs_per_cycle = 0;  // effective int8 MAC/cycle of the whole cluster, GEMM
  double gemv_macs_per_cycle = 0;  // same for GEMV when its operands are already in L1
  double op_overhead_cycles = 0;   // fixed cost of launching one kernel (fork, barrier)
  // [kernel_cycles]
  KernelCycles kernel_cycles;
  // [memory]: physical size and the part reserved for code and stacks, per level
  PerLevel<std::int64_t> bytes;
  PerLevel<std::int64_t> reserved_bytes;
  // [dma], [energy], [power], [link]
  DmaSpec dma;
  EnergySpec energy;
  PowerSpec power;
  LinkSpec link;

  // Where the profile came from and every raw value with its origin, keyed by `section.key`.
  std::string path;
  std::map<std::string, ProfileEntry> entries;

  // Bytes of a level available to the emulator: physical size minus reservations.
  std::int64_t usable_bytes(Level level) const { return bytes[level] - reserved_bytes[level]; }

  // Unit conversions at this profile's clock.
  double ns_from_cycles(double cycles) const { return cycles * 1e3 / freq_mhz; }
  double cycles_from_ns(double ns) const { return ns * freq_mhz / 1e3; }
  double bytes_per_cycle(double mb_per_s) const { return mb_per_s / freq_mhz; }
  // Energy of one cycle at a power: mW / MHz is nJ per cycle, so pJ per cycle = 1e3 * mW / MHz.
  double pj_per_cycle(double mw) const { return mw * 1e3 / freq_mhz; }
};

// The topologies a profile may name in link.topology.
inline const std::vector<std::string> kLinkTopologies = {"full", "tree", "ring", "bus"};

// Every key a profile must define, as `section.key`, in file order.
const std::vector<std::string> &profile_keys();

// Directory searched for bare profile names when the caller gives none: the repository's
// experiments/hw (compile definition MCUEMU_PROFILE_DIR).
std::string default_profile_dir();

// Resolves `path_or_name`: a bare name ("gap9", no '/' and no ".ini") means
// `<search_dir>/<name>.ini` (search_dir empty -> default_profile_dir()); anything else is a path.
std::string resolve_profile_path(const std::string &path_or_name,
                                 const std::string &search_dir = "");

// Reads, overrides and checks a profile. Throws ChipError (file:line: key: problem) on any error.
// `set_overrides` are "key=value" strings, e.g. {"dma.l3_efficiency=0.5"}.
Profile load_profile(const std::string &path_or_name,
                     const std::vector<std::string> &set_overrides = {},
                     const std::string &search_dir = "");

// The two halves of load_profile, for callers that read the file in one place and parse it in
// another (`mcuemu run`: rank 0 reads it, every rank parses the same text, so a profile file
// need only exist on rank 0's host). read_profile_text resolves and reads the file (ChipError
// if it cannot; only a regular file of at most kMaxProfileBytes) and sets *resolved to the path
// it read; parse_profile takes that text and path (used in messages and Profile::path) and does
// everything else load_profile does (the fuzz target tests/fuzz/fuzz_profile.cpp feeds it).
inline constexpr std::uintmax_t kMaxProfileBytes = 1u << 20;
std::string read_profile_text(const std::string &path_or_name, const std::string &search_dir = "",
                              std::string *resolved = nullptr);
Profile parse_profile(const std::string &text, const std::string &path,
                      const std::vector<std::string> &set_overrides = {});

// A multi-line, human-readable listing of every entry with its value and origin (for reports).
std::string describe(const Profile &profile);

}  // namespace mcuemu::chip
