#!/usr/bin/env bash
# Install what is missing, build with warnings as errors, run the whole test suite with ctest:
# the host suite (preset ci, build/ci) and the RISC-V suite (preset riscv, build/riscv: kernels/
# cross-compiled for rv32imc and checked under qemu, tests/riscv/README.md). Both suites always
# run; the exit code is non-zero if either fails (the host suite's code if it failed, else the
# RISC-V suite's). Extra arguments go to both ctest runs (e.g. -R Gemv).
# Then, when it has the privileges (root, network namespaces), the multi-host test
# (scripts/test-multihost.sh: 3 emulated hosts on this machine) on the build/ci binary; otherwise it
# is reported as skipped. Its failure also makes the exit code non-zero.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
install_missing "${MCUEMU_RISCV_PACKAGES[@]}" "${MCUEMU_MULTIHOST_PACKAGES[@]}"
host_rc=0
run_suite ci -j "$(nproc)" "$@" || host_rc=$?
riscv_rc=0
run_suite riscv -j "$(nproc)" "$@" || riscv_rc=$?
result() { if [ "$1" -eq 0 ]; then echo passed; else echo "FAILED (exit $1)"; fi; }
multihost_rc=0
if can_use_netns; then
  say "multi-host test (scripts/test-multihost.sh on build/ci/src/cli/mcuemu)"
  "$MCUEMU_ROOT/scripts/test-multihost.sh" "$MCUEMU_ROOT/build/ci/src/cli/mcuemu" || multihost_rc=$?
  multihost=$(result "$multihost_rc")
else
  echo "multi-host test: skipped (needs root for network namespaces)"
  multihost=skipped
fi
say "host suite (build/ci): $(result "$host_rc"); RISC-V suite (build/riscv): $(result "$riscv_rc"); multi-host: $multihost"
for rc in "$host_rc" "$riscv_rc" "$multihost_rc"; do
  if [ "$rc" -ne 0 ]; then exit "$rc"; fi
done
