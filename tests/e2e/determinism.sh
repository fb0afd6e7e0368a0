#!/usr/bin/env bash
# Determinism (docs/robustness.md): the same command twice gives byte-identical outputs. Model
# files (gen-weights, quantize), results.h5, results.csv, the Chrome trace, a sweep's aggregate
# files, and the summary JSON except its one wall-clock member "host_wall" (start time, elapsed
# seconds, host name), which is the only key the comparison skips.
# usage: determinism.sh MCUEMU_BIN SOURCE_DIR WORKDIR
set -euo pipefail
bin=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
same() { cmp -s "$1" "$2" || fail "$1 and $2 differ"; echo "ok   identical: $1 $2"; }
for i in 1 2; do
  "$bin" gen-weights --model tinyllama-tiny --seed 5 -o fp$i.h5 -q
  "$bin" quantize fp$i.h5 -o q$i.h5 --calib-tokens 16 -q
  [ $i = 1 ] || sleep 1.1  # a timestamp at 1 s resolution would show
done
same fp1.h5 fp2.h5
# Both quantizations read the same bytes: only the input path (in `source`) would differ, so
# quantize fp1.h5 again rather than fp2.h5.
"$bin" quantize fp1.h5 -o q2.h5 --calib-tokens 16 -q
same q1.h5 q2.h5
for i in 1 2; do
  mpiexec -n 2 --oversubscribe "$bin" run --model tinyllama-tiny --weights q1.h5 --prompt-tokens 3 \
    --tokens 5 --baseline 1 -q --out run$i --summary-json run$i/summary.json --trace run$i/trace.json
  mpiexec -n 2 --oversubscribe "$bin" run --model mobilebert-tiny --seq 8 -q --out bert$i \
    --summary-json bert$i/summary.json --trace bert$i/trace.json
  [ $i = 2 ] || sleep 1.1
done
for d in run bert; do
  for f in results.h5 results.csv trace.json; do same $d"1/$f" $d"2/$f"; done
  /usr/bin/python3 - "$d"1/summary.json "$d"2/summary.json <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for s in (a, b):
    w = s.pop("host_wall")  # the one wall-clock member, skipped; check its shape
    # (plus, for a Llama run, "ranks": each rank's host wall-clock and memory figures)
    assert set(w) - {"ranks"} == {"start_utc", "elapsed_s", "hostname"}, w
assert a == b, "summaries differ outside host_wall"
print(f"ok   identical except host_wall: {sys.argv[1]} {sys.argv[2]}")
PY
done
# A sweep's aggregate files.
cat > tiny.ini <<'INI'
[experiment]
name = det
model = tinyllama-tiny
chips = 1, 2
prompt_tokens = 2
tokens = 3
cost_only = true
INI
for i in 1 2; do
  /usr/bin/python3 "$src/scripts/sweep.py" tiny.ini --bin "$bin" --out sweep$i >/dev/null
  [ $i = 2 ] || sleep 1.1
done
same sweep1/aggregate.csv sweep2/aggregate.csv
same sweep1/aggregate.h5 sweep2/aggregate.h5
echo "determinism: all outputs byte-identical (summary JSON: all but host_wall)"
