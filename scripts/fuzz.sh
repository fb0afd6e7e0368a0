#!/usr/bin/env bash
# Fuzz the HDF5 model file readers and the INI hardware profile parser with libFuzzer (clang,
# ASan + UBSan), each for a bounded time, and keep every crashing input as a regression test.
#
#   scripts/fuzz.sh [SECONDS]      # default 60 s per target
#
# Builds the `fuzz` preset (build/fuzz: clang-14, -fsanitize=fuzzer,address,undefined; only the
# fuzz targets and the seed writer), writes the seed corpus (the smallest valid model files of
# each kind, made by the real writers, and the profiles of experiments/hw), and runs each target.
# The working corpus grows in build/fuzz/corpus/<target>/ (kept between runs). A crash, leak,
# sanitizer report or timeout is saved as tests/fuzz/regressions/<target>/<kind>-<sha1>, which
# the normal suite runs (FuzzRegressions, tests/fuzz/test_fuzz_regressions.cpp): fix the reader,
# keep the file. Exit status: 0 if no target found anything, 1 otherwise.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
seconds=${1:-60}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS per target]" >&2; exit 2; }
cd "$MCUEMU_ROOT"
command -v clang++-14 >/dev/null || install_missing clang-14 libclang-rt-14-dev
say "configuring and building the fuzz targets (cmake --preset fuzz)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzz_model_file fuzz_profile make_fuzz_seeds
corpus=build/fuzz/corpus
mkdir -p "$corpus/model_file" "$corpus/profile"
build/fuzz/tests/fuzz/make_fuzz_seeds "$corpus/model_file"
cp experiments/hw/*.ini "$corpus/profile/"
# libFuzzer limits: -rss_limit_mb and -malloc_limit_mb turn a runaway allocation (a header that
# asks for terabytes) into a reported failure; -timeout turns a hang into one; -max_len covers
# the seeds (model seeds are a few tens of KB).
# ASan: leaks are reported at the end of each run (detect_leaks=1). LSan: HDF5 keeps its free
# lists and global tables until exit, hence its suppressions.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:intercept_tls_get_addr=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$MCUEMU_ROOT/tests/sanitizers/lsan.supp:print_suppressions=0"
found=0
for target in model_file profile; do
  regress=tests/fuzz/regressions/$target
  mkdir -p "$regress"
  log=build/fuzz/fuzz_$target.log
  say "fuzzing $target for $seconds s (log: $log)"
  set +e
  build/fuzz/tests/fuzz/fuzz_$target "$corpus/$target" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 -max_len=131072 -print_final_stats=1 \
    -artifact_prefix="$regress/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -m1 -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || true)
  cov=$(grep -oE "cov: [0-9]+" "$log" | tail -1 || true)
  if [ $rc -ne 0 ]; then
    found=1
    echo "FOUND: $target exited with $rc after ${execs:-?} executions; artifacts in $regress/:"
    grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5
  else
    echo "$target: ${execs:-?} executions in $seconds s, $cov, corpus $(ls "$corpus/$target" | wc -l) inputs, nothing found"
  fi
done
exit $found
