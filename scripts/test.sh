#!/usr/bin/env bash
# Install what is missing, build with warnings as errors, run the whole test suite with ctest.
# The exit code is the suite's. Extra arguments go to ctest (e.g. -R Gemv).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
install_missing
build ci
say "running the test suite (ctest --preset ci)"
cd "$MCUEMU_ROOT"
ctest --preset ci -j "$(nproc)" "$@"
