"""Turn tests/data/kernel_vectors.h5 into C arrays for the rv32imc test program (tests/riscv/).

The RISC-V program has no HDF5, so the build runs this script (add_custom_command in
tests/riscv/CMakeLists.txt) and compiles its output; the generated files live in the build
directory only, never in git.

    /usr/bin/python3 scripts/riscv/vectors_to_c.py VECTORS.h5 OUT.c OUT.h [--count OUT.txt]

The translation is generic: every case /<kernel>/<case> becomes an rv_case_t (tests/riscv/
rv_vectors.h) with its int64 attributes (by name), its datasets flattened in C order with their
dtype (int8/16/32/64), and its `note`. The test program looks both up by name, the way the host
tests (tests/kernels/vectors.hpp) do, so this script knows nothing about the kernels.
OUT.h defines RV_N_CASES and RV_MAX_WANT_BYTES (the size of the shared output buffer); --count
writes the number of cases for the CSV check (tests/riscv/check_csv.cmake).
"""

import argparse
import sys

import h5py
import numpy as np

# numpy dtype -> (C type, rv_dtype_t enumerator)
CTYPES = {
    np.dtype(np.int8): ("int8_t", "RV_I8"),
    np.dtype(np.int16): ("int16_t", "RV_I16"),
    np.dtype(np.int32): ("int32_t", "RV_I32"),
    np.dtype(np.int64): ("int64_t", "RV_I64"),
}
PER_LINE = {1: 24, 2: 16, 4: 10, 8: 6}


def c_int(v: int, bits: int) -> str:
    """A C literal of the exact value; the minimum of a type has no literal of its own."""
    v = int(v)
    if v == -(1 << (bits - 1)):
        return f"(-{(1 << (bits - 1)) - 1}{'LL' if bits == 64 else ''} - 1)"
    if bits == 64:
        return f"INT64_C({v})"
    return str(v)


def c_str(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:  # keep the file ASCII: escape everything else byte by byte
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vectors")
    ap.add_argument("out_c")
    ap.add_argument("out_h")
    ap.add_argument("--count", help="also write the number of cases to this file")
    args = ap.parse_args()

    body, cases = [], []
    max_want = 0
    with h5py.File(args.vectors, "r") as f:
        for kernel in f:  # h5py iterates in name order: the output is deterministic
            for name in f[kernel]:
                g = f[kernel][name]
                i = len(cases)
                attrs = []
                for key, val in g.attrs.items():
                    if key == "note":
                        continue
                    val = np.asarray(val)
                    if val.shape != () or val.dtype.kind not in "iu":
                        sys.exit(f"{kernel}/{name}: attribute {key} is not an integer scalar")
                    attrs.append((key, int(val)))
                arrays = []
                for key in g:
                    ds = g[key]
                    if not isinstance(ds, h5py.Dataset):
                        sys.exit(f"{kernel}/{name}/{key}: not a dataset")
                    data = np.ascontiguousarray(ds[()]).reshape(-1)
                    if data.dtype not in CTYPES:
                        sys.exit(f"{kernel}/{name}/{key}: unsupported dtype {data.dtype}")
                    ctype, enum = CTYPES[data.dtype]
                    bits = 8 * data.dtype.itemsize
                    sym = f"c{i}_{key}"
                    vals = [c_int(v, bits) for v in data.tolist()] or ["0"]  # no empty arrays in C
                    step = PER_LINE[data.dtype.itemsize]
                    lines = [", ".join(vals[j:j + step]) for j in range(0, len(vals), step)]
                    body.append(f"static const {ctype} {sym}[{len(vals)}] = {{\n  "
                                + ",\n  ".join(lines) + "\n};")
                    arrays.append((key, enum, data.size, sym))
                    if key == "want":
                        max_want = max(max_want, data.nbytes)
                if not any(k == "want" for k, *_ in arrays):
                    sys.exit(f"{kernel}/{name}: no dataset want")
                body.append(f"static const rv_attr_t c{i}_attrs[{max(len(attrs), 1)}] = {{"
                            + (", ".join(f"{{{c_str(k)}, {c_int(v, 64)}}}" for k, v in attrs)
                               or '{"", 0}') + "};")
                body.append(f"static const rv_array_t c{i}_arrays[{len(arrays)}] = {{\n  "
                            + ",\n  ".join(f"{{{c_str(k)}, {e}, {n}u, {s}}}"
                                           for k, e, n, s in arrays) + "\n};")
                note = g.attrs.get("note", "")
                if isinstance(note, bytes):
                    note = note.decode("utf-8")
                cases.append(f"{{{c_str(kernel)}, {c_str(name)}, {c_str(str(note))}, "
                             f"{len(attrs)}u, c{i}_attrs, {len(arrays)}u, c{i}_arrays}}")

    header = "/* Generated by scripts/riscv/vectors_to_c.py from tests/data/kernel_vectors.h5. */\n"
    with open(args.out_h, "w") as out:
        out.write(header)
        out.write("#ifndef RV_KERNEL_VECTORS_H\n#define RV_KERNEL_VECTORS_H\n")
        out.write('#include "rv_vectors.h"\n')
        out.write(f"#define RV_N_CASES {len(cases)}u\n")
        out.write(f"#define RV_MAX_WANT_BYTES {max_want}u\n")
        out.write("extern const rv_case_t rv_cases[RV_N_CASES];\n#endif\n")
    with open(args.out_c, "w") as out:
        out.write(header)
        out.write('#include "kernel_vectors.h"\n\n')
        out.write("\n".join(body))
        out.write("\n\nconst rv_case_t rv_cases[RV_N_CASES] = {\n  " + ",\n  ".join(cases) + "\n};\n")
    if args.count:
        with open(args.count, "w") as out:
            out.write(f"{len(cases)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
