/* RequantShift: int32 accumulators -> int8, the one requantizer of the project.
 *
 *   t = (x + zx) * mul + add            (computed in 64 bits)
 *   y = clamp((t >> shift) + zy, lo, hi)
 *
 * `>>` is an arithmetic shift (floor). Rounding is never added here: the quantizer folds
 * 1 << (shift - 1) into `add`, which gives round-half-up for both signs (Deeploy's PULP flow
 * does the same). See kernels/README.md. */
#ifndef MCU_REQUANT_H
#define MCU_REQUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per-tensor requantization constants. */
typedef struct {
  int32_t zx;    /* input offset, added before the multiply */
  int32_t mul;   /* multiplier */
  int32_t add;   /* bias + rounding term, added after the multiply */
  int32_t shift; /* right shift, 0..31 */
  int32_t zy;    /* output zero point, added after the shift */
  int32_t lo;    /* clamp bounds, lo <= hi, within int8 */
  int32_t hi;
} mcu_rqs_t;

/* Per-channel constants: mul[c], add[c]; shift and offsets shared. */
typedef struct {
  const int32_t *mul; /* (channels) */
  const int32_t *add; /* (channels) */
  int32_t zx;
  int32_t shift;
  int32_t zy;
  int32_t lo;
  int32_t hi;
} mcu_rqs_pc_t;

/* One requantization step on a single value; shared by every kernel that requantizes. */
static inline int8_t mcu_rqs_apply(int64_t t, int32_t shift, int32_t zy, int32_t lo, int32_t hi) {
  int64_t v = (t >> shift) + zy;
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  return (int8_t)v;
}

/* y[i] = rqs(x[i]) for i < n. */
void mcu_rqs_s32_s8(const mcu_rqs_t *p, const int32_t *x, int8_t *y, size_t n);

/* x and y are (rows, channels) row-major; channel c uses mul[c], add[c]. */
void mcu_rqs_s32_s8_per_channel(const mcu_rqs_pc_t *p, const int32_t *x, int8_t *y, size_t rows,
                                size_t channels);

/* Debug check: how many x[i] would overflow 32 bits on the chip, i.e. where (x + zx) * mul or
 * (x + zx) * mul + add leaves [INT32_MIN, INT32_MAX] (x + zx itself is taken in 64 bits). */
size_t mcu_rqs_count_i32_overflow(const mcu_rqs_t *p, const int32_t *x, size_t n);

#ifdef __cplusplus
}
#endif
#endif
