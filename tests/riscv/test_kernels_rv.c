/* The kernels of kernels/ on rv32imc against the golden vectors (tests/data/kernel_vectors.h5,
 * embedded as C arrays by scripts/riscv/vectors_to_c.py), under qemu-system-riscv32 with
 * semihosting. See tests/riscv/README.md.
 *
 * For every case: check the case against the layout of scripts/golden/README.md, zero-fill the
 * output (the padding of gemm/softmax must stay 0) and put a guard pattern behind it, call the
 * kernel between two reads of minstret, compare every output element with `want` (tolerance
 * zero) and the guard. Every mismatch is printed as "MISMATCH kernel/case [index]: got G want W".
 *
 * Output (semihosting console = qemu's stderr): one table row per case (kernel, case, shape, work
 * units, retired instructions, instructions per unit), a per-kernel summary, and the same rows in
 * instret.csv (semihosting file I/O, relative to qemu's working directory).
 * Exit code: the number of failing cases, capped at 255 (qemu passes it through). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernel_vectors.h"
#include "mcu_kernels.h"

_Static_assert(sizeof(size_t) == 4 && sizeof(void *) == 4, "this program checks the ilp32 target");

/* minstret (CSR 0xC02, user-level alias instret). Under qemu -icount shift=0 it counts retired
 * instructions exactly. csrr needs Zicsr, which is enabled for this one instruction only, so that
 * -march stays exactly rv32imc (picolibc's multilib selection depends on it). The memory clobber
 * keeps the compiler from moving loads/stores of the call's operands across the read. */
static inline uint32_t rv_instret(void) {
  uint32_t v;
  __asm__ volatile(".option push\n\t.option arch, +zicsr\n\tcsrr %0, instret\n\t.option pop"
                   : "=r"(v)
                   :
                   : "memory");
  return v;
}

static uint32_t instret_overhead; /* two back-to-back reads; subtracted from every measurement */

#define MEASURE(r, call)                         \
  do {                                           \
    const uint32_t t0_ = rv_instret();           \
    call;                                        \
    const uint32_t t1_ = rv_instret();           \
    (r)->instret = t1_ - t0_ - instret_overhead; \
  } while (0)

/* ------------------------------------------------------------------------------------------- */
/* Case access by name, with the checks the host reader (tests/kernels/vectors.hpp) does.       */

typedef struct {
  const rv_case_t *c;
  int bad; /* the case does not match the documented layout: it fails without a kernel call */
} ctx_t;

static void malformed(ctx_t *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("ERROR %s/%s: ", x->c->kernel, x->c->name);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  x->bad = 1;
}

static int64_t attr(ctx_t *x, const char *key) {
  for (uint32_t i = 0; i < x->c->n_attrs; ++i)
    if (strcmp(x->c->attrs[i].key, key) == 0) return x->c->attrs[i].value;
  malformed(x, "no attribute %s", key);
  return 0;
}

static int32_t a32(ctx_t *x, const char *key) {
  const int64_t v = attr(x, key);
  if (v < INT32_MIN || v > INT32_MAX) {
    malformed(x, "attribute %s = %" PRId64 " does not fit int32", key, v);
    return 0;
  }
  return (int32_t)v;
}

/* A size or count: must fit the 32-bit size_t of the target. */
static size_t asz(ctx_t *x, const char *key) {
  const int64_t v = attr(x, key);
  if (v < 0 || (uint64_t)v > SIZE_MAX) {
    malformed(x, "attribute %s = %" PRId64 " is not a valid size", key, v);
    return 0;
  }
  return (size_t)v;
}

static size_t mulz(ctx_t *x, size_t a, size_t b) {
  if (b != 0 && a > SIZE_MAX / b) {
    malformed(x, "size %zu x %zu overflows size_t", a, b);
    return 0;
  }
  return a * b;
}

static void need(ctx_t *x, int cond, const char *what) {
  if (!cond) malformed(x, "precondition violated: %s", what);
}

static const rv_array_t *find(ctx_t *x, const char *key) {
  for (uint32_t i = 0; i < x->c->n_arrays; ++i)
    if (strcmp(x->c->arrays[i].key, key) == 0) return &x->c->arrays[i];
  malformed(x, "no dataset %s", key);
  return NULL;
}

static const char *dtype_name(rv_dtype_t t) {
  switch (t) {
    case RV_I8:
      return "int8";
    case RV_I16:
      return "int16";
    case RV_I32:
      return "int32";
    case RV_I64:
      return "int64";
  }
  return "?";
}

static size_t dtype_size(rv_dtype_t t) {
  switch (t) {
    case RV_I8:
      return 1;
    case RV_I16:
      return 2;
    case RV_I32:
      return 4;
    case RV_I64:
      return 8;
  }
  return 0;
}

/* Dataset `key` of dtype t with exactly n elements (n == SIZE_MAX: any length, stored in *n_out).
 */
static const void *arr(ctx_t *x, const char *key, rv_dtype_t t, size_t n, size_t *n_out) {
  const rv_array_t *a = find(x, key);
  if (!a) return NULL;
  if (a->dtype != t) {
    malformed(x, "dataset %s is %s, expected %s", key, dtype_name(a->dtype), dtype_name(t));
    return NULL;
  }
  if (n != SIZE_MAX && a->n != n) {
    malformed(x, "dataset %s has %" PRIu32 " elements, expected %zu", key, a->n, n);
    return NULL;
  }
  if (n_out) *n_out = a->n;
  return a->data;
}
#define ANY SIZE_MAX

static int64_t get(const void *p, rv_dtype_t t, size_t i) {
  switch (t) {
    case RV_I8:
      return ((const int8_t *)p)[i];
    case RV_I16:
      return ((const int16_t *)p)[i];
    case RV_I32:
      return ((const int32_t *)p)[i];
    case RV_I64:
      return ((const int64_t *)p)[i];
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------- */
/* The shared output buffer: zero-filled output, then a guard the kernel must not touch.        */

#define GUARD_BYTES 64u
#define GUARD_BYTE 0xA5u
static union {
  int64_t align;
  uint8_t b[RV_MAX_WANT_BYTES + GUARD_BYTES];
} out_buf;

typedef struct {
  rv_dtype_t t_out; /* dtype of the output = dtype of want */
  size_t n_out;     /* output elements = elements of want */
  uint64_t units;   /* work: elements, or MACs for gemv/gemm */
  const char *unit;
  char shape[48];
  uint32_t instret;
  int called;
} run_t;

/* Checks `want` against the output the kernel will write, prepares the buffer, records the shape.
 * Returns the output pointer, or NULL if the case is malformed (no call then). */
static void *begin(ctx_t *x, run_t *r, rv_dtype_t t, size_t n_out, uint64_t units, const char *unit,
                   const char *shape_fmt, ...) {
  va_list ap;
  va_start(ap, shape_fmt);
  vsnprintf(r->shape, sizeof r->shape, shape_fmt, ap);
  va_end(ap);
  r->t_out = t;
  r->n_out = n_out;
  r->units = units;
  r->unit = unit;
  if (x->bad) return NULL;
  if (!arr(x, "want", t, n_out, NULL)) return NULL;
  const size_t bytes = n_out * dtype_size(t);
  if (bytes > RV_MAX_WANT_BYTES) { /* cannot happen: want has n_out elements */
    malformed(x, "output of %zu bytes exceeds the buffer", bytes);
    return NULL;
  }
  memset(out_buf.b, 0, bytes);
  memset(out_buf.b + bytes, GUARD_BYTE, GUARD_BYTES);
  r->called = 1;
  return out_buf.b;
}

/* ------------------------------------------------------------------------------------------- */
/* One runner per kernel group, mirroring tests/kernels/test_*.cpp.                             */

static void run_rqs(ctx_t *x, run_t *r) {
  const mcu_rqs_t p = {a32(x, "zx"), a32(x, "mul"), a32(x, "add"), a32(x, "shift"),
                       a32(x, "zy"), a32(x, "lo"),  a32(x, "hi")};
  size_t n = 0;
  const int32_t *in = arr(x, "x", RV_I32, ANY, &n);
  int8_t *y = begin(x, r, RV_I8, n, n, "elem", "n=%zu", n);
  if (y) MEASURE(r, mcu_rqs_s32_s8(&p, in, y, n));
}

static void run_rqs_per_channel(ctx_t *x, run_t *r) {
  const size_t rows = asz(x, "rows"), ch = asz(x, "channels"), n = mulz(x, rows, ch);
  const int32_t *mul = arr(x, "mul", RV_I32, ch, NULL), *add = arr(x, "add", RV_I32, ch, NULL);
  const mcu_rqs_pc_t p = {mul,          add,          a32(x, "zx"), a32(x, "shift"),
                          a32(x, "zy"), a32(x, "lo"), a32(x, "hi")};
  const int32_t *in = arr(x, "x", RV_I32, n, NULL);
  int8_t *y = begin(x, r, RV_I8, n, n, "elem", "rows=%zu ch=%zu", rows, ch);
  if (y) MEASURE(r, mcu_rqs_s32_s8_per_channel(&p, in, y, rows, ch));
}

static void run_rqs_overflow(ctx_t *x, run_t *r) {
  const mcu_rqs_t p = {a32(x, "zx"), a32(x, "mul"), a32(x, "add"), a32(x, "shift"),
                       a32(x, "zy"), a32(x, "lo"),  a32(x, "hi")};
  size_t n = 0, count = 0;
  const int32_t *in = arr(x, "x", RV_I32, ANY, &n);
  int64_t *y = begin(x, r, RV_I64, 1, n, "elem", "n=%zu", n);
  if (!y) return;
  MEASURE(r, count = mcu_rqs_count_i32_overflow(&p, in, n));
  y[0] = (int64_t)count;
}

static void run_gemv(ctx_t *x, run_t *r) {
  const size_t out = asz(x, "out"), in = asz(x, "in");
  const mcu_gemv_t p = {a32(x, "x_off"), a32(x, "w_off")};
  const int has_bias = a32(x, "has_bias") != 0;
  const int8_t *W = arr(x, "W", RV_I8, mulz(x, out, in), NULL);
  const int8_t *v = arr(x, "x", RV_I8, in, NULL);
  const int32_t *bias = has_bias ? arr(x, "bias", RV_I32, out, NULL) : NULL;
  int32_t *y = begin(x, r, RV_I32, out, (uint64_t)out * in, "MAC", "out=%zu in=%zu%s%s%s", out, in,
                     has_bias ? " +b" : "", p.x_off ? " +xo" : "", p.w_off ? " +wo" : "");
  if (y) MEASURE(r, mcu_gemv_s8_s32(&p, W, v, bias, y, out, in));
}

static void run_gemm(ctx_t *x, run_t *r) {
  const size_t M = asz(x, "M"), N = asz(x, "N"), K = asz(x, "K");
  const size_t lda = asz(x, "lda"), ldb = asz(x, "ldb"), ldy = asz(x, "ldy");
  const mcu_gemm_t p = {a32(x, "a_off"), a32(x, "b_off")};
  const int has_bias = a32(x, "has_bias") != 0;
  need(x, K <= lda && K <= ldb && N <= ldy, "K <= lda, K <= ldb, N <= ldy");
  const int8_t *A = arr(x, "A", RV_I8, mulz(x, M, lda), NULL);
  const int8_t *B = arr(x, "B", RV_I8, mulz(x, N, ldb), NULL);
  const int32_t *bias = has_bias ? arr(x, "bias", RV_I32, N, NULL) : NULL;
  int32_t *y =
      begin(x, r, RV_I32, mulz(x, M, ldy), (uint64_t)M * N * K, "MAC", "M=%zu N=%zu K=%zu%s%s%s", M,
            N, K, has_bias ? " +b" : "", p.a_off ? " +ao" : "", p.b_off ? " +bo" : "");
  if (y) MEASURE(r, mcu_gemm_s8_s32(&p, A, lda, B, ldb, bias, y, ldy, M, N, K));
}

static void run_add_rq(ctx_t *x, run_t *r) {
  const mcu_add_rq_t p = {a32(x, "za"),    a32(x, "zb"),  a32(x, "mul_a"),
                          a32(x, "mul_b"), a32(x, "add"), a32(x, "shift"),
                          a32(x, "zy"),    a32(x, "lo"),  a32(x, "hi")};
  size_t n = 0;
  const int8_t *a = arr(x, "a", RV_I8, ANY, &n);
  const int8_t *b = arr(x, "b", RV_I8, n, NULL);
  int8_t *y = begin(x, r, RV_I8, n, n, "elem", "n=%zu", n);
  if (y) MEASURE(r, mcu_add_rq_s8(&p, a, b, y, n));
}

static void run_mul_rq(ctx_t *x, run_t *r) {
  const mcu_mul_rq_t p = {a32(x, "za"),    a32(x, "zb"), a32(x, "mul"), a32(x, "add"),
                          a32(x, "shift"), a32(x, "zy"), a32(x, "lo"),  a32(x, "hi")};
  size_t n = 0;
  const int8_t *a = arr(x, "a", RV_I8, ANY, &n);
  const int8_t *b = arr(x, "b", RV_I8, n, NULL);
  int8_t *y = begin(x, r, RV_I8, n, n, "elem", "n=%zu", n);
  if (y) MEASURE(r, mcu_mul_rq_s8(&p, a, b, y, n));
}

static void run_relu(ctx_t *x, run_t *r) {
  const int32_t z = a32(x, "z");
  need(x, z >= INT8_MIN && z <= INT8_MAX, "z in int8");
  size_t n = 0;
  const int8_t *in = arr(x, "x", RV_I8, ANY, &n);
  int8_t *y = begin(x, r, RV_I8, n, n, "elem", "n=%zu", n);
  if (y) MEASURE(r, mcu_relu_s8(in, y, n, (int8_t)z));
}

static void run_gelu(ctx_t *x, run_t *r) {
  const mcu_gelu_t p = {a32(x, "zx"), a32(x, "b"), a32(x, "one")};
  size_t n = 0;
  const int8_t *in = arr(x, "x", RV_I8, ANY, &n);
  int32_t *y = begin(x, r, RV_I32, n, n, "elem", "n=%zu", n);
  if (y) MEASURE(r, mcu_gelu_s8_s32(&p, in, y, n));
}

static void run_hswish(ctx_t *x, run_t *r) {
  const mcu_hswish_t p = {a32(x, "zx"), a32(x, "three"), a32(x, "six")};
  size_t n = 0;
  const int8_t *in = arr(x, "x", RV_I8, ANY, &n);
  int32_t *y = begin(x, r, RV_I32, n, n, "elem", "n=%zu", n);
  if (y) MEASURE(r, mcu_hswish_s8_s32(&p, in, y, n));
}

static void run_softmax_ibert(ctx_t *x, run_t *r) {
  const size_t rows = asz(x, "rows"), n = asz(x, "n"), ld = asz(x, "ld");
  const mcu_softmax_ibert_t p = {a32(x, "A"), a32(x, "B"), a32(x, "C"), a32(x, "log2")};
  need(x, n >= 1 && n <= ld, "1 <= n <= ld");
  const int8_t *in = arr(x, "x", RV_I8, mulz(x, rows, ld), NULL);
  int8_t *y = begin(x, r, RV_I8, mulz(x, rows, ld), (uint64_t)rows * n, "elem",
                    "rows=%zu n=%zu ld=%zu", rows, n, ld);
  if (y) MEASURE(r, mcu_softmax_ibert_s8(&p, in, y, rows, n, ld));
}

static void run_softmax_itamax(ctx_t *x, run_t *r) {
  const size_t rows = asz(x, "rows"), n = asz(x, "n"), ld = asz(x, "ld");
  need(x, n >= 1 && n <= ld, "1 <= n <= ld");
  const int8_t *in = arr(x, "x", RV_I8, mulz(x, rows, ld), NULL);
  int8_t *y = begin(x, r, RV_I8, mulz(x, rows, ld), (uint64_t)rows * n, "elem",
                    "rows=%zu n=%zu ld=%zu", rows, n, ld);
  if (y) MEASURE(r, mcu_softmax_itamax_s8(in, y, rows, n, ld));
}

static void run_rmsnorm(ctx_t *x, run_t *r) {
  const size_t rows = asz(x, "rows"), D = asz(x, "D"), n = mulz(x, rows, D);
  need(x, D >= 1, "D >= 1");
  const mcu_rmsnorm_t p = {arr(x, "w", RV_I32, D, NULL), a32(x, "zx"), a32(x, "log2D"),
                           a32(x, "zy"), a32(x, "k")};
  const int8_t *in = arr(x, "x", RV_I8, n, NULL);
  int8_t *y = begin(x, r, RV_I8, n, n, "elem", "rows=%zu D=%zu k=%" PRId32, rows, D, p.k);
  if (y) MEASURE(r, mcu_rmsnorm_s8(&p, in, y, rows, D));
}

static void run_layernorm(ctx_t *x, run_t *r) {
  const size_t rows = asz(x, "rows"), D = asz(x, "D"), n = mulz(x, rows, D);
  need(x, D >= 1, "D >= 1");
  const mcu_layernorm_t p = {arr(x, "w", RV_I32, D, NULL),
                             arr(x, "bias", RV_I32, D, NULL),
                             a32(x, "zx"),
                             a32(x, "log2D"),
                             a32(x, "zy"),
                             a32(x, "k")};
  const int8_t *in = arr(x, "x", RV_I8, n, NULL);
  int8_t *y = begin(x, r, RV_I8, n, n, "elem", "rows=%zu D=%zu k=%" PRId32, rows, D, p.k);
  if (y) MEASURE(r, mcu_layernorm_s8(&p, in, y, rows, D));
}

static void run_nonorm(ctx_t *x, run_t *r) {
  const size_t rows = asz(x, "rows"), D = asz(x, "D"), n = mulz(x, rows, D);
  const mcu_nonorm_t p = {arr(x, "mul", RV_I32, D, NULL),
                          arr(x, "add", RV_I32, D, NULL),
                          a32(x, "zx"),
                          a32(x, "shift"),
                          a32(x, "zy"),
                          a32(x, "lo"),
                          a32(x, "hi")};
  const int8_t *in = arr(x, "x", RV_I8, n, NULL);
  int8_t *y = begin(x, r, RV_I8, n, n, "elem", "rows=%zu D=%zu", rows, D);
  if (y) MEASURE(r, mcu_nonorm_s8(&p, in, y, rows, D));
}

static void run_rope(ctx_t *x, run_t *r) {
  const size_t heads = asz(x, "n_heads"), hd = asz(x, "head_dim"), n = mulz(x, heads, hd);
  const mcu_rope_t p = {a32(x, "zx"), a32(x, "mul"), a32(x, "add"), a32(x, "shift"),
                        a32(x, "zy"), a32(x, "lo"),  a32(x, "hi")};
  need(x, hd % 2 == 0, "head_dim even");
  const int8_t *in = arr(x, "x", RV_I8, n, NULL);
  const int16_t *cs = arr(x, "cos", RV_I16, hd / 2, NULL);
  const int16_t *sn = arr(x, "sin", RV_I16, hd / 2, NULL);
  int8_t *y = begin(x, r, RV_I8, n, n, "elem", "heads=%zu head_dim=%zu", heads, hd);
  if (y) MEASURE(r, mcu_rope_s8(&p, in, cs, sn, y, heads, hd));
}

static void run_embedding(ctx_t *x, run_t *r) {
  const size_t rows = asz(x, "rows"), dim = asz(x, "dim"), row = asz(x, "row");
  need(x, row < rows, "row < rows");
  const int8_t *table = arr(x, "table", RV_I8, mulz(x, rows, dim), NULL);
  int8_t *y = begin(x, r, RV_I8, dim, dim, "elem", "rows=%zu dim=%zu", rows, dim);
  if (y) MEASURE(r, mcu_embedding_row_s8(table, dim, row, y));
}

static void run_argmax(ctx_t *x, run_t *r) {
  size_t n = 0, index = 0;
  int32_t value = 0;
  const int32_t *in = arr(x, "x", RV_I32, ANY, &n);
  need(x, n >= 1, "n >= 1");
  int64_t *y = begin(x, r, RV_I64, 2, n, "elem", "n=%zu", n);
  if (!y) return;
  MEASURE(r, index = mcu_argmax_s32(in, n, &value));
  y[0] = (int64_t)index;
  y[1] = value;
}

static const struct {
  const char *kernel;
  void (*run)(ctx_t *, run_t *);
} RUNNERS[] = {
    {"rqs", run_rqs},
    {"rqs_per_channel", run_rqs_per_channel},
    {"rqs_overflow", run_rqs_overflow},
    {"gemv", run_gemv},
    {"gemm", run_gemm},
    {"add_rq", run_add_rq},
    {"mul_rq", run_mul_rq},
    {"relu", run_relu},
    {"gelu", run_gelu},
    {"hswish", run_hswish},
    {"softmax_ibert", run_softmax_ibert},
    {"softmax_itamax", run_softmax_itamax},
    {"rmsnorm", run_rmsnorm},
    {"layernorm", run_layernorm},
    {"nonorm", run_nonorm},
    {"rope", run_rope},
    {"embedding", run_embedding},
    {"argmax", run_argmax},
};
#define N_RUNNERS (sizeof RUNNERS / sizeof RUNNERS[0])

/* ------------------------------------------------------------------------------------------- */

/* instret per unit with two decimals, in integers (no floating point on rv32imc). */
static void per_unit(char *buf, size_t size, uint32_t instret, uint64_t units) {
  if (units == 0) {
    snprintf(buf, size, "-");
    return;
  }
  const uint64_t h = ((uint64_t)instret * 100u + units / 2u) / units;
  snprintf(buf, size, "%" PRIu64 ".%02" PRIu64, h / 100u, h % 100u);
}

/* Per case, for the per-kernel summary. */
static struct {
  uint64_t units;
  uint32_t instret;
  int fail;
  const char *unit;
  char shape[48];
} results[RV_N_CASES];

/* Runs case i; returns 1 if it fails. */
static int run_case(size_t ci, FILE *csv) {
  const rv_case_t *c = &rv_cases[ci];
  ctx_t x = {c, 0};
  run_t r;
  memset(&r, 0, sizeof r);
  size_t k = 0;
  while (k < N_RUNNERS && strcmp(RUNNERS[k].kernel, c->kernel) != 0) ++k;
  if (k == N_RUNNERS)
    malformed(&x, "no runner for kernel group %s", c->kernel);
  else
    RUNNERS[k].run(&x, &r);

  size_t mismatches = 0, guard_hits = 0;
  if (r.called) {
    const void *want = find(&x, "want")->data;
    for (size_t i = 0; i < r.n_out; ++i) {
      const int64_t got = get(out_buf.b, r.t_out, i), w = get(want, r.t_out, i);
      if (got != w) {
        printf("MISMATCH %s/%s [%zu]: got %" PRId64 " want %" PRId64 "\n", c->kernel, c->name, i,
               got, w);
        ++mismatches;
      }
    }
    const uint8_t *guard = out_buf.b + r.n_out * dtype_size(r.t_out);
    for (size_t i = 0; i < GUARD_BYTES; ++i) guard_hits += guard[i] != GUARD_BYTE;
    if (guard_hits)
      printf("MISMATCH %s/%s: %zu bytes written past the end of the output\n", c->kernel, c->name,
             guard_hits);
  }
  const int fail = x.bad || !r.called || mismatches || guard_hits;
  if (fail) {
    printf("FAIL %s/%s (%s): ", c->kernel, c->name, c->note);
    if (r.called)
      printf("%zu of %zu elements differ%s\n", mismatches, r.n_out,
             guard_hits ? ", wrote past the output" : "");
    else
      printf("case not run (malformed)\n");
  }

  results[ci].units = r.units;
  results[ci].instret = r.instret;
  results[ci].fail = fail;
  results[ci].unit = r.unit ? r.unit : "-";
  memcpy(results[ci].shape, r.shape, sizeof r.shape);

  char pu[24];
  per_unit(pu, sizeof pu, r.instret, r.units);
  const char *status = fail ? "FAIL" : "ok";
  printf("%-15s %-20s %-32s %7" PRIu64 " %-4s %9" PRIu32 " %9s  %s\n", c->kernel, c->name, r.shape,
         r.units, r.unit ? r.unit : "-", r.instret, pu, status);
  if (csv)
    fprintf(csv, "%s,%s,%s,%" PRIu64 ",%s,%" PRIu32 ",%s,%s\n", c->kernel, c->name, r.shape,
            r.units, r.unit ? r.unit : "", r.instret, pu, status);
  return fail;
}

/* mcu_isqrt_u64 is 64-bit arithmetic on a 32-bit core, where a portability bug would show:
 * floor(sqrt(v)) around squares, as the host test RmsNorm.IsqrtIsFloorOfSquareRoot on fewer
 * points, and at the top of the range. Not in the table or the CSV (no golden case). */
static int check_isqrt(void) {
  size_t bad = 0;
  for (uint64_t r = 0; r < 4096; ++r) {
    const uint64_t vs[3] = {r * r, r * r + r, r * r + 2 * r};
    for (int i = 0; i < 3; ++i)
      if (mcu_isqrt_u64(vs[i]) != r) {
        printf("MISMATCH isqrt(%" PRIu64 "): got %" PRIu64 " want %" PRIu64 "\n", vs[i],
               mcu_isqrt_u64(vs[i]), r);
        ++bad;
      }
  }
  const uint64_t tops[3] = {(UINT64_C(1) << 62) + 12345, UINT64_C(0x7FFFFFFFFFFFFFFF),
                            UINT64_C(0xFFFFFFFE00000001) /* (2^32-1)^2 */};
  for (int i = 0; i < 3; ++i) {
    const uint64_t v = tops[i], r = mcu_isqrt_u64(v);
    /* r <= v / r is r*r <= v without overflow; (r+1) > v / (r+1) is (r+1)^2 > v */
    if (!(r > 0 && r <= v / r && (r + 1) > v / (r + 1))) {
      printf("MISMATCH isqrt(%" PRIu64 "): got %" PRIu64 ", not floor(sqrt)\n", v, r);
      ++bad;
    }
  }
  printf("%s isqrt/floor_sqrt (%zu mismatches)\n", bad ? "FAIL" : "ok", bad);
  return bad != 0;
}

int main(void) {
  uint32_t best = UINT32_MAX;
  for (int i = 0; i < 8; ++i) {
    const uint32_t a = rv_instret();
    const uint32_t b = rv_instret();
    if (b - a < best) best = b - a;
  }
  instret_overhead = best;

  printf("mcuemu kernels on rv32imc: %u golden cases, instret overhead %" PRIu32 " subtracted\n",
         RV_N_CASES, instret_overhead);
  FILE *csv = fopen("instret.csv", "w");
  if (csv)
    fprintf(csv, "kernel,case,shape,units,unit,instret,instret_per_unit,status\n");
  else
    printf("WARNING: cannot open instret.csv for writing (semihosting file I/O)\n");

  printf("%-15s %-20s %-32s %7s %-4s %9s %9s  %s\n", "kernel", "case", "shape", "units", "unit",
         "instret", "per_unit", "status");
  unsigned failed = 0;
  for (size_t i = 0; i < RV_N_CASES; ++i) failed += (unsigned)run_case(i, csv);

  /* Per kernel: its largest case (the per-unit figure with the least fixed overhead). Every
   * kernel group must have cases, as the host tests' load_cases requires. */
  printf("\nsummary: largest case per kernel\n%-15s %5s %5s  %-32s %7s %-4s %9s %9s\n", "kernel",
         "cases", "fail", "largest shape", "units", "unit", "instret", "per_unit");
  for (size_t k = 0; k < N_RUNNERS; ++k) {
    size_t n = 0, n_fail = 0, best = RV_N_CASES;
    for (size_t i = 0; i < RV_N_CASES; ++i) {
      if (strcmp(rv_cases[i].kernel, RUNNERS[k].kernel) != 0) continue;
      ++n;
      n_fail += (size_t)results[i].fail;
      if (best == RV_N_CASES || results[i].units > results[best].units) best = i;
    }
    if (n == 0) {
      printf("FAIL %s: no cases in the vectors\n", RUNNERS[k].kernel);
      ++failed;
      continue;
    }
    char pu[24];
    per_unit(pu, sizeof pu, results[best].instret, results[best].units);
    printf("%-15s %5zu %5zu  %-32s %7" PRIu64 " %-4s %9" PRIu32 " %9s\n", RUNNERS[k].kernel, n,
           n_fail, results[best].shape, results[best].units, results[best].unit,
           results[best].instret, pu);
  }
  printf("\n");
  failed += (unsigned)check_isqrt();

  if (csv && fclose(csv) != 0) printf("WARNING: error writing instret.csv\n");
  printf("RESULT: %u failing (%u golden cases + isqrt check)\n", failed, RV_N_CASES);
  return failed > 255 ? 255 : (int)failed;
}
