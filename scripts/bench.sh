#!/usr/bin/env bash
# Host speed of the emulator (issue 9): how fast this machine emulates the chips.
#
#   scripts/bench.sh [--runs R] [--tokens T] [--out DIR]
#
# Builds Release, makes the default synthetic TinyLlama-42M if it is not cached, then R times
# (interleaved, so that a noisy neighbour hits every configuration alike):
#   - mpirun -n 8 mcuemu run --model tinyllama-42m --mode ar --tokens T   (8 emulated chips)
#   - mpirun -n 1 mcuemu run ... the same on one chip
#   - bench_forward: the int8 forward of the whole model in one process, no MPI exchange, no
#     cost ledger (the internal baseline)
#   - mpirun -n 8 mcuemu run ... --cost-only (the sweep mode)
#   - bench_switch: what handing a CPU (the first this script may use) from one process to another
#     costs on this host (the floor under every round of 8 ranks on few cores)
# and prints medians: host tokens per second (decode and prompt steps over the ranks' run time,
# the slowest rank; and over the whole command's wall time, MPI start-up and model load
# included), each rank's wall-clock breakdown (kernels, MPI wait, MPI transfer, bookkeeping),
# the ratios against the baseline, the memory of all ranks together, and the share of the
# 8-chip loop that the hand-offs between the ranks of a core take at the measured cost (with
# the ceiling that leaves: the ranks' kernels plus their hand-offs, nothing else). The emulator
# runs as users run it: cost ledger, placement checks and the summary are all on.
# Results: DIR (default results/bench) holds every run's summary JSON and bench.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

runs=5 tokens=256 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$runs$tokens" in *[!0-9]*|"") echo "bench.sh: --runs and --tokens take integers" >&2; exit 2 ;; esac
[ "$runs" -ge 1 ] && [ "$tokens" -ge 1 ] || { echo "bench.sh: --runs and --tokens must be >= 1" >&2; exit 2; }

install_missing
build release
cd "$MCUEMU_ROOT"
bin=build/release/src/cli/mcuemu
base=build/release/bench/bench_forward
switch=build/release/bench/bench_switch
switch_cpu=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')  # the first CPU allowed
out=${out:-results/bench}
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.time

say "making sure the default model exists (cached after the first run)"
mpirun -n 1 "$bin" run --model tinyllama-42m --mode ar --tokens 1 --quiet \
  --summary-json "$out/warmup.json" >/dev/null
model=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["weights"])' "$out/warmup.json")
rm -f "$out/warmup.json"

timed() {  # timed FILE CMD...: runs CMD, writes its wall seconds to FILE
  local file=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$t1" >"$file"
}

for r in $(seq 1 "$runs"); do
  say "run $r of $runs: 8 chips, 1 chip, baseline, 8 chips cost-only ($tokens decode steps each)"
  for n in 8 1; do
    timed "$out/n$n-r$r.time" mpirun -n "$n" "$bin" run --model tinyllama-42m --mode ar \
      --tokens "$tokens" --quiet --out "$out/run-n$n" --summary-json "$out/n$n-r$r.json"
  done
  timed "$out/base-r$r.time" sh -c "'$base' '$model' '$tokens' > '$out/base-r$r.json'"
  timed "$out/cost-r$r.time" mpirun -n 8 "$bin" run --model tinyllama-42m --mode ar \
    --tokens "$tokens" --cost-only --quiet --out "$out/run-cost" --summary-json "$out/cost-r$r.json"
  # (a probe, not a target: if it cannot run, the report leaves its line out)
  "$switch" "$switch_cpu" > "$out/switch-r$r.json" ||
    { echo "bench.sh: bench_switch failed on CPU $switch_cpu: no hand-off figure" >&2; rm -f "$out/switch-r$r.json"; }
done
python3 scripts/bench_report.py "$out" "$runs" "$tokens"
