#!/usr/bin/env bash
# The answers a `migrate run` on ARC leaves (docs/arc.md, "Answers of a run"), with the tiny fixture model on
# tasks of 2 x 2 grids written here:
#   1. a finished run writes submission.json (Kaggle's format, the task's id, two attempts per test input) and
#      arc_result.json (counts, and the score because the test output is known);
#   2. a run stopped after 2 iterations and resumed to 4 leaves the same answers, results and checkpoint digest
#      as 4 uninterrupted iterations; so do kill -9s after checkpoints, each resumed, and the same run on 2 MPI
#      ranks (when mpirun is there);
#   3. a task chosen by id from Kaggle-style combined files (task.arc.id, task.arc.solutions) is searched and
#      scored under its id; an id not in the file, and solutions without an id, are refused in one line.
# Usage: test_arc_answers_run.sh BUILD_DIR   (run from the repository root)
set -u
BUILD=$1
M="$BUILD/migrate"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/lib.sh"

cat >"$TMP/t1.json" <<'JSON'
{"train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]},
           {"input": [[5, 0], [0, 6]], "output": [[6, 0], [0, 5]]}],
 "test": [{"input": [[7, 8], [9, 1]], "output": [[1, 9], [8, 7]]}]}
JSON
cat >"$TMP/challenges.json" <<'JSON'
{"aa000001": {"train": [{"input": [[1, 1], [0, 0]], "output": [[0, 0], [1, 1]]}], "test": [{"input": [[2, 2], [0, 0]]}]},
 "bb000002": {"train": [{"input": [[3, 0], [0, 0]], "output": [[0, 3], [0, 0]]}],
              "test": [{"input": [[4, 0], [0, 0]]}, {"input": [[5, 0], [0, 0]]}]}}
JSON
cat >"$TMP/solutions.json" <<'JSON'
{"aa000001": [[[0, 0], [2, 2]]], "bb000002": [[[0, 4], [0, 0]], [[0, 5], [0, 0]]]}
JSON
{ arc_tiny_config tests/parity/fixtures/llama3-tiny "$TMP/full" "$TMP/t1.json" 3 4
  echo "save_steps: 1"; } >"$TMP/run.yaml"

# 1. a finished run
if "$M" run "$TMP/run.yaml" --quiet >"$TMP/full.log" 2>&1; then
    if grep -q '"t1": \[{"attempt_1": \[\[' "$TMP/full/submission.json" 2>/dev/null ||
       grep -q '"t1":\[{"attempt_1":\[\[' "$TMP/full/submission.json" 2>/dev/null; then
        ok "submission.json: $(head -c 120 "$TMP/full/submission.json")"
    else
        bad "submission.json: $(cat "$TMP/full/submission.json" 2>&1 | head -c 300)"
    fi
    if grep -q '"pass@2"' "$TMP/full/arc_result.json" && grep -q '"task_id": "t1"' "$TMP/full/arc_result.json"; then
        ok "arc_result.json names the task and scores it"
    else
        bad "arc_result.json: $(head -c 400 "$TMP/full/arc_result.json" 2>&1)"
    fi
else
    bad "the run exited $?: $(tail -5 "$TMP/full.log")"
fi

# 2. resumed and 2-rank runs end with the same answers
same_as_full() {  # DIR WHAT
    local d=$1 what=$2
    if cmp -s "$TMP/full/submission.json" "$d/submission.json" &&
       diff <(grep -v '"seconds"' "$TMP/full/arc_result.json") <(grep -v '"seconds"' "$d/arc_result.json") >/dev/null &&
       [ "$("$M" inspect --digest "$TMP/full/checkpoint.h5")" = "$("$M" inspect --digest "$d/checkpoint.h5")" ]; then
        ok "$what: same answers, results and digest as the uninterrupted run"
    else
        bad "$what: answers or digest differ"
        diff "$TMP/full/arc_result.json" "$d/arc_result.json" | head -10
    fi
}
"$M" run "$TMP/run.yaml" --quiet --set output_dir="$TMP/half" --set iterations=2 >"$TMP/half.log" 2>&1 &&
    "$M" run "$TMP/run.yaml" --quiet --resume "$TMP/half/checkpoint.h5" --set output_dir="$TMP/half" \
        --set iterations=4 >>"$TMP/half.log" 2>&1
[ $? -eq 0 ] || bad "stop and resume: $(tail -3 "$TMP/half.log")"
same_as_full "$TMP/half" "stopped at 2, resumed to 4"
# kill -9 after each new checkpoint, resuming each time, until the run completes: the same answers and digest
kill9_until_done "$TMP/kill9" "$TMP/run.yaml"
d=$TMP/kill9
if [ $finished = 1 ] && [ $kills -ge 1 ]; then
    same_as_full "$d" "$kills kill -9s, each resumed"
else
    bad "kill -9: $kills kills, finished $finished"
fi
if command -v mpirun >/dev/null; then
    arc_mpi_env
    if mpirun -np 2 "$M" run "$TMP/run.yaml" --quiet --set output_dir="$TMP/np2" >"$TMP/np2.log" 2>&1; then
        same_as_full "$TMP/np2" "2 MPI ranks"
    else
        bad "np 2 run: $(grep -v '^--' "$TMP/np2.log" | head -20)"
    fi
else
    echo "skip 2 MPI ranks: no mpirun"
fi

# 3. Kaggle combined files
if "$M" run "$TMP/run.yaml" --quiet --set output_dir="$TMP/kg" --set task.arc.file="$TMP/challenges.json" \
        --set task.arc.id=bb000002 --set task.arc.solutions="$TMP/solutions.json" --set iterations=1 \
        >"$TMP/kg.log" 2>&1 &&
    grep -q '"bb000002"' "$TMP/kg/submission.json" && grep -q '"n_test": 2' "$TMP/kg/arc_result.json" &&
    grep -q '"pass@2"' "$TMP/kg/arc_result.json"; then
    ok "task bb000002 from the combined files: 2 test inputs, scored"
else
    bad "combined files: $(tail -3 "$TMP/kg.log"; head -c 300 "$TMP/kg/arc_result.json" 2>&1)"
fi
refused() {  # WHAT WANT ARGS...
    local what=$1 want=$2
    shift 2
    "$M" run "$TMP/run.yaml" --quiet --set output_dir="$TMP/r$RANDOM" "$@" >/dev/null 2>"$TMP/err"
    local rc=$? n
    n=$(wc -l <"$TMP/err")
    if [ "$rc" -ne 0 ] && [ "$n" -eq 1 ] && grep -q -- "$want" "$TMP/err"; then
        ok "$what: $(cat "$TMP/err")"
    else
        bad "$what: exit $rc, $n lines: $(head -3 "$TMP/err")"
    fi
}
refused "an id not in the file" "cc000003" --set task.arc.file="$TMP/challenges.json" --set task.arc.id=cc000003
refused "solutions without an id" "task.arc.solutions needs task.arc.id" --set task.arc.solutions="$TMP/solutions.json"
exit $fail
