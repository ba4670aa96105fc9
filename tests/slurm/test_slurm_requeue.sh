#!/usr/bin/env bash
# Preemption on the local Slurm. The batch script gets USR1 while the search runs (`scancel --batch
# --signal=USR1`, what --signal=B:USR1@N sends before a time limit); its trap passes the signal to the run and
# requeues the job; the second start finishes the search, which must end as an uninterrupted run does.
#   A. jobs/slurm/one-node.sbatch, one task.
#   B. an array from `migrate sweep`: its last element (whose job id is also the array's) is signalled; it alone
#      requeues, the other element runs on undisturbed, and --collect finds both done.
# When `migrate run --help` offers --resume, the run must also have written its checkpoint on the signal and the
# second start must resume from it (not start over).
# Usage: test_slurm_requeue.sh BUILD_DIR   (run from the repository root)
source "$(dirname "$0")/lib.sh"

N=40  # iterations: ~0.15 s each on one core (release build), so the signal lands well before the end
args=(jobs/semantle-demo.yaml --set iterations=$N --set threads=1)
"$BIN" run "${args[@]}" --set output_dir="$TMP/ref" --quiet >/dev/null 2>&1
check "reference run (uninterrupted, target ocean) wrote its summary" test -s "$TMP/ref/summary.json"
if "$BIN" run --help | grep -q -- --resume; then resume=1; else resume=0; fi
echo "migrate run --resume: $([ $resume = 1 ] && echo available: checking checkpoint + resume || echo not available: checking trap + requeue only)"

# signal_midway JOBSPEC OUT: USR1 to the batch script once OUT/metrics.jsonl has 2 iterations (and not all N).
signal_midway() {
    for _ in $(seq 1 600); do
        [ "$(cat "$2/metrics.jsonl" 2>/dev/null | wc -l)" -ge 2 ] && break
        sleep 0.1
    done
    local lines
    lines=$(cat "$2/metrics.jsonl" 2>/dev/null | wc -l)
    check "$1 is mid-way when signalled ($lines of $N iterations)" \
        test "$lines" -ge 2 -a "$lines" -lt "$N" -a ! -e "$2/summary.json"
    scancel --batch --signal=USR1 "$1"
}

# release_and_wait JOBSPEC: the requeued job waits for its BeginTime (~2 min): start it now; then wait for the end.
# Sets requeued=1 if Slurm counted a restart.
release_and_wait() {
    local info
    requeued=0
    for _ in $(seq 1 600); do
        info=$(scontrol show job "$1" 2>/dev/null)
        grep -q "Restarts=1" <<<"$info" && requeued=1
        if grep -q "JobState=PENDING" <<<"$info" && grep -q "Reason=BeginTime" <<<"$info"; then
            scontrol update JobId="$1" StartTime=now
        fi
        case $(job_state "$1") in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) return ;; esac
        sleep 0.2
    done
}

# check_resumed NAME LOG OUT JOBID: the log shows the signal, the requeue and a second start that resumed; the
# result equals the reference.
check_resumed() {
    check "$1: the trap got USR1 and passed it on" grep -q "^job: got USR1, passing it to the run" "$2"
    check "$1: the second start ran (start 1 in the log)" grep -q "^job $4 start 1 " "$2"
    check "$1: job.status: exited 0" grep -qx "exited 0" "$3/job.status"
    check "$1: the result equals the uninterrupted run's" \
        diff <(summary_sans_time "$TMP/ref/summary.json") <(summary_sans_time "$3/summary.json")
    if [ "$resume" = 1 ]; then
        check "$1: the signalled run checkpointed and exited 0" grep -q "^job: the run exited with status 0$" "$2"
        check "$1: the second start resumed from the checkpoint" grep -q "^job $4 start 1 .*--resume $3/checkpoint.h5" "$2"
        check "$1: iteration 1 ran once (resumed, not started over)" test "$(grep -c "it *1/$N\]" "$2")" -eq 1
        check "$1: metrics.jsonl holds each of the $N iterations once" test "$(wc -l <"$3/metrics.jsonl")" -eq "$N"
    fi
}

# ---- A: one-node.sbatch ----
OUT=$TMP/run
LOG=$TMP/job.out
job=$(MIGRATE=$BIN sbatch --parsable --ntasks=1 --cpus-per-task=1 --output="$LOG" jobs/slurm/one-node.sbatch \
    "${args[@]}" --set output_dir="$OUT")
check "sbatch one-node.sbatch (id ${job:-none})" test -n "$job"
signal_midway "$job" "$OUT"
release_and_wait "$job"
sed 's/^/     | /' "$LOG" | grep -v '^     | \[migrate it'
check "one-node: the job requeued itself (Restarts=1)" test "$requeued" -eq 1
check "one-node: the job completed (state $(job_state "$job"))" test "$(job_state "$job")" = COMPLETED
check_resumed one-node "$LOG" "$OUT" "$job"

# ---- B: the last element of a 2-element sweep (element 1: ocean, like the reference) ----
SW=$TMP/sweep
"$BIN" sweep "${args[@]}" --targets river,ocean --out "$SW" >/dev/null 2>&1
arr=$(tail -1 "$SW/jobid" 2>/dev/null)
check "migrate sweep submitted (array ${arr:-none})" test -n "$arr"
signal_midway "${arr}_1" "$SW/1"
release_and_wait "${arr}_1"
wait_gone "$arr" 120
sed 's/^/     | /' "$SW/logs/${arr}_1.out" | grep -v '^     | \[migrate it'
check "sweep: element 1 requeued (Restarts=1)" test "$requeued" -eq 1
id1=$(sed -n 's/^job \([0-9]*\) start 0 .*/\1/p' "$SW/logs/${arr}_1.out")
check_resumed "sweep element 1" "$SW/logs/${arr}_1.out" "$SW/1" "${id1:-?}"
check "sweep: element 0 ran once, undisturbed" \
    test "$(grep -c '^job [0-9]* start' "$SW/logs/${arr}_0.out")" -eq 1 -a "$(cat "$SW/0/job.status")" = "exited 0"
"$BIN" sweep --collect "$SW" >/dev/null 2>"$TMP/collect.err"
check "sweep: --collect finds both elements done" grep -q "2 of 2 elements done" "$TMP/collect.err"
report
