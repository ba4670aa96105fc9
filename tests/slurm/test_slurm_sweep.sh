#!/usr/bin/env bash
# A 3-element array through `migrate sweep` on the local Slurm: three Semantle targets of jobs/semantle-demo.yaml,
# 2 iterations each. Checks that every element ran its own override (element 1 equals a direct `migrate run` of
# the same target) and that `migrate sweep --collect` gathers them into one table.
# Usage: test_slurm_sweep.sh BUILD_DIR   (run from the repository root)
source "$(dirname "$0")/lib.sh"

SW=$TMP/sweep
small=(--set iterations=2 --set threads=1)
"$BIN" sweep jobs/semantle-demo.yaml --targets ocean,river,music "${small[@]}" --out "$SW" >"$TMP/submit.out" 2>&1
cat "$TMP/submit.out"
job=$(tail -1 "$SW/jobid" 2>/dev/null)
check "migrate sweep submitted an array job (id ${job:-none})" test -n "$job"
check "the manifest lists 3 elements" test "$(grep -vc '^#' "$SW/manifest.tsv")" -eq 3
wait_gone "$job" 120
for i in 0 1 2; do
    check "element $i finished (job.status: $(cat "$SW/$i/job.status" 2>/dev/null))" grep -qx "exited 0" "$SW/$i/job.status"
    check "element $i wrote summary.json" test -s "$SW/$i/summary.json"
    check "element $i has its log" test -s "$SW/logs/${job}_$i.out"
done

# Element 1 is target river: the same search run directly must give the same result (runs are deterministic).
"$BIN" run jobs/semantle-demo.yaml "${small[@]}" --set task.target=river --set output_dir="$TMP/direct" --quiet >/dev/null 2>&1
check "element 1 = migrate run --set task.target=river" \
    diff <(summary_sans_time "$TMP/direct/summary.json") <(summary_sans_time "$SW/1/summary.json")
check "elements 0 and 2 differ (their targets do)" \
    test "$(grep '"best_reward"' "$SW/0/summary.json")" != "$(grep '"best_reward"' "$SW/2/summary.json")"

"$BIN" sweep --collect "$SW" >"$TMP/collect.out" 2>"$TMP/collect.err"
rc=$?
cat "$TMP/collect.out" "$TMP/collect.err"
check "collect exits 0 when every element is done" test "$rc" -eq 0
check "results.csv: 3 elements, all done" test "$(grep -c '^[0-9]*,done,' "$SW/results.csv")" -eq 3
for t in ocean river music; do
    check "results.csv has the row of $t" grep -Eq ",done,$t,migrate,1234,0,[1-9][0-9]*," "$SW/results.csv"
done
check "results.md has the per-strategy table" grep -q '^| migrate | 0/3 |' "$SW/results.md"
report
