#!/usr/bin/env bash
# Rank faults (docs/robustness.md): a rank that throws, aborts, segfaults, is killed (SIGKILL) or
# calls exit() in the middle of a run must end the whole job within seconds, with a non-zero exit
# status, a message naming the rank, and no results file under its final name. The fault comes
# from the test-only hook MCUEMU_FAULT (src/runtime/fault.hpp), at decode step 5 of 64 on rank 3
# of 4; full runs, and --cost-only runs (the chips settle their clocks in batches). Every run is
# under `timeout 60`, so a hang fails the test instead of blocking it.
# usage: faults.sh MCUEMU_BIN WORKDIR
set -uo pipefail
bin=$1 work=$2
mkdir -p "$work" && cd "$work"
if ! "$bin" inspect q.h5 --brief >/dev/null 2>&1; then  # missing, or from an older build
  "$bin" gen-weights --model tinyllama-tiny --seed 3 -o fp.h5 -q || exit 1
  "$bin" quantize fp.h5 -o q.h5 --calib-tokens 16 -q || exit 1
fi
# Generous bound on the time from the fault to the end of mpirun (typically ~1 s; sanitizer
# builds and a loaded machine are slower).
bound=${MCUEMU_FAULT_BOUND_S:-20}
fails=0
check() {  # check KIND PATTERN [MODE]: the message that must name rank 3
  # MODE full (default), cost-only or cost-only-untraced: --cost-only runs settle the chips'
  # clocks in batches (with --trace they keep every op until then, without they keep none) and
  # do not meet at every collective; a failing rank must still end the job at once.
  local kind=$1 pattern=$2 mode=${3:-full} out=out_$1_${3:-full}
  local extra=(--trace "$out/trace.json")
  case "$mode" in
    cost-only) extra+=(--cost-only) ;;
    cost-only-untraced) extra=(--cost-only) ;;
  esac
  rm -rf "$out" && mkdir -p "$out"
  # Timestamps of the injection and of the exit, taken by a small Python driver reading stderr.
  local res
  res=$(MCUEMU_FAULT="rank=3,step=5,kind=$kind" /usr/bin/python3 - "$out" timeout 60 \
        mpiexec -n 4 --oversubscribe "$bin" run --model tinyllama-tiny --weights q.h5 \
        --prompt-tokens 4 --tokens 64 -q --out "$out/res" --summary-json "$out/res/summary.json" \
        "${extra[@]}" <<'PY'
import subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
t_fault, log = None, []
for line in p.stdout:
    log.append(line)
    if t_fault is None and "injecting fault" in line:
        t_fault = time.monotonic()
rc = p.wait()
t_end = time.monotonic()
open(f"{out}/log.txt", "w").write("".join(log))
print(rc, f"{t_end - (t_fault or t0):.2f}", f"{t_end - t0:.2f}", "fault-seen" if t_fault else "no-fault-line")
PY
  )
  local rc secs total seen
  read -r rc secs total seen <<<"$res"
  local bad=""
  [ "$rc" -ne 0 ] || bad+=" exit status 0;"
  [ "$rc" -ne 124 ] || bad+=" hung (timeout 60 s);"
  [ "$seen" = fault-seen ] || bad+=" the fault was never injected;"
  /usr/bin/python3 -c "import sys; sys.exit(0 if float('$secs') <= $bound else 1)" \
    || bad+=" ${secs} s from the fault to the exit (> ${bound} s);"
  grep -qE "$pattern" "$out/log.txt" || bad+=" no message /$pattern/;"
  for f in res/results.h5 res/results.csv res/summary.json trace.json; do
    [ ! -e "$out/$f" ] || bad+=" $f exists;"
  done
  if [ -n "$bad" ]; then
    echo "FAIL $kind ($mode):$bad"; tail -8 "$out/log.txt"; fails=$((fails + 1))
  else
    echo "ok   $kind ($mode): exit $rc, ${secs} s from the fault to the end (${total} s in all): $(grep -E "$pattern" "$out/log.txt" | head -1)"
  fi
}
check throw "rank 3 \(host [^)]+\): error: injected fault at decode step 5"
check abort "rank 3: fatal signal 6 \(SIGABRT\)"
check segv  "rank 3: fatal signal 11 \(SIGSEGV\)|AddressSanitizer: SEGV"
check kill  "process rank 3 with PID [0-9]+ on node .* exited on signal 9"
check exit  "rank 3: error: exit\(\) called in the middle of the run"
check throw "rank 3 \(host [^)]+\): error: injected fault at decode step 5" cost-only
check kill  "process rank 3 with PID [0-9]+ on node .* exited on signal 9" cost-only-untraced
# An interrupted run (SIGTERM to mpiexec while rank 3 hangs): no output under a final name, no
# process left behind.
rm -rf out_intr && mkdir -p out_intr
MCUEMU_FAULT="rank=3,step=5,kind=hang" timeout -s TERM 8 mpiexec -n 4 --oversubscribe "$bin" run \
  --model tinyllama-tiny --weights q.h5 --tokens 64 -q --out out_intr/res \
  --summary-json out_intr/res/summary.json --trace out_intr/trace.json >out_intr/log.txt 2>&1
rc=$?
sleep 2
left=$(find out_intr -name 'results.*' -o -name summary.json -o -name trace.json)
if [ $rc -ne 124 ] || [ -n "$left" ] || pgrep -f "out_intr/res" >/dev/null; then
  echo "FAIL interrupted run: rc=$rc, files [$left], processes: $(pgrep -fa out_intr/res | head -2)"
  fails=$((fails + 1))
else
  echo "ok   interrupted run (SIGTERM): no output under a final name, no process left"
fi
# A malformed hook value is a clear error, not an ignored typo.
out=$(MCUEMU_FAULT="rank=3,kind=boom" timeout 60 mpiexec -n 2 --oversubscribe "$bin" run \
      --model tinyllama-tiny --weights q.h5 -q --out bad 2>&1); rc=$?
if [ $rc -eq 0 ] || ! grep -qE "rank [0-9]+ \(host [^)]+\): error: MCUEMU_FAULT=.*unknown kind 'boom'" <<<"$out"; then
  echo "FAIL malformed MCUEMU_FAULT: rc=$rc"; echo "$out" | tail -3; fails=$((fails + 1))
else
  echo "ok   malformed MCUEMU_FAULT is an error"
fi
exit $fails
