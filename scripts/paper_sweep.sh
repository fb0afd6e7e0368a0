#!/usr/bin/env bash
# The paper sweep: every experiment of Bochem et al.'s comparison, then the figures and the report.
#
#   scripts/paper_sweep.sh [--full] [--bin PATH] [--results DIR] [--jobs N] [--resume]
#
# Runs experiments/{tinyllama-ar,tinyllama-prompt,mobilebert,tinyllama-scaled,sensitivity}.ini
# with scripts/sweep.py into DIR/<name> (default results/; --full: results/full/), prints the
# wall time of the sweeps, then scripts/plot.py (experiments/plots/) and scripts/make_report.py
# (experiments/REPORT.md). Cost-only by default: the costs are identical to full runs; --full
# also runs the int8 arithmetic (slower; tinyllama-scaled and sensitivity stay cost-only, as
# their .ini files say).
#
#   --bin PATH     mcuemu binary (default: $MCUEMU_BIN, else build/release, else build/ci). It is
#                  copied first, so a rebuild during the sweep cannot change it under the runs.
#   --jobs N       experiments run at the same time (default 2, one per core of the 2-core
#                  reference machine; costs are simulated time, so concurrency does not change
#                  them). --jobs 1 runs them one after the other.
#   --resume       keep the points already in DIR (sweep.py skips them); by default each
#                  experiment's directory is emptied first so the timing and the results are fresh.
#
# Exit status: 0 when every point ran, 1 when some failed (the figures and the report are still
# written and say which), 2 on a usage or setup error.
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"   # MPI environment (exports), MCUEMU_ROOT
cd "$MCUEMU_ROOT"

EXPERIMENTS=(tinyllama-scaled sensitivity tinyllama-ar tinyllama-prompt mobilebert)  # longest first
PY=/usr/bin/python3
full=0 bin=${MCUEMU_BIN:-} results= jobs=2 resume=0
args="$*"

usage() { sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --full) full=1 ;;
    --bin) bin=${2:?--bin needs a path}; shift ;;
    --results) results=${2:?--results needs a directory}; shift ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift ;;
    --resume) resume=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "paper_sweep: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "paper_sweep: --jobs must be a positive integer" >&2; exit 2; }
if [ -z "$results" ]; then
  if [ $full -eq 1 ]; then results=results/full; else results=results; fi
fi
if [ -z "$bin" ]; then
  for b in build/release/src/cli/mcuemu build/ci/src/cli/mcuemu; do
    [ -x "$b" ] && { bin=$b; break; }
  done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "paper_sweep: no mcuemu binary (build one: cmake --preset release && cmake --build --preset release, or give --bin)" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$bin" "$tmp/mcuemu"
mode_flag=(--cost-only) mode=cost-only
if [ $full -eq 1 ]; then mode_flag=() mode=full; fi
mkdir -p "$results"
say "paper sweep ($mode): ${#EXPERIMENTS[@]} experiments, $jobs at a time, binary $bin -> $results/"

# child_cpu FILE: CPU seconds (user + sys) of this shell's reaped children into FILE, from the
# second line of the `times` builtin (run in this shell: in $(...) it would see a fresh subshell).
child_cpu() {
  times >"$1.raw"
  tail -n 1 "$1.raw" | tr 'ms' '  ' | awk '{printf "%.2f\n", $1*60+$2+$3*60+$4}' >"$1"
}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
child_cpu "$tmp/cpu0" && cpu0=$(cat "$tmp/cpu0")
t0=$EPOCHREALTIME
declare -A pid_of start_of
run_one() {  # name: one sweep, its log in $results/<name>/sweep.log
  local name=$1 out="$results/$1"
  [ $resume -eq 1 ] || rm -rf "$out"
  mkdir -p "$out"
  local rc=0
  "$PY" scripts/sweep.py "experiments/$name.ini" --bin "$tmp/mcuemu" --out "$out" "${mode_flag[@]}" \
    >"$out/sweep.log" 2>&1 || rc=$?
  child_cpu "$tmp/cpu.$name"
  return $rc
}
finish() {  # pid: reap one finished sweep and report it
  local name=$1 rc=0
  wait "${pid_of[$name]}" || rc=$?
  local secs
  secs=$(echo "$EPOCHREALTIME - ${start_of[$name]}" | bc)
  local cpu
  cpu=$(cat "$tmp/cpu.$name" 2>/dev/null || echo 0)
  printf '%s %s %s %s\n' "$name" "$secs" "$rc" "$cpu" >>"$tmp/times"
  printf '==> %-17s %6.1f s wall %6.1f s CPU  %s\n' "$name" "$secs" "$cpu" \
    "$(tail -n 1 "$results/$name/sweep.log" | sed 's/;.*//')"
}
running=()
for name in "${EXPERIMENTS[@]}"; do
  while [ ${#running[@]} -ge "$jobs" ]; do
    wait -n 2>/dev/null || true
    still=()
    for r in "${running[@]}"; do
      if kill -0 "${pid_of[$r]}" 2>/dev/null; then still+=("$r"); else finish "$r"; fi
    done
    running=("${still[@]}")
  done
  start_of[$name]=$EPOCHREALTIME
  run_one "$name" &
  pid_of[$name]=$!
  running+=("$name")
done
for r in "${running[@]}"; do finish "$r"; done
wall=$(echo "$EPOCHREALTIME - $t0" | bc)
child_cpu "$tmp/cpu1" && cpu=$(echo "$(cat "$tmp/cpu1") - $cpu0" | bc)

failed=0 slowest= slowest_s=0
exp_json=
while read -r name secs rc cpu_e; do
  [ "$rc" -eq 0 ] || failed=1
  exp_json+="${exp_json:+, }\"$name\": {\"seconds\": $secs, \"cpu_s\": $cpu_e, \"rc\": $rc}"
  if (( $(echo "$secs > $slowest_s" | bc) )); then slowest=$name slowest_s=$secs; fi
done <"$tmp/times"
cmd="scripts/paper_sweep.sh${args:+ $args}"
cat >"$results/paper_sweep.json" <<EOF
{"mode": "$mode", "wall_s": $wall, "jobs": $jobs, "nproc": $(nproc),
 "cpu_s": $cpu, "loadavg_start": "$load_start", "command": "$cmd", "binary": "$bin",
 "experiments": {$exp_json}}
EOF
printf '==> paper sweep (%s): %.1f s wall, %.1f s CPU (user+sys) on %d cores, %d experiment(s) at a time (load average at start: %s)\n' \
  "$mode" "$wall" "$cpu" "$(nproc)" "$jobs" "$load_start"
if [ $full -eq 0 ]; then
  if (( $(echo "$wall < 60" | bc) )); then
    say "within the one-minute budget of the cost-only paper sweep"
  else
    say "OVER the one-minute budget; slowest experiment: $slowest (${slowest_s} s), see $results/$slowest/sweep.log"
  fi
fi

rm -f experiments/plots/*.png
"$PY" scripts/plot.py "${EXPERIMENTS[@]/#/$results/}" -o experiments/plots || failed=1
"$PY" scripts/make_report.py "$results" -o experiments/REPORT.md || failed=1
if [ $failed -ne 0 ]; then
  say "some points failed: see the 'Experiments' table of experiments/REPORT.md and $results/*/points/*/error.txt"
  exit 1
fi
