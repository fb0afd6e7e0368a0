// Writes the seed corpus of the model file fuzzer: the smallest valid files of each kind the
// readers accept (int8 and fp32, Llama and MobileBERT), made with the real writers from
// synthetic weights. Small inputs keep the fuzzer fast; the structure is that of every model file.
//   make_fuzz_seeds DIR
#include <cstdio>
#include <exception>
#include <string>

#include "model/quantize.hpp"
#include "weights/config.hpp"
#include "weights/model_file.hpp"
#include "weights/qmodel_io.hpp"
#include "weights/synthetic.hpp"

using namespace mcuemu;

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  try {
    weights::ModelConfig l = weights::config_by_name("tinyllama-tiny");
    l.name = "fuzz-seed-llama";
    l.dim = 16, l.hidden_dim = 24, l.n_layers = 1, l.n_heads = l.n_kv_heads = 2;
    l.vocab_size = 32, l.seq_len = 8;
    const auto fl = weights::synthetic_llama(l, 1);
    model::QuantizeOptions qo;
    qo.calib_tokens = 8;
    weights::write_float_model(dir + "/llama-fp32.h5", fl, "fuzz seed");
    weights::write_qllama(dir + "/llama-int8.h5", model::quantize(fl, model::calibrate(fl, qo), qo),
                          "fuzz seed");

    weights::ModelConfig b = weights::config_by_name("mobilebert-tiny");
    b.name = "fuzz-seed-mobilebert";
    b.dim = 16, b.hidden_dim = 16, b.n_layers = 1, b.n_heads = b.n_kv_heads = 2;
    b.embedding_size = 8, b.intra_bottleneck = 8, b.n_ffn = 1, b.vocab_size = 32, b.seq_len = 8;
    const auto fb = weights::synthetic_mobilebert(b, 1);
    weights::write_float_model(dir + "/mobilebert-fp32.h5", fb, "fuzz seed");
    weights::write_qmobilebert(dir + "/mobilebert-int8.h5",
                               model::quantize(fb, model::calibrate(fb, qo), qo), "fuzz seed");
  } catch (const std::exception &e) {
    std::fprintf(stderr, "make_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
