#!/usr/bin/env bash
# An ARC sweep over three tasks (grid axis task.arc.file) run as one multiplexed job (`migrate run SWEEP.yaml`),
# then `migrate sweep --collect`: one submission.json naming the three tasks, and arc_results.md / .csv whose
# score is recomputed from the attempts. The tiny fixture model writes no program that parses, so every attempt
# is the 1x1 black fallback: task z0 (whose test output is [[0]]) scores 1, the other two 0, so pass@2 is 1 of 3
# tasks (33.33%). With one element's answers deleted, collect exits 1, names the task, and its attempts become
# placeholders. Also: jobs/arc/arc-small.yaml makes 54 elements, and sweep.arc_ids_from (jobs/arc/arc-full.yaml)
# takes every id of a challenges file.
# Usage: test_arc_sweep.sh BUILD_DIR   (run from the repository root)
set -u
M="$1/migrate"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/lib.sh"

cat >"$TMP/z0.json" <<'JSON'
{"train": [{"input": [[1, 0], [0, 0]], "output": [[0]]}, {"input": [[2, 2], [0, 0]], "output": [[0]]}],
 "test": [{"input": [[3, 0], [0, 3]], "output": [[0]]}]}
JSON
cat >"$TMP/z1.json" <<'JSON'
{"train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]}],
 "test": [{"input": [[7, 8], [9, 1]], "output": [[1, 9], [8, 7]]}]}
JSON
cat >"$TMP/z2.json" <<'JSON'
{"train": [{"input": [[1, 2], [3, 4]], "output": [[1, 3], [2, 4]]}],
 "test": [{"input": [[5, 6], [7, 8]], "output": [[5, 7], [6, 8]]}, {"input": [[1, 1], [2, 2]], "output": [[1, 2], [1, 2]]}]}
JSON
{ arc_tiny_config tests/parity/fixtures/llama3-tiny "$TMP/out" "$TMP/z0.json" 5 2
  printf 'sweep:\n  grid:\n    task.arc.file: [%s, %s, %s]\n' "$TMP/z0.json" "$TMP/z1.json" "$TMP/z2.json"; } >"$TMP/sweep.yaml"

if ! "$M" run "$TMP/sweep.yaml" --quiet >"$TMP/run.log" 2>&1; then
    bad "the sweep run exited non-zero: $(tail -3 "$TMP/run.log")"
    exit 1
fi
SW=$TMP/out/sweep
"$M" sweep --collect "$SW" >"$TMP/collect.out" 2>"$TMP/collect.err"
rc=$?
if [ $rc -eq 0 ] && grep -q '"z0":' "$SW/submission.json" && grep -q '"z1":' "$SW/submission.json" &&
   grep -q '"z2":\[{"attempt_1":\[\[0\]\],"attempt_2":\[\[0\]\]},{' "$SW/submission.json"; then
    ok "submission.json names z0, z1, z2 (z2 with its two test inputs)"
else
    bad "collect exit $rc: $(cat "$TMP/collect.err") $(head -c 300 "$SW/submission.json" 2>&1)"
fi
if grep -q "pass@2 33.33% (1.00 tasks)" "$SW/arc_results.md" && grep -q '^"",0,z0,answers,1.000000,1.000000,' "$SW/arc_results.csv"; then
    ok "score recomputed: $(grep -o 'score over.*' "$SW/arc_results.md")"
else
    bad "arc_results: $(cat "$SW/arc_results.md" "$SW/arc_results.csv")"
fi
rm "$SW/1/arc_result.json"
"$M" sweep --collect "$SW" >"$TMP/collect2.out" 2>"$TMP/collect2.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "task z1: no answers" "$TMP/collect2.err" && grep -q "| z1 | placeholder |" "$SW/arc_results.md" &&
   grep -q "3 tasks: 2 with answers, 1 placeholders" "$SW/arc_results.md" && grep -q '"z1":' "$SW/submission.json"; then
    ok "a task without answers: exit 1, named, placeholder kept in submission.json"
else
    bad "missing answers: exit $rc: $(cat "$TMP/collect2.err")"
fi

# The shipped sweep configs: ARC-Small's 54 tasks; ARC-Full's ids from the challenges file (here a 2-task one).
"$M" sweep jobs/arc/arc-small.yaml --dry-run --out "$TMP/small" >/dev/null 2>"$TMP/small.err"
n=$(grep -vc '^#' "$TMP/small/manifest.tsv" 2>/dev/null)
if [ "${n:-0}" -eq 54 ] && grep -q "task.arc.id=fc754716" "$TMP/small/manifest.tsv"; then
    ok "jobs/arc/arc-small.yaml: 54 elements"
else
    bad "arc-small: ${n:-no} elements: $(cat "$TMP/small.err")"
fi
cat >"$TMP/challenges.json" <<'JSON'
{"bb000002": {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]]}]},
 "aa000001": {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]]}]}}
JSON
sed "s|arc_ids_from: .*|arc_ids_from: $TMP/challenges.json|" jobs/arc/arc-full.yaml >"$TMP/full.yaml"
"$M" sweep "$TMP/full.yaml" --dry-run --out "$TMP/full" >/dev/null 2>"$TMP/full.err"
if [ "$(grep -v '^#' "$TMP/full/manifest.tsv" 2>/dev/null | cut -f2 | tr '\n' ' ')" = "task.arc.id=aa000001 task.arc.id=bb000002 " ]; then
    ok "sweep.arc_ids_from: the file's ids, sorted"
else
    bad "arc_ids_from: $(cat "$TMP/full.err") $(cat "$TMP/full/manifest.tsv" 2>&1)"
fi
echo "[]" >"$TMP/notasks.json"
sed "s|arc_ids_from: .*|arc_ids_from: $TMP/notasks.json|" jobs/arc/arc-full.yaml >"$TMP/bad.yaml"
"$M" sweep "$TMP/bad.yaml" --dry-run --out "$TMP/bad" >/dev/null 2>"$TMP/bad.err"
rc=$?
if [ $rc -ne 0 ] && [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] && grep -q "bad.yaml:[0-9]*: sweep.arc_ids_from: .*notasks.json: not a JSON object" "$TMP/bad.err"; then
    ok "a challenges file that is no object of tasks: $(cat "$TMP/bad.err")"
else
    bad "arc_ids_from on a bad file: exit $rc: $(cat "$TMP/bad.err")"
fi
exit $fail
