#!/usr/bin/env bash
# scripts/sweep.py: progress, one result per point, an aggregate, resume without redoing
# finished points, and a failed point recorded without stopping the sweep. Robustness
# (docs/robustness.md): a bad experiment file is one error line; a point whose rank is killed is
# recorded as failed, naming the rank; a hung point is ended by --timeout with all its processes;
# an interrupted sweep (SIGTERM) ends its running point, leaves no partial file, and resumes.
# usage: sweep.sh MCUEMU_BIN SOURCE_DIR WORKDIR
set -euo pipefail
bin=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
cat > tiny.ini <<'INI'
[experiment]
name = tiny
model = tinyllama-tiny
mode = ar
profile = gap9
chips = 1, 2, 9
prompt_tokens = 2
tokens = 3
cost_only = true
INI
sweep() { /usr/bin/python3 "$src/scripts/sweep.py" tiny.ini --bin "$bin" --out out "$@"; }
set +e; first=$(sweep); rc=$?; set -e
echo "$first"
[ $rc -eq 1 ] || { echo "FAIL: a failed point must make the sweep exit 1, got $rc"; exit 1; }
grep -q "\[3/3\] .*n9: FAILED" <<<"$first" || { echo "FAIL: the 9-chip point must fail"; exit 1; }
grep -q "elapsed .* left" <<<"$first" || { echo "FAIL: no progress"; exit 1; }
/usr/bin/python3 - <<'PY'
import csv
rows = list(csv.DictReader(open("out/aggregate.csv")))
assert [r["status"] for r in rows] == ["ok", "ok", "failed"], rows
assert "at most 8 chips, not 9" in rows[2]["error"], rows[2]["error"]
assert abs(float(rows[0]["speedup"]) - 1.0) < 1e-12 and float(rows[1]["speedup"]) > 0
import h5py
with h5py.File("out/aggregate.h5") as h:
    assert list(h["chips"][:]) == [1.0, 2.0, 9.0]
print("aggregate ok:", [(r["chips"], r["status"], r["latency_ms"][:6]) for r in rows])
PY
# Resume: nothing is run again; delete one result and only that point runs.
set +e; second=$(sweep); set -e
grep -q "\[1/3\] .*: done before" <<<"$second" && grep -q "\[3/3\] .*: failed before" <<<"$second" \
  || { echo "FAIL: resume re-ran points"; echo "$second"; exit 1; }
rm out/points/*_n2/summary.json
set +e; third=$(sweep); set -e
grep -q "\[2/3\] .*n2: ok" <<<"$third" && grep -q "\[1/3\] .*: done before" <<<"$third" \
  || { echo "FAIL: the deleted point was not re-run alone"; echo "$third"; exit 1; }
# Extra mpirun arguments (multi-host: --hostfile, the TCP BTL): a --mca flag overrides the
# environment's OMPI_MCA_btl (set by ctest) without Open MPI's "listed multiple times" error.
set +e; fourth=$(/usr/bin/python3 "$src/scripts/sweep.py" tiny.ini --bin "$bin" --out out-tcp \
  --mpirun-args "--mca btl self,tcp"); set -e
grep -q "\[2/3\] .*n2: ok" <<<"$fourth" && grep -q -- "--mca btl self,tcp" out-tcp/points/*_n2/command.txt \
  || { echo "FAIL: --mpirun-args"; echo "$fourth"; cat out-tcp/points/*_n2/error.txt 2>/dev/null; exit 1; }

# Bad experiment files: one "sweep: error:" line, exit status 2, nothing run.
bad() {  # bad NAME PATTERN INI-TEXT
  printf '%b' "$3" > bad.ini
  set +e; out=$(/usr/bin/python3 "$src/scripts/sweep.py" bad.ini --bin "$bin" --out badout 2>&1); rc=$?; set -e
  if [ $rc -ne 2 ] || [ "$(wc -l <<<"$out")" -ne 1 ] || ! grep -qE "^sweep: error: .*$2" <<<"$out" \
     || [ -e badout ]; then
    echo "FAIL bad experiment ($1): rc=$rc"; echo "$out"; exit 1
  fi
  echo "ok   bad experiment ($1): $out"
}
bad "no section" "no section headers" 'model = x\n'
bad "repeated key" "already exists" '[experiment]\nchips = 1\nchips = 2\n'
bad "non-integer chips" "chips must be positive integers" '[experiment]\nchips = 1, two\n'
bad "zero tokens" "tokens must be a positive integer" '[experiment]\ntokens = 0\n'
bad "empty value" "model has an empty value" '[experiment]\nmodel = tinyllama-tiny,,\n'
bad "repeated point" "two points have the same id" '[experiment]\nchips = 2, 2\n'
bad "unknown key" "unknown key\\(s\\) chip" '[experiment]\nchip = 2\n'
bad "not UTF-8" "codec can't decode" '\xff\xfe[experiment]\n'

# Rank faults inside a sweep (MCUEMU_FAULT, src/runtime/fault.hpp; rank 3 exists only at 4 chips).
cat > fault.ini <<'INI'
[experiment]
name = fault
model = tinyllama-tiny
chips = 2, 4
prompt_tokens = 2
tokens = 6
cost_only = true
INI
set +e
out=$(MCUEMU_FAULT=rank=3,step=2,kind=kill /usr/bin/python3 "$src/scripts/sweep.py" fault.ini --bin "$bin" --out fault); rc=$?
set -e
grep -q "\[1/2\] .*n2: ok" <<<"$out" && grep -q "\[2/2\] .*n4: FAILED" <<<"$out" && [ $rc -eq 1 ] \
  || { echo "FAIL: killed rank"; echo "$out"; exit 1; }
grep -q "process rank 3 .*exited on signal 9" fault/points/*_n4/error.txt \
  || { echo "FAIL: error.txt does not name rank 3"; cat fault/points/*_n4/error.txt; exit 1; }
echo "ok   a point whose rank 3 is killed is recorded: $(grep -m1 'rank 3' fault/points/*_n4/error.txt)"
# A hung rank: --timeout ends the point's mpirun and every rank, the sweep goes on.
set +e
t0=$SECONDS
out=$(MCUEMU_FAULT=rank=3,step=2,kind=hang /usr/bin/python3 "$src/scripts/sweep.py" fault.ini --bin "$bin" --out hang --timeout 5); rc=$?
set -e
[ $rc -eq 1 ] && grep -q "\[2/2\] .*n4: FAILED" <<<"$out" && grep -q "timed out after 5 s" hang/points/*_n4/error.txt \
  || { echo "FAIL: hung point"; echo "$out"; exit 1; }
sleep 1
if pgrep -f "hang/points/.*summary.json" >/dev/null; then echo "FAIL: processes of a timed-out point survive"; exit 1; fi
echo "ok   a hung point ended by --timeout in $((SECONDS - t0)) s, no process left"
# Interrupted: SIGTERM while a point runs (hung); no partial file, then a resume completes.
MCUEMU_FAULT=rank=1,step=2,kind=hang /usr/bin/python3 "$src/scripts/sweep.py" fault.ini --bin "$bin" --out intr > intr.log 2>&1 &
pid=$!
for _ in $(seq 100); do [ -f intr/points/*_n2/command.txt ] && break; sleep 0.2; done
sleep 2
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
grep -q "interrupted (SIGTERM)" intr.log && [ $rc -eq 130 ] || { echo "FAIL: interrupt, rc=$rc"; cat intr.log; exit 1; }
sleep 1
if pgrep -f "intr/points/.*summary.json" >/dev/null; then echo "FAIL: processes of an interrupted point survive"; exit 1; fi
[ ! -e intr/points/*_n2/summary.json ] && [ ! -e intr/points/*_n2/error.txt ] && [ ! -e intr/aggregate.csv ] \
  || { echo "FAIL: interrupted sweep left results"; ls -R intr; exit 1; }
out=$(/usr/bin/python3 "$src/scripts/sweep.py" fault.ini --bin "$bin" --out intr)
grep -q "\[1/2\] .*n2: ok" <<<"$out" && grep -q "2 ok, 0 failed" <<<"$out" \
  || { echo "FAIL: resume after interrupt"; echo "$out"; exit 1; }
echo "ok   interrupted sweep: exit 130, no process or partial file left, resumed to completion"
echo "sweep: progress, aggregate, failure recording, resume, --mpirun-args and robustness work"
