#!/usr/bin/env bash
# Error paths of `mcuemu run` under mpiexec: each must end the whole job quickly with a non-zero
# exit and one clear line naming the rank.
# usage: errors.sh MCUEMU_BIN WORKDIR
set -uo pipefail
bin=$1 work=$2
mkdir -p "$work" && cd "$work"
if [ ! -f q.h5 ]; then
  "$bin" gen-weights --model tinyllama-tiny --seed 3 -o fp.h5 -q || exit 1
  "$bin" quantize fp.h5 -o q.h5 --calib-tokens 16 -q || exit 1
fi
fails=0
expect() {  # expect NAME PATTERN -- command...
  local name=$1 pattern=$2; shift 3
  local t0=$SECONDS out rc
  out=$(timeout 60 "$@" 2>&1); rc=$?
  if [ $rc -eq 0 ] || [ $rc -eq 124 ] || ! grep -qE "$pattern" <<<"$out"; then
    echo "FAIL $name: rc=$rc, wanted /$pattern/, got:"; echo "$out" | tail -5; fails=$((fails+1))
  else
    echo "ok   $name (rc=$rc, $((SECONDS-t0)) s): $(grep -E "$pattern" <<<"$out" | head -1)"
  fi
}
run=("$bin" run --model tinyllama-tiny --weights q.h5 -q)
expect "more chips than heads" "rank [0-9]+ \(host [^)]+\): error: .*8 heads.*at most 8 chips, not 9.*tinyllama-scaled" -- \
  mpiexec -n 9 --oversubscribe "${run[@]}"
expect "mismatched options" "rank [0-9]+ \(host [^)]+\): error: the options of .mcuemu run. differ between ranks: rank\(s\) 1" -- \
  mpiexec --oversubscribe -n 1 "${run[@]}" --tokens 4 : -n 1 "${run[@]}" --tokens 5
expect "context beyond seq_len" "rank [0-9]+ \(host [^)]+\): error: --prompt-tokens \+ --tokens = 200 exceeds" -- \
  mpiexec -n 2 --oversubscribe "${run[@]}" --prompt-tokens 100 --tokens 100
expect "unknown profile key" "rank [0-9]+ \(host [^)]+\): error: .*no_such" -- \
  mpiexec -n 2 --oversubscribe "${run[@]}" --set chip.no_such=1
expect "missing weights file" "rank [0-9]+ \(host [^)]+\): error: .*nope.h5" -- \
  mpiexec -n 2 --oversubscribe "$bin" run --weights nope.h5 -q
expect "fp32 file given as int8" "rank [0-9]+ \(host [^)]+\): error: .*expected an int8 model" -- \
  mpiexec -n 2 --oversubscribe "$bin" run --weights fp.h5 -q
expect "unknown all-reduce" "rank [0-9]+ \(host [^)]+\): error: unknown all-reduce algorithm 'star'" -- \
  mpiexec -n 2 --oversubscribe "${run[@]}" --allreduce star
# The error line names the host of the rank (MPI_Get_processor_name: the short host name).
host=$(uname -n); host=${host%%.*}
expect "error names the host" "mcuemu: rank 0 \(host $host\): error: the options of .mcuemu run. differ" -- \
  mpiexec --oversubscribe -n 1 "${run[@]}" --tokens 4 : -n 1 "${run[@]}" --tokens 5
# The profile is read by rank 0 only (and broadcast): a missing profile is rank 0's error.
expect "missing profile file" "mcuemu: rank 0 \(host $host\): error: cannot open hardware profile 'nope.ini'" -- \
  mpiexec -n 2 --oversubscribe "${run[@]}" --profile nope.ini
expect "bad option" "mcuemu run: error: .*unrecognised|unrecognized" -- "${run[@]}" --tokenz 3
exit $fails
