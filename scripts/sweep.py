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
summary exists is not run again, so an interrupted sweep resumes; a failed point (an error, a
crashed or killed rank, or --timeout) is recorded and the sweep goes on. At the end
<out>/aggregate.csv and <out>/aggregate.h5 hold one row per point. Every file is written to a
temporary name and renamed, so an interrupted sweep leaves no partial file under a final name.
Interrupting (Ctrl-C, SIGTERM) ends the running point's whole mpirun process group first.
A bad experiment file is one "sweep: ..." line and exit status 2.
"""
import argparse
import configparser
import csv
import itertools
import json
import os
import re
import shlex
import signal
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


class ConfigError(Exception):
    """A bad experiment file: reported as one line, exit status 2."""


def read_experiment(path):
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: no such file" if not p.exists() else f"{path}: not a regular file")
    cp = configparser.ConfigParser(interpolation=None)
    try:
        with open(p, encoding="utf-8") as f:
            cp.read_file(f)
    except (configparser.Error, UnicodeDecodeError, OSError) as ex:
        msg = " ".join(str(ex).split())  # configparser messages span lines
        raise ConfigError(f"{path}: {msg}") from None
    if "experiment" not in cp:
        raise ConfigError(f"{path} has no [experiment] section")
    extra = [s for s in cp.sections() if s != "experiment"]
    if extra:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(extra)} (only [experiment])")
    e = dict(cp["experiment"])
    known = set(SWEPT + SCALARS + ["name", "description", "cost_only", "baseline_chips"])
    unknown = sorted(set(e) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    for k in SCALARS + ["baseline_chips"]:
        if k in e and not re.fullmatch(r"[1-9][0-9]{0,8}", e[k].strip()):
            raise ConfigError(f"{path}: {k} must be a positive integer, got {e[k].strip()!r}")
    if "cost_only" in e and e["cost_only"].strip().lower() not in ("true", "false"):
        raise ConfigError(f"{path}: cost_only must be true or false, got {e['cost_only'].strip()!r}")
    if "name" in e and not re.fullmatch(r"[A-Za-z0-9._-]+", e["name"].strip()):
        raise ConfigError(f"{path}: name must be letters, digits, '.', '_' or '-', got {e['name'].strip()!r}")
    return e


def points(e, path):
    axes = {}
    for k in SWEPT:
        if k not in e:
            continue
        sep = ";" if k == "set" else ","
        axes[k] = [v.strip() for v in e[k].split(sep)]
        if k != "set" and any(not v for v in axes[k]):
            raise ConfigError(f"{path}: {k} has an empty value in {e[k].strip()!r}")
    for c in axes.get("chips", ["1"]):
        if not re.fullmatch(r"[1-9][0-9]{0,5}", c):
            raise ConfigError(f"{path}: chips must be positive integers, got {c!r}")
    keys = list(axes)
    for combo in itertools.product(*(axes[k] for k in keys)):
        p = dict(zip(keys, combo))
        for k in SCALARS:
            if k in e:
                p[k] = e[k].strip()
        p["chips"] = int(p.get("chips", "1"))
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
    tmp = out / f"aggregate.csv.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in rows:
                w.writerow({k: r.get(k, "") for k in cols})
        os.replace(tmp, out / "aggregate.csv")
    finally:
        tmp.unlink(missing_ok=True)
    try:
        import h5py
        import numpy as np
    except ImportError:
        print("sweep: h5py not available, aggregate.h5 not written", file=sys.stderr)
        return
    tmp = out / f"aggregate.h5.tmp.{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as h:
            for c in cols:
                vals = [r.get(c, "") for r in rows]
                if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                    h.create_dataset(c, data=np.array(vals, dtype=float), track_times=False)
                else:
                    h.create_dataset(c, data=np.array([str(v).encode() for v in vals]), track_times=False)
            h.attrs["columns"] = ",".join(cols)
        os.replace(tmp, out / "aggregate.h5")
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path, text):
    """Writes `text` to `path` through a temporary name and a rename: complete or absent."""
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def stop_group(proc):
    """Ends a point's mpirun and every rank it started (they share its process group)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            pass


def run_point(cmd, env, timeout):
    """Runs one point; returns (returncode or None on timeout, log). mpirun gets its own process
    group so that a timeout or an interrupt can end it and all its ranks, never leaving a rank
    spinning in a collective."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        stop_group(proc)
        out, _ = proc.communicate()
        return None, (out or "") + f"\ntimed out after {timeout:g} s (the point's processes were ended)"
    except BaseException:
        stop_group(proc)
        raise


def error_lines(log):
    """The lines of a failed point's log that say what happened (at most 5)."""
    keep = re.compile(r"error|fatal|exited on signal|timed out|killed|rank \d+", re.I)
    lines, seen = [], set()
    for line in log.splitlines():
        line = line.strip()
        if line and keep.search(line) and line not in seen and not line.startswith("[") :
            seen.add(line)
            lines.append(line)
    return (lines or [l for l in log.splitlines() if l.strip()][-5:] or ["failed without output"])[:5]


def read_summary(path):
    """A point's summary, or None if it is missing or unreadable (then the point runs again)."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as ex:
        print(f"sweep: {path}: unreadable ({ex}); running the point again", file=sys.stderr)
        path.unlink(missing_ok=True)
        return None


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
    if not args.timeout > 0:
        raise ConfigError(f"--timeout must be positive, got {args.timeout:g}")
    mpirun_args = shlex.split(args.mpirun_args)

    e = read_experiment(args.experiment)
    name = e.get("name", Path(args.experiment).stem).strip()
    # Absolute paths: the ranks (rank 0 writes the results) may run on other hosts and in
    # another working directory than this script.
    out = Path(args.out or ROOT / "results" / name).resolve()
    cost_only = args.cost_only or e.get("cost_only", "false").strip().lower() == "true"
    if not Path(args.bin).is_file():
        raise ConfigError(f"no binary at {args.bin} (build first, or give --bin)")
    binary = Path(args.bin).resolve()
    pts = list(points(e, args.experiment))
    ids = {}
    for p in pts:
        p["id"] = point_id(p)
        if p["id"] in ids:
            raise ConfigError(f"{args.experiment}: two points have the same id {p['id']} (a value is repeated)")
        ids[p["id"]] = p
    (out / "points").mkdir(parents=True, exist_ok=True)
    env = dict(MPI_ENV, **os.environ)  # the caller's settings win
    rows, t0, ran = [], time.monotonic(), 0
    print(f"sweep {name}: {len(pts)} points -> {out}" + (" (cost-only)" if cost_only else ""))
    for i, p in enumerate(pts, 1):
        d = out / "points" / p["id"]
        summary, error = d / "summary.json", d / "error.txt"
        s = read_summary(summary)
        if s is not None:
            status = "done before"
        elif error.exists() and not args.rerun_failed:
            status = "failed before"
        else:
            d.mkdir(parents=True, exist_ok=True)
            error.unlink(missing_ok=True)
            for stale in d.glob("*.tmp.*"):  # left by an interrupted run of this point
                stale.unlink(missing_ok=True)
            cmd = command(p, binary, d, cost_only, mpirun_args)
            write_atomic(d / "command.txt", " ".join(shlex.quote(c) for c in cmd) + "\n")
            rc, log = run_point(cmd, env, args.timeout)
            s = read_summary(summary) if rc == 0 else None
            ok = s is not None
            if not ok:
                summary.unlink(missing_ok=True)
                write_atomic(error, "\n".join(error_lines(log)) + "\n")
            ran += 1
            status = "ok" if ok else "FAILED"
        elapsed = time.monotonic() - t0
        left = len(pts) - i
        eta = f"{elapsed / ran * left:.0f} s" if ran else "?"
        print(f"[{i}/{len(pts)}] {p['id']}: {status}  (elapsed {elapsed:.0f} s, left ~{eta})", flush=True)
        if s is not None:
            rows.append(flatten(p, s))
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
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        sys.exit(main())
    except ConfigError as ex:
        print(f"sweep: error: {ex}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as ex:
        print(f"sweep: interrupted ({ex}); finished points are kept, run the same command again to resume",
              file=sys.stderr)
        sys.exit(130)
    except OSError as ex:
        print(f"sweep: error: {ex}", file=sys.stderr)
        sys.exit(2)
