"""Independent numpy golden model of the mcuemu int8 kernels.

Every function below implements one formula of ``kernels/README.md`` (the arithmetic contract)
and was written from that page only, never from the C sources. Names follow the page.

Conventions
-----------
* All arithmetic is done on ``numpy.int64``. Every product, sum and left shift that could grow
  goes through ``_mul`` / ``_add``, which prove from the operands' magnitudes (with Python ints)
  that the int64 result is exact, and raise ``AssertionError`` otherwise. So a value this module
  returns is either the exact integer result or no result at all.
* ``x >> s`` on a signed ``numpy.int64`` is an arithmetic shift, i.e. ``floor(x / 2^s)``, which is
  what the page calls ``>>``.
* ``tdiv`` (C division, truncation toward zero) is written out explicitly: numpy's ``//`` floors.
* ``isqrt`` is the exact ``floor(sqrt(v))`` (float estimate, then corrected with integer tests).
* Where the page says a value is ``i32`` (GEMV/GEMM outputs, GELU, hard-swish, the RoPE sums) the
  result is checked to fit in i32; where it says "stored as i8" the clamped value is checked to
  fit in i8 (the vectors never rely on a wrapping store).
"""

import numpy as np

I8_MIN, I8_MAX = -(1 << 7), (1 << 7) - 1
I16_MIN, I16_MAX = -(1 << 15), (1 << 15) - 1
I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


# --------------------------------------------------------------------------------------------
# Exact int64 helpers
# --------------------------------------------------------------------------------------------

def _i64(a):
    """`a` (array-like or scalar) as a fresh int64 ndarray."""
    return np.array(a, dtype=np.int64)


def _absmax(a):
    """max |a| over the elements of `a`, as a Python int (0 for an empty array)."""
    a = np.asarray(a)
    if a.size == 0:
        return 0
    return max(abs(int(a.max())), abs(int(a.min())))


def _mul(a, b):
    """a * b in int64, asserting that no element can overflow."""
    a, b = _i64(a), _i64(b)
    assert _absmax(a) * _absmax(b) <= I64_MAX, "int64 product would overflow"
    return a * b


def _add(a, b):
    """a + b in int64, asserting that no element can overflow."""
    a, b = _i64(a), _i64(b)
    assert _absmax(a) + _absmax(b) <= I64_MAX, "int64 sum would overflow"
    return a + b


def _sar(a, s):
    """Arithmetic right shift, floor(a / 2^s), on int64 (s may be an array)."""
    s = _i64(s)
    assert s.size == 0 or (int(s.min()) >= 0 and int(s.max()) <= 62), "shift out of range"
    return np.right_shift(_i64(a), s)


def _clamp(v, lo, hi):
    """clamp(v, lo, hi) = min(max(v, lo), hi)."""
    return np.minimum(np.maximum(_i64(v), np.int64(lo)), np.int64(hi))


def _check_range(a, lo, hi, what):
    a = np.asarray(a)
    assert a.size == 0 or (int(a.min()) >= lo and int(a.max()) <= hi), \
        f"{what} out of [{lo}, {hi}]"


def _check_i32(*scalars):
    for v in scalars:
        _check_range(v, I32_MIN, I32_MAX, "i32 parameter")


def _store(v, dtype, what="result"):
    """Store v in `dtype`, asserting the value fits (no wrapping store is ever relied on)."""
    info = np.iinfo(dtype)
    _check_range(v, info.min, info.max, what)
    return _i64(v).astype(dtype)


def _check_shift(shift):
    assert 0 <= shift <= 31, "shift must be in 0..31"


def tdiv(a, b):
    """C integer division: the quotient truncated toward zero (b != 0).

        tdiv(a, b) = sgn(a) * sgn(b) * floor(|a| / |b|)
    """
    a, b = _i64(a), _i64(b)
    assert _absmax(a) <= I64_MAX and _absmax(b) <= I64_MAX
    assert np.all(b != 0), "tdiv by zero"
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q)


def isqrt(v):
    """Exact floor(sqrt(v)) for int64 v in [0, 2^62), element-wise.

    A float64 square root gives an estimate that is off by at most one; it is then corrected
    with exact integer comparisons (r*r <= v < (r+1)*(r+1)).
    """
    v = _i64(v)
    _check_range(v, 0, (1 << 62) - 1, "isqrt argument")
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    while True:
        too_big = r * r > v
        if not np.any(too_big):
            break
        r = np.where(too_big, r - 1, r)
    while True:
        too_small = (r + 1) * (r + 1) <= v
        if not np.any(too_small):
            break
        r = np.where(too_small, r + 1, r)
    return r


def _requant_tail(t, shift, zy, lo, hi):
    """y = clamp((t >> shift) + zy, lo, hi), stored as i8 (the tail of every RequantShift)."""
    _check_shift(shift)
    _check_i32(zy, lo, hi)
    assert lo <= hi, "lo must be <= hi"
    return _store(_clamp(_add(_sar(t, shift), zy), lo, hi), np.int8, "requantized output")


# --------------------------------------------------------------------------------------------
# Requantization (RequantShift)
# --------------------------------------------------------------------------------------------

def rqs(x, zx, mul, add, shift, zy, lo, hi):
    """Per-tensor RequantShift, `mcu_rqs_s32_s8`.

        t = (x + zx) * mul + add          computed in i64            (x: i32)
        y = clamp((t >> shift) + zy, lo, hi)                          -> stored as i8
    """
    x = _i64(x)
    _check_range(x, I32_MIN, I32_MAX, "x")
    _check_i32(zx, mul, add)
    t = _add(_mul(_add(x, zx), mul), add)
    return _requant_tail(t, shift, zy, lo, hi)


def rqs_per_channel(x, zx, mul, add, shift, zy, lo, hi, channels):
    """Per-channel RequantShift, `mcu_rqs_s32_s8_per_channel`.

    The input is [rows][channels] row-major, channel c = index % channels:
        t = (x + zx) * mul[c] + add[c]    computed in i64
        y = clamp((t >> shift) + zy, lo, hi)                          -> stored as i8
    """
    x = _i64(x).ravel()
    mul, add = _i64(mul), _i64(add)
    assert mul.shape == (channels,) and add.shape == (channels,)
    assert x.size % channels == 0
    _check_range(x, I32_MIN, I32_MAX, "x")
    _check_i32(zx, mul, add)
    c = np.arange(x.size) % channels
    t = _add(_mul(_add(x, zx), mul[c]), add[c])
    return _requant_tail(t, shift, zy, lo, hi)


def rqs_overflow_count(x, zx, mul, add):
    """`mcu_rqs_count_i32_overflow`: the number of elements whose

        (x + zx) * mul    or    (x + zx) * mul + add

    leaves the i32 range (where the 32-bit chip would wrap).
    """
    x = _i64(x)
    _check_range(x, I32_MIN, I32_MAX, "x")
    _check_i32(zx, mul, add)
    p = _mul(_add(x, zx), mul)
    s = _add(p, add)

    def out_of_i32(v):
        return (v < I32_MIN) | (v > I32_MAX)

    return int(np.count_nonzero(out_of_i32(p) | out_of_i32(s)))


# --------------------------------------------------------------------------------------------
# GEMV and GEMM
# --------------------------------------------------------------------------------------------

def _check_i32_accumulation(terms_absmax_sum, bias_absmax, what):
    """The i32 accumulator is exact if even the sum of magnitudes fits in i32."""
    assert terms_absmax_sum + bias_absmax <= I32_MAX, f"{what}: i32 accumulation not exact"


def gemv(W, x, bias, x_off, w_off):
    """`mcu_gemv_s8_s32`: weights [out][in] row-major, bias may be None (treated as zero).

        y[o] = bias[o] + sum_i (W[o][i] + w_off) * (x[i] + x_off)                 (i32)
    """
    W, x = _i64(W), _i64(x)
    assert W.ndim == 2 and x.shape == (W.shape[1],)
    n_out, n_in = W.shape
    _check_i32(x_off, w_off)
    bias = np.zeros(n_out, np.int64) if bias is None else _i64(bias)
    assert bias.shape == (n_out,)
    wo = _add(W, w_off)
    xo = _add(x, x_off)
    _check_i32_accumulation(n_in * _absmax(wo) * _absmax(xo), _absmax(bias), "gemv")
    y = bias + wo @ xo  # exact: every partial sum is bounded by the check above
    return _store(y, np.int32, "gemv output")


def gemm(A, B, bias, M, N, K, lda, ldb, ldy, a_off, b_off):
    """`mcu_gemm_s8_s32`: A * B^T with row strides lda, ldb, ldy; bias may be None.

        Y[m][n] = bias[n] + sum_k (A[m*lda + k] + a_off) * (B[n*ldb + k] + b_off)   (i32)

    Returns Y as a flat [M*ldy] int32 array whose padding entries (n >= N), which the kernel
    must not write, are 0 (the C tests zero-fill outputs).
    """
    A, B = _i64(A).ravel(), _i64(B).ravel()
    assert M >= 1 and N >= 1 and K >= 1
    assert lda >= K and ldb >= K and ldy >= N
    assert A.size == M * lda and B.size == N * ldb
    _check_i32(a_off, b_off)
    bias = np.zeros(N, np.int64) if bias is None else _i64(bias)
    assert bias.shape == (N,)
    Ao = _add(A.reshape(M, lda)[:, :K], a_off)
    Bo = _add(B.reshape(N, ldb)[:, :K], b_off)
    _check_i32_accumulation(K * _absmax(Ao) * _absmax(Bo), _absmax(bias), "gemm")
    Y = np.zeros((M, ldy), np.int64)
    Y[:, :N] = bias[None, :] + Ao @ Bo.T
    return _store(Y.ravel(), np.int32, "gemm output")


# --------------------------------------------------------------------------------------------
# Element-wise kernels
# --------------------------------------------------------------------------------------------

def add_rq(a, b, za, zb, mul_a, mul_b, add, shift, zy, lo, hi):
    """`mcu_add_rq_s8`: residual add with requantization.

        t = (a + za) * mul_a + (b + zb) * mul_b + add     computed in i64      (a, b: i8)
        y = clamp((t >> shift) + zy, lo, hi)
    """
    a, b = _i64(a), _i64(b)
    assert a.shape == b.shape
    _check_range(a, I8_MIN, I8_MAX, "a")
    _check_range(b, I8_MIN, I8_MAX, "b")
    _check_i32(za, zb, mul_a, mul_b, add)
    t = _add(_add(_mul(_add(a, za), mul_a), _mul(_add(b, zb), mul_b)), add)
    return _requant_tail(t, shift, zy, lo, hi)


def mul_rq(a, b, za, zb, mul, add, shift, zy, lo, hi):
    """`mcu_mul_rq_s8`: element-wise product with requantization.

        t = (a + za) * (b + zb) * mul + add               computed in i64      (a, b: i8)
        y = clamp((t >> shift) + zy, lo, hi)
    """
    a, b = _i64(a), _i64(b)
    assert a.shape == b.shape
    _check_range(a, I8_MIN, I8_MAX, "a")
    _check_range(b, I8_MIN, I8_MAX, "b")
    _check_i32(za, zb, mul, add)
    t = _add(_mul(_mul(_add(a, za), _add(b, zb)), mul), add)
    return _requant_tail(t, shift, zy, lo, hi)


def relu(x, z):
    """`mcu_relu_s8`: y = max(x, z) on i8, z the zero point of x."""
    x = _i64(x)
    _check_range(x, I8_MIN, I8_MAX, "x")
    _check_range(z, I8_MIN, I8_MAX, "z")
    return _store(np.maximum(x, np.int64(z)), np.int8)


def gelu(x, zx, b, one):
    """`mcu_gelu_s8_s32`: I-BERT integer GELU (b < 0, one > 0).

        v = x + zx
        q = min(|v|, -b)
        L = sgn(v) * (one - (q + b)^2)                    (i32; erf(v/sqrt2) in units of 1/one)
        y = v * ((one + L) >> 1)                          (i32 output; a RequantShift follows)
    """
    x = _i64(x)
    _check_range(x, I8_MIN, I8_MAX, "x")
    _check_i32(zx, b, one)
    assert b < 0 and one > 0
    v = _add(x, zx)
    q = np.minimum(np.abs(v), -np.int64(b))
    qb = _add(q, b)
    L = _mul(np.sign(v), _add(one, -_mul(qb, qb)))
    _check_range(L, I32_MIN, I32_MAX, "gelu L")
    h = _sar(_add(one, L), 1)
    _check_range(h, I32_MIN, I32_MAX, "gelu (one + L) >> 1")
    return _store(_mul(v, h), np.int32, "gelu output")


def hswish(x, zx, three, six):
    """`mcu_hswish_s8_s32`: integer hard-swish (SiLU replacement).

        v = x + zx
        t = clamp(v + three, 0, six)
        y = v * t                                         (i32 output; a RequantShift follows)
    """
    x = _i64(x)
    _check_range(x, I8_MIN, I8_MAX, "x")
    _check_i32(zx, three, six)
    v = _add(x, zx)
    t = _clamp(_add(v, three), 0, six)
    return _store(_mul(v, t), np.int32, "hswish output")


# --------------------------------------------------------------------------------------------
# Softmaxes
# --------------------------------------------------------------------------------------------

def _rows(x, rows, n, ld):
    """The [rows][n] view of a row-strided buffer of length rows*ld, as int64."""
    x = _i64(x).ravel()
    assert rows >= 1 and 1 <= n <= ld and x.size == rows * ld
    _check_range(x, I8_MIN, I8_MAX, "x")
    return x.reshape(rows, ld)[:, :n]


def _unrow(y, rows, n, ld):
    """Scatter [rows][n] i8 results into a zero-filled [rows*ld] buffer (padding stays 0)."""
    out = np.zeros((rows, ld), np.int64)
    out[:, :n] = y
    return _store(out.ravel(), np.int8, "softmax output")


def softmax_ibert(x, rows, n, ld, A, B, C, log2):
    """`mcu_softmax_ibert_s8`: I-BERT integer softmax per row of n i8 (row stride ld).

        m   = max_j x_j
        d_j = x_j - m                                    (<= 0)
        z_j = min(tdiv(-d_j, log2), 31)
        p_j = d_j + z_j * log2                           (in (-log2, 0] unless z was clamped)
        e_j = (A * (p_j + B)^2 + C) >> z_j               computed in i64
        S   = sum_j e_j                                  computed in i64
        y_j = tdiv(e_j * 255, S) - 128                   computed in i64, stored as i8
    If S is 0, every output of the row is -128. Entries j >= n are not written (returned as 0).
    """
    X = _rows(x, rows, n, ld)
    _check_i32(A, B, C, log2)
    assert log2 > 0
    m = X.max(axis=1, keepdims=True)
    d = X - m
    z = np.minimum(tdiv(-d, log2), 31)
    p = _add(d, _mul(z, log2))
    pB = _add(p, B)
    e = _sar(_add(_mul(A, _mul(pB, pB)), C), z)
    assert _absmax(e) * n <= I64_MAX, "row sum would overflow"
    S = e.sum(axis=1, keepdims=True)
    S_safe = np.where(S == 0, 1, S)
    y = np.where(S == 0, -128, _add(tdiv(_mul(e, 255), S_safe), -128))
    return _unrow(y, rows, n, ld)


def softmax_itamax(x, rows, n, ld):
    """`mcu_softmax_itamax_s8`: ITAMax (power-of-two softmax), n_levels 256, eps_shift 5.

        m   = max_j x_j
        s_j = (m - x_j + 16) >> 5                         (0..8 for i8 inputs)
        S   = sum_j (256 >> s_j)
        inv = tdiv(255 * 256, S)
        y_j = (inv >> s_j) - 128
    Entries j >= n are not written (returned as 0).
    """
    X = _rows(x, rows, n, ld)
    m = X.max(axis=1, keepdims=True)
    s = _sar(m - X + 16, 5)
    S = _sar(np.int64(256), s).sum(axis=1, keepdims=True)
    inv = tdiv(np.int64(255 * 256), S)
    y = _sar(inv, s) - 128
    return _unrow(y, rows, n, ld)


# --------------------------------------------------------------------------------------------
# Normalizations
# --------------------------------------------------------------------------------------------

def _norm_input(x, zx):
    x = _i64(x)
    assert x.ndim == 2 and x.shape[1] >= 1
    _check_range(x, I8_MIN, I8_MAX, "x")
    _check_i32(zx)
    return _add(x, zx)


def _shl(a, s):
    """a << s for a >= 0 (a * 2^s), exact in int64."""
    a = _i64(a)
    _check_range(a, 0, I64_MAX, "left-shift operand")
    return _mul(a, 1 << s)


def rmsnorm(x, w, zx, log2D, zy, k):
    """`mcu_rmsnorm_s8`: integer RMSNorm per row of length D (k = 0 is Deeploy iRMSNorm_s8).

        v_j = x_j + zx
        s   = sum_j v_j^2                                 (i64)
        ms  = tdiv(s << (2k), D) + 1                      (i64)
        r   = isqrt(ms)                                   (>= 1)
        y_j = clamp((tdiv(v_j * w_j, r) >> log2D) + zy, -128, 127)      (v_j * w_j in i64)
    """
    v = _norm_input(x, zx)
    rows, D = v.shape
    w = _i64(w)
    assert w.shape == (D,)
    _check_i32(w, zy)
    assert 0 <= log2D <= 31 and k >= 0
    assert _absmax(v) ** 2 * D <= I64_MAX, "sum of squares would overflow"
    s = _mul(v, v).sum(axis=1, keepdims=True)
    ms = _add(tdiv(_shl(s, 2 * k), D), 1)
    r = isqrt(ms)
    y = _add(_sar(tdiv(_mul(v, w[None, :]), r), log2D), zy)
    return _store(_clamp(y, -128, 127), np.int8)


def layernorm(x, w, bias, zx, log2D, zy, k):
    """`mcu_layernorm_s8`: integer LayerNorm per row of length D (k = 0 is Deeploy Layernorm_s8).

        v_j  = x_j + zx
        mean = tdiv(sum_j v_j, D)                         (truncated toward zero)
        c_j  = v_j - mean
        var  = tdiv((sum_j c_j^2) << (2k), D) + 1         (i64)
        sd   = isqrt(var)
        y_j  = clamp(((tdiv(c_j * w_j, sd) + bias_j) >> log2D) + zy, -128, 127)    (i64)
    """
    v = _norm_input(x, zx)
    rows, D = v.shape
    w, bias = _i64(w), _i64(bias)
    assert w.shape == (D,) and bias.shape == (D,)
    _check_i32(w, bias, zy)
    assert 0 <= log2D <= 31 and k >= 0
    assert _absmax(v) * D <= I64_MAX, "sum would overflow"
    mean = tdiv(v.sum(axis=1, keepdims=True), D)
    c = _add(v, -mean)
    assert _absmax(c) ** 2 * D <= I64_MAX, "sum of squares would overflow"
    var = _add(tdiv(_shl(_mul(c, c).sum(axis=1, keepdims=True), 2 * k), D), 1)
    sd = isqrt(var)
    y = _add(_sar(_add(tdiv(_mul(c, w[None, :]), sd), bias[None, :]), log2D), zy)
    return _store(_clamp(y, -128, 127), np.int8)


def nonorm(x, mul, add, zx, shift, zy, lo, hi):
    """`mcu_nonorm_s8`: MobileBERT NoNorm, per-channel affine on i8 input (channel j = column).

        y = clamp((((x + zx) * mul_j + add_j) >> shift) + zy, lo, hi)      (i64)
    """
    v = _norm_input(x, zx)
    rows, D = v.shape
    mul, add = _i64(mul), _i64(add)
    assert mul.shape == (D,) and add.shape == (D,)
    _check_i32(mul, add)
    t = _add(_mul(v, mul[None, :]), add[None, :])
    return _requant_tail(t, shift, zy, lo, hi)


# --------------------------------------------------------------------------------------------
# RoPE, embedding, arg-max
# --------------------------------------------------------------------------------------------

def rope(x, cos, sin, n_heads, head_dim, zx, mul, add, shift, zy, lo, hi):
    """`mcu_rope_s8`: integer rotary embedding, pairs (2i, 2i+1) per head (llama2.c).

    cos[i], sin[i] are i16 Q`frac` tables for one position, i = 0 .. head_dim/2 - 1.
        a = x[2i] + zx,  b = x[2i+1] + zx                            (per head, offset h*head_dim)
        t0 = a * cos[i] - b * sin[i]                                 (i32)
        t1 = a * sin[i] + b * cos[i]                                 (i32)
        y[2i]   = clamp(((t0 * mul + add) >> shift) + zy, lo, hi)    (i64)
        y[2i+1] = clamp(((t1 * mul + add) >> shift) + zy, lo, hi)
    """
    assert head_dim >= 2 and head_dim % 2 == 0 and n_heads >= 1
    x = _i64(x).ravel()
    assert x.size == n_heads * head_dim
    _check_range(x, I8_MIN, I8_MAX, "x")
    cos, sin = _i64(cos), _i64(sin)
    assert cos.shape == (head_dim // 2,) and sin.shape == (head_dim // 2,)
    _check_range(cos, I16_MIN, I16_MAX, "cos")
    _check_range(sin, I16_MIN, I16_MAX, "sin")
    _check_i32(zx, mul, add)
    pairs = _add(x.reshape(n_heads, head_dim // 2, 2), zx)
    a, b = pairs[:, :, 0], pairs[:, :, 1]
    t0 = _add(_mul(a, cos[None, :]), -_mul(b, sin[None, :]))
    t1 = _add(_mul(a, sin[None, :]), _mul(b, cos[None, :]))
    _check_range(t0, I32_MIN, I32_MAX, "rope t0")
    _check_range(t1, I32_MIN, I32_MAX, "rope t1")
    t = np.stack([t0, t1], axis=-1).ravel()           # back to x's order: t0 at 2i, t1 at 2i+1
    return _requant_tail(_add(_mul(t, mul), add), shift, zy, lo, hi)


def embedding(table, row):
    """`mcu_embedding_row_s8`: y[j] = table[row * dim + j], j < dim (table is [rows, dim])."""
    table = np.asarray(table)
    assert table.ndim == 2 and 0 <= row < table.shape[0]
    return _store(table[row], np.int8)


def argmax(x):
    """`mcu_argmax_s32`: over i32 values (n >= 1), the largest value and the lowest index that
    holds it. Returns (index, value)."""
    x = _i64(x)
    assert x.ndim == 1 and x.size >= 1
    _check_range(x, I32_MIN, I32_MAX, "x")
    value = int(x.max())
    index = int(np.flatnonzero(x == value)[0])
    return index, value
