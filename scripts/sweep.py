#!/usr/bin/python3
"""Run an experiment: every point of experiments/NAME.ini under mpirun, with progress, resume and
an aggregate.

    scripts/sweep.py experiments/tinyllama-ar.ini [--out results/tinyllama-ar] [--cost-only]

An experiment file has one [experiment] section. Keys with comma-separated values are swept (the
points are their cartesian product); `set` takes ';'-separated groups of space-separated
key=value overrides. Keys:

    name, description          text
    model, mode, profile       e.g. tinyllama-42m, ar | prompt | encoder, gap9 | siracusa
    chips                      e.g. 1, 2, 4, 8      (the MPI ranks of a point)
    tokens, prompt_tokens, seq run lengths
    allreduce, exchange        tree | ring | direct, int32 | int8
    set                        e.g. "link.mb_per_s=100; link.mb_per_s=400"
    cost_only                  true | false (the command line --cost-only forces true)
    baseline_chips             the chip count speedups are taken against (default 1)

Across several hosts: --mpirun-args passes extra mpirun arguments to every point, e.g.
    --mpirun-args "--hostfile hosts --mca btl self,vader,tcp"  (docs/multihost.md)
The Open MPI defaults below (MPI_ENV) only fill in what the environment does not set, and an
`--mca NAME VALUE` in --mpirun-args overrides them (a parameter may appear only once on the
mpirun command line, but a --mca flag does override the same OMPI_MCA_NAME variable).

Each point writes <out>/points/<id>/summary.json (or error.txt when it failed). A point whose
summary exists is not run again, so an interrupted sweep resumes; a failed point is recorded and
the sweep goes on. At the end <out>/aggregate.csv and <out>/aggregate.h5 hold one row per point.
"""
import argparse
import configparser
import csv
import itertools
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWEPT = ["model", "mode", "profile", "chips", "allreduce", "exchange", "set"]
SCALARS = ["tokens", "prompt_tokens", "seq"]
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_mpi_yield_when_idle": "1",
    "OMPI_MCA_pml": "ob1", "OMPI_MCA_btl": "self,vader", "OPENBLAS_NUM_THREADS": "1",
}


def read_experiment(path):
    cp = configparser.ConfigParser(interpolation=None)
    if not cp.read(path):
        sys.exit(f"sweep: cannot read {path}")
    if "experiment" not in cp:
        sys.exit(f"sweep: {path} has no [experiment] section")
    e = dict(cp["experiment"])
    known = set(SWEPT + SCALARS + ["name", "description", "cost_only", "baseline_chips"])
    unknown = sorted(set(e) - known)
    if unknown:
        sys.exit(f"sweep: {path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return e


def points(e):
    axes = {}
    for k in SWEPT:
        if k not in e:
            continue
        sep = ";" if k == "set" else ","
        axes[k] = [v.strip() for v in e[k].split(sep)]
    keys = list(axes)
    for combo in itertools.product(*(axes[k] for k in keys)):
        p = dict(zip(keys, combo))
        for k in SCALARS:
            if k in e:
                p[k] = e[k].strip()
        try:
            p["chips"] = int(p.get("chips", "1"))
        except ValueError:
            sys.exit(f"sweep: chips must be integers, got {p.get('chips')!r}")
        yield p


def point_id(p):
    parts = [p.get("model", ""), p.get("mode", ""), p.get("profile", ""), f"n{p['chips']}",
             p.get("allreduce", ""), p.get("exchange", ""), p.get("set", "").replace(" ", "+")]
    return "_".join(x for x in parts if x).replace("/", "-").replace("=", "-")


def command(p, binary, out_dir, cost_only, mpirun_args=()):
    cmd = ["mpirun", "-n", str(p["chips"]), "--oversubscribe", *mpirun_args, str(binary), "run", "-q",
           "--out", str(out_dir), "--summary-json", str(out_dir / "summary.json")]
    for k in ["model", "mode", "profile", "allreduce", "exchange", "tokens", "seq"]:
        if k in p:
            cmd += [f"--{k}", p[k]]
    if "prompt_tokens" in p:
        cmd += ["--prompt-tokens", p["prompt_tokens"]]
    for s in p.get("set", "").split():
        cmd += ["--set", s]
    if cost_only:
        cmd.append("--cost-only")
    return cmd


def flatten(p, s):
    pt = s["per_token"]
    row = {"id": p["id"], "status": "ok", "error": "", **{k: p.get(k, "") for k in SWEPT + SCALARS},
           "chips": p["chips"], "latency_ms": pt["latency_ns"] * 1e-6,
           "energy_mj": pt["energy_pj"]["total"] * 1e-9, "edp_j_s": pt["edp_j_s"],
           "link_bytes": s["run_totals"]["link_bytes"], "idle_share": s["run_totals"]["idle_share"],
           "syncs_per_block": s["synchronisations"]["per_block_per_step"]}
    for term, v in pt["energy_pj"].items():
        if term != "total":
            row[f"energy_{term}_mj"] = v * 1e-9
    chips = s["per_chip"]
    for level in ["L2", "MRAM", "L3"]:
        row[f"peak_{level}_bytes_max"] = max(c["memory"][level]["high_water"] for c in chips)
        row[f"cap_{level}_bytes"] = chips[0]["memory"][level]["capacity"]
        row[f"weights_{level}_bytes_max"] = max(c["memory"][level]["weights"] for c in chips)
    return row


def add_speedups(rows, baseline_chips):
    """speedup and EDP gain against the point with `baseline_chips` chips and the same other keys."""
    key = lambda r: tuple(str(r.get(k, "")) for k in SWEPT if k != "chips")
    base = {key(r): r for r in rows if r["status"] == "ok" and r["chips"] == baseline_chips}
    for r in rows:
        b = base.get(key(r))
        ok = b is not None and r["status"] == "ok"
        r["speedup"] = b["latency_ms"] / r["latency_ms"] if ok else ""
        r["edp_gain"] = b["edp_j_s"] / r["edp_j_s"] if ok else ""


def write_aggregate(out, rows):
    cols = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    tmp = out / "aggregate.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in cols})
    os.replace(tmp, out / "aggregate.csv")
    try:
        import h5py
        import numpy as np
    except ImportError:
        print("sweep: h5py not available, aggregate.h5 not written", file=sys.stderr)
        return
    tmp = out / "aggregate.h5.tmp"
    with h5py.File(tmp, "w") as h:
        for c in cols:
            vals = [r.get(c, "") for r in rows]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                h[c] = np.array(vals, dtype=float)
            else:
                h[c] = np.array([str(v).encode() for v in vals])
        h.attrs["columns"] = ",".join(cols)
    os.replace(tmp, out / "aggregate.h5")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment", help="experiments/NAME.ini")
    ap.add_argument("--out", help="results directory (default results/NAME)")
    ap.add_argument("--bin", default=str(ROOT / "build/release/src/cli/mcuemu"), help="the mcuemu binary")
    ap.add_argument("--cost-only", action="store_true", help="run every point with --cost-only")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per point before it is failed")
    ap.add_argument("--rerun-failed", action="store_true", help="run points that failed before again")
    ap.add_argument("--mpirun-args", default="",
                    help='extra mpirun arguments for every point, e.g. "--hostfile hosts" (docs/multihost.md)')
    args = ap.parse_args()
    mpirun_args = shlex.split(args.mpirun_args)

    e = read_experiment(args.experiment)
    name = e.get("name", Path(args.experiment).stem)
    # Absolute paths: the ranks (rank 0 writes the results) may run on other hosts and in
    # another working directory than this script.
    out = Path(args.out or ROOT / "results" / name).resolve()
    cost_only = args.cost_only or e.get("cost_only", "false").strip().lower() == "true"
    if not Path(args.bin).exists():
        sys.exit(f"sweep: no binary at {args.bin} (build first, or give --bin)")
    binary = Path(args.bin).resolve()
    pts = list(points(e))
    for p in pts:
        p["id"] = point_id(p)
    (out / "points").mkdir(parents=True, exist_ok=True)
    env = dict(MPI_ENV, **os.environ)  # the caller's settings win
    rows, t0, ran = [], time.monotonic(), 0
    print(f"sweep {name}: {len(pts)} points -> {out}" + (" (cost-only)" if cost_only else ""))
    for i, p in enumerate(pts, 1):
        d = out / "points" / p["id"]
        summary, error = d / "summary.json", d / "error.txt"
        if summary.exists():
            status = "done before"
        elif error.exists() and not args.rerun_failed:
            status = "failed before"
        else:
            d.mkdir(parents=True, exist_ok=True)
            error.unlink(missing_ok=True)
            cmd = command(p, binary, d, cost_only, mpirun_args)
            (d / "command.txt").write_text(" ".join(shlex.quote(c) for c in cmd) + "\n")
            try:
                r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
                ok, log = r.returncode == 0 and summary.exists(), r.stderr + r.stdout
            except subprocess.TimeoutExpired:
                ok, log = False, f"timed out after {args.timeout} s"
            if not ok:
                lines = [l for l in log.splitlines() if "error" in l.lower()] or log.splitlines()[-5:]
                error.write_text("\n".join(lines[:5]) + "\n")
                summary.unlink(missing_ok=True)
            ran += 1
            status = "ok" if ok else "FAILED"
        elapsed = time.monotonic() - t0
        left = len(pts) - i
        eta = f"{elapsed / ran * left:.0f} s" if ran else "?"
        print(f"[{i}/{len(pts)}] {p['id']}: {status}  (elapsed {elapsed:.0f} s, left ~{eta})", flush=True)
        if summary.exists():
            rows.append(flatten(p, json.loads(summary.read_text())))
        else:
            msg = error.read_text().strip().replace("\n", " | ") if error.exists() else "not run"
            rows.append({"id": p["id"], "status": "failed", "error": msg, "chips": p["chips"],
                         **{k: p.get(k, "") for k in SWEPT + SCALARS if k != "chips"}})
    add_speedups(rows, int(e.get("baseline_chips", "1")))
    write_aggregate(out, rows)
    failed = sum(r["status"] != "ok" for r in rows)
    print(f"sweep {name}: {len(rows) - failed} ok, {failed} failed; {out}/aggregate.csv, {out}/aggregate.h5")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
