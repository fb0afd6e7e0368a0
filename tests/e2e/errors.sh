#!/usr/bin/env bash
# Bad input to every entry point (docs/robustness.md): CLI options, hardware profiles, model
# files, output paths. Each must end the whole job quickly with a non-zero exit, exactly one
# error line (naming the rank under mpiexec), and nothing written under an output's final name.
# usage: errors.sh MCUEMU_BIN WORKDIR
set -uo pipefail
bin=$1 work=$2
mkdir -p "$work" && cd "$work"
if ! "$bin" inspect q.h5 --brief >/dev/null 2>&1; then  # missing, or from an older build
  "$bin" gen-weights --model tinyllama-tiny --seed 3 -o fp.h5 -q || exit 1
  "$bin" quantize fp.h5 -o q.h5 --calib-tokens 16 -q || exit 1
fi
rm -rf bad && mkdir -p bad out
fails=0
expect() {  # expect NAME PATTERN -- command...
  local name=$1 pattern=$2; shift 3
  local t0=$SECONDS out rc lines
  rm -rf out && mkdir out
  out=$(timeout 60 "$@" 2>&1); rc=$?
  lines=$(grep -cE "^mcuemu.*error:" <<<"$out")
  local left
  left=$(find out bad -newer q.h5 \( -name 'results.*' -o -name '*.json' -o -name '*.tmp*' -o -name 'o*.h5' \) 2>/dev/null)
  if [ $rc -eq 0 ] || [ $rc -eq 124 ] || ! grep -qE "$pattern" <<<"$out" || [ "$lines" -ne 1 ] \
     || [ -n "$left" ]; then
    echo "FAIL $name: rc=$rc, $lines error line(s), files left: [${left}], wanted /$pattern/, got:"
    echo "$out" | tail -5; fails=$((fails+1))
  else
    echo "ok   $name (rc=$rc, $((SECONDS-t0)) s): $(grep -E "$pattern" <<<"$out" | head -1)"
  fi
}
run=("$bin" run --model tinyllama-tiny --weights q.h5 -q --out out/res --summary-json out/s.json)

# --- command-line options
expect "more chips than heads" "rank [0-9]+ \(host [^)]+\): error: .*8 heads.*at most 8 chips, not 9.*tinyllama-scaled" -- \
  mpiexec --oversubscribe -n 9 "${run[@]}"
expect "mismatched options" "rank [0-9]+ \(host [^)]+\): error: the options of .mcuemu run. differ between ranks: rank\(s\) 1" -- \
  mpiexec --oversubscribe -n 1 "${run[@]}" --tokens 4 : -n 1 "${run[@]}" --tokens 5
expect "context beyond seq_len" "rank [0-9]+ \(host [^)]+\): error: --prompt-tokens \+ --tokens = 200 exceeds" -- \
  mpiexec --oversubscribe -n 4 "${run[@]}" --prompt-tokens 100 --tokens 100
expect "token counts that overflow int" "rank [0-9]+ \(host [^)]+\): error: --prompt-tokens \+ --tokens = 4000000000 exceeds" -- \
  mpiexec --oversubscribe -n 2 "${run[@]}" --prompt-tokens 2000000000 --tokens 2000000000
expect "zero decode steps" "rank [0-9]+ \(host [^)]+\): error: --tokens must be >= 1" -- mpiexec --oversubscribe -n 2 "${run[@]}" --tokens 0
expect "bad --baseline (before the run)" "rank 0 \(host [^)]+\): error: --baseline takes 1" -- mpiexec --oversubscribe -n 2 "${run[@]}" --baseline 2
expect "unknown all-reduce" "rank [0-9]+ \(host [^)]+\): error: unknown all-reduce algorithm 'star'" -- \
  mpiexec --oversubscribe -n 2 "${run[@]}" --allreduce star
expect "unknown model" "rank [0-9]+ \(host [^)]+\): error: unknown model 'tinyllama-huge'" -- \
  mpiexec --oversubscribe -n 2 "$bin" run --model tinyllama-huge -q --out out/res
expect "bad option" "mcuemu run: error: .*(unrecognised|unrecognized)" -- "${run[@]}" --tokenz 3
expect "non-numeric option" "mcuemu run: error: .*'abc'.*--tokens" -- "${run[@]}" --tokens abc
expect "unknown command" "mcuemu: error: unknown command 'frobnicate'" -- "$bin" frobnicate
expect "gen-weights without a model" "mcuemu gen-weights: error: --model is required" -- \
  "$bin" gen-weights -o bad/o1.h5
expect "inspect without a file" "mcuemu inspect: error: a model file is required" -- "$bin" inspect

# --- hardware profiles (INI)
printf 'garbage\x01\x02 = [\n[chip\n' > bad/garbage.ini
sed '/^freq_mhz/d' "$(dirname "$0")/../../experiments/hw/gap9.ini" > bad/nofreq.ini
expect "unknown profile key" "rank [0-9]+ \(host [^)]+\): error: .*no_such" -- mpiexec --oversubscribe -n 2 "${run[@]}" --set chip.no_such=1
expect "garbage profile" "rank [0-9]+ \(host [^)]+\): error: .*garbage.ini:2: invalid section header" -- \
  mpiexec --oversubscribe -n 2 "${run[@]}" --profile bad/garbage.ini
expect "profile missing a key" "rank [0-9]+ \(host [^)]+\): error: .*nofreq.ini:[0-9]+: missing key 'chip.freq_mhz'" -- \
  mpiexec --oversubscribe -n 2 "${run[@]}" --profile bad/nofreq.ini
expect "profile is a directory" "rank [0-9]+ \(host [^)]+\): error: hardware profile './bad' is not a regular file" -- \
  mpiexec --oversubscribe -n 2 "${run[@]}" --profile ./bad
expect "profile is /dev/zero" "rank [0-9]+ \(host [^)]+\): error: hardware profile '/dev/zero' is not a regular file" -- \
  mpiexec --oversubscribe -n 2 "${run[@]}" --profile /dev/zero
expect "absurd profile value" "rank [0-9]+ \(host [^)]+\): error: .*chip.freq_mhz.*implausibly large" -- \
  mpiexec --oversubscribe -n 2 "${run[@]}" --set chip.freq_mhz=1e300
expect "core count beyond int" "rank [0-9]+ \(host [^)]+\): error: .*chip.cores.*whole number up to" -- \
  mpiexec --oversubscribe -n 2 "${run[@]}" --set chip.cores=1e12

# --- model files
head -c 60000 q.h5 > bad/truncated.h5
head -c 3000 /dev/urandom > bad/random.h5
/usr/bin/python3 - <<'PY'
import shutil, h5py, numpy as np
shutil.copy("q.h5", "bad/shift.h5")
with h5py.File("bad/shift.h5", "r+") as f:
    f["layers/0/wq"].attrs["rq_shift"] = np.int64(40)      # a right shift of 40: UB in the kernel
shutil.copy("q.h5", "bad/zerolog2.h5")
with h5py.File("bad/zerolog2.h5", "r+") as f:
    f["layers/1/softmax"].attrs["log2"] = np.int64(0)      # a division by zero in the kernel
shutil.copy("q.h5", "bad/notgroup.h5")
with h5py.File("bad/notgroup.h5", "r+") as f:
    del f["layers/0/scores"]
    f["layers/0/scores"] = np.zeros(3, dtype=np.int8)      # a dataset where a group should be
shutil.copy("q.h5", "bad/huge.h5")
with h5py.File("bad/huge.h5", "r+") as f:
    f.attrs["vocab_size"] = np.int64(1 << 40)              # a header asking for 2^46 bytes
PY
expect "missing weights file" "rank [0-9]+ \(host [^)]+\): error: .*nope.h5" -- mpiexec --oversubscribe -n 2 "$bin" run --weights nope.h5 -q --out out/res
expect "fp32 file given as int8" "rank [0-9]+ \(host [^)]+\): error: .*expected an int8 model" -- \
  mpiexec --oversubscribe -n 2 "$bin" run --weights fp.h5 -q --out out/res
expect "truncated model file" "rank [0-9]+ \(host [^)]+\): error: bad/truncated.h5: " -- \
  mpiexec --oversubscribe -n 2 "$bin" run --weights bad/truncated.h5 -q --out out/res
expect "random bytes as a model" "rank [0-9]+ \(host [^)]+\): error: bad/random.h5: not an HDF5 file" -- \
  mpiexec --oversubscribe -n 2 "$bin" run --weights bad/random.h5 -q --out out/res
expect "shift out of range" "rank [0-9]+ \(host [^)]+\): error: .*'rq_shift' of '/layers/0/wq' = 40 is outside \[0, 31\]" -- \
  mpiexec --oversubscribe -n 2 "$bin" run --weights bad/shift.h5 -q --out out/res
expect "softmax log2 of zero" "rank [0-9]+ \(host [^)]+\): error: .*'log2' of '/layers/1/softmax' = 0 is outside" -- \
  mpiexec --oversubscribe -n 2 "$bin" run --weights bad/zerolog2.h5 -q --out out/res
expect "dataset in place of a group" "rank [0-9]+ \(host [^)]+\): error: bad/notgroup.h5: .*(corrupt|group|scores)" -- \
  mpiexec --oversubscribe -n 2 "$bin" run --weights bad/notgroup.h5 -q --out out/res
expect "absurd dimensions" "rank [0-9]+ \(host [^)]+\): error: .*unreasonably large|out of range" -- \
  mpiexec --oversubscribe -n 2 "$bin" run --weights bad/huge.h5 -q --out out/res
expect "inspect a truncated file" "mcuemu inspect: error: bad/truncated.h5" -- "$bin" inspect bad/truncated.h5
expect "quantize a random file" "mcuemu quantize: error: bad/random.h5: not an HDF5 file" -- \
  "$bin" quantize bad/random.h5 -o bad/o2.h5 -q

# --- output paths: refused before the run, nothing written
touch bad/afile
expect "--out is a file" "rank 0 \(host [^)]+\): error: --out bad/afile: exists and is not a directory" -- \
  mpiexec --oversubscribe -n 2 "$bin" run --model tinyllama-tiny --weights q.h5 -q --out bad/afile
expect "--summary-json is a directory" "rank 0 \(host [^)]+\): error: --summary-json bad: is a directory" -- \
  mpiexec --oversubscribe -n 2 "$bin" run --model tinyllama-tiny --weights q.h5 -q --out out/res --summary-json bad
expect "--trace under a file" "rank 0 \(host [^)]+\): error: --trace bad/afile/t.json: .*not a directory" -- \
  mpiexec --oversubscribe -n 2 "$bin" run --model tinyllama-tiny --weights q.h5 -q --out out/res --trace bad/afile/t.json
expect "gen-weights into a missing directory" "mcuemu gen-weights: error: .*no/such/dir/o3.h5" -- \
  "$bin" gen-weights --model tinyllama-tiny -o bad/no/such/dir/o3.h5 -q
expect "quantize onto a directory" "mcuemu quantize: error: --output bad: is a directory" -- "$bin" quantize fp.h5 -o bad -q

# --- the error line names the host of the rank (MPI_Get_processor_name: the short host name)
host=$(uname -n); host=${host%%.*}
expect "error names the host" "mcuemu: rank 0 \(host $host\): error: the options of .mcuemu run. differ" -- \
  mpiexec --oversubscribe -n 1 "${run[@]}" --tokens 4 : -n 1 "${run[@]}" --tokens 5
# The profile is read by rank 0 only (and broadcast): a missing profile is rank 0's error.
expect "missing profile file" "mcuemu: rank 0 \(host $host\): error: cannot open hardware profile 'nope.ini'" -- \
  mpiexec --oversubscribe -n 2 "${run[@]}" --profile nope.ini
exit $fails
