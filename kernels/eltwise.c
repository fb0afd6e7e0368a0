#include "eltwise.h"

#include "requant.h"

void mcu_add_rq_s8(const mcu_add_rq_t *p, const int8_t *a, const int8_t *b, int8_t *y, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    int64_t t = ((int64_t)a[i] + p->za) * p->mul_a + ((int64_t)b[i] + p->zb) * p->mul_b + p->add;
    y[i] = mcu_rqs_apply(t, p->shift, p->zy, p->lo, p->hi);
  }
}

void mcu_mul_rq_s8(const mcu_mul_rq_t *p, const int8_t *a, const int8_t *b, int8_t *y, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    int64_t t = ((int64_t)a[i] + p->za) * ((int64_t)b[i] + p->zb) * p->mul + p->add;
    y[i] = mcu_rqs_apply(t, p->shift, p->zy, p->lo, p->hi);
  }
}
