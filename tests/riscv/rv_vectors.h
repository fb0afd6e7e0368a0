/* The golden vectors as C data (the layout of scripts/golden/README.md, one rv_case_t per
 * /<kernel>/<case>). The arrays are generated at build time by scripts/riscv/vectors_to_c.py into
 * the build directory (kernel_vectors.c / kernel_vectors.h); this header only fixes the types. */
#ifndef RV_VECTORS_H
#define RV_VECTORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { RV_I8, RV_I16, RV_I32, RV_I64 } rv_dtype_t;

typedef struct {
  const char *key;
  int64_t value; /* every integer attribute is int64 in the file */
} rv_attr_t;

typedef struct {
  const char *key;
  rv_dtype_t dtype;
  uint32_t n;       /* elements, flattened in C order */
  const void *data; /* int8_t / int16_t / int32_t / int64_t [n] */
} rv_array_t;

typedef struct {
  const char *kernel; /* the group: "gemv", "rqs", ... */
  const char *name;   /* the case */
  const char *note;   /* what the case covers */
  uint32_t n_attrs;
  const rv_attr_t *attrs;
  uint32_t n_arrays;
  const rv_array_t *arrays; /* the inputs and `want` */
} rv_case_t;

#endif
