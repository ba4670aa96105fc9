#!/usr/bin/env bash
# `migrate run` on an ARC task: a two-iteration search with the tiny fixture model on a task of 2 x 2 grids
# (written here, so the prompt fits the model's 256-token context), grid-language programs, digits in the prompt.
# The run must end with status 0 and one metrics line per iteration. A config with task.type arc but no
# task.arc.file must be refused with one stderr line naming the key, and one naming a missing file with one line
# naming the file.
# Usage: test_arc_run.sh BUILD_DIR   (run from the repository root)
set -u
BIN="$1/migrate"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source tests/checks.sh  # check, expect

cat >"$TMP/task.json" <<'JSON'
{"train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]},
           {"input": [[5, 0], [0, 6]], "output": [[6, 0], [0, 5]]}],
 "test": [{"input": [[7, 8], [9, 1]], "output": [[1, 9], [8, 7]]}]}
JSON

source "$(dirname "$0")/lib.sh"  # arc_tiny_config
arc_tiny_config tests/parity/fixtures/llama3-tiny "$TMP/out" "$TMP/task.json" 7 2 >"$TMP/run.yaml"

"$BIN" run "$TMP/run.yaml" >"$TMP/log" 2>&1 || { echo "arc run exited $?:"; tail -20 "$TMP/log"; }
check "arc run: 2 metrics lines" test "$(wc -l <"$TMP/out/metrics.jsonl" 2>/dev/null || echo 0)" -eq 2

sed '/^    file:/d' "$TMP/run.yaml" >"$TMP/nofile.yaml"
expect "no task.arc.file" 1 "task\.arc\.file" -- "$BIN" run "$TMP/nofile.yaml"
sed -e "s|^    file: .*|    file: $TMP/missing.json|" -e "s|^output_dir: .*|output_dir: $TMP/out3dir|" "$TMP/run.yaml" >"$TMP/missing.yaml"
expect "missing task file" 1 "missing\.json" -- "$BIN" run "$TMP/missing.yaml"
echo "test_arc_run: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
