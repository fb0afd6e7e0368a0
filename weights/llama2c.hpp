// Reader of llama2.c float checkpoints (stories15M.bin, stories42M.bin, ...), the input of
// `mcuemu convert --from llama2c`.
//
// Two layouts, as written by llama2.c's export.py (facts read from the script):
//
//  legacy (version 0), e.g. the published stories*.bin:
//    header  7 x int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
//            a negative vocab_size means the classifier is NOT shared (|vocab_size| is the size)
//    float32 token_embedding (vocab, dim)
//            rms_att (L, dim), wq (L, dim, dim), wk (L, kv_dim, dim), wv (L, kv_dim, dim),
//            wo (L, dim, dim), rms_ffn (L, dim), w1 (L, hidden, dim), w2 (L, dim, hidden),
//            w3 (L, hidden, dim), rms_final (dim),
//            freq_cis_real (seq_len, head_dim/2), freq_cis_imag (seq_len, head_dim/2)  [skipped]
//            wcls (vocab, dim) only when not shared
//
//  version 1 ("ak42" header, 256 bytes):
//    uint32 magic 0x616b3432, int32 version = 1, the 7 int32 above (vocab_size positive),
//    uint8 shared_classifier, zero padding to byte 256, then float32
//            rms_att (L, dim), rms_ffn (L, dim), rms_final (dim), token_embedding (vocab, dim),
//            wq, wk, wv, wo, w1, w2, w3 (each for all L layers), wcls only when not shared.
//    No freq_cis arrays. Note that the order differs from the legacy one (norms first).
//
// Version 2 (Q8_0 int8 groups) is not a float checkpoint and is rejected with a clear error.
// All values are little-endian. The file size must match the header exactly: a shorter file is
// "truncated", a longer one "has N trailing bytes"; both are FileErrors naming the file.
#pragma once

#include <string>

#include "weights/float_model.hpp"

namespace mcuemu::weights {

struct Llama2cCheckpoint {
  int version = 0;  // 0 = legacy, 1 = "ak42" version 1
  FloatModel model;
};

// Reads and checks a checkpoint. The configuration's name is the known configuration with the
// same shapes (e.g. "tinyllama-42m" for stories42M.bin) or "llama2c-<file stem>".
Llama2cCheckpoint read_llama2c(const std::string &path);

}  // namespace mcuemu::weights
