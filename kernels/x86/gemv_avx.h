/* Host-only fast paths of mcu_gemv_s8_s32 for x86-64 (AVX2, AVX-512BW, AVX-512 VNNI). Same
 * contract, same results bit for bit: int8 is widened to int16 and multiplied with madd_epi16 into
 * int32 pairs, which is exact (no int16 saturation, unlike maddubs). The caller picks one at run
 * time with mcu_gemv_s8_s32_best(); these must only be called when the CPU has the extension. */
#ifndef MCU_GEMV_AVX_H
#define MCU_GEMV_AVX_H

#include "../gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*mcu_gemv_fn)(const mcu_gemv_t *, const int8_t *, const int8_t *, const int32_t *,
                            int32_t *, size_t, size_t);

void mcu_gemv_s8_s32_avx2(const mcu_gemv_t *p, const int8_t *W, const int8_t *x,
                          const int32_t *bias, int32_t *y, size_t out, size_t in);
void mcu_gemv_s8_s32_avx512(const mcu_gemv_t *p, const int8_t *W, const int8_t *x,
                            const int32_t *bias, int32_t *y, size_t out, size_t in);
/* AVX-512 VNNI (vpdpbusd, four rows at a time): x is shifted to uint8 once, the shift is taken
 * back out with each row's sum of weights; exact, the same results. */
void mcu_gemv_s8_s32_avx512vnni(const mcu_gemv_t *p, const int8_t *W, const int8_t *x,
                                const int32_t *bias, int32_t *y, size_t out, size_t in);

/* VNNI-packed weights (host layout, chosen for vpdpbusd): rows in blocks of 16; a block of
 * rows o0 .. o0+15 is 16 * in bytes, and for every group of four inputs 4k .. 4k+3 holds 64
 * bytes: those four weights of row o0, then of row o0+1, ... then of row o0+15. One vpdpbusd
 * of such 64 bytes against the four inputs broadcast to every lane adds a four-term dot product
 * to each of the block's 16 rows: no horizontal sum is needed. in must be a multiple of 4 and
 * at most MCU_VNNI_PACKED_MAX_IN; rows missing from the last block are zeros. */
#define MCU_VNNI_PACKED_MAX_IN 65536u
/* Packs rows (nrows <= 16 rows of `in` weights, row-major) into one block of 16 * in bytes.
 * dst must not overlap rows. Portable C: no special CPU needed. */
void mcu_vnni_pack_block(const int8_t *rows, size_t nrows, size_t in, int8_t *dst);
/* Row `lane` (0..15) of a packed block, back in row order. */
void mcu_vnni_unpack_row(const int8_t *block, size_t lane, size_t in, int8_t *dst);
/* Y (rows, out) = X (rows, in) . W^T [+ bias], W packed as above in ceil(out / 16) blocks,
 * row_sums[o] = the sum of row o's weights. u is scratch for rows * in bytes. The results are
 * those of mcu_gemv_s8_s32 bit for bit, row after row. Needs AVX-512 VNNI. */
void mcu_gemv_s8_s32_vnni_packed(const mcu_gemv_t *p, const int8_t *Wp, const int32_t *row_sums,
                                 const int8_t *X, size_t rows, const int32_t *bias, int32_t *Y,
                                 size_t ldy, size_t out, size_t in, uint8_t *u);
/* Whether this CPU runs mcu_gemv_s8_s32_vnni_packed. */
int mcu_have_avx512vnni(void);

/* The fastest variant this CPU supports (falls back to the portable kernel), and its name. */
mcu_gemv_fn mcu_gemv_s8_s32_best(const char **name);

#ifdef __cplusplus
}
#endif
#endif
