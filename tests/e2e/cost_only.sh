#!/usr/bin/env bash
# --cost-only runs the same schedule, placement and collectives without the arithmetic: the
# per-token figures, the run totals, every chip's end clock and memory, and the sums over chips
# of cycles, energy by term, bytes and link bytes must be identical to the full run's. (Which
# chip broadcasts a decode step's embedding row depends on the token id, which cost-only does
# not compute, so that share may sit on another chip; the totals do not change.)
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
