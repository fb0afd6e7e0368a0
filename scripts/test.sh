#!/usr/bin/env bash
# Install what is missing, build with warnings as errors, run the whole test suite with ctest:
# the host suite (preset ci, build/ci) and the RISC-V suite (preset riscv, build/riscv: kernels/
# cross-compiled for rv32imc and checked under qemu, tests/riscv/README.md). With --sanitize, also
# the whole host suite, MPI and end-to-end tests included, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (preset asan, build/asan; leak checking on, Open MPI's own
# allocations suppressed by tests/sanitizers/lsan.supp; docs/robustness.md). Every suite always
# runs; the exit code is non-zero if any fails (the first failing suite's code). Extra arguments
# go to every ctest run (e.g. -R Gemv).
# Then, when it has the privileges (root, network namespaces), the multi-host test
# (scripts/test-multihost.sh: 3 emulated hosts on this machine) on the build/ci binary; otherwise it
# is reported as skipped. Its failure also makes the exit code non-zero.
#   scripts/test.sh [--sanitize] [CTEST_ARGS...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
sanitize=0
if [ "${1:-}" = --sanitize ]; then
  sanitize=1
  shift
fi
install_missing "${MCUEMU_RISCV_PACKAGES[@]}" "${MCUEMU_MULTIHOST_PACKAGES[@]}"
host_rc=0
run_suite ci -j "$(nproc)" "$@" || host_rc=$?
riscv_rc=0
run_suite riscv -j "$(nproc)" "$@" || riscv_rc=$?
asan_rc=0
if [ $sanitize -eq 1 ]; then
  t0=$SECONDS
  run_suite asan -j "$(nproc)" "$@" || asan_rc=$?
  say "asan suite: build and tests in $((SECONDS - t0)) s"
fi
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
summary="host suite (build/ci): $(result "$host_rc"); RISC-V suite (build/riscv): $(result "$riscv_rc")"
[ $sanitize -eq 0 ] || summary+="; sanitizer suite (build/asan): $(result "$asan_rc")"
summary+="; multi-host: $multihost"
say "$summary"
for rc in "$host_rc" "$riscv_rc" "$asan_rc" "$multihost_rc"; do
  if [ "$rc" -ne 0 ]; then exit "$rc"; fi
done
exit 0
