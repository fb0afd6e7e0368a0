#!/usr/bin/env bash
# --trace writes a Chrome trace-event timeline: one process per chip, compute / DMA / link tracks,
# simulated time, events with op, shape, cycles and energy, a marker for each of the two
# synchronisations per block. Checks the structure for TinyLlama (AR) and MobileBERT.
# usage: trace.sh MCUEMU_BIN WORKDIR
set -euo pipefail
bin=$1 work=$2
mkdir -p "$work" && cd "$work"
mpiexec -n 3 --oversubscribe "$bin" run --model tinyllama-tiny --prompt-tokens 2 --tokens 3 \
  --trace llama.json --out o1 -q
mpiexec -n 2 --oversubscribe "$bin" run --model mobilebert-tiny --seq 8 --trace bert.json --out o2 -q
/usr/bin/python3 - <<'PY'
import json
def check(path, chips, steps, layers, per_block):
    d = json.load(open(path))
    ev = d["traceEvents"]
    meta = [e for e in ev if e["ph"] == "M"]
    procs = {e["pid"]: e["args"]["name"] for e in meta if e["name"] == "process_name"}
    assert procs == {c: f"chip {c}" for c in range(chips)}, procs
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert all(threads[(c, t)] == n for c in range(chips) for t, n in enumerate(["compute", "DMA", "link"]))
    xs = [e for e in ev if e["ph"] == "X"]
    assert xs, "no events"
    for e in xs:
        assert e["pid"] in procs and e["tid"] in (0, 1, 2) and e["ts"] >= 0 and e["dur"] >= 0, e
        assert "op" in e["args"] and e["args"]["cycles"] >= 0, e
        if e["tid"] == 0:
            assert e["args"]["energy_pj"] > 0, e
    compute = [e for e in xs if e["tid"] == 0]
    assert any("out" in e["args"] and "in" in e["args"] for e in compute), "no shapes on the GEMVs"
    for c in range(chips):  # one chip's compute track is a sequence: no overlap
        seq = sorted((e["args"]["start_cycle"], e["args"]["cycles"]) for e in compute if e["pid"] == c)
        for (s0, d0), (s1, _) in zip(seq, seq[1:]):
            assert s0 + d0 <= s1, (c, s0, d0, s1)
    marks = [e for e in ev if e["ph"] == "i"]
    for c in range(chips):
        mine = [e for e in marks if e["pid"] == c]
        assert len(mine) == steps * layers * per_block, (c, len(mine), steps, layers, per_block)
    print(f"{path}: {len(xs)} events on {chips} chips, {len(marks)} sync markers")
check("llama.json", 3, 2 + 3, 2, 2)                # tinyllama-tiny: 2 layers, 2 syncs per block
bert = json.load(open("o2/../bert.json"))
layers = len({e["args"]["layer"] for e in bert["traceEvents"] if e["ph"] == "i"})
check("bert.json", 2, 1, layers, 6)                # MobileBERT split FFNs: 6 syncs per block
PY
