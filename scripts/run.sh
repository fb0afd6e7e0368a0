#!/usr/bin/env bash
# Install what is missing, build Release, run the main job: TinyLlama-42M on 8 emulated chips
# (one MPI rank each) on the default synthetic model, autoregressive, 32 decode steps.
# The default model is generated, calibrated and quantized on first use and cached in
# $MCUEMU_CACHE_DIR (default ~/.cache/mcuemu). Extra arguments go to `mcuemu run`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
install_missing
build release
say "main job: mpirun -n 8 build/release/src/cli/mcuemu run --model tinyllama-42m --mode ar --tokens 32"
cd "$MCUEMU_ROOT"
mpirun -n 8 build/release/src/cli/mcuemu run --model tinyllama-42m --mode ar --tokens 32 \
  --out results/tinyllama-42m-8chips "$@"
