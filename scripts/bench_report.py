#!/usr/bin/env python3
"""The report of scripts/bench.sh: medians over the runs in DIR, printed and written to
DIR/bench.json. Usage: bench_report.py DIR RUNS TOKENS"""
import json
import os
import statistics
import sys

# Targets of issue 9, on the 2-core reference machine.
TARGET_8 = 800.0      # tokens/s, 8 emulated chips
TARGET_1 = 800.0      # tokens/s, 1 emulated chip
TARGET_MEM = 1.5      # total memory of the 8 ranks / (int8 model + KV cache)
TARGET_COST = 50.0    # full run time / cost-only run time


def load(path):
    with open(path) as f:
        return json.load(f)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    out, runs, tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    report = {"runs": runs, "decode_tokens": tokens}
    per_n = {}
    for n in (8, 1):
        rows = []
        for r in range(1, runs + 1):
            s = load(f"{out}/n{n}-r{r}.json")
            wall = float(open(f"{out}/n{n}-r{r}.time").read())
            ranks = s["host_wall"]["ranks"]
            steps = s["prompt_tokens"] + s["decode_tokens"]
            run_s = max(h["run_s"] for h in ranks)
            rows.append({"steps": steps, "run_s": run_s, "wall_s": wall, "summary": s})
        med = sorted(rows, key=lambda x: x["run_s"])[len(rows) // 2]
        per_n[n] = med
        chips = med["summary"]["per_chip"]
        ranks = med["summary"]["host_wall"]["ranks"]
        mem_end = [h["memory_at_end"] for h in ranks]
        mem_start = [h["memory_before_model"] for h in ranks]
        weights = sum(c["memory"][lvl]["weights"] for c in chips for lvl in c["memory"])
        kv = sum(c.get("kv_cache_bytes", 0) for c in chips)
        report[f"chips_{n}"] = {
            "tokens_per_s": med["steps"] / med["run_s"],
            "tokens_per_s_runs": [x["steps"] / x["run_s"] for x in rows],
            "tokens_per_s_wall": med["steps"] / med["wall_s"],
            "run_s": med["run_s"],
            "wall_s": med["wall_s"],
            "ranks": [{**{k: h.get(k, 0) for k in ("kernels_s", "mpi_wait_s", "mpi_transfer_s",
                                             "bookkeeping_s", "run_s", "sleeps", "yields",
                                             "carried_embeddings")},
                       "cpu": h.get("cpu", -1)}
                      for h in ranks],
            "memory": {
                "sum_peak_rss_bytes": sum(m["peak_rss_bytes"] for m in mem_end),
                "sum_pss_bytes": sum(m["pss_bytes"] for m in mem_end),
                "sum_rss_anon_bytes": sum(m["rss_anon_bytes"] for m in mem_end),
                "sum_anon_huge_bytes": sum(h.get("anon_huge_bytes", 0) for h in ranks),
                "sum_added_rss_bytes": sum(e["peak_rss_bytes"] - s["rss_bytes"]
                                           for e, s in zip(mem_end, mem_start)),
                "weights_bytes": weights,
            },
        }
        assert med["summary"]["final_logits_hash"] == rows[0]["summary"]["final_logits_hash"]
    base = [load(f"{out}/base-r{r}.json") for r in range(1, runs + 1)]
    base_tps = median([b["tokens_per_s"] for b in base])
    report["baseline"] = {"what": "bench_forward: whole model, one process, no MPI, no ledger",
                          "tokens_per_s": base_tps,
                          "tokens_per_s_runs": [b["tokens_per_s"] for b in base]}
    cost = []
    for r in range(1, runs + 1):
        s = load(f"{out}/cost-r{r}.json")
        cost.append((max(h["run_s"] for h in s["host_wall"]["ranks"]),
                     float(open(f"{out}/cost-r{r}.time").read())))
    cost_run = median([c[0] for c in cost])
    cost_wall = median([c[1] for c in cost])
    full8 = report["chips_8"]
    report["cost_only_8"] = {"run_s": cost_run, "wall_s": cost_wall,
                             "speedup_run": full8["run_s"] / cost_run,
                             "speedup_wall": full8["wall_s"] / cost_wall}

    # The model's int8 bytes and its KV cache (whole model, from the one-chip run's placement).
    one = per_n[1]["summary"]["per_chip"][0]
    model_bytes = sum(one["memory"][lvl]["weights"] for lvl in one["memory"])
    ctx = per_n[1]["summary"]["prompt_tokens"] + per_n[1]["summary"]["decode_tokens"]
    cfg_layers, cfg_dim = 8, 512  # TinyLlama-42M (weights/config.cpp)
    kv_bytes = 2 * cfg_layers * cfg_dim * ctx
    report["model_plus_kv_bytes"] = model_bytes + kv_bytes
    m8 = full8["memory"]

    def mb(b):
        return f"{b / 1e6:.1f} MB"

    print(f"\n== host speed, {runs} runs, {tokens} decode steps (+ prompt), medians ==")
    for n in (8, 1):
        r = report[f"chips_{n}"]
        print(f"{n} chip(s): {r['tokens_per_s']:.0f} tokens/s over the run loop "
              f"(runs: {', '.join(f'{x:.0f}' for x in r['tokens_per_s_runs'])}); "
              f"{r['tokens_per_s_wall']:.0f} tokens/s over the whole command ({r['wall_s']:.2f} s, "
              f"start-up and model load included)")
    print(f"baseline (bench_forward): {base_tps:.0f} tokens/s")
    print(f"ratios: 8 chips / baseline {full8['tokens_per_s'] / base_tps:.2f}, "
          f"1 chip / baseline {report['chips_1']['tokens_per_s'] / base_tps:.2f}")
    print(f"targets: 8 chips >= {TARGET_8:.0f}: {'met' if full8['tokens_per_s'] >= TARGET_8 else 'NOT met'}; "
          f"1 chip >= {TARGET_1:.0f}: {'met' if report['chips_1']['tokens_per_s'] >= TARGET_1 else 'NOT met'}")
    print("\nper-rank wall clock of the 8-chip run (s): kernels / MPI wait / MPI transfer / bookkeeping / run")
    for i, r in enumerate(full8["ranks"]):
        cpu = f"CPU {r['cpu']}, " if r["cpu"] >= 0 else ""
        print(f"  rank {i}: {r['kernels_s']:.3f} / {r['mpi_wait_s']:.3f} / {r['mpi_transfer_s']:.3f} / "
              f"{r['bookkeeping_s']:.3f} / {r['run_s']:.3f}   ({cpu}{r['sleeps']} sleeps, {r['yields']} yields, "
              f"{r['carried_embeddings']} rows carried)")
    # The ranks pinned to each CPU do the same work (every chip has the same shapes): when one
    # CPU's ranks need clearly longer for their kernels, the host's cores differ (a busy sibling
    # thread or another tenant on a VM) and every round waits for the slower core.
    by_cpu = {}
    for i, r in enumerate(full8["ranks"]):
        if r["cpu"] >= 0:
            by_cpu.setdefault(r["cpu"], []).append((i, r))
    if len(by_cpu) > 1:
        per_cpu = {c: (statistics.mean(r["kernels_s"] for _, r in rs),
                       statistics.mean(r["bookkeeping_s"] for _, r in rs), [i for i, _ in rs])
                   for c, rs in sorted(by_cpu.items())}
        report["chips_8"]["kernels_s_by_cpu"] = {str(c): v[0] for c, v in per_cpu.items()}
        print("  per CPU (mean of its ranks): " + "; ".join(
            f"CPU {c} (ranks {', '.join(map(str, v[2]))}): kernels {v[0]:.3f}, bookkeeping {v[1]:.3f}"
            for c, v in per_cpu.items()))
        fast = min(per_cpu, key=lambda c: per_cpu[c][0])
        slow = max(per_cpu, key=lambda c: per_cpu[c][0])
        spread = per_cpu[slow][0] / per_cpu[fast][0]
        if spread > 1.15:
            print(f"  CPU {slow}'s ranks took {spread:.2f}x CPU {fast}'s kernel time for the same work: "
                  f"this host's cores differ right now, and each round waits for the slower one "
                  f"(docs/host-speed.md, session 10)")
    # What the hand-offs between the ranks of a core take at the cost bench_switch measured in
    # the same runs (processes pinned to one CPU passing it on with sched_yield), and the
    # ceiling that leaves for this host: each core's ranks' kernels plus their hand-offs, per
    # token. An estimate: every yield is priced as a switch between that many processes (a
    # yield with nothing to switch to costs less, a switch between ranks that touch more memory
    # may cost more).
    switch = [load(f"{out}/switch-r{r}.json") for r in range(1, runs + 1)
              if os.path.exists(f"{out}/switch-r{r}.json")]
    if len(by_cpu) > 1 and switch:
        per_core = max(len(rs) for rs in by_cpu.values())
        key = str(min((int(k) for k in switch[0]["process_ns"]), key=lambda k: abs(k - per_core)))
        handoff_ns = median([s["process_ns"][key] for s in switch])
        threads = [s["thread_ns"][key] for s in switch if key in s["thread_ns"]]
        thread_ns = median(threads) if threads else None
        steps = per_n[8]["steps"]
        busy = {}  # per CPU: its ranks' kernels, their hand-offs, and those hand-offs' time
        for c, rs in by_cpu.items():
            kernels = sum(r["kernels_s"] for _, r in rs)
            handoffs = sum(r["yields"] for _, r in rs)
            busy[c] = (kernels, handoffs, handoffs * handoff_ns * 1e-9)
        worst = max(busy, key=lambda c: busy[c][0] + busy[c][2])
        k, h, hs = busy[worst]
        ceiling = steps / (k + hs)
        report["chips_8"]["handoffs"] = {"processes": int(key), "handoff_ns": handoff_ns,
                                         "thread_handoff_ns": thread_ns,
                                         "per_core_per_token": h / steps,
                                         "handoff_s": hs, "kernels_s": k,
                                         "ceiling_tokens_per_s": ceiling}
        threads_txt = f"; threads {thread_ns / 1e3:.1f} us" if thread_ns is not None else ""
        print(f"  hand-offs: CPU {worst}'s ranks passed it on {h / steps:.0f} times per token; at "
              f"{handoff_ns / 1e3:.1f} us each (bench_switch: {key} processes on one CPU{threads_txt}) "
              f"that is {hs:.3f} s of the {full8['run_s']:.3f} s loop, beside its ranks' kernels "
              f"{k:.3f} s: with no bookkeeping, transfer or waiting at all, about {ceiling:.0f} "
              f"tokens/s on this host now (an estimated ceiling)")
    r1 = report["chips_1"]["ranks"][0]
    print(f"  1 chip: {r1['kernels_s']:.3f} / {r1['mpi_wait_s']:.3f} / {r1['mpi_transfer_s']:.3f} / "
          f"{r1['bookkeeping_s']:.3f} / {r1['run_s']:.3f}")
    ratio_pss = m8["sum_pss_bytes"] / report["model_plus_kv_bytes"]
    print(f"\nmemory of the 8 ranks: int8 model + KV cache = {mb(report['model_plus_kv_bytes'])}; "
          f"sum of PSS {mb(m8['sum_pss_bytes'])} ({ratio_pss:.2f}x), "
          f"sum of peak RSS {mb(m8['sum_peak_rss_bytes'])} (shared pages counted per rank), "
          f"added by the model and the run (peak RSS - RSS before the model is read) {mb(m8['sum_added_rss_bytes'])} "
          f"({m8['sum_added_rss_bytes'] / report['model_plus_kv_bytes']:.2f}x); target <= {TARGET_MEM}x; "
          f"on huge pages {mb(m8['sum_anon_huge_bytes'])} (1 chip: "
          f"{mb(report['chips_1']['memory']['sum_anon_huge_bytes'])})")
    c = report["cost_only_8"]
    print(f"cost-only (8 chips): run loop {c['run_s']:.3f} s = {c['speedup_run']:.0f}x faster than "
          f"the full run; whole command {c['wall_s']:.2f} s = {c['speedup_wall']:.1f}x")
    with open(f"{out}/bench.json", "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    print(f"\nwritten: {out}/bench.json")


if __name__ == "__main__":
    main()
