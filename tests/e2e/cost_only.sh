#!/usr/bin/env bash
# --cost-only runs the same schedule, placement and collectives without the arithmetic: the
# per-token figures, the run totals, every chip's end clock and memory, and the sums over chips
# of cycles, energy by term, bytes and link bytes must be identical to the full run's. (Which
# chip broadcasts a decode step's embedding row depends on the token id, which cost-only does
# not compute, so that share may sit on another chip; the totals do not change.)
# Then --cost-only settled in batches against the lock-step run (byte-identical outputs).
# usage: cost_only.sh MCUEMU_BIN WORKDIR
set -euo pipefail
bin=$1 work=$2
mkdir -p "$work" && cd "$work"
if ! "$bin" inspect q.h5 --brief >/dev/null 2>&1; then  # missing, or from an older build
  "$bin" gen-weights --model tinyllama-tiny --seed 3 -o fp.h5 -q
  "$bin" quantize fp.h5 -o q.h5 --calib-tokens 16 -q
fi
compare() {  # name args...
  local name=$1; shift
  mpiexec -n "$N" --oversubscribe "$bin" run --weights q.h5 "$@" --summary-json full.json --out o1 -q
  mpiexec -n "$N" --oversubscribe "$bin" run --weights q.h5 "$@" --cost-only --summary-json cost.json --out o2 -q
  /usr/bin/python3 - full.json cost.json "$name" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
def costs(s):
    chips = s["per_chip"]
    def total(get):
        return sum(get(c) for c in chips)
    sums = {"busy": total(lambda c: c["cycles"]["busy"]), "idle": total(lambda c: c["cycles"]["idle"]),
            "link": total(lambda c: c["cycles"]["link"]), "link_bytes": total(lambda c: c["link_bytes"])}
    for term in chips[0]["energy_pj"]:
        sums["energy_" + term] = total(lambda c: c["energy_pj"][term])
    for level in chips[0]["bytes"]:
        sums["bytes_" + level] = total(lambda c: c["bytes"][level])
    per_chip = [(c["cycles"]["end"], c["memory"], c["syncs"]) for c in chips]
    return {"per_token": s["per_token"], "prefill": s["prefill"], "run_totals": s["run_totals"],
            "synchronisations": s["synchronisations"], "sums": sums, "per_chip": per_chip}
import math
def same(x, y, path=""):
    # Integers (cycles, bytes, counts) exactly; energies (floats summed over chips in another
    # order when a cost moved to another chip) to 1e-9 relative.
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k], f"{path}.{k}") for k in x)
    if isinstance(x, (list, tuple)):
        return len(x) == len(y) and all(same(u, v, path) for u, v in zip(x, y))
    if isinstance(x, float) or isinstance(y, float):
        ok = math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6)
    else:
        ok = x == y
    if not ok: print("differs:", path, x, y)
    return ok
ca, cb = costs(a), costs(b)
if not same(ca, cb):
    sys.exit(f"FAIL {sys.argv[3]}: cost-only costs differ from the full run")
print(f"{sys.argv[3]}: identical costs ({a['per_token']['latency_ns']/1e6:.3f} ms, {a['per_token']['energy_pj']['total']/1e9:.4f} mJ per token)")
PY
}
for N in 1 3 4; do
  compare "ar N=$N" --model tinyllama-tiny --prompt-tokens 3 --tokens 5
  compare "prompt N=$N" --model tinyllama-tiny --mode prompt --seq 12 --profile siracusa
  compare "ring int8 N=$N" --model tinyllama-tiny --tokens 4 --allreduce ring --exchange int8
done
# The chips of a --cost-only run settle their clocks in batches (the default) instead of meeting
# at every collective (MCUEMU_COST_ONLY_SYNC=lockstep): every output is byte for byte the same,
# results.h5, results.csv, the trace and the summary (but for its host wall-clock member).
same_outputs() {  # name args... ("@" in an argument: the run's output directory)
  local name=$1; shift
  rm -rf b l && mkdir -p b l
  mpiexec -n "$N" --oversubscribe "$bin" run --weights q.h5 "${@//@/b}" --cost-only --out b \
    --summary-json b/s.json -q
  MCUEMU_COST_ONLY_SYNC=lockstep mpiexec -n "$N" --oversubscribe "$bin" run --weights q.h5 \
    "${@//@/l}" --cost-only --out l --summary-json l/s.json -q
  for f in results.h5 results.csv; do
    cmp -s "b/$f" "l/$f" || { echo "FAIL $name: $f differs between batched and lock-step"; exit 1; }
  done
  if [ -e b/t.json ] || [ -e l/t.json ]; then
    cmp -s b/t.json l/t.json || { echo "FAIL $name: the traces differ"; exit 1; }
  fi
  /usr/bin/python3 - b/s.json l/s.json "$name" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
wa, wb = a.pop("host_wall"), b.pop("host_wall")
if a != b:
    sys.exit(f"FAIL {sys.argv[3]}: the summaries differ between batched and lock-step")
exchanges = [r["settle_exchanges"] for r in wa["ranks"]]
assert all(x > 0 for x in exchanges) and not any(r["settle_exchanges"] for r in wb["ranks"]), exchanges
# Untraced autoregressive runs replay their decode steps (BatchedMeter::begin_step); traced and
# prompt-mode runs walk every step.
replayed = [r["replayed_steps"] for r in wa["ranks"]]
if sys.argv[3].startswith("batched ar N"):
    assert all(x > 0 for x in replayed), replayed
else:
    assert not any(replayed), replayed
print(f"{sys.argv[3]}: batched and lock-step outputs identical ({exchanges[0]} settling "
      f"exchanges, {replayed[0]} steps replayed)")
PY
}
# (2 and 7 ranks, 7 uneven; tests/mpi/test_cost_only.cpp covers 8.)
for N in 2 7; do
  same_outputs "batched ar N=$N" --model tinyllama-tiny --prompt-tokens 3 --tokens 100
  same_outputs "batched ar, traced, ring, int8 N=$N" --model tinyllama-tiny --tokens 9 \
    --allreduce ring --exchange int8 --trace @/t.json
  same_outputs "batched prompt N=$N" --model tinyllama-tiny --mode prompt --seq 20 --allreduce direct
done
# A value of MCUEMU_COST_ONLY_SYNC other than batched or lockstep is one clear error.
out=$(MCUEMU_COST_ONLY_SYNC=lockstop mpiexec -n 2 --oversubscribe "$bin" run --weights q.h5 \
      --model tinyllama-tiny --cost-only -q --out bad 2>&1) && { echo "FAIL: no error"; exit 1; }
n=$(grep -c "error: MCUEMU_COST_ONLY_SYNC=lockstop: expected batched or lockstep" <<<"$out")
[ "$n" = 1 ] || { echo "FAIL: $n error lines for a bad MCUEMU_COST_ONLY_SYNC:"; echo "$out"; exit 1; }
echo "a bad MCUEMU_COST_ONLY_SYNC: one error line"
out=$(MCUEMU_COST_ONLY_REPLAY=maybe mpiexec -n 2 --oversubscribe "$bin" run --weights q.h5 \
      --model tinyllama-tiny --cost-only -q --out bad 2>&1) && { echo "FAIL: no error"; exit 1; }
n=$(grep -c "error: MCUEMU_COST_ONLY_REPLAY=maybe: expected on or off" <<<"$out")
[ "$n" = 1 ] || { echo "FAIL: $n error lines for a bad MCUEMU_COST_ONLY_REPLAY:"; echo "$out"; exit 1; }
echo "a bad MCUEMU_COST_ONLY_REPLAY: one error line"
