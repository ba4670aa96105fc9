#!/usr/bin/env bash
# An ARC sweep as a Slurm array on the local Slurm: three tasks of 2 x 2 grids (written here) searched with the tiny
# fixture model and the grid language, 2 iterations each; every element finishes and leaves its answers, element 1
# equals a direct `migrate run` of its task, and `migrate sweep --collect` merges the three into one
# submission.json whose score (task q0's expected output is the 1x1 black fallback, the others' are not) is
# recomputed as 1 of 3 tasks.
# Usage: test_slurm_arc_sweep.sh BUILD_DIR   (run from the repository root)
source "$(dirname "$0")/lib.sh"

for k in 0 1 2; do
    case $k in
        0) out='[[0]]' ;;
        1) out='[[4, 3], [2, 1]]' ;;
        2) out='[[1, 3], [2, 4]]' ;;
    esac
    printf '{"train": [{"input": [[1, 2], [3, 4]], "output": %s}], "test": [{"input": [[5, 6], [7, 8]], "output": %s}]}\n' \
        "$out" "$out" >"$TMP/q$k.json"
done
source "$(dirname "$0")/../arc/lib.sh"  # arc_tiny_config
{ arc_tiny_config "$PWD/tests/parity/fixtures/llama3-tiny" "$TMP/out" "$TMP/q0.json" 2 2
  printf 'sweep:\n  grid:\n    task.arc.file: [%s, %s, %s]\n' "$TMP/q0.json" "$TMP/q1.json" "$TMP/q2.json"; } >"$TMP/sweep.yaml"
SW=$TMP/sweep
"$BIN" sweep "$TMP/sweep.yaml" --out "$SW" >"$TMP/submit.out" 2>&1
cat "$TMP/submit.out"
job=$(tail -1 "$SW/jobid" 2>/dev/null)
check "migrate sweep submitted an array job (id ${job:-none})" test -n "$job"
wait_gone "$job" 180
for i in 0 1 2; do
    check "element $i finished (job.status: $(cat "$SW/$i/job.status" 2>/dev/null))" grep -qx "exited 0" "$SW/$i/job.status"
    check "element $i wrote its answers" test -s "$SW/$i/arc_result.json"
done
sed '/^sweep:/,$d' "$TMP/sweep.yaml" >"$TMP/one.yaml"
"$BIN" run "$TMP/one.yaml" --set task.arc.file="$TMP/q1.json" --set output_dir="$TMP/direct" --quiet >/dev/null 2>&1
check "element 1 = migrate run of task q1" \
    diff <(grep -v '"seconds"' "$TMP/direct/arc_result.json") <(grep -v '"seconds"' "$SW/1/arc_result.json")
"$BIN" sweep --collect "$SW" >"$TMP/collect.out" 2>"$TMP/collect.err"
rc=$?
cat "$TMP/collect.err"
check "collect exits 0" test "$rc" -eq 0
check "submission.json names q0, q1, q2" grep -q '"q0":.*"q1":.*"q2":' "$SW/submission.json"
check "the score is recomputed: pass@2 1 of 3 tasks" grep -q "pass@2 33.33% (1.00 tasks)" "$SW/arc_results.md"
report
