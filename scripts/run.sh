#!/usr/bin/env bash
# Install what is missing, build Release, run the main job.
# Main job for now: the kernel self-check (fast host path against the portable C kernels on the
# TinyLlama-42M GEMV shapes). It becomes the 8-chip TinyLlama-42M run with the distributed runtime.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
install_missing
build release
say "main job: build/release/src/cli/mcuemu selfcheck"
"$MCUEMU_ROOT/build/release/src/cli/mcuemu" selfcheck "$@"
