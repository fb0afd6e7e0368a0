"""Self-check of the golden model (kernels.py) against slow pure-Python integer arithmetic.

Every formula of kernels/README.md is written here a second time, element by element, with
Python ints (which never overflow), so the numpy golden cannot share an int64 overflow, a
floor-versus-truncation or a float-sqrt bug with it. Each kernel is run on a few hundred random
small cases whose parameters are drawn with a bias toward edge values (bounds, 0, +-1, ties).

    /usr/bin/python3 scripts/golden/check_golden.py

Exits with status 1 on the first kernel that has any mismatch, 0 when all agree.
"""

import math
import os
import random
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernels as K  # noqa: E402

N_CASES = 300

I8_MIN, I8_MAX = -128, 127
I16_MIN, I16_MAX = -(1 << 15), (1 << 15) - 1
I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


# --------------------------------------------------------------------------------------------
# Reference arithmetic on Python ints
# --------------------------------------------------------------------------------------------

def r_tdiv(a, b):
    """C division with Python ints: truncate toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def r_clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def r_sgn(v):
    return (v > 0) - (v < 0)


def r_requant(t, shift, zy, lo, hi):
    return r_clamp((t >> shift) + zy, lo, hi)      # Python >> on ints is floor division


def ref_rqs(x, zx, mul, add, shift, zy, lo, hi):
    return [r_requant((xi + zx) * mul + add, shift, zy, lo, hi) for xi in x]


def ref_rqs_per_channel(x, zx, mul, add, shift, zy, lo, hi, channels):
    return [r_requant((xi + zx) * mul[i % channels] + add[i % channels], shift, zy, lo, hi)
            for i, xi in enumerate(x)]


def ref_rqs_overflow(x, zx, mul, add):
    count = 0
    for xi in x:
        p = (xi + zx) * mul
        if not (I32_MIN <= p <= I32_MAX) or not (I32_MIN <= p + add <= I32_MAX):
            count += 1
    return count


def ref_gemv(W, x, bias, x_off, w_off):
    out = []
    for o, row in enumerate(W):
        acc = bias[o] if bias is not None else 0
        for i, xi in enumerate(x):
            acc += (row[i] + w_off) * (xi + x_off)
        out.append(acc)
    return out


def ref_gemm(A, B, bias, M, N, Kd, lda, ldb, ldy, a_off, b_off):
    Y = [0] * (M * ldy)
    for m in range(M):
        for n in range(N):
            acc = bias[n] if bias is not None else 0
            for k in range(Kd):
                acc += (A[m * lda + k] + a_off) * (B[n * ldb + k] + b_off)
            Y[m * ldy + n] = acc
    return Y


def ref_add_rq(a, b, za, zb, mul_a, mul_b, add, shift, zy, lo, hi):
    return [r_requant((ai + za) * mul_a + (bi + zb) * mul_b + add, shift, zy, lo, hi)
            for ai, bi in zip(a, b)]


def ref_mul_rq(a, b, za, zb, mul, add, shift, zy, lo, hi):
    return [r_requant((ai + za) * (bi + zb) * mul + add, shift, zy, lo, hi)
            for ai, bi in zip(a, b)]


def ref_relu(x, z):
    return [xi if xi > z else z for xi in x]


def ref_gelu(x, zx, b, one):
    out = []
    for xi in x:
        v = xi + zx
        q = min(abs(v), -b)
        L = r_sgn(v) * (one - (q + b) * (q + b))
        out.append(v * ((one + L) >> 1))
    return out


def ref_hswish(x, zx, three, six):
    out = []
    for xi in x:
        v = xi + zx
        out.append(v * r_clamp(v + three, 0, six))
    return out


def ref_softmax_ibert(x, rows, n, ld, A, B, C, log2):
    y = [0] * (rows * ld)
    for r in range(rows):
        row = x[r * ld: r * ld + n]
        m = max(row)
        e = []
        for xj in row:
            d = xj - m
            z = min(r_tdiv(-d, log2), 31)
            p = d + z * log2
            e.append((A * (p + B) ** 2 + C) >> z)
        S = sum(e)
        for j in range(n):
            y[r * ld + j] = -128 if S == 0 else r_tdiv(e[j] * 255, S) - 128
    return y


def ref_softmax_itamax(x, rows, n, ld):
    y = [0] * (rows * ld)
    for r in range(rows):
        row = x[r * ld: r * ld + n]
        m = max(row)
        s = [(m - xj + 16) >> 5 for xj in row]
        S = sum(256 >> sj for sj in s)
        inv = r_tdiv(255 * 256, S)
        for j in range(n):
            y[r * ld + j] = (inv >> s[j]) - 128
    return y


def ref_rmsnorm(x, w, zx, log2D, zy, k):
    out = []
    for row in x:
        D = len(row)
        v = [xj + zx for xj in row]
        s = sum(vj * vj for vj in v)
        r = math.isqrt(r_tdiv(s << (2 * k), D) + 1)
        out.append([r_clamp((r_tdiv(vj * wj, r) >> log2D) + zy, -128, 127)
                    for vj, wj in zip(v, w)])
    return out


def ref_layernorm(x, w, bias, zx, log2D, zy, k):
    out = []
    for row in x:
        D = len(row)
        v = [xj + zx for xj in row]
        mean = r_tdiv(sum(v), D)
        c = [vj - mean for vj in v]
        sd = math.isqrt(r_tdiv(sum(cj * cj for cj in c) << (2 * k), D) + 1)
        out.append([r_clamp(((r_tdiv(cj * wj, sd) + bj) >> log2D) + zy, -128, 127)
                    for cj, wj, bj in zip(c, w, bias)])
    return out


def ref_nonorm(x, mul, add, zx, shift, zy, lo, hi):
    return [[r_requant((xj + zx) * mul[j] + add[j], shift, zy, lo, hi)
             for j, xj in enumerate(row)] for row in x]


def ref_rope(x, cos, sin, n_heads, head_dim, zx, mul, add, shift, zy, lo, hi):
    y = [0] * (n_heads * head_dim)
    for h in range(n_heads):
        base = h * head_dim
        for i in range(head_dim // 2):
            a = x[base + 2 * i] + zx
            b = x[base + 2 * i + 1] + zx
            t0 = a * cos[i] - b * sin[i]
            t1 = a * sin[i] + b * cos[i]
            y[base + 2 * i] = r_requant(t0 * mul + add, shift, zy, lo, hi)
            y[base + 2 * i + 1] = r_requant(t1 * mul + add, shift, zy, lo, hi)
    return y


def ref_embedding(table, row):
    return list(table[row])


def ref_argmax(x):
    best = 0
    for i in range(1, len(x)):
        if x[i] > x[best]:
            best = i
    return best, x[best]


# --------------------------------------------------------------------------------------------
# Random parameters, biased toward edges
# --------------------------------------------------------------------------------------------

class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def uni(self, lo, hi):
        return self.r.randint(lo, hi)

    def edgy(self, lo, hi):
        """An int in [lo, hi]: often a bound, 0 or +-1, often of small magnitude."""
        u = self.r.random()
        if u < 0.2:
            return self.r.choice([v for v in (lo, hi, 0, 1, -1, lo + 1, hi - 1) if lo <= v <= hi])
        if u < 0.5:                                    # log-uniform magnitude
            mag = int(2 ** self.r.uniform(0, math.log2(max(abs(lo), abs(hi), 2))))
            v = self.r.choice([-mag, mag])
            return r_clamp(v, lo, hi)
        return self.r.randint(lo, hi)

    def vec(self, n, lo, hi):
        mode = self.r.random()
        if mode < 0.15:
            c = self.edgy(lo, hi)
            return [c] * n
        if mode < 0.3:
            pool = [self.edgy(lo, hi) for _ in range(3)]
            return [self.r.choice(pool) for _ in range(n)]
        return [self.edgy(lo, hi) for _ in range(n)]

    def i8vec(self, n):
        return self.vec(n, I8_MIN, I8_MAX)

    def scaled(self, vmax):
        """(mul, shift, add) for a product term of magnitude <= vmax: half the time chosen so
        that vmax * mul / 2^shift is about 150 (outputs spread over i8), else wild."""
        if self.r.random() < 0.5:
            shift, add = self.shift_add()
            return self.edgy(I32_MIN, I32_MAX), shift, add
        shift = self.uni(0, 31)
        mul = r_clamp(round(self.r.uniform(50, 250) * 2 ** shift / max(vmax, 1)), 1, I32_MAX)
        add = 1 << (shift - 1) if shift > 0 and self.r.random() < 0.7 else self.uni(-99, 99)
        return self.r.choice([mul, mul, mul, -mul]), shift, add

    def lohi(self):
        if self.r.random() < 0.5:
            return I8_MIN, I8_MAX
        a, b = self.edgy(I8_MIN, I8_MAX), self.edgy(I8_MIN, I8_MAX)
        return min(a, b), max(a, b)

    def shift_add(self):
        """A shift in 0..31 and an add that is often the rounding term 1 << (shift-1)."""
        shift = self.edgy(0, 31)
        if shift > 0 and self.r.random() < 0.5:
            return shift, 1 << (shift - 1)
        return shift, self.edgy(I32_MIN, I32_MAX)


# --------------------------------------------------------------------------------------------
# One checker per kernel: (golden result, reference result) for a random case
# --------------------------------------------------------------------------------------------

def as_list(a):
    return np.asarray(a).tolist()


def case_rqs(g):
    n = g.uni(1, 20)
    xmax = min(I32_MAX, g.r.choice([I32_MAX, (1 << g.uni(0, 31)) - 1 + g.uni(0, 1)]))
    x = g.vec(n, -xmax, xmax)
    zx = g.edgy(-min(xmax, 1 << 30), min(xmax, 1 << 30))
    mul, shift, add = g.scaled(2 * xmax)
    zy = g.edgy(-(1 << 20), 1 << 20) if g.r.random() < 0.3 else g.edgy(-100, 100)
    lo, hi = g.lohi()
    args = (x, zx, mul, add, shift, zy, lo, hi)
    return as_list(K.rqs(*args)), ref_rqs(*args)


def case_rqs_per_channel(g):
    rows, ch = g.uni(1, 4), g.uni(1, 9)
    xmax = min(I32_MAX, g.r.choice([I32_MAX, (1 << g.uni(0, 31)) - 1 + g.uni(0, 1)]))
    x = g.vec(rows * ch, -xmax, xmax)
    zx = g.edgy(-min(xmax, 1 << 30), min(xmax, 1 << 30))
    mul0, shift, add0 = g.scaled(2 * xmax)
    mul = [g.r.choice([mul0, g.edgy(I32_MIN, I32_MAX), r_clamp(mul0 * 3 // 2, I32_MIN, I32_MAX)])
           for _ in range(ch)]
    add = [add0 if g.r.random() < 0.5 else g.edgy(I32_MIN, I32_MAX) for _ in range(ch)]
    zy = g.edgy(-1000, 1000)
    lo, hi = g.lohi()
    args = (x, zx, mul, add, shift, zy, lo, hi, ch)
    return as_list(K.rqs_per_channel(*args)), ref_rqs_per_channel(*args)


def case_rqs_overflow(g):
    n = g.uni(1, 20)
    x = g.vec(n, I32_MIN, I32_MAX)
    zx = g.edgy(-(1 << 30), 1 << 30)
    mul = g.edgy(-(1 << 12), 1 << 12) if g.r.random() < 0.5 else g.edgy(I32_MIN, I32_MAX)
    add = g.edgy(I32_MIN, I32_MAX)
    return K.rqs_overflow_count(x, zx, mul, add), ref_rqs_overflow(x, zx, mul, add)


def case_gemv(g):
    n_out, n_in = g.uni(1, 6), g.uni(1, 40)
    W = [g.i8vec(n_in) for _ in range(n_out)]
    x = g.i8vec(n_in)
    x_off, w_off = g.edgy(-300, 300), g.edgy(-300, 300)
    bias = g.vec(n_out, -(1 << 24), 1 << 24) if g.r.random() < 0.7 else None
    got = K.gemv(np.array(W, np.int8), np.array(x, np.int8), bias, x_off, w_off)
    return as_list(got), ref_gemv(W, x, bias, x_off, w_off)


def case_gemm(g):
    M, N, Kd = g.uni(1, 5), g.uni(1, 5), g.uni(1, 12)
    lda, ldb, ldy = Kd + g.uni(0, 3), Kd + g.uni(0, 3), N + g.uni(0, 3)
    A, B = g.i8vec(M * lda), g.i8vec(N * ldb)
    a_off, b_off = g.edgy(-300, 300), g.edgy(-300, 300)
    bias = g.vec(N, -(1 << 24), 1 << 24) if g.r.random() < 0.7 else None
    args = (M, N, Kd, lda, ldb, ldy, a_off, b_off)
    got = K.gemm(np.array(A, np.int8), np.array(B, np.int8), bias, *args)
    return as_list(got), ref_gemm(A, B, bias, *args)


def case_add_rq(g):
    n = g.uni(1, 20)
    a, b = g.i8vec(n), g.i8vec(n)
    za, zb = g.edgy(I32_MIN, I32_MAX), g.edgy(I32_MIN, I32_MAX)
    if g.r.random() < 0.5:
        za, zb = g.edgy(-200, 200), g.edgy(-200, 200)
    mul_a, shift, add = g.scaled(2 * (128 + min(abs(za), abs(zb))))
    if g.r.random() < 0.3:
        mul_b = g.edgy(-(1 << 29), 1 << 29)
    else:
        mul_b = mul_a + g.uni(-abs(mul_a), abs(mul_a))
    mul_a, mul_b = r_clamp(mul_a, -(1 << 29), 1 << 29), r_clamp(mul_b, -(1 << 29), 1 << 29)
    zy = g.edgy(-1000, 1000)
    lo, hi = g.lohi()
    args = (a, b, za, zb, mul_a, mul_b, add, shift, zy, lo, hi)
    return as_list(K.add_rq(*args)), ref_add_rq(*args)


def case_mul_rq(g):
    n = g.uni(1, 20)
    a, b = g.i8vec(n), g.i8vec(n)
    za, zb = g.edgy(-(1 << 14), 1 << 14), g.edgy(-(1 << 14), 1 << 14)
    mul, shift, add = g.scaled((128 + abs(za)) * (128 + abs(zb)))
    zy = g.edgy(-1000, 1000)
    lo, hi = g.lohi()
    args = (a, b, za, zb, mul, add, shift, zy, lo, hi)
    return as_list(K.mul_rq(*args)), ref_mul_rq(*args)


def case_relu(g):
    x = g.i8vec(g.uni(1, 20))
    z = g.edgy(I8_MIN, I8_MAX)
    return as_list(K.relu(x, z)), ref_relu(x, z)


def case_gelu(g):
    x = g.i8vec(g.uni(1, 20))
    zx = g.edgy(-200, 200)
    b = -g.edgy(1, 600)
    one = g.edgy(1, 1 << 22)
    return as_list(K.gelu(x, zx, b, one)), ref_gelu(x, zx, b, one)


def case_hswish(g):
    x = g.i8vec(g.uni(1, 20))
    zx = g.edgy(-200, 200)
    three = g.edgy(0, 1 << 16)
    six = 2 * three if g.r.random() < 0.7 else g.edgy(0, 1 << 17)
    return as_list(K.hswish(x, zx, three, six)), ref_hswish(x, zx, three, six)


def case_softmax_ibert(g):
    rows, n = g.uni(1, 3), g.uni(1, 20)
    ld = n + g.uni(0, 3)
    x = g.i8vec(rows * ld)
    A, B, C, log2 = g.edgy(0, 4), g.edgy(0, 200), g.edgy(0, 5000), g.edgy(1, 100)
    args = (rows, n, ld, A, B, C, log2)
    return as_list(K.softmax_ibert(x, *args)), ref_softmax_ibert(x, *args)


def case_softmax_itamax(g):
    rows = g.uni(1, 3)
    n = g.uni(1, 20) if g.r.random() < 0.8 else g.uni(200, 400)
    ld = n + g.uni(0, 3)
    x = g.i8vec(rows * ld)
    return as_list(K.softmax_itamax(x, rows, n, ld)), ref_softmax_itamax(x, rows, n, ld)


def case_rmsnorm(g):
    rows, D = g.uni(1, 4), g.uni(1, 40)
    x = [g.i8vec(D) for _ in range(rows)]
    zx = g.edgy(-200, 200)
    w = g.vec(D, -(1 << 24), 1 << 24)
    log2D, zy, k = g.edgy(0, 31), g.edgy(-200, 200), g.edgy(0, 6)
    got = K.rmsnorm(np.array(x, np.int8), w, zx, log2D, zy, k)
    return as_list(got), ref_rmsnorm(x, w, zx, log2D, zy, k)


def case_layernorm(g):
    rows, D = g.uni(1, 4), g.uni(1, 40)
    x = [g.i8vec(D) for _ in range(rows)]
    zx = g.edgy(-200, 200)
    w = g.vec(D, -(1 << 24), 1 << 24)
    bias = g.vec(D, -(1 << 30), 1 << 30)
    log2D, zy, k = g.edgy(0, 31), g.edgy(-200, 200), g.edgy(0, 6)
    got = K.layernorm(np.array(x, np.int8), w, bias, zx, log2D, zy, k)
    return as_list(got), ref_layernorm(x, w, bias, zx, log2D, zy, k)


def case_nonorm(g):
    rows, D = g.uni(1, 4), g.uni(1, 20)
    x = [g.i8vec(D) for _ in range(rows)]
    zx = g.edgy(I32_MIN, I32_MAX) if g.r.random() < 0.3 else g.edgy(-200, 200)
    mul0, shift, add0 = g.scaled(128 + abs(zx))
    mul = [g.r.choice([mul0, g.edgy(I32_MIN, I32_MAX), mul0 // 2]) for _ in range(D)]
    add = [add0 if g.r.random() < 0.5 else g.edgy(I32_MIN, I32_MAX) for _ in range(D)]
    zy = g.edgy(-1000, 1000)
    lo, hi = g.lohi()
    got = K.nonorm(np.array(x, np.int8), mul, add, zx, shift, zy, lo, hi)
    return as_list(got), ref_nonorm(x, mul, add, zx, shift, zy, lo, hi)


def case_rope(g):
    n_heads, head_dim = g.uni(1, 3), 2 * g.uni(1, 8)
    x = g.i8vec(n_heads * head_dim)
    cos, sin = g.vec(head_dim // 2, I16_MIN, I16_MAX), g.vec(head_dim // 2, I16_MIN, I16_MAX)
    zx = g.edgy(-1000, 1000)
    mul, shift, add = g.scaled(2 * (128 + abs(zx)) * max(map(abs, cos + sin)))
    zy = g.edgy(-1000, 1000) if g.r.random() < 0.3 else g.edgy(-50, 50)
    lo, hi = g.lohi()
    args = (n_heads, head_dim, zx, mul, add, shift, zy, lo, hi)
    return as_list(K.rope(x, cos, sin, *args)), ref_rope(x, cos, sin, *args)


def case_embedding(g):
    rows, dim = g.uni(1, 6), g.uni(1, 20)
    table = [g.i8vec(dim) for _ in range(rows)]
    row = g.uni(0, rows - 1)
    return as_list(K.embedding(np.array(table, np.int8), row)), ref_embedding(table, row)


def case_argmax(g):
    n = g.uni(1, 20)
    x = g.vec(n, I32_MIN, I32_MAX)
    return list(K.argmax(x)), list(ref_argmax(x))


CHECKS = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


def check_primitives():
    """tdiv and isqrt on hand-picked and random values (the building blocks of the norms)."""
    bad = 0
    vals = [0, 1, -1, 2, -2, 7, -7, 255 * 128, -255 * 128, (1 << 62) - 1, -(1 << 62) + 1]
    rng = random.Random(7)
    vals += [rng.randint(-(1 << 62), 1 << 62) for _ in range(2000)]
    divs = [1, 2, 3, 7, 64, 255, 1 << 31, (1 << 62) - 1]
    for b in divs:
        got = K.tdiv(np.array(vals, np.int64), b).tolist()
        bad += sum(gq != r_tdiv(a, b) for gq, a in zip(got, vals))
    assert K.tdiv(-7, 2) == -3 and K.tdiv(7, 2) == 3 and K.tdiv(-1, 5) == 0
    sq = [0, 1, 2, 3, 4, 15, 16, 17, (1 << 62) - 1]
    for r in [rng.randint(1, (1 << 31) - 1) for _ in range(2000)] + [(1 << 31) - 1, 3037000498]:
        sq += [v for v in (r * r - 1, r * r, r * r + 1) if v < (1 << 62)]
    sq += [rng.randint(0, (1 << 62) - 1) for _ in range(2000)]
    got = K.isqrt(np.array(sq, np.int64)).tolist()
    bad += sum(gr != math.isqrt(v) for gr, v in zip(got, sq))
    return bad


def main():
    failed = []
    bad = check_primitives()
    print(f"{'tdiv/isqrt':16s} {'FAIL' if bad else 'ok'}  ({bad} mismatches)")
    if bad:
        failed.append("tdiv/isqrt")
    for seed, (name, fn) in enumerate(sorted(CHECKS.items())):
        g = Gen(1000 + seed)
        mismatches = 0
        for i in range(N_CASES):
            got, want = fn(g)
            if got != want:
                mismatches += 1
                if mismatches <= 3:
                    print(f"  {name} case {i}: golden {got} != reference {want}")
        print(f"{name:16s} {'FAIL' if mismatches else 'ok'}  ({N_CASES} cases, "
              f"{mismatches} mismatches)")
        if mismatches:
            failed.append(name)
    if failed:
        print("FAILED:", ", ".join(failed))
        return 1
    print("all kernels agree with the pure-Python reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
