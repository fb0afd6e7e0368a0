// The quantized TinyLlama-tiny the MPI runtime tests share (synthetic, seed 7, 16 calibration
// tokens), made once per process.
#pragma once

#include "model/quantize.hpp"
#include "weights/qmodel.hpp"
#include "weights/synthetic.hpp"

namespace mcuemu::test {

inline const weights::QLlamaModel &tiny_model() {
  static const weights::QLlamaModel q = [] {
    const auto fp = weights::synthetic_llama(weights::config_by_name("tinyllama-tiny"), 7);
    model::QuantizeOptions o;
    o.calib_tokens = 16;
    return model::quantize(fp, model::calibrate(fp, o), o);
  }();
  return q;
}

}  // namespace mcuemu::test
