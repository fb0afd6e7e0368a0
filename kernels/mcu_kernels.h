/* All kernels of mcuemu. The arithmetic contract is kernels/README.md. */
#ifndef MCU_KERNELS_H
#define MCU_KERNELS_H
#include "activation.h"
#include "eltwise.h"
#include "gemm.h"
#include "misc.h"
#include "norm.h"
#include "requant.h"
#include "rope.h"
#include "softmax.h"
#endif
