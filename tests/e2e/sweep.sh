#!/usr/bin/env bash
# scripts/sweep.py: progress, one result per point, an aggregate, resume without redoing
# finished points, and a failed point recorded without stopping the sweep.
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
echo "sweep: progress, aggregate, failure recording, resume and --mpirun-args work"
