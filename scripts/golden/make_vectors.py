"""Write tests/data/kernel_vectors.h5: the golden test vectors of the int8 kernels.

Cases are drawn (deterministically: fixed seeds, numpy default_rng) for every kernel of
kernels/README.md, run through the golden model kernels.py, and written in the layout of
scripts/golden/README.md: one group per kernel, one subgroup per case, integer scalars as int64
attributes, arrays as datasets in their natural dtype, the expected output as dataset `want`, and
a string attribute `note` saying what the case covers.

    /usr/bin/python3 scripts/golden/make_vectors.py [-o PATH]

Each kernel gets random cases with realistic parameters (derived from quantization scales the
way kernels/README.md says) and edge cases: rounding ties of both signs, saturation at both
bounds, i32 extremes, shift 0, non-zero offsets of both signs, ragged lengths, special rows.
Every case respects the preconditions of the page (asserted here and in kernels.py).
"""

import argparse
import math
import os
import sys
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernels as K  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "kernel_vectors.h5"

I8_MIN, I8_MAX = K.I8_MIN, K.I8_MAX
I32_MIN, I32_MAX = K.I32_MIN, K.I32_MAX
RAGGED = (1, 3, 15, 17, 31, 33, 63, 65, 127, 129)   # not multiples of any SIMD width

# The layout table of scripts/golden/README.md: attributes, datasets (dtype; optional ones
# are only present when has_bias is 1) and the dtype of `want`.
I8, I16, I32, I64 = np.int8, np.int16, np.int32, np.int64
LAYOUT = {
    "rqs": ("zx mul add shift zy lo hi", {"x": I32}, {}, I8),
    "rqs_per_channel": ("zx shift zy lo hi rows channels",
                        {"x": I32, "mul": I32, "add": I32}, {}, I8),
    "rqs_overflow": ("zx mul add shift zy lo hi", {"x": I32}, {}, I64),
    "gemv": ("out in x_off w_off has_bias", {"W": I8, "x": I8}, {"bias": I32}, I32),
    "gemm": ("M N K lda ldb ldy a_off b_off has_bias", {"A": I8, "B": I8}, {"bias": I32}, I32),
    "add_rq": ("za zb mul_a mul_b add shift zy lo hi", {"a": I8, "b": I8}, {}, I8),
    "mul_rq": ("za zb mul add shift zy lo hi", {"a": I8, "b": I8}, {}, I8),
    "relu": ("z", {"x": I8}, {}, I8),
    "gelu": ("zx b one", {"x": I8}, {}, I32),
    "hswish": ("zx three six", {"x": I8}, {}, I32),
    "softmax_ibert": ("rows n ld A B C log2", {"x": I8}, {}, I8),
    "softmax_itamax": ("rows n ld", {"x": I8}, {}, I8),
    "rmsnorm": ("rows D zx log2D zy k", {"x": I8, "w": I32}, {}, I8),
    "layernorm": ("rows D zx log2D zy k", {"x": I8, "w": I32, "bias": I32}, {}, I8),
    "nonorm": ("rows D zx shift zy lo hi", {"x": I8, "mul": I32, "add": I32}, {}, I8),
    "rope": ("n_heads head_dim zx mul add shift zy lo hi",
             {"x": I8, "cos": I16, "sin": I16}, {}, I8),
    "embedding": ("rows dim row", {"table": I8}, {}, I8),
    "argmax": ("", {"x": I32}, {}, I64),
}


# --------------------------------------------------------------------------------------------
# Case collection
# --------------------------------------------------------------------------------------------

class Vectors:
    """The cases of every kernel, validated against LAYOUT as they are added."""

    def __init__(self):
        self.groups = {k: {} for k in LAYOUT}

    def add(self, kernel, name, note, attrs, data, want):
        attr_names, required, optional, want_dtype = LAYOUT[kernel]
        assert name not in self.groups[kernel], f"duplicate case {kernel}/{name}"
        assert set(attrs) == set(attr_names.split()), f"{kernel}/{name}: attributes {attrs}"
        for key, v in attrs.items():
            assert int(v) == v and I32_MIN <= int(v) <= I32_MAX, f"{kernel}/{name}: {key}={v}"
        expected = dict(required)
        if attrs.get("has_bias"):
            expected.update(optional)
        assert set(data) == set(expected), f"{kernel}/{name}: datasets {sorted(data)}"
        for key, arr in data.items():
            assert arr.dtype == expected[key], f"{kernel}/{name}: {key} is {arr.dtype}"
        want = np.asarray(want)
        assert want.dtype == want_dtype, f"{kernel}/{name}: want is {want.dtype}"
        # Copies: a builder may go on modifying its arrays for the next case.
        data = {key: arr.copy() for key, arr in data.items()}
        self.groups[kernel][name] = (note, {k: int(v) for k, v in attrs.items()}, data,
                                     want.copy())

    def count(self):
        return {k: len(v) for k, v in self.groups.items()}


def write_h5(vectors, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", track_order=False) as f:
        for kernel, cases in vectors.groups.items():
            g = f.create_group(kernel)
            for name, (note, attrs, data, want) in sorted(cases.items()):
                c = g.create_group(name)
                c.attrs["note"] = note
                for key, v in attrs.items():
                    c.attrs.create(key, np.int64(v), dtype=np.int64)
                for key, arr in list(data.items()) + [("want", want)]:
                    big = arr.nbytes > 1024
                    c.create_dataset(key, data=arr, dtype=arr.dtype, track_times=False,
                                     compression="gzip" if big else None,
                                     compression_opts=9 if big else None)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def i8s(rng, shape, lo=I8_MIN, hi=I8_MAX):
    return rng.integers(lo, hi + 1, size=shape).astype(I8)


def i8_normal(rng, shape, std, mean=0.0):
    return np.clip(np.rint(rng.normal(mean, std, size=shape)), I8_MIN, I8_MAX).astype(I8)


def i32(a):
    a = np.asarray(a, dtype=np.int64)
    assert a.size == 0 or (a.min() >= I32_MIN and a.max() <= I32_MAX)
    return a.astype(I32)


def round_add(shift):
    """The rounding term 1 << (shift-1) folded into `add` (0 for shift 0)."""
    return (1 << (shift - 1)) if shift > 0 else 0


def mul_for(ratio, shift):
    """The integer multiplier of a RequantShift with real scale `ratio` and `shift`."""
    mul = int(round(ratio * 2 ** shift))
    assert 1 <= mul <= I32_MAX, (ratio, shift, mul)
    return mul


def ties(pre, shift):
    """(positive, negative) counts of exact rounding ties: pre / 2^shift = k + 1/2."""
    pre = np.asarray(pre, dtype=np.int64)
    half = pre & ((1 << shift) - 1) == (1 << (shift - 1))
    return int(np.count_nonzero(half & (pre > 0))), int(np.count_nonzero(half & (pre < 0)))


def assert_ties(pre, shift):
    pos, neg = ties(pre, shift)
    assert pos > 0 and neg > 0, f"tie case without ties of both signs ({pos}, {neg})"


def assert_saturates(y, lo, hi):
    y = np.asarray(y)
    assert np.any(y == lo) and np.any(y == hi), "saturation case without both bounds"


def gelu_consts(s_x):
    """b and one of the I-BERT i-GELU from the input scale (kernels/README.md)."""
    s_erf = s_x / math.sqrt(2.0)
    b = math.floor(-1.769 / s_erf)
    one = -math.floor(1.0 / (-0.2888 * s_erf ** 2))
    return b, one


def softmax_consts(s):
    """A, B, C, log2 of the I-BERT softmax from the input scale (kernels/README.md)."""
    return 1, math.floor(1.353 / s), math.floor(0.344 / (0.3585 * s * s)), \
        math.floor(math.log(2.0) / s)


def gemv_precondition(n_in, *offsets):
    """kernels/README.md: in * (128 + |off|)^2 < 2^31, for each operand's offset."""
    return all(n_in * (128 + abs(off)) ** 2 < 2 ** 31 for off in offsets)


# --------------------------------------------------------------------------------------------
# Requantization
# --------------------------------------------------------------------------------------------

def build_rqs(V):
    rng = np.random.default_rng(1001)

    def add(name, note, x, zx, mul, add_, shift, zy, lo=I8_MIN, hi=I8_MAX):
        x = i32(x)
        want = K.rqs(x, zx, mul, add_, shift, zy, lo, hi)
        V.add("rqs", name, note, dict(zx=zx, mul=mul, add=add_, shift=shift, zy=zy, lo=lo, hi=hi),
              {"x": x}, want)
        return want

    # Random accumulators with realistic constants: one case per ragged length and shift.
    shifts = (8, 11, 14, 17, 20, 23, 26, 29, 31, 12)
    for n, shift in zip(RAGGED, shifts):
        lx = rng.uniform(max(6, shift + 7 - 30), min(30, shift + 7 - 2))
        xmax = 2.0 ** lx
        mul = mul_for(127.0 / xmax, shift)
        x = np.clip(np.rint(rng.normal(0, xmax / 2.5, n)), -1.3 * xmax, 1.3 * xmax)
        zx = int(rng.integers(-100, 101)) if n % 2 else 0
        zy = int(rng.integers(-10, 11))
        add(f"rand_n{n}_s{shift}", f"random accumulators, n={n}, shift {shift}, "
            f"mul {mul} spreading |x|<={int(xmax)} over i8, rounding add",
            x, zx, mul, round_add(shift), shift, zy)
    # Realistic GEMV output with the bias folded into add, long vector.
    shift = 24
    mul = mul_for(127.0 / 30000, shift)
    x = np.rint(rng.normal(0, 12000, 768))
    bias_term = mul * 1500
    add("rand_n768_bias_in_add", "n=768, add = bias*mul + (1 << (shift-1)) as the quantizer "
        "folds it", x, 0, mul, bias_term + round_add(shift), shift, -3)

    # Rounding ties: (x+zx)*mul = (2k+1) * 2^(shift-1), with add = 1 << (shift-1).
    k = np.arange(-40, 40)
    x = (2 * k + 1) * 128
    x = np.concatenate([x, x + 1, x - 1])
    add("tie_mul1_s8", "exact ties k+1/2 of both signs (and +-1 around them), mul 1, "
        "shift 8: round half up", x, 0, 1, 128, 8, 0)
    assert_ties(x, 8)
    zx, shift, mul = -37, 20, 1 << 7
    pre = (2 * k + 1) << (shift - 1)
    x = pre // mul - zx
    add("tie_pow2mul_s20_zx", "exact ties of both signs with mul 2^7, shift 20, zx -37, zy 3",
        x, zx, mul, round_add(shift), shift, 3)
    assert_ties((x + zx) * mul, shift)
    odd = np.arange(-83, 84, 2)
    zx, shift = 50, 16
    x = odd * (1 << (shift - 1)) - zx
    add("tie_oddmul_s16", "exact ties of both signs with odd mul 3 (x+zx = odd * 2^15), zx 50",
        x, zx, 3, round_add(shift), shift, 0)
    assert_ties((x + zx) * 3, shift)

    # Saturation and clamp bounds.
    shift = 18
    mul = mul_for(127.0 / 5000, shift)
    x = np.rint(rng.normal(0, 12000, 200))
    y = add("sat_both", "|x| up to ~5x the calibrated range: saturates at -128 and 127",
            x, 0, mul, round_add(shift), shift, 0)
    assert_saturates(y, -128, 127)
    y = add("bounds_sym", "symmetric clamp lo=-127, hi=127", x, 0, mul, round_add(shift), shift, 0,
            -127, 127)
    assert_saturates(y, -127, 127)
    y = add("bounds_relu", "fused ReLU clamp lo=0, hi=127", x, 0, mul, round_add(shift), shift, 0,
            0, 127)
    assert_saturates(y, 0, 127)
    y = add("bounds_narrow", "narrow clamp lo=-100, hi=50 with zy=-20", x, 0, mul,
            round_add(shift), shift, -20, -100, 50)
    assert_saturates(y, -100, 50)

    # i32 extremes as inputs.
    ext = np.array([I32_MIN, I32_MIN + 1, -(1 << 30), -(1 << 30) - 1, -2, -1, 0, 1, 2,
                    (1 << 30) - 1, 1 << 30, I32_MAX - 1, I32_MAX])
    add("i32_extremes_s31", "x at INT32_MIN/INT32_MAX, mul 1, shift 31, add 2^30 "
        "(t leaves i32: computed in i64)", ext, 0, 1, 1 << 30, 31, 0)
    add("i32_extremes_mul3_s26", "x at INT32_MIN/INT32_MAX, mul 3, shift 26, zy 5 "
        "(t leaves i32: computed in i64)", ext, 0, 3, round_add(26), 26, 5)
    add("i32_extremes_s0", "x at INT32_MIN/INT32_MAX, mul 1, shift 0, add 0: clamp only",
        ext, 0, 1, 0, 0, 0)
    add("x_plus_zx_beyond_i32", "zx = 2^30 with x up to INT32_MAX: x+zx itself leaves i32; "
        "the page computes t = (x+zx)*mul+add in i64", ext, 1 << 30, 1, round_add(31), 31, 0)

    # shift 0, offsets of both signs, negative multiplier.
    x = np.arange(-140, 141)
    add("shift0_mul1", "shift 0, mul 1, add 0, zx -3, zy 2: y = clamp(x - 1)", x, -3, 1, 0, 0, 2)
    add("shift0_mul2_addneg", "shift 0, mul 2, add -1, zx 4, zy -6", x, 4, 2, -1, 0, -6)
    shift = 16
    mul = mul_for(127.0 / 3000, shift)
    x = np.rint(rng.normal(0, 1500, 100))
    add("zp_pos", "input offset zx=+1000, output offset zy=+37", x, 1000, mul, round_add(shift),
        shift, 37)
    add("zp_neg", "input offset zx=-1000, output offset zy=-41", x, -1000, mul, round_add(shift),
        shift, -41)
    add("neg_mul", "negative multiplier (mul is any i32 in the formula)", x, 0, -mul,
        round_add(shift), shift, 0)


def build_rqs_per_channel(V):
    rng = np.random.default_rng(1002)

    def add(name, note, x, zx, mul, add_, shift, zy, rows, channels, lo=I8_MIN, hi=I8_MAX):
        x, mul, add_ = i32(x).ravel(), i32(mul), i32(add_)
        want = K.rqs_per_channel(x, zx, mul, add_, shift, zy, lo, hi, channels)
        V.add("rqs_per_channel", name, note,
              dict(zx=zx, shift=shift, zy=zy, lo=lo, hi=hi, rows=rows, channels=channels),
              {"x": x, "mul": mul, "add": add_}, want)
        return want

    shapes = [(1, 1), (3, 17), (4, 64), (2, 129), (7, 33), (1, 288), (5, 15), (2, 65)]
    shifts = [9, 14, 18, 22, 26, 31, 12, 20]
    for (rows, ch), shift in zip(shapes, shifts):
        xmax = 2.0 ** rng.uniform(max(8, shift - 14), min(28, shift + 3))
        ratio = 127.0 / xmax * 2.0 ** rng.uniform(-1.5, 1.5, ch)    # per-channel scales
        mul = np.array([mul_for(r, shift) for r in ratio])
        x = np.clip(np.rint(rng.normal(0, xmax / 2.5, (rows, ch))), -2 * xmax, 2 * xmax)
        bias = rng.integers(-50, 51, ch)
        zx = int(rng.integers(-64, 65)) if rows % 2 else 0
        add(f"rand_{rows}x{ch}_s{shift}",
            f"random per-channel scales, {rows} rows x {ch} channels, shift {shift}, "
            "add = bias*mul + rounding", x, zx, mul, bias * mul + round_add(shift), shift,
            int(rng.integers(-5, 6)), rows, ch)

    # Ties per channel: mul[c] = 1, 2, 4, 3; (x+zx)*mul[c] = odd * 2^(shift-1).
    shift, zx, rows = 10, 7, 30
    mul = np.array([1, 2, 4, 3])
    odd = 2 * rng.integers(-60, 60, size=(rows, 4)) + 1
    pow2 = np.array([1, 2, 4, 1])
    x = odd * ((1 << (shift - 1)) // pow2)[None, :] - zx
    add("tie_4ch", "exact ties of both signs in every channel (mul 1, 2, 4, 3), shift 10, zx 7",
        x, zx, mul, np.full(4, round_add(shift)), shift, -1, rows, 4)
    assert_ties((x + zx) * mul[None, :], shift)

    shift, ch, rows = 16, 5, 12
    mul = np.array([mul_for(127.0 / 1000 * f, shift) for f in (0.5, 1, 2, 4, 8)])
    x = np.rint(rng.normal(0, 3000, (rows, ch)))
    y = add("sat_both", "channels with growing gain saturate at both bounds", x, 0, mul,
            np.full(ch, round_add(shift)), shift, 0, rows, ch)
    assert_saturates(y, -128, 127)
    y = add("bounds_relu_zp", "clamp lo=0, hi=127 with zx=-200, zy=+9", x, -200, mul,
            np.full(ch, round_add(shift)), shift, 9, rows, ch, 0, 127)
    assert_saturates(y, 0, 127)
    x = np.arange(-150, 150).reshape(100, 3)
    add("shift0", "shift 0, mul (1, 1, 2), add (0, 5, -3), zy -2", x, 0, np.array([1, 1, 2]),
        np.array([0, 5, -3]), 0, -2, 100, 3)
    ext = np.array([I32_MIN, I32_MIN + 1, -1, 0, 1, I32_MAX - 1, I32_MAX, 12345]).reshape(4, 2)
    add("i32_extremes", "x at INT32_MIN/INT32_MAX, mul (1, 2), shift 31 (t computed in i64)",
        ext, 0, np.array([1, 2]), np.array([1 << 30, 1 << 30]), 31, 0, 4, 2)
    x = np.rint(rng.normal(0, 2000, (6, 7)))
    mul = np.array([mul_for(127.0 / 4000 * f, 15) for f in rng.uniform(0.5, 2, 7)])
    add("zp_neg", "zx=-3000, zy=-60, mixed per-channel add", x, -3000, mul,
        rng.integers(-20000, 20000, 7) + round_add(15), 15, -60, 6, 7)


def build_rqs_overflow(V):
    rng = np.random.default_rng(1003)

    def add(name, note, x, zx, mul, add_, shift=16, zy=0, lo=I8_MIN, hi=I8_MAX, expect=None):
        x = i32(x)
        v = x.astype(np.int64) + zx
        assert np.all((v >= I32_MIN) & (v <= I32_MAX)), "x + zx itself must fit in i32"
        count = K.rqs_overflow_count(x, zx, mul, add_)
        if expect is not None:
            assert count == expect, (name, count, expect)
        V.add("rqs_overflow", name, note, dict(zx=zx, mul=mul, add=add_, shift=shift, zy=zy,
                                                   lo=lo, hi=hi),
              {"x": x}, np.array([count], dtype=np.int64))

    shift = 20
    mul = mul_for(127.0 / 40000, shift)
    x = np.rint(rng.normal(0, 15000, 300))
    add("realistic_none", "calibrated constants: no element leaves i32", x, 0, mul,
        round_add(shift), shift, expect=0)
    x2 = x.copy()
    x2[[3, 50, 51, 299]] = [700000, -700000, 2000000000, I32_MIN]
    add("realistic_four", "calibrated constants, four outliers whose product leaves i32", x2, 0,
        mul, round_add(shift), shift, expect=4)
    big = 1 << 20
    x = rng.integers(-6000, 6000, 257)
    expect = int(np.count_nonzero((x >= 2048) | (x <= -2049)))
    add("many", "mul 2^20, add 2^19, |x| < 6000: the elements with x >= 2048 or x <= -2049 "
        "overflow (x = -2048 gives exactly INT32_MIN)", x, 0, big, 1 << 19, 20, expect=expect)
    # product fits, + add leaves; product leaves, + add comes back (still counted).
    add("add_only_pos", "(x+zx)*mul fits in i32 but +add leaves it (counted)",
        [I32_MAX - 5, I32_MAX - 99, I32_MAX - 100, 0, -5], 0, 1, 100, expect=2)
    add("add_only_neg", "(x+zx)*mul fits in i32 but +add (negative) leaves it (counted)",
        [I32_MIN + 5, I32_MIN + 99, I32_MIN + 100, 0, 5], 0, 1, -100, expect=2)
    add("product_only", "(x+zx)*mul leaves i32 but (x+zx)*mul+add is back inside (counted)",
        [1 << 30, (1 << 30) + 20, (1 << 30) - 1, 0, -5], 0, 2, -100, expect=2)
    # Exact boundaries.
    add("boundary_mul_neg1", "mul -1: only -INT32_MIN = 2^31 leaves i32",
        [I32_MIN, I32_MIN + 1, -1, 0, 1, I32_MAX], 0, -1, 0, expect=1)
    add("boundary_mul2", "mul 2: products -2^31 and 2^31-2 fit, -2^31-2 and 2^31 leave",
        [-(1 << 30), -(1 << 30) - 1, (1 << 30) - 1, 1 << 30, 0], 0, 2, 0, expect=2)
    add("boundary_add1", "mul 1, add +1: only INT32_MAX + 1 leaves",
        [I32_MAX, I32_MAX - 1, I32_MIN, 0], 0, 1, 1, expect=1)
    add("boundary_zx", "zx=+1000, add 1: x = INT32_MAX-1000 reaches INT32_MAX and +add leaves "
        "(x+zx itself always fits in i32)",
        [I32_MAX - 1000, I32_MAX - 1001, I32_MAX - 999 - 1000, -5], 1000, 1, 1, expect=1)
    x = rng.integers(-100, 100, 40)
    x[x == 0] = 1
    add("all", "huge mul: every non-zero element overflows", x, 0, 1 << 30, 0, 30, expect=40)


# --------------------------------------------------------------------------------------------
# GEMV and GEMM
# --------------------------------------------------------------------------------------------

def build_gemv(V):
    rng = np.random.default_rng(1004)

    def add(name, note, W, x, bias, x_off, w_off):
        n_out, n_in = W.shape
        assert gemv_precondition(n_in, x_off, w_off), name
        want = K.gemv(W, x, bias, x_off, w_off)
        data = {"W": W, "x": x}
        if bias is not None:
            data["bias"] = i32(bias)
        V.add("gemv", name, note, {"out": n_out, "in": n_in, "x_off": x_off, "w_off": w_off,
                                   "has_bias": int(bias is not None)}, data, want)

    def rand_case(n_out, n_in, has_bias, x_off, w_off, note=""):
        W, x = i8_normal(rng, (n_out, n_in), 40), i8s(rng, n_in)
        bias = rng.integers(-200000, 200001, n_out) if has_bias else None
        tag = f"{n_out}x{n_in}" + ("_bias" if has_bias else "") + \
            ("_off" if x_off or w_off else "")
        add(tag, f"random {n_out}x{n_in}, {'with' if has_bias else 'no'} bias, "
            f"x_off {x_off}, w_off {w_off}{note}", W, x, bias, x_off, w_off)

    rand_case(7, 13, True, 0, 0)
    rand_case(64, 64, False, 0, 0)
    rand_case(33, 129, True, -5, 3)
    rand_case(1, 1, False, 0, 0)
    rand_case(1, 1, True, 17, -9)
    rand_case(512, 64, True, 0, 0, " (large out)")
    rand_case(64, 64, True, 128, 0, " (x from a softmax with zero point -128)")
    rand_case(16, 288, True, -37, 0)
    rand_case(8, 768, False, 0, -2)
    for n_out, n_in in zip((3, 5, 4, 6, 2, 8, 3, 2), (3, 15, 17, 31, 33, 63, 65, 127)):
        xo, wo = int(rng.integers(-20, 21)), int(rng.integers(-5, 6))
        rand_case(n_out, n_in, bool(n_in % 3), xo, wo, " (ragged length)")

    # Extremes: largest sums of both signs, and offsets near the i32 precondition bound.
    W = np.full((3, 129), -128, I8)
    x = np.full(129, -128, I8)
    x[-1] = 127
    add("extreme_minmin", "W = -128, x = -128 (last 127): largest positive products",
        W, x, None, 0, 0)
    W[1] = 127
    add("extreme_mixed", "rows of -128 and 127 against x = -128", W, x,
        np.array([-(1 << 24), 0, 1 << 24]), 0, 0)
    off = 5600                       # 64 * (128 + 5600)^2 = 2.0998e9 < 2^31
    W, x = np.full((2, 64), -128, I8), np.full(64, -128, I8)
    W[1] = 127
    add("near_bound_pos_off", "in=64, x_off=w_off=-5600 with -128 inputs: sum ~2.1e9 < 2^31",
        W, x, None, -off, -off)
    add("near_bound_neg", "in=64, x_off=-5600, w_off=+5600: sum ~ -2.1e9", W, x, None,
        -off, off)


def build_gemm(V):
    rng = np.random.default_rng(1005)

    def add(name, note, M, N, Kd, lda, ldb, ldy, a_off, b_off, has_bias, A=None, B=None):
        assert gemv_precondition(Kd, a_off, b_off), name
        if A is None:
            A = i8s(rng, M * lda)                      # padding (k >= K) is random junk
        if B is None:
            B = i8s(rng, N * ldb)
        bias = rng.integers(-100000, 100001, N) if has_bias else None
        want = K.gemm(A, B, bias, M, N, Kd, lda, ldb, ldy, a_off, b_off)
        data = {"A": A, "B": B}
        if has_bias:
            data["bias"] = i32(bias)
        V.add("gemm", name, note, dict(M=M, N=N, K=Kd, lda=lda, ldb=ldb, ldy=ldy, a_off=a_off,
                                       b_off=b_off, has_bias=int(has_bias)), data, want)

    add("1x1x1", "M=N=K=1, dense", 1, 1, 1, 1, 1, 1, 0, 0, False)
    add("dense_3x5x7_bias", "dense 3x5x7 (lda=ldb=K, ldy=N) with bias", 3, 5, 7, 7, 7, 5,
        0, 0, True)
    add("padded_4x6x16", "lda 20, ldb 48 > K=16 (junk in padding), ldy 8 > N=6, offsets",
        4, 6, 16, 20, 48, 8, -3, 7, True)
    add("qk_decode", "Q.K^T decode: M=1, N=33 cached keys, K=head_dim 48 read in place from a "
        "6-head cache (ldb 288), ldy 64", 1, 33, 48, 48, 288, 64, 0, 0, False)
    add("qk_prefill", "Q.K^T prefill: 16x16x48, lda=ldb=288 (heads interleaved), ldy 16",
        16, 16, 48, 288, 288, 16, 0, 0, False)
    P = i8s(rng, 16 * 64)
    add("av_softmax", "A.V: probabilities (zero point -128, a_off 128) 16x16 from a 64-wide "
        "score buffer, V^T cache ldb 64, output into a 288-wide row (ldy)", 16, 48, 16, 64, 64,
        288, 128, 0, False, A=P)
    for i, Kd in enumerate((15, 17, 31, 33, 63, 65, 127, 129)):
        M, N = int(rng.integers(1, 6)), int(rng.integers(1, 9))
        pads = rng.integers(0, 4, 3) if i % 2 else (0, 0, 0)
        a_off, b_off = (int(rng.integers(-30, 31)), int(rng.integers(-30, 31))) if i % 3 else (0, 0)
        add(f"ragged_K{Kd}", f"ragged K={Kd}, M={M}, N={N}, padding {tuple(int(p) for p in pads)}",
            M, N, Kd, Kd + int(pads[0]), Kd + int(pads[1]), N + int(pads[2]), a_off, b_off,
            bool(i % 2 == 0))
    A, B = np.full(2 * 70, -128, I8), np.full(3 * 66, -128, I8)
    B[66:132] = 127
    add("extreme_minmax", "all -128 against rows of -128 / 127 / -128, K=64, lda 70, ldb 66",
        2, 3, 64, 70, 66, 4, 0, 0, True, A=A, B=B)
    off = 5600
    add("near_bound_offsets", "K=64 with a_off=-5600, b_off=+5600: |sums| ~2.1e9 < 2^31",
        2, 3, 64, 64, 64, 3, -off, off, False, A=np.full(128, -128, I8),
        B=np.repeat(np.array([-128, 127, -128], I8), 64))


# --------------------------------------------------------------------------------------------
# Element-wise
# --------------------------------------------------------------------------------------------

def build_add_rq(V):
    rng = np.random.default_rng(1006)

    def add(name, note, a, b, za, zb, mul_a, mul_b, add_, shift, zy, lo=I8_MIN, hi=I8_MAX):
        a, b = np.asarray(a).astype(I8), np.asarray(b).astype(I8)
        want = K.add_rq(a, b, za, zb, mul_a, mul_b, add_, shift, zy, lo, hi)
        V.add("add_rq", name, note, dict(za=za, zb=zb, mul_a=mul_a, mul_b=mul_b, add=add_,
                                         shift=shift, zy=zy, lo=lo, hi=hi), {"a": a, "b": b}, want)
        return want

    for n, shift in zip(RAGGED, (16, 18, 20, 22, 24, 12, 14, 26, 30, 17)):
        s_a, s_b = rng.uniform(0.01, 0.1, 2)
        s_y = rng.uniform(0.8, 1.6) * max(s_a, s_b)
        za, zb, zy = (int(v) for v in rng.integers(-10, 11, 3))
        add(f"rand_n{n}_s{shift}", f"residual add, scales {s_a:.3f} + {s_b:.3f} -> {s_y:.3f}, "
            f"n={n}, shift {shift}, offsets", i8s(rng, n), i8s(rng, n), za, zb,
            mul_for(s_a / s_y, shift), mul_for(s_b / s_y, shift), round_add(shift), shift, zy)
    g = np.arange(-128, 128)
    add("grid_256", "every a against a permutation of every b, mul 2^9 each, shift 10 "
        "(y = round((a+b)/2))", g, rng.permutation(g), 0, 0, 1 << 9, 1 << 9, round_add(10), 10, 0)
    a, b = np.meshgrid(np.arange(-20, 21), np.arange(-20, 21))
    add("tie_both_signs", "mul_a = mul_b = 2^9, shift 10: odd a+b gives exact ties of both "
        "signs (round half up)", a.ravel(), b.ravel(), 0, 0, 1 << 9, 1 << 9, round_add(10), 10, 0)
    assert_ties((a.ravel() + b.ravel()) << 9, 10)
    a = np.array([127, -128, 127, -128, 100, -100, 0])
    b = np.array([127, -128, 100, -100, 127, -128, 0])
    y = add("sat_both", "large gains: saturation at both bounds", a, b, 0, 0, 3 << 16, 3 << 16,
            round_add(17), 17, 0)
    assert_saturates(y, -128, 127)
    y = add("bounds_narrow_zp", "lo=-64, hi=64, za=+30, zb=-30, zy=+5", a, b, 30, -30,
            1 << 16, 1 << 16, round_add(17), 17, 5, -64, 64)
    assert_saturates(y, -64, 64)
    add("shift0_sub", "shift 0, mul_a 1, mul_b -1, add 0: y = clamp(a - b)", g, g[::-1], 0, 0,
        1, -1, 0, 0, 0)
    add("zp_large", "za=-128, zb=+128 (u8-style offsets), zy=-128",
        i8s(rng, 64), i8s(rng, 64), -128, 128, 3 << 20, 5 << 19, round_add(23), 23, -128)


def build_mul_rq(V):
    rng = np.random.default_rng(1007)

    def add(name, note, a, b, za, zb, mul, add_, shift, zy, lo=I8_MIN, hi=I8_MAX):
        a, b = np.asarray(a).astype(I8), np.asarray(b).astype(I8)
        want = K.mul_rq(a, b, za, zb, mul, add_, shift, zy, lo, hi)
        V.add("mul_rq", name, note, dict(za=za, zb=zb, mul=mul, add=add_, shift=shift, zy=zy,
                                         lo=lo, hi=hi), {"a": a, "b": b}, want)
        return want

    for n, shift in zip(RAGGED, (16, 18, 20, 22, 24, 26, 28, 30, 31, 19)):
        s_a, s_b = rng.uniform(0.01, 0.1, 2)
        s_y = s_a * s_b * 128 * rng.uniform(0.6, 1.5)
        za, zb, zy = (int(v) for v in rng.integers(-8, 9, 3))
        add(f"rand_n{n}_s{shift}", f"gating product, scales {s_a:.3f} * {s_b:.3f} -> "
            f"{s_y:.5f}, n={n}, shift {shift}, offsets", i8s(rng, n), i8s(rng, n), za, zb,
            mul_for(s_a * s_b / s_y, shift), round_add(shift), shift, zy)
    a, b = np.meshgrid(np.arange(-128, 128, 4), np.arange(-128, 128, 4))
    add("grid_64x64", "a grid of 64x64 products (every 4th value), mul/2^shift = 1/128",
        a.ravel(), b.ravel(), 0, 0, 1 << 8, round_add(15), 15, 0)
    a, b = np.meshgrid(np.arange(-15, 16), np.arange(-15, 16))
    add("tie_both_signs", "mul = 2^9, shift 10: odd products give exact ties of both signs",
        a.ravel(), b.ravel(), 0, 0, 1 << 9, round_add(10), 10, 0)
    assert_ties((a.ravel() * b.ravel()) << 9, 10)
    a = np.array([127, -128, 127, -128, 5, 0])
    b = np.array([127, -128, -128, 127, -5, 0])
    y = add("sat_both", "mul/2^shift = 1/64: saturation at both bounds", a, b, 0, 0, 1,
            round_add(6), 6, 0)
    assert_saturates(y, -128, 127)
    add("shift0", "shift 0, mul 1, add 0: y = clamp(a*b), zy -3", a, b, 0, 0, 1, 0, 0, -3)
    add("zp_both_signs", "za=+128, zb=-37 (non-zero offsets of both signs), zy=+11",
        i8s(rng, 33), i8s(rng, 33), 128, -37, 3, round_add(10), 10, 11)
    add("bounds_relu", "clamp lo=0, hi=127", i8s(rng, 40), i8s(rng, 40), 0, 0, 1 << 3,
        round_add(9), 9, 0, 0, 127)


def build_relu(V):
    rng = np.random.default_rng(1008)
    full = np.arange(-128, 128).astype(I8)
    for z in (0, -128, 127, -5, 40):
        V.add("relu", f"full_z{z}".replace("-", "m"), f"every i8 input, zero point z={z}",
              {"z": z}, {"x": full}, K.relu(full, z))
    for n, z in zip((1, 17, 63), (0, 3, -100)):
        x = i8s(rng, n)
        V.add("relu", f"rand_n{n}", f"random, ragged n={n}, z={z}", {"z": z}, {"x": x},
              K.relu(x, z))


def build_gelu(V):
    rng = np.random.default_rng(1009)
    full = np.arange(-128, 128).astype(I8)

    def add(name, note, x, zx, s_x):
        b, one = gelu_consts(s_x)
        V.add("gelu", name, f"{note}; s_x={s_x}: b={b}, one={one}", dict(zx=zx, b=b, one=one),
              {"x": x}, K.gelu(x, zx, b, one))

    for s in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2):
        add(f"full_s{s}", "every i8 input, zx=0 (|v| >= -b saturates when -b < 128)", full, 0, s)
    add("zp_pos", "every i8 input, zx=+10", full, 10, 0.05)
    add("zp_neg", "every i8 input, zx=-20", full, -20, 0.02)
    add("zp_128", "every i8 input, zx=+128 (v in 0..255)", full, 128, 0.03)
    for n, s in zip((1, 15, 33, 127), (0.04, 0.08, 0.015, 0.12)):
        add(f"rand_n{n}", f"random, ragged n={n}", i8_normal(rng, n, 40), int(rng.integers(-5, 6)),
            s)


def build_hswish(V):
    rng = np.random.default_rng(1010)
    full = np.arange(-128, 128).astype(I8)

    def add(name, note, x, zx, s_x):
        three = int(math.floor(3.0 / s_x + 0.5))
        six = 2 * three
        V.add("hswish", name, f"{note}; s_x={s_x}: three={three}, six={six}",
              dict(zx=zx, three=three, six=six), {"x": x}, K.hswish(x, zx, three, six))

    for s in (0.01, 0.02, 0.05, 0.1, 0.2):
        add(f"full_s{s}", "every i8 input, zx=0 (both clamp bounds of relu6 when 2*three < 128)",
            full, 0, s)
    add("zp_pos", "every i8 input, zx=+25", full, 25, 0.04)
    add("zp_neg", "every i8 input, zx=-60", full, -60, 0.04)
    for n, s in zip((3, 31, 65), (0.03, 0.07, 0.15)):
        add(f"rand_n{n}", f"random, ragged n={n}", i8_normal(rng, n, 50), int(rng.integers(-5, 6)),
            s)


# --------------------------------------------------------------------------------------------
# Softmaxes
# --------------------------------------------------------------------------------------------

DEEPLOY_SOFTMAX = (1, 86, 3888, 64)
PULP_SOFTMAX = (1, 7, 24, 5)


def softmax_buffer(rng, rows_of_values, ld, junk=True):
    """A [rows*ld] i8 buffer with the given rows in front and junk (or 0) in the padding."""
    rows = len(rows_of_values)
    buf = i8s(rng, (rows, ld)) if junk else np.zeros((rows, ld), I8)
    for r, vals in enumerate(rows_of_values):
        buf[r, :len(vals)] = vals
        if junk and ld > len(vals):
            buf[r, len(vals)] = 127                   # a kernel reading padding gets a new max
    return buf.ravel()


def special_rows(rng, n):
    """Constant rows, one huge value among -128s, and a random row."""
    rows = [np.full(n, v) for v in (-128, 0, 77, 127)]
    for pos in (0, n // 2, n - 1):
        r = np.full(n, -128)
        r[pos] = 127
        rows.append(r)
    rows.append(i8_normal(rng, n, 30))
    return rows


def build_softmax_ibert(V):
    rng = np.random.default_rng(1011)

    def add(name, note, x, rows, n, ld, consts, check_pos=True):
        A, B, C, log2 = consts
        if check_pos:
            assert A > 0 and B > 0 and C > 0 and log2 > 0
        want = K.softmax_ibert(x, rows, n, ld, A, B, C, log2)
        V.add("softmax_ibert", name, f"{note}; A={A} B={B} C={C} log2={log2}",
              dict(rows=rows, n=n, ld=ld, A=A, B=B, C=C, log2=log2), {"x": x}, want)

    shapes = [(4, 17, 17), (3, 33, 40), (2, 63, 64), (5, 15, 16), (2, 129, 129)]
    for s, (rows, n, ld) in zip((0.02, 0.05, 0.1, 0.2, 0.3), shapes):
        std = min(60.0, max(5.0, 2.5 / s))                 # scores of a few units in reals
        x = softmax_buffer(rng, [i8_normal(rng, n, std, rng.uniform(-30, 30))
                                 for _ in range(rows)], ld)
        add(f"rand_s{s}", f"attention-like scores, constants from s={s}, rows={rows}, n={n}, "
            f"ld={ld}", x, rows, n, ld, softmax_consts(s))
    for name, consts in (("deeploy", DEEPLOY_SOFTMAX), ("pulp", PULP_SOFTMAX)):
        for rows, n, ld in ((3, 65, 72), (2, 127, 128)) if name == "deeploy" else \
                ((4, 31, 31), (1, 3, 8)):
            x = softmax_buffer(rng, [i8s(rng, n) for _ in range(rows)], ld)
            add(f"{name}_n{n}", f"{name} example constants, uniform scores, rows={rows}, n={n}, "
                f"ld={ld}", x, rows, n, ld, consts)
    for name, consts in (("s0.05", softmax_consts(0.05)), ("deeploy", DEEPLOY_SOFTMAX),
                         ("pulp", PULP_SOFTMAX)):
        rows = special_rows(rng, 33)
        add(f"special_{name}", "constant rows (-128, 0, 77, 127), one 127 among -128s at first/"
            "middle/last (z clamped at 31 when log2 is small), random row; padding junk",
            softmax_buffer(rng, rows, 36), len(rows), 33, 36, consts)
    add("n1", "rows of length 1 (y = 127), ld 1", softmax_buffer(rng, [[-128], [0], [127]], 1),
        3, 1, 1, softmax_consts(0.1))
    add("n1_ld4", "rows of length 1 with padding junk, ld 4",
        softmax_buffer(rng, [[-5], [127]], 4), 2, 1, 4, DEEPLOY_SOFTMAX)
    add("long_row", "one row of n=257", softmax_buffer(rng, [i8_normal(rng, 257, 15)], 257),
        1, 257, 257, softmax_consts(0.08))
    add("A3", "A=3 (the formula's A, not the quantizer's usual 1)",
        softmax_buffer(rng, [i8s(rng, 20) for _ in range(2)], 20), 2, 20, 20, (3, 20, 400, 10))
    add("S_zero", "B=0, C=0: rows whose every d_j is a multiple of log2 give S=0, all outputs "
        "-128 (the page's S=0 rule); last row has S>0",
        softmax_buffer(rng, [[5] * 7, [0, -8, -16, 0, -24, -8, 0], [3, 2, 1, 0, -1, -2, -3]], 7),
        3, 7, 7, (1, 0, 0, 8), check_pos=False)


def build_softmax_itamax(V):
    rng = np.random.default_rng(1012)

    def add(name, note, x, rows, n, ld):
        V.add("softmax_itamax", name, note, dict(rows=rows, n=n, ld=ld), {"x": x},
              K.softmax_itamax(x, rows, n, ld))

    for rows, n, ld in [(4, 17, 17), (3, 33, 40), (2, 63, 64), (5, 15, 16), (2, 129, 129),
                        (3, 65, 72), (4, 31, 31), (1, 3, 8)]:
        x = softmax_buffer(rng, [i8_normal(rng, n, 50, rng.uniform(-30, 30))
                                 for _ in range(rows)], ld)
        add(f"rand_{rows}x{n}_ld{ld}", f"random scores, rows={rows}, n={n}, ld={ld}",
            x, rows, n, ld)
    rows = special_rows(rng, 33)
    add("special", "constant rows, one 127 among -128s (first/middle/last), random row; "
        "padding junk", softmax_buffer(rng, rows, 36), len(rows), 33, 36)
    add("n1", "rows of length 1 (S=256, inv=255, y=127), padding junk",
        softmax_buffer(rng, [[-128], [0], [127]], 2), 3, 1, 2)
    steps = [[127, 127 - 15, 127 - 16, 127 - 47, 127 - 48, 127 - 79, 127 - 80, 127 - 240,
              127 - 255]]
    add("round_boundaries", "m - x = 15/16, 47/48, 79/80, 240, 255: the rounding of (m-x)/32",
        softmax_buffer(rng, steps, 9), 1, 9, 9)
    add("long_300", "one random row of n=300", softmax_buffer(rng, [i8_normal(rng, 300, 50)], 300),
        1, 300, 300)
    add("const_255", "constant row of n=255: S = 255*256, inv = 1, all -127",
        softmax_buffer(rng, [np.full(255, -7)], 255), 1, 255, 255)
    add("const_256", "constant row of n=256: S = 65536 > 255*256, inv = 0, all -128",
        softmax_buffer(rng, [np.full(256, 100)], 256), 1, 256, 256)


# --------------------------------------------------------------------------------------------
# Normalizations
# --------------------------------------------------------------------------------------------

def build_rmsnorm(V):
    rng = np.random.default_rng(1013)

    def add(name, note, x, w, zx, log2D, zy, k):
        x, w = np.asarray(x).astype(I8), i32(w)
        rows, D = x.shape
        V.add("rmsnorm", name, f"{note}; D={D}, k={k}",
              dict(rows=rows, D=D, zx=zx, log2D=log2D, zy=zy, k=k), {"x": x, "w": w},
              K.rmsnorm(x, w, zx, log2D, zy, k))

    def weights(D, k):
        return rng.integers(1_000_000, 4_000_001, D) << k     # the quantizer scales w by 2^k

    for i, D in enumerate((1, 3, 15, 17, 31, 33, 63, 64, 65, 127, 129, 288)):
        k = 4 if i % 2 else 0
        zx, zy = (int(rng.integers(-20, 21)), int(rng.integers(-10, 11))) if i % 3 else (0, 0)
        x = i8_normal(rng, (3, D), rng.uniform(10, 50))
        add(f"rand_D{D}_k{k}", f"random rows, w in 1e6..4e6 * 2^k, log2D 16, zx {zx}, zy {zy}",
            x, weights(D, k), zx, 16, zy, k)
    x = np.zeros((4, 64), I8)
    x[1] = -9
    x[2, [0, 5]] = [1, -1]                          # s = 2 < D: ms = 1, r = 1
    x[3, :3] = [-1, 1, -1]                          # s = 3 < D: ms = 1, r = 1
    w = weights(64, 0)
    add("zero_and_r1_rows", "row 0 all zero (r = 1, y = zy); rows 2, 3 with s < D: r = 1 and "
        "y = ((v*w) >> 16) + zy with negative v (floor); row 1 constant -9", x, w, 0, 16, 3, 0)
    add("zero_row_zx", "the same x with zx=+9: row 1 becomes all-zero v (y = zy)",
        x, w, 9, 16, -2, 0)
    add("zero_row_k4", "all-zero row with k=4 (ms = 1, r = 1) and a tiny row",
        np.array([[0] * 17, [0] * 16 + [1]]), weights(17, 4), 0, 16, 5, 4)
    x = i8_normal(rng, (3, 48), 60)
    x[0, :4] = [-128, 127, -128, 127]
    add("saturate", "large weights (up to 3e7): outputs saturate at both bounds",
        x, rng.integers(1e7, 3e7, 48), 0, 16, 0, 0)
    w = weights(40, 0)
    w[::3] *= -1
    add("neg_weights", "some negative weights (negative products in tdiv)",
        i8_normal(rng, (2, 40), 30), w, -3, 16, 1, 0)
    add("log2D_20_k4", "log2D 20 and k=4, weights 1e6..4e6 * 2^8",
        i8_normal(rng, (2, 33), 40), weights(33, 8), 5, 20, -1, 4)


def build_layernorm(V):
    rng = np.random.default_rng(1014)

    def add(name, note, x, w, bias, zx, log2D, zy, k):
        x, w, bias = np.asarray(x).astype(I8), i32(w), i32(bias)
        rows, D = x.shape
        V.add("layernorm", name, f"{note}; D={D}, k={k}",
              dict(rows=rows, D=D, zx=zx, log2D=log2D, zy=zy, k=k),
              {"x": x, "w": w, "bias": bias}, K.layernorm(x, w, bias, zx, log2D, zy, k))

    def params(D, k):
        w = rng.integers(1_000_000, 4_000_001, D) << k
        bias = rng.integers(-1_500_000, 1_500_001, D)        # beta/s_y * 2^log2D, |beta| < ~0.7
        return w, bias

    for i, D in enumerate((1, 3, 15, 17, 31, 33, 63, 64, 65, 127, 129, 288)):
        k = 0 if i % 2 else 4
        zx, zy = (int(rng.integers(-20, 21)), int(rng.integers(-10, 11))) if i % 3 else (0, 0)
        x = i8_normal(rng, (3, D), rng.uniform(10, 50), rng.uniform(-20, 20))
        add(f"rand_D{D}_k{k}", f"random rows with a mean, w 1e6..4e6 * 2^k, bias +-1.5e6, "
            f"log2D 16, zx {zx}, zy {zy}", x, *params(D, k), zx, 16, zy, k)
    x = np.array([[-1, -1, 0], [1, 1, 0], [-2, -2, -1], [5, 5, 5], [-128, -128, -128],
                  [127, -128, 0]])
    add("trunc_mean", "small D=3 rows whose sum is negative and not a multiple of D: mean is "
        "truncated toward zero (-2/3 -> 0, -5/3 -> -1); constant rows (c = 0, sd = 1)",
        x, *params(3, 0), 0, 16, 0, 0)
    add("trunc_mean_k4", "same rows with k=4 and zx=-1", x, *params(3, 4), -1, 16, 2, 4)
    x = np.full((3, 33), 17)
    x[1] = -128
    x[2] = -4                                       # v = 0 with zx = 4
    add("constant_rows", "constant rows and an all-zero row (v = 0): c = 0, sd = 1, "
        "y = (bias >> 16) + zy", x, *params(33, 0), 4, 16, -7, 0)
    x = i8_normal(rng, (3, 48), 60)
    x[0, :4] = [-128, 127, -128, 127]
    w, bias = params(48, 0)
    add("saturate", "large weights (1e7..3e7): outputs saturate at both bounds",
        x, rng.integers(1e7, 3e7, 48), bias, 0, 16, 0, 0)
    w[1::2] *= -1
    add("neg_weights", "alternating negative weights (negative products in tdiv), zx=+30",
        i8_normal(rng, (2, 48), 30), w, bias, 30, 16, 0, 0)


def build_nonorm(V):
    rng = np.random.default_rng(1015)

    def add(name, note, x, mul, add_, zx, shift, zy, lo=I8_MIN, hi=I8_MAX):
        x, mul, add_ = np.asarray(x).astype(I8), i32(mul), i32(add_)
        rows, D = x.shape
        want = K.nonorm(x, mul, add_, zx, shift, zy, lo, hi)
        V.add("nonorm", name, note, dict(rows=rows, D=D, zx=zx, shift=shift, zy=zy, lo=lo, hi=hi),
              {"x": x, "mul": mul, "add": add_}, want)
        return want

    for (rows, D), shift in zip([(4, 17), (2, 128), (1, 1), (3, 33), (2, 65), (5, 15)],
                                (16, 20, 12, 24, 18, 22)):
        gamma = rng.uniform(0.1, 2.0, D) * rng.choice([-1, 1], D, p=[0.1, 0.9])
        beta = rng.uniform(-0.5, 0.5, D)
        s_x = rng.uniform(0.02, 0.08)
        s_y = s_x * rng.uniform(1.0, 2.0)
        mul = np.rint(gamma * s_x / s_y * 2 ** shift)
        add_ = np.rint(beta / s_y * 2 ** shift) + round_add(shift)
        zx = int(rng.integers(-10, 11)) if rows % 2 else 0
        add(f"rand_{rows}x{D}_s{shift}", f"MobileBERT NoNorm gamma*x+beta, {rows}x{D}, shift "
            f"{shift}, zx {zx}", i8_normal(rng, (rows, D), 40), mul, add_, zx, shift,
            int(rng.integers(-3, 4)))
    x = rng.permutation(np.arange(-128, 128)).reshape(64, 4)
    mul = np.array([512, 512, 1536, 1024])
    add("tie_both_signs", "every i8 value once; mul = (2^9, 2^9, 3*2^9, 2^10), shift 10: odd x "
        "gives exact ties of both signs in the first three channels", x, mul,
        np.full(4, round_add(10)), 0, 10, 0)
    assert_ties(x.astype(np.int64) * mul[None, :], 10)
    y = add("sat_both", "gains 3, -3: saturation at both bounds", x,
            np.array([3 << 8, -3 << 8, 1 << 8, 1 << 7]), np.full(4, round_add(8)), 0, 8, 0)
    assert_saturates(y, -128, 127)
    add("shift0_zp", "shift 0, mul (1, 1, -1, 2), add (0, 7, 0, -5), zx -4, zy 6, lo -120, hi 90",
        x, np.array([1, 1, -1, 2]), np.array([0, 7, 0, -5]), -4, 0, 6, -120, 90)
    add("zp_large", "zx=+128, zy=-128, lo=-128, hi=127", x, np.array([1, 2, 3, 4]) << 12,
        np.full(4, round_add(14)), 128, 14, -128)


# --------------------------------------------------------------------------------------------
# RoPE, embedding, arg-max
# --------------------------------------------------------------------------------------------

def rope_tables(pos, head_dim, frac=14, base=10000.0):
    """cos/sin of pos * theta_i, theta_i = base^(-2i/head_dim), rounded to Q`frac` i16."""
    i = np.arange(head_dim // 2)
    ang = pos * base ** (-2.0 * i / head_dim)
    cos = np.rint(np.cos(ang) * 2 ** frac).astype(np.int64)
    sin = np.rint(np.sin(ang) * 2 ** frac).astype(np.int64)
    return cos.astype(I16), sin.astype(I16)


def build_rope(V):
    rng = np.random.default_rng(1016)

    def add(name, note, x, cos, sin, n_heads, head_dim, zx, mul, add_, shift, zy,
            lo=I8_MIN, hi=I8_MAX):
        x = np.asarray(x).astype(I8).ravel()
        cos, sin = np.asarray(cos).astype(I16), np.asarray(sin).astype(I16)
        want = K.rope(x, cos, sin, n_heads, head_dim, zx, mul, add_, shift, zy, lo, hi)
        V.add("rope", name, note, dict(n_heads=n_heads, head_dim=head_dim, zx=zx, mul=mul,
                                       add=add_, shift=shift, zy=zy, lo=lo, hi=hi),
              {"x": x, "cos": cos, "sin": sin}, want)
        return want

    cos, sin = rope_tables(0, 8)
    assert np.all(cos == 1 << 14) and np.all(sin == 0)
    add("pos0", "position 0: cos = 2^14, sin = 0, mul 1, shift 14: y = x + zx + zy",
        i8s(rng, 16), cos, sin, 2, 8, 3, 1, round_add(14), 14, -2)
    for (n_heads, head_dim, pos) in [(1, 8, 1), (2, 16, 7), (4, 32, 100), (6, 48, 255),
                                     (2, 64, 1000), (3, 2, 4095)]:
        cos, sin = rope_tables(pos, head_dim)
        s_ratio = rng.uniform(0.8, 1.25)                      # s_x / s_y
        shift = int(rng.integers(16, 29))
        mul = mul_for(s_ratio * 2.0 ** -14, shift)
        zx = int(rng.integers(-6, 7)) if pos % 2 else 0
        add(f"pos{pos}_{n_heads}x{head_dim}", f"real Q14 tables at position {pos}, "
            f"{n_heads} heads x {head_dim}, shift {shift}, mul {mul}, zx {zx}",
            i8_normal(rng, n_heads * head_dim, 45), cos, sin, n_heads, head_dim, zx, mul,
            round_add(shift), shift, int(rng.integers(-3, 4)))
    x = np.array([127, -128, -128, 127, 127, 127, -128, -128, 5, -7, 0, 0])
    cos = np.array([32767, -32767, 32767, 0, -32768 + 1, 1])
    sin = np.array([-32767, 32767, 32767, -32767, 0, -1])
    y = add("extreme_tables", "table values +-32767 with x at -128/127 (|t| ~ 8.4e6), "
            "mul 1, shift 15", x, cos, sin, 1, 12, 0, 1, round_add(15), 15, 0)
    assert_saturates(y, -128, 127)
    add("extreme_tables_zp", "table values +-32767, zx=-9, zy=+4, shift 16", x, cos, sin,
        1, 12, -9, 1, round_add(16), 16, 4)
    cos, sin = np.array([3, 1, -2, 5]), np.array([1, -2, 3, 0])
    x = i8s(rng, 4 * 8, -60, 60)
    add("tie_both_signs", "small tables, shift 3, mul 1: t = 4 (mod 8) gives exact ties of "
        "both signs", x, cos, sin, 4, 8, 0, 1, round_add(3), 3, 0)
    pairs = x.reshape(4, 4, 2).astype(np.int64)
    t0 = pairs[..., 0] * cos - pairs[..., 1] * sin
    t1 = pairs[..., 0] * sin + pairs[..., 1] * cos
    assert_ties(np.concatenate([t0.ravel(), t1.ravel()]), 3)
    cos, sin = rope_tables(33, 16)
    y = add("sat_both", "gain 4 (mul = 2^(shift-12)): saturation at both bounds",
            i8_normal(rng, 32, 60), cos, sin, 2, 16, 0, 1 << 8, round_add(20), 20, 0)
    assert_saturates(y, -128, 127)
    add("shift0", "shift 0, mul 1, add 0, tiny tables (cos 1, sin 0 / cos 0, sin 1), "
        "clamp lo=-100, hi=100", np.arange(-128, 128, 16), np.array([1, 0, 1, 0]),
        np.array([0, 1, 0, -1]), 2, 8, 0, 1, 0, 0, 0, -100, 100)


def build_embedding(V):
    rng = np.random.default_rng(1017)

    def add(name, note, table, row):
        rows, dim = table.shape
        V.add("embedding", name, note, dict(rows=rows, dim=dim, row=row), {"table": table},
              K.embedding(table, row))

    add("1x1", "a 1x1 table", i8s(rng, (1, 1)), 0)
    t = i8s(rng, (64, 288))
    add("first_row", "64x288 table, row 0", t, 0)
    add("last_row", "64x288 table, last row", t, 63)
    add("middle_row", "64x288 table, row 31", t, 31)
    for dim, rows, row in ((3, 5, 4), (31, 9, 0), (65, 7, 6), (129, 4, 2)):
        add(f"dim{dim}_row{row}", f"ragged dim {dim}, {rows} rows, row {row}",
            i8s(rng, (rows, dim)), row)


def build_argmax(V):
    rng = np.random.default_rng(1018)

    def add(name, note, x, expect_index=None):
        x = i32(x)
        index, value = K.argmax(x)
        if expect_index is not None:
            assert index == expect_index, (name, index)
        V.add("argmax", name, note, {}, {"x": x}, np.array([index, value], dtype=np.int64))

    add("n1_min", "n=1 holding INT32_MIN", [I32_MIN], 0)
    add("n1_max", "n=1 holding INT32_MAX", [I32_MAX], 0)
    x = rng.integers(-1000, 1000, 17)
    x[[3, 9, 16]] = 5000
    add("ties_lowest", "maximum 5000 at indices 3, 9, 16: lowest wins", x, 3)
    add("all_equal", "33 equal values: index 0", np.full(33, -42), 0)
    add("all_min", "all INT32_MIN: index 0", np.full(15, I32_MIN), 0)
    x = np.full(31, I32_MIN)
    x[-1] = I32_MIN + 1
    add("min_plus_one_last", "INT32_MIN everywhere but INT32_MIN+1 at the last index", x, 30)
    x = rng.integers(I32_MIN, I32_MAX, 65, endpoint=True)
    x[[10, 40]] = I32_MAX
    add("max_twice", "INT32_MAX at indices 10 and 40 among random i32", x, 10)
    x = rng.integers(I32_MIN, 0, 63)
    x[62] = -1
    add("negative_last", "all negative, maximum -1 at the last index", x, 62)
    x = rng.integers(-100, 100, 127)
    x[0] = 100
    add("first", "maximum at index 0", x, 0)
    add("rand_512", "512 logits-like values", np.rint(rng.normal(0, 2e5, 512)))
    add("rand_129", "129 random i32 over the full range",
        rng.integers(I32_MIN, I32_MAX, 129, endpoint=True))


def run_case(kernel, a, d):
    """Recompute `want` of one case from its attributes `a` and datasets `d` alone."""
    if kernel == "rqs":
        return K.rqs(d["x"], a["zx"], a["mul"], a["add"], a["shift"], a["zy"], a["lo"], a["hi"])
    if kernel == "rqs_per_channel":
        return K.rqs_per_channel(d["x"], a["zx"], d["mul"], d["add"], a["shift"], a["zy"],
                                 a["lo"], a["hi"], a["channels"])
    if kernel == "rqs_overflow":
        return np.array([K.rqs_overflow_count(d["x"], a["zx"], a["mul"], a["add"])], I64)
    if kernel == "gemv":
        return K.gemv(d["W"], d["x"], d.get("bias"), a["x_off"], a["w_off"])
    if kernel == "gemm":
        return K.gemm(d["A"], d["B"], d.get("bias"), a["M"], a["N"], a["K"], a["lda"], a["ldb"],
                      a["ldy"], a["a_off"], a["b_off"])
    if kernel == "add_rq":
        return K.add_rq(d["a"], d["b"], a["za"], a["zb"], a["mul_a"], a["mul_b"], a["add"],
                        a["shift"], a["zy"], a["lo"], a["hi"])
    if kernel == "mul_rq":
        return K.mul_rq(d["a"], d["b"], a["za"], a["zb"], a["mul"], a["add"], a["shift"],
                        a["zy"], a["lo"], a["hi"])
    if kernel == "relu":
        return K.relu(d["x"], a["z"])
    if kernel == "gelu":
        return K.gelu(d["x"], a["zx"], a["b"], a["one"])
    if kernel == "hswish":
        return K.hswish(d["x"], a["zx"], a["three"], a["six"])
    if kernel == "softmax_ibert":
        return K.softmax_ibert(d["x"], a["rows"], a["n"], a["ld"], a["A"], a["B"], a["C"],
                               a["log2"])
    if kernel == "softmax_itamax":
        return K.softmax_itamax(d["x"], a["rows"], a["n"], a["ld"])
    if kernel == "rmsnorm":
        return K.rmsnorm(d["x"], d["w"], a["zx"], a["log2D"], a["zy"], a["k"])
    if kernel == "layernorm":
        return K.layernorm(d["x"], d["w"], d["bias"], a["zx"], a["log2D"], a["zy"], a["k"])
    if kernel == "nonorm":
        return K.nonorm(d["x"], d["mul"], d["add"], a["zx"], a["shift"], a["zy"], a["lo"],
                        a["hi"])
    if kernel == "rope":
        return K.rope(d["x"], d["cos"], d["sin"], a["n_heads"], a["head_dim"], a["zx"], a["mul"],
                      a["add"], a["shift"], a["zy"], a["lo"], a["hi"])
    if kernel == "embedding":
        return K.embedding(d["table"], a["row"])
    if kernel == "argmax":
        return np.array(K.argmax(d["x"]), I64)
    raise KeyError(kernel)


def verify_h5(path):
    """Read the file back and recompute every `want` from the stored inputs alone."""
    n = 0
    with h5py.File(path, "r") as f:
        assert set(f) == set(LAYOUT)
        for kernel in f:
            for name, c in f[kernel].items():
                assert isinstance(c.attrs["note"], str) and c.attrs["note"]
                a = {k: int(v) for k, v in c.attrs.items() if k != "note"}
                assert all(c.attrs[k].dtype == np.int64 for k in a)
                d = {k: c[k][()] for k in c if k != "want"}
                want = c["want"][()]
                got = run_case(kernel, a, d)
                assert got.dtype == want.dtype and got.shape == want.shape, (kernel, name)
                assert np.array_equal(got, want), f"{kernel}/{name}: stored want differs"
                n += 1
    return n


BUILDERS = (build_rqs, build_rqs_per_channel, build_rqs_overflow, build_gemv, build_gemm,
            build_add_rq, build_mul_rq, build_relu, build_gelu, build_hswish,
            build_softmax_ibert, build_softmax_itamax, build_rmsnorm, build_layernorm,
            build_nonorm, build_rope, build_embedding, build_argmax)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default=str(DEFAULT_OUT),
                    help=f"output HDF5 file (default {DEFAULT_OUT})")
    args = ap.parse_args(argv)
    V = Vectors()
    for build in BUILDERS:
        build(V)
    write_h5(V, args.output)
    assert verify_h5(args.output) == sum(V.count().values())
    counts = V.count()
    for kernel, n in counts.items():
        print(f"{kernel:16s} {n:3d} cases")
    print(f"{sum(counts.values())} cases, {os.path.getsize(args.output)} bytes -> {args.output}")


if __name__ == "__main__":
    main()
