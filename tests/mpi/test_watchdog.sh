#!/usr/bin/env bash
# The watchdog names the rank that stops a distributed job (label mpi). A 3-rank demo with distributed.timeout 5 (15
# under the sanitizers), one rank signalled from outside mid-run (after rank 0 wrote two iterations' metrics):
#   1. SIGSTOP of rank 2: rank 0 names it (role, host, pid), its last step and iteration, and that its process is
#      stopped; the job ends within seconds of the timeout;
#   2. SIGKILL of rank 2: mpirun ends the job with SIGTERM to the others, and rank 0 names the dead rank and its
#      last step before mpirun's SIGKILL;
#   3. SIGSTOP of rank 0, the rank that names the others: rank 1 names it.
# Each named step must be one of the loop's step names (a literal in workers/, tools/ or coordinator/).
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/mpi_env.sh"
# Under the sanitizers every step runs several times slower: the timeout and the limits stretch with it, so that a
# slow step is not taken for a hung rank.
S=1
[ -n "${ASAN_OPTIONS:-}" ] && S=3
BASE=(jobs/semantle-demo.yaml --quiet --set iterations=400 --set save_steps=1 --set sampling.max_completion_length=8
      --set threads=1 --set lora.r=8 --set search.num_on_policy=6 --set search.num_neighborhood=3
      --set search.num_greedy=3 --set training.members_per_shard=3 --set distributed.timeout=$((5 * S)))
HOST=$(hostname)

# rank_pid DIR RANK: the pid of that rank of the job writing to DIR (its environment names its rank)
rank_pid() {
    local p
    for p in $(pgrep -f -- "output_dir=$1( |$)"); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$p"; return; }
    done
}

# fault NAME SIGNAL RANK LIMIT: starts the job, sends SIGNAL to rank RANK mid-run, checks that the job ends (not by
# success) within LIMIT seconds of the signal; sets D (its folder), PID (the rank's pid), TOOK.
fault() {
    D="$T/$1"
    timeout $((120 * S)) mpirun -np 3 "$M" run "${BASE[@]}" --set output_dir="$D" >"$D.out" 2>&1 &
    local job=$! i
    PID=
    for i in $(seq 1 $((1200 * S))); do
        [ "$(cat "$D/metrics.jsonl" 2>/dev/null | wc -l)" -ge 2 ] && PID=$(rank_pid "$D" "$3") && [ -n "$PID" ] && break
        kill -0 $job 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$PID" ]; then
        fail "$1: the job did not reach its third iteration with a rank $3 to signal"; tail -5 "$D.out"; wait $job
        return 1
    fi
    local start=$(date +%s.%N)
    kill -"$2" "$PID"
    wait $job
    local rc=$?
    TOOK=$(echo "$(date +%s.%N) - $start" | bc)
    echo "$1: exit $rc, $TOOK s after SIG$2 to rank $3 (pid $PID)"
    if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ "$(echo "$TOOK > $4" | bc)" = 1 ]; then
        fail "$1: the job should end within $4 s of the signal, not succeed: exit $rc after $TOOK s"; tail -8 "$D.out"
    fi
    for i in $(seq 1 40); do  # gone, or a zombie nobody reaps (a container's init may not)
        grep -qE '^[0-9]+ \(.*\) [ZX] ' "/proc/$PID/stat" 2>/dev/null || ! [ -e "/proc/$PID" ] && break
        sleep 0.05
    done
    [ -e "/proc/$PID" ] && ! grep -qE '^[0-9]+ \(.*\) [ZX] ' "/proc/$PID/stat" 2>/dev/null &&
        fail "$1: rank $3 (pid $PID) outlived the job: $(cat "/proc/$PID/stat" 2>/dev/null | cut -c1-60)"
    return 0
}

# named WATCHER RANK ROLE WHAT: the line in which rank WATCHER's watchdog names rank RANK (role, host, pid) and its
# last progress (iteration >= 2 and a real step name), and which also contains WHAT
named() {
    local line it step
    line=$(grep -F -- "migrate: watchdog (rank $1): " "$D.out" | grep -F -- "rank $2 ($3, host $HOST, pid $PID)" |
           grep -F -- "$4" | head -1)
    if [ -z "$line" ]; then fail "no line of rank $1's watchdog names rank $2 (pid $PID) with '$4'"; cat "$D.out"; return 1; fi
    it=$(sed -nE "s/.*its last progress: iteration ([0-9]+), .*/\1/p" <<<"$line")
    step=$(sed -nE "s/.*its last progress: iteration [0-9]+, (waiting in )?'([^']+)'.*/\2/p" <<<"$line")
    if [ -z "$it" ] || [ "$it" -lt 2 ] || [ -z "$step" ] || ! grep -rqF "\"$step\"" workers tools coordinator; then
        fail "rank $1's line does not give rank $2's iteration (>= 2) and step: $line"; return 1
    fi
    ok "$line"
}

# 1. a stopped rank
fault stop STOP 2 $((30 * S)) && named 0 2 "rollout+learner" "; its process is stopped"
"$M" inspect --digest "$D/checkpoint.h5" >/dev/null 2>&1 && ok "stop: the last checkpoint is intact" ||
    fail "stop: the checkpoint does not read back"

# 2. a killed rank
fault kill KILL 2 $((15 * S)) && named 0 2 "rollout+learner" " has exited; "

# 3. the stopped rank is rank 0, which names the others: rank 1 names it
fault stop0 STOP 0 $((30 * S)) && named 1 0 "coordinator+rollout+learner" "; its process is stopped"

echo "$fails failed"
[ $fails -eq 0 ]
