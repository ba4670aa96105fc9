#!/usr/bin/env bash
# The ARC path end to end on the bundled ARC model (data/models/arc-tiny), the real training task 3c9b0459:
#   1. jobs/arc-demo.yaml searches it to a program exact on every training pair; its answers score pass@2 = 1
#      against the task's test output (arc_result.json), and submission.json holds that output as attempt_1;
#   2. the same search stopped after 2 iterations and resumed, killed with kill -9 after each checkpoint and
#      resumed, and run on 2 MPI ranks, ends with the same checkpoint digest, answers and results;
#   3. three real tasks (3c9b0459, 6150a2bd, 68b16354) as one multiplexed sweep, collected into one submission.json
#      whose pass@2 in arc_results.md is the count of tasks whose attempts are right (recomputed from the csv).
# Skipped under the sanitizers (the model's sampling is ~50x slower there; tests/arc/test_arc_answers_run.sh
# covers the same paths with the tiny fixture model).
# Usage: test_arc_demo.sh BUILD_DIR   (run from the repository root)
set -u
M="$1/migrate"
[ -n "${ASAN_OPTIONS:-}" ] && { echo "skipped under ASan"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/lib.sh"

if "$M" run jobs/arc-demo.yaml --set output_dir="$TMP/full" --set threads=1 --quiet >"$TMP/full.log" 2>&1; then
    if grep -q '"solved": true' "$TMP/full/summary.json" && grep -q '"pass@2": 1' "$TMP/full/arc_result.json" &&
       grep -q '^{"3c9b0459":\[{"attempt_1":\[\[7,6,4\],\[4,6,6\],\[4,4,6\]\]' "$TMP/full/submission.json"; then
        ok "3c9b0459 solved: $(tail -1 "$TMP/full.log")"
    else
        bad "demo: $(tail -3 "$TMP/full.log") $(head -c 200 "$TMP/full/submission.json")"
    fi
else
    bad "the demo run exited non-zero: $(tail -3 "$TMP/full.log")"
fi
"$M" inspect "$TMP/full/checkpoint.h5" 2>&1 | grep -q '^task  *arc, data/arc-agi-1/training/3c9b0459.json' &&
    ok "inspect names the ARC task" || bad "inspect: $("$M" inspect "$TMP/full/checkpoint.h5" 2>&1 | grep '^task')"
iters=$(sed -n 's/.*"iterations": \([0-9]*\).*/\1/p' "$TMP/full/summary.json" 2>/dev/null)
same_as_full() {  # DIR WHAT
    if cmp -s "$TMP/full/submission.json" "$1/submission.json" &&
       diff <(grep -v '"seconds"' "$TMP/full/arc_result.json") <(grep -v '"seconds"' "$1/arc_result.json") >/dev/null &&
       [ "$("$M" inspect --digest "$TMP/full/checkpoint.h5")" = "$("$M" inspect --digest "$1/checkpoint.h5")" ]; then
        ok "$2: same digest, answers and results"
    else
        bad "$2: differs from the uninterrupted run"
    fi
}
if [ "${iters:-0}" -gt 2 ]; then
    "$M" run jobs/arc-demo.yaml --set output_dir="$TMP/half" --set threads=1 --set iterations=2 --quiet >/dev/null 2>&1 &&
        "$M" run jobs/arc-demo.yaml --resume "$TMP/half/checkpoint.h5" --set output_dir="$TMP/half" --set threads=1 \
            --quiet >"$TMP/half.log" 2>&1 || bad "stop and resume: $(tail -3 "$TMP/half.log")"
    same_as_full "$TMP/half" "stopped at 2 of $iters iterations, resumed"
else
    bad "the demo took ${iters:-?} iterations: too few to stop it half way"
fi
# kill -9 right after each new checkpoint, resumed each time, until the search ends
kill9_until_done "$TMP/kill9" jobs/arc-demo.yaml --set threads=1 --set save_steps=1
d=$TMP/kill9
[ $finished = 1 ] && [ $kills -ge 1 ] && same_as_full "$d" "$kills kill -9s, each resumed" ||
    bad "kill -9: $kills kills, finished $finished"

# three real tasks as one multiplexed sweep, collected: the score is recomputed from the attempts
cp jobs/arc-demo.yaml "$TMP/sweep.yaml"
printf 'sweep:\n  grid:\n    task.arc.file: [%s, %s, %s]\n' data/arc-agi-1/training/3c9b0459.json \
    data/arc-agi-1/training/6150a2bd.json data/arc-agi-1/training/68b16354.json >>"$TMP/sweep.yaml"
if "$M" run "$TMP/sweep.yaml" --set output_dir="$TMP/sw" --set threads=1 --quiet >"$TMP/sw.log" 2>&1; then
    "$M" sweep --collect "$TMP/sw/sweep" >"$TMP/collect.out" 2>&1
    rc=$?
    solved=$(grep -c '"solved": true' "$TMP"/sw/sweep/*/summary.json | awk -F: '{s += $2} END {print s}')
    want=$(awk -F, 'NR > 1 && $6 == "1.000000" {n++} END {printf "%.2f", n}' "$TMP/sw/sweep/arc_results.csv")
    if [ $rc -eq 0 ] && grep -q '"3c9b0459":.*"6150a2bd":.*"68b16354":' "$TMP/sw/sweep/submission.json" &&
       grep -q "pass@2 [0-9.]*% ($want tasks)" "$TMP/sw/sweep/arc_results.md"; then
        ok "three-task sweep: $solved solved, $(grep -o 'pass@2 [0-9.]*% ([0-9.]* tasks)' "$TMP/sw/sweep/arc_results.md")"
    else
        bad "sweep collect: exit $rc: $(cat "$TMP/collect.out" | tail -5)"
    fi
else
    bad "the sweep run: $(tail -3 "$TMP/sw.log")"
fi

if command -v mpirun >/dev/null; then
    arc_mpi_env
    mpirun -np 2 "$M" run jobs/arc-demo.yaml --set output_dir="$TMP/np2" --set threads=1 --quiet >"$TMP/np2.log" 2>&1 ||
        bad "np 2: $(grep -v '^--' "$TMP/np2.log" | head -5)"
    same_as_full "$TMP/np2" "2 MPI ranks"
fi
exit $fail
