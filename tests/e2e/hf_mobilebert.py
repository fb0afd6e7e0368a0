#!/usr/bin/python3
"""A small Hugging Face MobileBERT checkpoint, written and checked independently of mcuemu.

    hf_mobilebert.py make DIR [--seed S]   DIR/config.json + DIR/model.safetensors
    hf_mobilebert.py check DIR FP.H5       every encoder tensor of DIR equals its dataset in FP.H5

`make` writes a MobileBertForMaskedLM-style checkpoint (tensor names with the "mobilebert." prefix,
plus a task-head tensor the converter must ignore) with the shapes of mcuemu's mobilebert-tiny
(hidden 128, 2 layers, 4 heads, intermediate 128, embedding 32, bottleneck 32, 4 FFNs, 64
positions, vocab 1000). Values: linear weights N(0, 0.05), NoNorm weights 1 + N(0, 0.05), biases
and betas N(0, 0.02), so that every path of the encoder matters. Most tensors are F32; the word
embedding is stored as F16 and the position embedding as BF16 to exercise the dtype conversion.

`check` reads the safetensors file with its own parser and the HDF5 file with h5py, and maps the
names with its own table (written here from HF's MobileBertModel module tree, not from mcuemu's),
so it checks `mcuemu convert --from safetensors` end to end. Exits non-zero on any mismatch.
Run with /usr/bin/python3 (Debian's numpy and h5py).
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np

CONFIG = {
    "model_type": "mobilebert", "architectures": ["MobileBertForMaskedLM"],
    "vocab_size": 1000, "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 128, "hidden_act": "relu", "embedding_size": 32, "trigram_input": True,
    "use_bottleneck": True, "intra_bottleneck_size": 32, "use_bottleneck_attention": False,
    "key_query_shared_bottleneck": True, "num_feedforward_networks": 4,
    "normalization_type": "no_norm", "max_position_embeddings": 64, "type_vocab_size": 2,
}
PREFIX = "mobilebert."


def hf_tensors(c):
    """(HF name, shape, kind, our dataset) for every encoder tensor; kind picks the init."""
    D, B, E, H = c["hidden_size"], c["intra_bottleneck_size"], c["embedding_size"], c["intermediate_size"]
    out = [
        ("embeddings.word_embeddings.weight", (c["vocab_size"], E), "w", "/embedding/word"),
        ("embeddings.position_embeddings.weight", (c["max_position_embeddings"], D), "w", "/embedding/position"),
        ("embeddings.token_type_embeddings.weight", (c["type_vocab_size"], D), "w", "/embedding/token_type"),
        ("embeddings.embedding_transformation.weight", (D, 3 * E), "w", "/embedding/w"),
        ("embeddings.embedding_transformation.bias", (D,), "b", "/embedding/b"),
        ("embeddings.LayerNorm.weight", (D,), "g", "/embedding/gamma"),
        ("embeddings.LayerNorm.bias", (D,), "b", "/embedding/beta"),
    ]

    def linear(hf, shape, w, b):
        return [(hf + ".weight", shape, "w", w), (hf + ".bias", (shape[0],), "b", b)]

    def norm(hf, n, g, b):
        return [(hf + ".weight", (n,), "g", g), (hf + ".bias", (n,), "b", b)]

    for l in range(c["num_hidden_layers"]):
        h, p = f"encoder.layer.{l}.", f"/layers/{l}/"
        out += linear(h + "bottleneck.input.dense", (B, D), p + "bn_in_w", p + "bn_in_b")
        out += norm(h + "bottleneck.input.LayerNorm", B, p + "bn_in_gamma", p + "bn_in_beta")
        out += linear(h + "bottleneck.attention.dense", (B, D), p + "bn_kq_w", p + "bn_kq_b")
        out += norm(h + "bottleneck.attention.LayerNorm", B, p + "bn_kq_gamma", p + "bn_kq_beta")
        out += linear(h + "attention.self.query", (B, B), p + "wq", p + "bq")
        out += linear(h + "attention.self.key", (B, B), p + "wk", p + "bk")
        out += linear(h + "attention.self.value", (B, D), p + "wv", p + "bv")
        out += linear(h + "attention.output.dense", (B, B), p + "wo", p + "bo")
        out += norm(h + "attention.output.LayerNorm", B, p + "attn_gamma", p + "attn_beta")
        n = c["num_feedforward_networks"]
        for j in range(n):
            # HF: ffn.0 .. ffn.(n-2) are FFNLayers; the last FFN is the layer's own
            # intermediate + output (whose output.LayerNorm precedes the output bottleneck).
            f, q = (f"{h}ffn.{j}." if j < n - 1 else h), f"{p}ffn/{j}/"
            out += linear(f + "intermediate.dense", (H, B), q + "w1", q + "b1")
            out += linear(f + "output.dense", (B, H), q + "w2", q + "b2")
            out += norm(f + "output.LayerNorm", B, q + "gamma", q + "beta")
        out += linear(h + "output.bottleneck.dense", (D, B), p + "bn_out_w", p + "bn_out_b")
        out += norm(h + "output.bottleneck.LayerNorm", D, p + "bn_out_gamma", p + "bn_out_beta")
    return out


DTYPES = {"F32": np.float32, "F16": np.float16}


def stored(name):
    if name.endswith("word_embeddings.weight"):
        return "F16"
    if name.endswith("position_embeddings.weight"):
        return "BF16"
    return "F32"


def encode(a, dtype):
    if dtype == "BF16":  # the top 16 bits of the float32 (truncation: exactly representable)
        return (a.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
    return a.astype(np.dtype(DTYPES[dtype]).newbyteorder("<")).tobytes()


def decode(raw, dtype, shape):
    if dtype == "BF16":
        u = np.frombuffer(raw, "<u2").astype("<u4") << 16
        return u.view("<f4").reshape(shape)
    return np.frombuffer(raw, np.dtype(DTYPES[dtype]).newbyteorder("<")).astype(np.float32).reshape(shape)


def make(d, seed):
    rng = np.random.default_rng(seed)
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, shape, kind, _ in hf_tensors(CONFIG):
        if kind == "w":
            v = rng.normal(0, 0.05, shape)
        elif kind == "g":
            v = 1 + rng.normal(0, 0.05, shape)
        else:
            v = rng.normal(0, 0.02, shape)
        tensors[PREFIX + name] = (stored(name), v.astype(np.float32))
    # A task head the converter must ignore.
    tensors["cls.predictions.bias"] = ("F32", np.zeros(CONFIG["vocab_size"], np.float32))
    header, blobs, at = {"__metadata__": {"format": "pt"}}, [], 0
    for name, (dtype, v) in tensors.items():
        b = encode(v, dtype)
        header[name] = {"dtype": dtype, "shape": list(v.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header).encode()
    with open(d / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    (d / "config.json").write_text(json.dumps(CONFIG, indent=2))
    print(f"{d}: {len(tensors)} tensors, {at} bytes of data")


def check(d, h5path):
    import h5py
    raw = (Path(d) / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
    bad = 0
    with h5py.File(h5path, "r") as f:
        if f.attrs["architecture"] != b"mobilebert" and f.attrs["architecture"] != "mobilebert":
            print(f"FAIL: architecture {f.attrs['architecture']!r}")
            return 1
        specs = hf_tensors(CONFIG)
        for name, shape, _, ours in specs:
            e = header[PREFIX + name]
            want = decode(data[e["data_offsets"][0]:e["data_offsets"][1]], e["dtype"], tuple(e["shape"]))
            got = f[ours][()]
            if got.shape != tuple(shape) or not np.array_equal(got, want):
                print(f"FAIL: {ours} != {PREFIX + name}")
                bad += 1
        print(f"{h5path}: {len(specs) - bad} of {len(specs)} tensors equal to the checkpoint's")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
        make(sys.argv[2], seed)
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
