#!/usr/bin/env bash
# Multi-host test on emulated hosts (docs/multihost.md): 3 hosts made of Linux network
# namespaces on this machine, joined by a bridge (in a namespace of its own) through veth pairs,
# each with its own hostname (UTS namespace) and its own "local disk" (a directory bind-mounted
# over one common path, so the hosts do not share the model cache or the output directory).
# mpirun runs inside host 1 and starts the daemons of hosts 2 and 3 through an rsh agent that
# enters their namespaces. Checks:
#   1. the 8-chip TinyLlama-42M job across the 3 hosts (slots 3,3,2) gives the same tokens,
#      logits hashes and simulated costs as on one host; the default model is made once (by rank
#      0) and copied to the hosts that lack it or hold a different file; rank 0 alone writes the
#      results;
#   2. a model file missing on one host, and a bad file on one host, end the job with an error
#      naming that host;
#   3. faults: SIGKILL of host 3's ranks, and host 3's link cut, end the job with a non-zero exit
#      and a message within seconds (the time is measured and printed).
# Needs root (ip netns, unshare, mount). Everything it creates (namespaces, processes in them,
# Open MPI's session directories and shared-memory segments of these host names, its temporary
# directory) is removed on exit, also on failure or Ctrl-C.
#
# usage: scripts/test-multihost.sh [MCUEMU_BIN]
#   MCUEMU_BIN (argument or environment): the binary to test; default build/ci, else
#   build/release. MULTIHOST_KEEP=1 keeps the temporary directory (logs) for inspection.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-${MCUEMU_BIN:-}}
if [ -z "$BIN" ]; then
  BIN=$ROOT/build/ci/src/cli/mcuemu
  [ -x "$BIN" ] || BIN=$ROOT/build/release/src/cli/mcuemu
fi
[ -x "$BIN" ] || { echo "FAIL multi-host: no mcuemu binary at $BIN (build first)"; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[ "$(id -u)" -eq 0 ] || { echo "FAIL multi-host: needs root (network namespaces)"; exit 2; }
for tool in ip unshare mount timeout mpirun python3; do
  command -v "$tool" >/dev/null || { echo "FAIL multi-host: '$tool' not found"; exit 2; }
done

NHOSTS=3
TAG=mcuemu-$$                        # namespaces and host names: mcuemu-<pid>-h1.., -br
BR=$TAG-br
HOSTS=()
for i in $(seq 1 $NHOSTS); do HOSTS+=("$TAG-h$i"); done
SLOTS=(3 3 2)
NP=8
LIMIT=10        # seconds a fault may take to end the job
CREATED=()      # namespaces to delete
BG=()           # background jobs (timeout ...) to stop on exit
FAILS=0
T_START=$SECONDS

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

# run_bg CMD...: run CMD as a background job and wait for it, so that a signal to this script runs
# its cleanup at once (bash runs traps only between foreground commands).
run_bg() { "$@" & BG+=($!); wait $!; }

kill_ns_procs() {  # SIGKILL every process in a namespace
  local pids
  pids=$(ip netns pids "$1" 2>/dev/null) || return 0
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  return 0
}

delete_ns() {
  kill_ns_procs "$1"
  ip netns del "$1" 2>/dev/null
  rm -f /dev/shm/vader_segment."$1".* 2>/dev/null
  rm -rf /tmp/ompi."$1".* 2>/dev/null
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for ns in "${CREATED[@]}"; do delete_ns "$ns"; done
  if [ -n "${MH:-}" ] && [ -d "$MH" ]; then
    if [ "${MULTIHOST_KEEP:-0}" = 1 ]; then echo "multi-host: kept $MH"; else rm -rf "$MH"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Namespaces left by an earlier run of this script that could not clean up (SIGKILL).
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^mcuemu-[0-9]+-(h[0-9]+|br)$'); do
  pid=${ns#mcuemu-}; pid=${pid%%-*}
  [ -d "/proc/$pid" ] || { echo "multi-host: removing stale namespace $ns"; delete_ns "$ns"; }
done

MH=$(mktemp -d /tmp/mcuemu-multihost.XXXXXX)
chmod 755 "$MH"

# --- the emulated hosts --------------------------------------------------------------------------
setup() {
  ip netns add "$BR" && CREATED+=("$BR") || return 1
  ip -n "$BR" link add br0 type bridge && ip -n "$BR" link set br0 up && ip -n "$BR" link set lo up \
    || return 1
  local i ns
  for i in $(seq 1 $NHOSTS); do
    ns=${HOSTS[$((i - 1))]}
    ip netns add "$ns" && CREATED+=("$ns") || return 1
    ip link add eth0 netns "$ns" type veth peer name "p$i" netns "$BR" || return 1
    ip -n "$BR" link set "p$i" master br0 && ip -n "$BR" link set "p$i" up || return 1
    ip -n "$ns" link set lo up && ip -n "$ns" addr add "10.77.0.$i/24" dev eth0 \
      && ip -n "$ns" link set eth0 up || return 1
    mkdir -p "$MH/disk/$ns"
  done
  mkdir -p "$MH/local"
  { echo "127.0.0.1 localhost"
    for i in $(seq 1 $NHOSTS); do echo "10.77.0.$i ${HOSTS[$((i - 1))]}"; done; } > "$MH/hosts"
  for i in $(seq 1 $NHOSTS); do echo "${HOSTS[$((i - 1))]} slots=${SLOTS[$((i - 1))]}"; done \
    > "$MH/hostfile"
  # inhost NS CMD...: run CMD inside emulated host NS: its network namespace, a UTS namespace
  # with hostname NS, and (ip netns exec makes a private mount namespace) its own /etc/hosts and
  # its own disk $MH/disk/NS mounted at $MH/local.
  cat > "$MH/inhost" <<EOF
#!/bin/sh
ns=\$1; shift
exec ip netns exec "\$ns" unshare --uts sh -c 'hostname "\$0" && mount --bind "$MH/hosts" /etc/hosts && mount --bind "$MH/disk/\$0" "$MH/local" && exec "\$@"' "\$ns" "\$@"
EOF
  # netns-rsh: Open MPI's plm_rsh_agent, a stand-in for ssh: [options] HOST COMMAND-WORDS...
  cat > "$MH/netns-rsh" <<EOF
#!/bin/sh
while [ \$# -gt 0 ]; do case "\$1" in -*) shift ;; *) break ;; esac; done
host=\$1; shift
case "\$host" in
  $TAG-h[0-9]*) ns=\$host ;;
  10.77.0.*) ns=$TAG-h\${host##*.} ;;
  *) echo "netns-rsh: unknown host '\$host'" >&2; exit 255 ;;
esac
exec "$MH/inhost" "\$ns" sh -c "cd '$MH/local' 2>/dev/null; \$*"
EOF
  chmod +x "$MH/inhost" "$MH/netns-rsh"
}

if ! setup; then fail "multi-host: could not create the emulated hosts"; exit 1; fi
H1=${HOSTS[0]} H2=${HOSTS[1]} H3=${HOSTS[2]}
pass "setup: $NHOSTS emulated hosts ($H1 $H2 $H3, 10.77.0.1-$NHOSTS/24 over a bridge in $BR)"

# Open MPI: everything on the command line (a parameter may appear only once there); the
# environment's OMPI_MCA_* (scripts/lib/common.sh sets btl=self,vader) would be overridden
# anyway, but unset them so that what runs is what is written here.
for v in $(env | grep -o '^OMPI_MCA_[^=]*'); do unset "$v"; done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
export MCUEMU_CACHE_DIR=$MH/local/cache   # the same path on every host, its own disk behind it
MPIRUN_ARGS=(
  --hostfile "$MH/hostfile" --oversubscribe
  --mca plm_rsh_agent "$MH/netns-rsh" --mca plm_rsh_no_tree_spawn 1
  --mca oob_tcp_if_include 10.77.0.0/24
  --mca btl self,vader,tcp --mca btl_tcp_if_include 10.77.0.0/24
  --mca mpi_yield_when_idle 1
  --mca oob_tcp_keepalive_time 1 --mca oob_tcp_keepalive_intvl 1 --mca oob_tcp_keepalive_probes 2
  --mca odls_base_sigkill_timeout 0
)

# Failure detection across hosts rests on ORTE's out-of-band (OOB) TCP keepalive between mpirun
# and the remote daemons; the TCP BTL that carries MPI messages has no keepalive or retry knob.
if ompi_info --param oob tcp --level 9 | grep -q oob_tcp_keepalive_time; then
  btl_knobs=$(ompi_info --param btl tcp --level 9 --parsable | grep -oE 'btl_tcp_[a-z_]*(keepalive|retr|timeout)[a-z_]*' | sort -u | xargs)
  pass "Open MPI $(ompi_info --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1): oob_tcp_keepalive_* present; btl tcp keepalive/retry options: ${btl_knobs:-none}"
else
  fail "this Open MPI has no oob_tcp_keepalive_time"
fi

# mh TIMEOUT ARGS...: `mcuemu ARGS` on the 8 ranks across the hosts, mpirun inside host 1, in
# $MH/local (host 1's disk; the remote ranks start in $MH/local on their own disk).
mh() {
  local t=$1; shift
  run_bg timeout -k 5 "$((t + 5))" "$MH/inhost" "$H1" sh -c 'cd "$0" && exec "$@"' "$MH/local" \
    mpirun -np $NP "${MPIRUN_ARGS[@]}" --timeout "$t" "$BIN" "$@"
}

# --- 1. the 8-chip job: multi-host == single host -------------------------------------------------
RUN=(run --model tinyllama-42m --mode ar --tokens 32 --hash-all-steps --out out --summary-json summary.json)
t0=$(now)
mh 150 "${RUN[@]}" > "$MH/mh.out" 2> "$MH/mh.err"
rc=$?
t1=$(now)
if [ $rc -ne 0 ]; then
  fail "8-chip TinyLlama-42M across 3 hosts: rc=$rc"; tail -20 "$MH/mh.err"; exit 1
fi
pass "8-chip TinyLlama-42M across 3 hosts ran in $(secs "$t0" "$t1") s"
made=$(grep -c "making the default synthetic" "$MH/mh.err")
model=$(ls -1 "$MH/disk/$H1/cache" | grep '\.int8\.h5$')
same=1
for h in "${HOSTS[@]}"; do cmp -s "$MH/disk/$H1/cache/$model" "$MH/disk/$h/cache/$model" || same=0; done
if [ "$made" -eq 1 ] && [ -n "$model" ] && [ $same -eq 1 ]; then
  pass "default model made once (rank 0, $H1) and copied to the other hosts' caches: identical $model on all 3 disks"
else
  fail "default model: made $made time(s), identical on every host: $same"; grep mcuemu "$MH/mh.err" | head
fi
# A host whose cache holds a different file under that name (here: truncated) gets rank 0's.
if [ -n "$model" ]; then
  head -c 100000 "$MH/disk/$H1/cache/$model" > "$MH/disk/$H3/cache/$model"
  mh 60 run --model tinyllama-42m --tokens 1 -q --out out2 > /dev/null 2> "$MH/stale.err"
  rc=$?
  if [ $rc -eq 0 ] && grep -q "host $H3: the default model at .* differs from rank 0's copy: replacing it" "$MH/stale.err" \
     && cmp -s "$MH/disk/$H1/cache/$model" "$MH/disk/$H3/cache/$model" && ! grep -q "making" "$MH/stale.err"; then
    pass "a different cached model on $H3 is replaced by rank 0's copy"
  else
    fail "stale cached model on $H3: rc=$rc"; tail -5 "$MH/stale.err"
  fi
fi
# Results: written by rank 0 (host 1) only, relative to its working directory.
if [ -f "$MH/disk/$H1/summary.json" ] && [ -f "$MH/disk/$H1/out/results.csv" ] \
   && [ ! -e "$MH/disk/$H2/summary.json" ] && [ ! -e "$MH/disk/$H2/out" ] \
   && [ ! -e "$MH/disk/$H3/summary.json" ] && [ ! -e "$MH/disk/$H3/out" ]; then
  pass "results written by rank 0 on $H1 only (summary.json, out/results.csv on its disk)"
else
  fail "results: expected on $H1's disk only"; find "$MH/disk" -maxdepth 2 | sort
fi

# The same job on one host (the root namespace, shared memory only), host 1's model file.
run_bg env -C "$MH" OMPI_MCA_btl=self,vader OMPI_MCA_mpi_yield_when_idle=1 MCUEMU_CACHE_DIR="$MH/disk/$H1/cache" \
  timeout -k 5 120 mpirun -np $NP --oversubscribe --timeout 110 "$BIN" "${RUN[@]/#summary.json/single.json}" \
  > "$MH/single.out" 2> "$MH/single.err"
rc=$?
[ $rc -eq 0 ] || { fail "single-host run: rc=$rc"; tail -5 "$MH/single.err"; exit 1; }
grep -q "making the default synthetic" "$MH/single.err" && fail "the single-host run made the model again"
compare=$(python3 - "$MH/single.json" "$MH/disk/$H1/summary.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ["final_logits_hash", "all_steps_logits_hash", "generated", "prompt"]
cost = lambda s: (s["per_token"]["latency_ns"], s["per_token"]["energy_pj"]["total"],
                  s["run_totals"]["link_bytes"])
ok = all(a[k] == b[k] for k in keys) and cost(a) == cost(b)
print(("same" if ok else "DIFFERENT"),
      f"final_logits_hash {a['final_logits_hash']} / {b['final_logits_hash']},",
      f"all_steps_logits_hash {a['all_steps_logits_hash']} / {b['all_steps_logits_hash']},",
      f"{len(a['generated'])} tokens {'equal' if a['generated'] == b['generated'] else 'DIFFER'},",
      f"simulated latency {a['per_token']['latency_ns']:.0f} / {b['per_token']['latency_ns']:.0f} ns")
PY
)
case "$compare" in
  same*) pass "single host vs 3 hosts: $compare" ;;
  *) fail "single host vs 3 hosts: $compare" ;;
esac
grep -q "final logits hash" "$MH/mh.out" && \
  [ "$(grep "final logits hash" "$MH/mh.out")" = "$(grep "final logits hash" "$MH/single.out")" ] \
  && pass "printed:$(grep "final logits hash" "$MH/mh.out" | sed 's/^ *final logits hash/ final logits hash/') on both" \
  || fail "the printed final logits hash differs"
# The bytes between hosts really went over the veths.
rx=$(ip -n "$H2" -s -j link show eth0 | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['stats64']['rx']['bytes'])")
[ "$rx" -gt 1000000 ] && pass "cross-host traffic over the veth pairs ($H2 received $((rx / 1000)) kB)" \
  || fail "no cross-host traffic on $H2's eth0 ($rx bytes)"

# --- 2. files missing or bad on one host ---------------------------------------------------------
"$BIN" gen-weights --model tinyllama-tiny --seed 3 -o "$MH/fp.h5" -q && \
  "$BIN" quantize "$MH/fp.h5" -o "$MH/q.h5" --calib-tokens 16 -q || { fail "making test weights"; exit 1; }
cp "$MH/q.h5" "$MH/disk/$H1/q.h5"; cp "$MH/q.h5" "$MH/disk/$H2/q.h5"
mh 60 run --model tinyllama-tiny --weights q.h5 --tokens 2 -q > /dev/null 2> "$MH/missing.err"
rc=$?
want="rank 0 \(host $H1\): error: the model file q.h5 \(--weights\) is not readable on host $H3 \(ranks 6-7: $MH/local/q.h5: No such file or directory\); every host needs it"
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qE "$want" "$MH/missing.err"; then
  pass "model file missing on $H3: rc=$rc, $(grep -oE 'error: .*' "$MH/missing.err" | head -1 | cut -c1-150)..."
else
  fail "model file missing on $H3: rc=$rc, wanted /$want/"; tail -5 "$MH/missing.err"
fi
cp "$MH/fp.h5" "$MH/disk/$H3/q.h5"   # the wrong kind of file on host 3 only
mh 60 run --model tinyllama-tiny --weights q.h5 --tokens 2 -q > /dev/null 2> "$MH/bad.err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qE "rank [67] \(host $H3\): error: .*expected an int8 model" "$MH/bad.err"; then
  pass "bad model file on $H3: rc=$rc, $(grep -oE 'mcuemu: rank.*' "$MH/bad.err" | head -1 | cut -c1-110)..."
else
  fail "bad model file on $H3: rc=$rc"; tail -5 "$MH/bad.err"
fi

# --- 3. faults -------------------------------------------------------------------------------------
# fault NAME ACTION: start a long run, wait until it decodes, do ACTION, time until mpirun ends.
ns_procs() {  # the command names of the processes running on the emulated hosts
  local h
  for h in "${HOSTS[@]}"; do ip netns pids "$h"; done | xargs -r ps -o comm= -p
}

# fault NAME ACTION: start a long run, wait until it decodes, do ACTION, time until mpirun ends.
fault() {
  local name=$1 action=$2 log=$MH/fault-$1.err
  mh 60 run --model tinyllama-42m --mode ar --tokens 900 --out fault > /dev/null 2> "$log" &
  local pid=$! i
  BG+=($pid)
  for i in $(seq 1 300); do  # until rank 0 says the run has started (the model is loaded)
    grep -q "running tinyllama-42m on $NP chip" "$log" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  sleep 2
  if ! kill -0 $pid 2>/dev/null; then
    wait $pid; fail "fault $name: the run ended before the fault (rc=$?)"; tail -3 "$log"; return
  fi
  local t0 t1 rc dt msg
  t0=$(now)
  $action
  wait $pid
  rc=$?
  t1=$(now)
  dt=$(secs "$t0" "$t1")
  # Open MPI's message: what happened, and the line naming host 3 if that is another one.
  msg=$(grep -E "lost communication|noticed that|error:" "$log" | head -1 | sed 's/^ *//')
  grep -q -- "$H3" <<<"$msg" || msg="$msg $(grep -- "$H3" "$log" | head -1 | sed 's/^ *//')"
  grep -q -- "$H3" <<<"$msg" || msg=""
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ -n "$msg" ] \
     && python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < $LIMIT else 1)" "$dt"; then
    pass "fault $name: job ended in $dt s, rc=$rc: $msg"
  else
    fail "fault $name: rc=$rc after $dt s (limit $LIMIT s): ${msg:-no message naming $H3}"; tail -5 "$log"
  fi
  # Nothing may be left running on any host (the daemons clean up within a few seconds).
  local left=""
  for i in $(seq 1 50); do
    left=$(ns_procs | sort | uniq -c | xargs)
    [ -z "$left" ] && break
    sleep 0.1
  done
  [ -z "$left" ] && pass "fault $name: no process left on any host" \
    || fail "fault $name: processes left after the job ended: $left"
}

kill_h3_ranks() {
  local pids
  pids=$(ip netns pids "$H3" | xargs -r ps -o pid=,comm= -p | awk '$2 == "mcuemu" {print $1}' | xargs)
  echo "multi-host: kill -9 the ranks on $H3 (pids $pids)"
  kill -9 $pids
}
cut_h3_link() {
  echo "multi-host: cutting $H3's link (ip -n $BR link set p3 down)"
  ip -n "$BR" link set p3 down
}
fault kill kill_h3_ranks
fault link cut_h3_link
ip -n "$BR" link set p3 up

echo "multi-host: $FAILS failure(s), $((SECONDS - T_START)) s"
[ $FAILS -eq 0 ]
