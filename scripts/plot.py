#!/usr/bin/python3
"""Plot sweep results (the output directories of scripts/sweep.py).

    scripts/plot.py results/tinyllama-ar results/tinyllama-scaled ... -o experiments/plots

Reads each directory's aggregate.csv (one row per point, with its status) and, for the points
that ran, points/<id>/summary.json. Failed points are listed on stderr and left out of the
figures; an experiment without a single successful point gets no figure of its own. Writes:

    speedup.png             speedup against chips (ideal line and the paper's figures)
    edp.png                 EDP per token and EDP gain against chips
    link.png                link bytes per forward and link share of latency against chips
    breakdown_<exp>.png     latency (by activity) and energy (by term) per token, for each N
    memory_<exp>.png        peak L2 / MRAM per chip against the caps, weights in L3
    sensitivity_<exp>.png   for an experiment that sweeps `set`: how the largest-N latency,
                            energy and speedup move against the point equal to the profile

Lines are one per experiment / profile (/ override set). scripts/make_report.py imports the
loader below. Run with Debian's /usr/bin/python3 (numpy, matplotlib with the Agg backend).
"""
import argparse
import csv
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# Paper figures (Bochem et al., DATE 2025; /work/shared/REFERENCES.md). Keyed by (model, chips).
# ---------------------------------------------------------------------------------------------
PAPER_SPEEDUP = {("tinyllama-42m", 8): 26.1, ("mobilebert", 4): 4.7, ("tinyllama-scaled-64", 64): 60.1}
PAPER_EDP_GAIN = {("tinyllama-42m", 8): 27.2}

PAPER_ORDER = ["tinyllama-ar", "tinyllama-prompt", "mobilebert", "tinyllama-scaled", "sensitivity"]

ENERGY_TERMS = ["compute", "L1", "L2", "MRAM", "L3", "link", "active", "idle"]
ENERGY_COLORS = {"compute": "#4c72b0", "L1": "#8fb3e0", "L2": "#55a868", "MRAM": "#c44e52",
                 "L3": "#8172b2", "link": "#dd8452", "active": "#937860", "idle": "#bbbbbb"}
LATENCY_GROUPS = ["weight GEMV/GEMM", "embedding / LM head", "attention", "element-wise", "link",
                  "idle (waiting)"]
LATENCY_COLORS = dict(zip(LATENCY_GROUPS, ["#4c72b0", "#da8bc3", "#64b5cd", "#55a868", "#dd8452",
                                           "#bbbbbb"]))
LINK_OP = re.compile(r"allreduce|broadcast|exchange|gather|scatter|^logits_argmax$")
ATTENTION_OPS = {"qk", "pv", "softmax", "softmax_itamax", "attention"}
EMBEDDING_OP = re.compile(r"embedding|classifier|lm_head")


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() and "." not in str(v) and "e" not in str(v).lower() else f


class Experiment:
    """One sweep output directory: its points (dicts of the aggregate row, plus 'summary')."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.name = self.dir.name
        self.points = []
        agg = self.dir / "aggregate.csv"
        if not agg.exists():
            raise FileNotFoundError(f"{agg} not found (run scripts/sweep.py first)")
        with open(agg, newline="") as f:
            for row in csv.DictReader(f):
                p = {k: _num(v) if k not in ("id", "set", "error", "status") else v
                     for k, v in row.items()}
                p["chips"] = int(float(row["chips"]))
                p["summary"] = None
                sj = self.dir / "points" / row["id"] / "summary.json"
                if row["status"] == "ok" and sj.exists():
                    p["summary"] = json.loads(sj.read_text())
                elif row["status"] == "ok":
                    p["status"], p["error"] = "failed", f"summary.json missing in {sj.parent}"
                self.points.append(p)

    @property
    def ok(self):
        return [p for p in self.points if p["status"] == "ok"]

    @property
    def failed(self):
        return [p for p in self.points if p["status"] != "ok"]

    def values(self, key):
        out = []
        for p in self.points:
            v = str(p.get(key, ""))
            if v not in out:
                out.append(v)
        return out

    @property
    def is_sensitivity(self):
        """A sweep over several `set` groups (one-at-a-time changes of profile values)."""
        return len(self.values("set")) > 1

    def series(self):
        """Points grouped by everything but chips: {label: [points sorted by chips]} (ok only)."""
        groups = {}
        for p in self.ok:
            key = tuple(str(p.get(k, "")) for k in ("model", "mode", "profile", "allreduce",
                                                    "exchange", "set"))
            groups.setdefault(key, []).append(p)
        out = {}
        for key, pts in groups.items():
            out[self.label(pts[0])] = sorted(pts, key=lambda p: p["chips"])
        return out

    def label(self, p, with_name=True):
        parts = [self.name] if with_name else []
        parts.append(str(p.get("profile", "")))
        for k in ("allreduce", "exchange"):
            if len(self.values(k)) > 1:
                parts.append(str(p.get(k, "")))
        if self.is_sensitivity and p.get("set"):
            parts.append(str(p["set"]))
        return " / ".join(x for x in parts if x)


def first_error(p):
    """The most telling line of a failed point's error: the first naming an error."""
    parts = [x.strip() for x in str(p.get("error", "") or "").split(" | ") if x.strip()]
    for x in parts:
        if "error:" in x.lower():
            return x
    return parts[0] if parts else "no summary.json"


def load(dirs):
    """Experiments from sweep directories; a directory without aggregate.csv whose subdirectories
    have one (a results root) stands for those; files are ignored."""
    exps, expanded = [], []
    for d in map(Path, dirs):
        if d.is_dir() and not (d / "aggregate.csv").exists():
            subs = sorted(x.parent for x in d.glob("*/aggregate.csv"))
            expanded += subs or [d]
        elif d.is_dir() or not d.exists():
            expanded.append(d)
    for d in expanded:
        try:
            exps.append(Experiment(d))
        except FileNotFoundError as e:
            print(f"plot: skipping {d}: {e}", file=sys.stderr)
    # the paper's order, so that colours do not depend on the order of the arguments
    rank = {n: i for i, n in enumerate(PAPER_ORDER)}
    return sorted(exps, key=lambda e: (rank.get(e.name, len(rank)), e.name))


def unit_of(p):
    """What one 'per_token' figure covers for this point."""
    s = p["summary"]
    if s["mode"] == "prompt":
        return f"per {s['seq']}-token forward"
    if s["mode"] == "encoder":
        return "per forward"
    return "per token"


# ---------------------------------------------------------------------------------------------
# Per-point metrics from summary.json
# ---------------------------------------------------------------------------------------------
def energy_terms_mj(s):
    e = s["per_token"]["energy_pj"]
    return {t: e.get(t, 0.0) * 1e-9 for t in ENERGY_TERMS}


def latency_groups_ms(s):
    """Per-token latency split by what the chips do, averaged over chips (ms).

    The cost model takes max(compute, DMA) per tile, so time has no additive split by memory
    level; the summary gives cycles per op kind (whole run, prefill included) and busy / link /
    idle cycles per chip. Each chip's run is split by op kind and scaled to the per-token latency
    (every chip ends at the same cycle)."""
    latency_ms = s["per_token"]["latency_ns"] * 1e-6
    acc = dict.fromkeys(LATENCY_GROUPS, 0.0)
    for c in s["per_chip"]:
        end = c["cycles"]["end"] or 1
        busy_ops = {k: v["cycles"] for k, v in c["by_op"].items()
                    if k != "idle" and not LINK_OP.search(k)}
        busy_sum = sum(busy_ops.values()) or 1
        scale = c["cycles"]["busy"] / busy_sum   # 1 unless an op was misclassified
        for k, cyc in busy_ops.items():
            macs = c["by_op"][k].get("macs", 0)
            if EMBEDDING_OP.search(k):
                g = "embedding / LM head"
            elif k in ATTENTION_OPS:
                g = "attention"
            elif macs > 0:
                g = "weight GEMV/GEMM"
            else:
                g = "element-wise"
            acc[g] += cyc * scale / end
        acc["link"] += c["cycles"]["link"] / end
        acc["idle (waiting)"] += c["cycles"]["idle"] / end
    n = len(s["per_chip"])
    return {g: v / n * latency_ms for g, v in acc.items()}


def link_share(s):
    c = s["per_chip"][0]
    return c["cycles"]["link"] / c["cycles"]["end"] if c["cycles"]["end"] else 0.0


def forwards(s):
    return max(1, s.get("synchronisations", {}).get("forwards", 1))


def memory_per_level(s, level):
    """(high-water bytes, weight bytes, capacity) of the chip with the highest high-water mark."""
    c = max(s["per_chip"], key=lambda c: c["memory"][level]["high_water"])
    m = c["memory"][level]
    return m["high_water"], m["weights"], m["capacity"]


# ---------------------------------------------------------------------------------------------
# Profiles: values and the source / derived / assumed tag of every key
# ---------------------------------------------------------------------------------------------
TAG = re.compile(r"^#\s*(source|derived|assumed)\s*:", re.I)


def parse_profile(path):
    """{'section.key': {'value', 'tag', 'comment', 'line'}} from a hardware profile .ini.

    The tag is the first `# source:` / `# derived:` / `# assumed:` line of the comment block
    directly above the key. A key without a tag of its own takes the tag of an "all keys of this
    section" comment earlier in its section. `mixed` is set when a source/derived comment also
    mentions an assumed part."""
    keys, block, section, section_tag, section_text = {}, [], "", None, ""
    for n, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line:
            block = []
            continue
        if line.startswith("#"):
            block.append(line)
            if "all keys of this section" in line and TAG.match(line):
                section_tag = TAG.match(line).group(1).lower()
                section_text = re.sub(r"^#\s*", "", line)
            continue
        if line.startswith("["):
            section, section_tag, block = line.strip("[]").strip(), None, []
            continue
        if "=" not in line:
            block = []
            continue
        k, v = (x.strip() for x in line.split("=", 1))
        v = v.split("#", 1)[0].strip()
        tags = [TAG.match(b).group(1).lower() for b in block if TAG.match(b)]
        own = [b for b in block if "all keys of this section" not in b]
        own_tags = [TAG.match(b).group(1).lower() for b in own if TAG.match(b)]
        tag = own_tags[0] if own_tags else (section_tag or (tags[0] if tags else "untagged"))
        first = next((i for i, b in enumerate(own) if TAG.match(b)), None)
        text = " ".join(re.sub(r"^#\s*", "", b) for b in own[first:]) if first is not None else ""
        if not text and section_tag:
            text = section_text
        mixed = tag != "assumed" and re.search(r"\bassumed\b", TAG.sub("", text), re.I) is not None
        keys[f"{section}.{k}"] = {"value": v, "tag": tag, "mixed": mixed, "comment": text, "line": n}
        block = []
    return keys


def set_overrides(set_str):
    return dict(x.split("=", 1) for x in str(set_str).split() if "=" in x)


def is_default_set(set_str, profile):
    """True when every override of `set_str` equals the profile's own value."""
    ov = set_overrides(set_str)
    if not ov:
        return True
    for k, v in ov.items():
        if k not in profile:
            return False
        try:
            if not math.isclose(float(v), float(profile[k]["value"])):
                return False
        except ValueError:
            if v != profile[k]["value"]:
                return False
    return True


def profile_of(exp):
    """The parsed profile of an experiment's first ok point (from the path in summary.json)."""
    for p in exp.ok:
        path = Path(p["summary"]["profile"]["path"])
        if not path.exists():
            path = ROOT / "experiments" / "hw" / f"{p['summary']['profile']['name']}.ini"
        if path.exists():
            return parse_profile(path)
    return {}


def sensitivity_rows(exp):
    """For a `set` sweep: [(set, {'latency_ms','energy_mj','speedup'} at the largest N, ...)] and
    the baseline set (the one equal to the profile). Speedup is largest N over smallest N."""
    prof = profile_of(exp)
    chips = sorted({p["chips"] for p in exp.ok})
    if not chips:
        return [], None, None, None
    hi, lo = chips[-1], chips[0]
    by = {(p["set"], p["chips"]): p for p in exp.ok}
    rows, base = [], None
    for st in exp.values("set"):
        ph, pl = by.get((st, hi)), by.get((st, lo))
        r = {"set": st, "ok": ph is not None,
             "latency_ms": ph["latency_ms"] if ph else None,
             "energy_mj": ph["energy_mj"] if ph else None,
             "speedup": pl["latency_ms"] / ph["latency_ms"] if ph and pl else None,
             "latency_lo_ms": pl["latency_ms"] if pl else None,
             "point": ph}
        if base is None and prof and is_default_set(st, prof) and ph:
            base = r
        rows.append(r)
    return rows, base, hi, lo


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def _x(v):
    """A ratio for a legend: 3 significant digits, no exponent."""
    return f"{v:,.0f}x" if v >= 100 else f"{v:.3g}x"


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "legend.fontsize": 8,
                         "axes.grid": True, "grid.alpha": 0.3})
    return plt


def _log2_chips(ax, chips):
    ax.set_xscale("log", base=2)
    ax.set_xticks(chips)
    ax.set_xticklabels([str(c) for c in chips])
    ax.minorticks_off()


def _plain_log_ticks(ax, top, base=2):
    """Ticks at powers of `base` labelled as plain numbers (1, 2, 4, ... instead of 2^k)."""
    from matplotlib.ticker import FixedLocator, NullLocator
    ticks = [base ** k for k in range(0, int(math.log(max(top, 1), base)) + 2)]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_yticklabels([f"{t:g}" for t in ticks])


def _save(fig, out, name, dpi):
    """PNG at `dpi`, reduced to a 256-colour palette when PIL is there (3x smaller files)."""
    import io
    import matplotlib.pyplot as plt
    path = out / name
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    try:
        from PIL import Image
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(colors=256)
        img.save(path, optimize=True)
    except ImportError:
        path.write_bytes(buf.getvalue())
    print(f"plot: {path}")
    return path


def _line_series(exps):
    """(experiment, label, points) for every non-sensitivity series."""
    for e in exps:
        if e.is_sensitivity:
            continue
        for label, pts in e.series().items():
            yield e, label, pts


def _styles():
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b2", "#937860", "#da8bc3",
              "#8c8c8c", "#ccb974", "#64b5cd"]
    i = 0
    while True:
        yield colors[i % len(colors)], ["o", "s", "^", "D", "v", "P"][i % 6]
        i += 1


def plot_speedup(exps, out, dpi):
    plt = _plt()
    series = [(e, l, pts) for e, l, pts in _line_series(exps) if len(pts) > 1]
    if not series:
        return None
    small = [s for s in series if max(p["chips"] for p in s[2]) <= 8]
    large = [s for s in series if max(p["chips"] for p in s[2]) > 8]
    panels = [x for x in (small, large) if x]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    for ax, group in zip(axes[0], panels):
        chips = sorted({p["chips"] for _, _, pts in group for p in pts})
        log = max(chips) > 8
        style = _styles()
        for e, label, pts in group:
            c, m = next(style)
            xs = [p["chips"] for p in pts if p.get("speedup") != ""]
            ys = [p["speedup"] for p in pts if p.get("speedup") != ""]
            ax.plot(xs, ys, marker=m, color=c, label=f"{label}: {_x(ys[-1])} at {xs[-1]}")
        ax.plot(chips, chips, "k--", lw=1, label="ideal (linear)")
        shown = set()
        for e, _, pts in group:
            key = (pts[0]["model"], max(p["chips"] for p in pts))
            for (model, n), v in PAPER_SPEEDUP.items():
                if model == pts[0]["model"] and n in {p["chips"] for p in pts} and (model, n) not in shown:
                    shown.add((model, n))
                    ax.plot([n], [v], marker="*", ms=14, color="black", ls="none",
                            label=f"paper: {model}, {n} chips, {v}x")
        if log:
            _log2_chips(ax, chips)
            ax.set_yscale("log", base=2)
            _plain_log_ticks(ax, max(max(p["speedup"] for p in pts if p.get("speedup") != "")
                                     for _, _, pts in group))
            ax.set_title("Speedup vs 1 chip, scaled sweep (log2 axes)")
        else:
            ax.set_xticks(chips)
            ax.set_title("Speedup vs 1 chip")
        ax.set_xlabel("chips")
        ax.set_ylabel("speedup (latency of 1 chip / latency of N chips)")
        ax.legend(loc="upper left")
    fig.tight_layout()
    return _save(fig, out, "speedup.png", dpi)


def plot_edp(exps, out, dpi):
    plt = _plt()
    series = list(_line_series(exps))
    if not series:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.6))
    chips = sorted({p["chips"] for _, _, pts in series for p in pts})
    style = _styles()
    for e, label, pts in series:
        c, m = next(style)
        xs = [p["chips"] for p in pts]
        a1.plot(xs, [p["edp_j_s"] for p in pts], marker=m, color=c,
                label=f"{label} ({unit_of(pts[0])})")
        g = [(p["chips"], p["edp_gain"]) for p in pts if p.get("edp_gain") != ""]
        if len(g) > 1:
            a2.plot(*zip(*g), marker=m, color=c, label=f"{label}: {_x(g[-1][1])} at {g[-1][0]}")
    for (model, n), v in PAPER_EDP_GAIN.items():
        if any(pts[0]["model"] == model and n in [p["chips"] for p in pts] for _, _, pts in series):
            a2.plot([n], [v], marker="*", ms=14, color="black", ls="none",
                    label=f"paper: {model}, {n} chips, {v}x")
    for ax in (a1, a2):
        _log2_chips(ax, chips)
        ax.set_yscale("log")
        ax.set_xlabel("chips")
    a1.set_ylabel("EDP (J s)")
    a1.set_title("Energy-delay product")
    a2.set_ylabel("EDP gain (EDP of 1 chip / EDP of N chips)")
    a2.set_title("EDP gain vs 1 chip")
    fig.tight_layout()
    for ax, x in ((a1, 0.27), (a2, 0.77)):
        fig.legend(*ax.get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(x, 0.0),
                   ncol=1, frameon=False)
    return _save(fig, out, "edp.png", dpi)


def plot_link(exps, out, dpi):
    plt = _plt()
    series = [(e, l, [p for p in pts if p["chips"] > 1]) for e, l, pts in _line_series(exps)]
    series = [s for s in series if s[2]]
    if not series:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.6))
    chips = sorted({p["chips"] for _, _, pts in series for p in pts})
    style = _styles()
    for e, label, pts in series:
        c, m = next(style)
        xs = [p["chips"] for p in pts]
        a1.plot(xs, [p["link_bytes"] / forwards(p["summary"]) / 1e6 for p in pts], marker=m,
                color=c, label=f"{label} ({unit_of(pts[0])})")
        a2.plot(xs, [100 * link_share(p["summary"]) for p in pts], marker=m, color=c)
    for ax in (a1, a2):
        _log2_chips(ax, chips)
        ax.set_xlabel("chips")
    a1.set_yscale("log")
    a1.set_ylabel("MB on the links per forward, all chips (1 MB = 10^6 B)")
    a1.set_title("Link traffic per forward (a decode step is one forward)")
    a2.set_ylabel("% of latency spent in link transfers")
    a2.set_ylim(0, 100)
    a2.set_title("Link time share of latency")
    fig.tight_layout()
    fig.legend(*a1.get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=3, frameon=False)
    return _save(fig, out, "link.png", dpi)


def _stacked(ax, labels, parts, order, colors, unit, totals_fmt):
    """Bars of 100 % stacked shares with the absolute total above each bar."""
    import numpy as np
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    totals = np.array([sum(p.values()) for p in parts])
    for k in order:
        vals = np.array([p.get(k, 0.0) for p in parts])
        share = np.where(totals > 0, 100 * vals / np.where(totals > 0, totals, 1), 0)
        if not share.any():
            continue
        ax.bar(x, share, bottom=bottom, color=colors[k], label=k, width=0.7, edgecolor="white",
               linewidth=0.5)
        for i, s in enumerate(share):
            if s >= 7:
                ax.text(x[i], bottom[i] + s / 2, f"{s:.0f}%", ha="center", va="center", fontsize=7)
        bottom += share
    for i, t in enumerate(totals):
        ax.text(x[i], 101, totals_fmt(t), ha="center", va="bottom", fontsize=7.5)
    ax.set_xticks(x)
    ax.set_xticklabels(labels)
    ax.set_ylim(0, 112)
    ax.set_ylabel(f"share of {unit} (%)")
    ax.grid(axis="x", visible=False)


def _fmt_ms(v):
    return f"{v:.3g} ms"


def _fmt_mj(v):
    return f"{v:.3g} mJ"


def plot_breakdown(exp, out, dpi):
    """One row per series (profile; or chips for a `set` sweep), latency and energy side by side;
    a `set` sweep has one panel per row instead, its x axis being the override."""
    plt = _plt()
    if not exp.ok:
        return None
    if exp.is_sensitivity:
        sets = exp.values("set")
        row_pts = {f"{exp.name}, {n} chip{'s' if n > 1 else ''}":
                   sorted([p for p in exp.ok if p["chips"] == n], key=lambda p: sets.index(p["set"]))
                   for n in sorted({p["chips"] for p in exp.ok})}
        n = len(row_pts)
        fig, axes = plt.subplots(2 * n, 1, figsize=(12, 3.3 * 2 * n + 1.0), squeeze=False)
        pairs = [(axes[2 * i][0], axes[2 * i + 1][0]) for i in range(n)]
    else:
        row_pts = exp.series()
        n = len(row_pts)
        fig, axes = plt.subplots(n, 2, figsize=(12, 3.4 * n + 0.6), squeeze=False)
        pairs = [(r[0], r[1]) for r in axes]
    for (lbl, pts), (a1, a2) in zip(row_pts.items(), pairs):
        unit = unit_of(pts[0])
        labels = [p["set"] if exp.is_sensitivity else str(p["chips"]) for p in pts]
        _stacked(a1, labels, [latency_groups_ms(p["summary"]) for p in pts], LATENCY_GROUPS,
                 LATENCY_COLORS, "latency", _fmt_ms)
        _stacked(a2, labels, [energy_terms_mj(p["summary"]) for p in pts], ENERGY_TERMS,
                 ENERGY_COLORS, "energy", _fmt_mj)
        a1.set_title(f"{lbl}: latency {unit}, by activity")
        a2.set_title(f"{lbl}: energy {unit}, by term")
        for a in (a1, a2):
            if exp.is_sensitivity:
                plt.setp(a.get_xticklabels(), rotation=20, ha="right", fontsize=8)
            else:
                a.set_xlabel("chips")
    fig.tight_layout()
    cols = [[a for a, _ in pairs], [b for _, b in pairs]]
    places = ((0, "lower left", (0.0, 1.0)), (1, "lower right", (1.0, 1.0)))
    for col, loc, anchor in places:
        handles = {}
        for a in cols[col]:
            for h, l in zip(*a.get_legend_handles_labels()):
                handles.setdefault(l, h)
        fig.legend(handles.values(), handles.keys(), loc=loc, bbox_to_anchor=anchor,
                   ncol=min(len(handles), 3 if col == 0 else 4), frameon=False, fontsize=8,
                   title="latency" if col == 0 else "energy", title_fontsize=8)
    return _save(fig, out, f"breakdown_{exp.name}.png", dpi)


def plot_memory(exp, out, dpi):
    plt = _plt()
    import numpy as np
    if not exp.ok or exp.is_sensitivity:
        return None
    series = exp.series()
    levels = ["L2", "MRAM", "L3"]
    fig, axes = plt.subplots(len(series), 3, figsize=(12, 3.1 * len(series) + 0.4), squeeze=False)
    for (lbl, pts), row in zip(series.items(), axes):
        x = np.arange(len(pts))
        for ax, level in zip(row, levels):
            mem = [memory_per_level(p["summary"], level) for p in pts]
            hw = np.array([m[0] for m in mem]) / 1e6
            w = np.array([m[1] for m in mem]) / 1e6
            cap = mem[0][2] / 1e6
            ax.bar(x, w, color="#4c72b0", width=0.6, label="weights")
            ax.bar(x, np.maximum(hw - w, 0), bottom=w, color="#dd8452", width=0.6,
                   label="KV cache + activations")
            top = max(hw.max(), 1e-3)
            title = f"{lbl}: {level}, cap {cap:,.2f} MB"
            if cap <= 10 * top:
                ax.axhline(cap, color="#c44e52", ls="--", lw=1.2, label="capacity (usable)")
                ax.set_ylim(0, cap * 1.15)
            else:
                ax.set_ylim(0, top * 1.25)
                title += " (off scale)"
            for i, v in enumerate(hw):
                ax.text(x[i], v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
            ax.set_xticks(x)
            ax.set_xticklabels([str(p["chips"]) for p in pts])
            ax.set_xlabel("chips")
            ax.set_ylabel("MB per chip (max over chips)")
            ax.set_title(title, fontsize=9)
            ax.grid(axis="x", visible=False)
    fig.tight_layout()
    handles = {}
    for ax in axes.flat:
        for h, l in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(l, h)
    fig.legend(handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=3, frameon=False)
    return _save(fig, out, f"memory_{exp.name}.png", dpi)


def plot_sensitivity(exp, out, dpi):
    plt = _plt()
    import numpy as np
    if not exp.is_sensitivity:
        return None
    rows, base, hi, lo = sensitivity_rows(exp)
    if base is None:
        print(f"plot: {exp.name}: no point equals the profile defaults; no sensitivity figure",
              file=sys.stderr)
        return None
    rows = [r for r in rows if r is not base and r["ok"] and r["speedup"] is not None]
    if not rows:
        return None
    metrics = [("latency_ms", f"latency per token, {hi} chips"),
               ("energy_mj", f"energy per token, {hi} chips"),
               ("speedup", f"speedup {hi} vs {lo} chip(s)")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.42 * len(rows) + 1.6), sharey=True)
    y = np.arange(len(rows))[::-1]
    for ax, (k, title) in zip(axes, metrics):
        ch = np.array([100 * (r[k] / base[k] - 1) for r in rows])
        ax.barh(y, ch, color=np.where(ch >= 0, "#c44e52", "#4c72b0"), height=0.6)
        lim = max(5, np.abs(ch).max() * 1.35)
        ax.set_xlim(-lim, lim)
        for yi, c in zip(y, ch):
            ax.text(c + (lim * 0.02 if c >= 0 else -lim * 0.02), yi, f"{c:+.1f}%", va="center",
                    ha="left" if c >= 0 else "right", fontsize=7.5)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"{title}\nbaseline {base[k]:.3g}" + {"latency_ms": " ms", "energy_mj": " mJ",
                                                           "speedup": "x"}[k])
        ax.set_xlabel("change vs baseline (%)")
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels([r["set"] for r in rows])
    fig.suptitle(f"{exp.name}: one assumed value changed at a time; baseline = profile defaults "
                 f"({base['set']})", fontsize=10)
    fig.tight_layout()
    return _save(fig, out, f"sensitivity_{exp.name}.png", dpi)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="sweep output directories (results/NAME), or a "
                    "directory holding them (results)")
    ap.add_argument("-o", "--out", default=str(ROOT / "experiments" / "plots"), help="output directory")
    ap.add_argument("--dpi", type=int, default=90)
    args = ap.parse_args()
    exps = load(args.results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for e in exps:
        if e.failed:
            first = first_error(e.failed[0])[:160]
            print(f"plot: {e.name}: {len(e.failed)} of {len(e.points)} points failed, left out "
                  f"(first: {e.failed[0]['id']}: {first})", file=sys.stderr)
        if not e.ok:
            print(f"plot: {e.name}: no successful point, no figures", file=sys.stderr)
    made = [plot_speedup(exps, out, args.dpi), plot_edp(exps, out, args.dpi),
            plot_link(exps, out, args.dpi)]
    for e in exps:
        made += [plot_breakdown(e, out, args.dpi), plot_memory(e, out, args.dpi),
                 plot_sensitivity(e, out, args.dpi)]
    made = [m for m in made if m]
    total = sum(m.stat().st_size for m in made)
    print(f"plot: {len(made)} figures, {total / 1024:.0f} KiB in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
