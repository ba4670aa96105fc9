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
fail=0

cat >"$TMP/task.json" <<'JSON'
{"train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]},
           {"input": [[5, 0], [0, 6]], "output": [[6, 0], [0, 5]]}],
 "test": [{"input": [[7, 8], [9, 1]], "output": [[1, 9], [8, 7]]}]}
JSON

source "$(dirname "$0")/lib.sh"  # arc_tiny_config
arc_tiny_config tests/parity/fixtures/llama3-tiny "$TMP/out" "$TMP/task.json" 7 2 >"$TMP/run.yaml"

if "$BIN" run "$TMP/run.yaml" >"$TMP/log" 2>&1; then
    lines=$(wc -l <"$TMP/out/metrics.jsonl" 2>/dev/null || echo 0)
    if [ "$lines" -eq 2 ]; then
        echo "ok   arc run: 2 metrics lines"
    else
        echo "FAIL arc run: $lines metrics lines, want 2"; fail=1
    fi
else
    echo "FAIL arc run exited $?:"; tail -20 "$TMP/log"; fail=1
fi

sed '/^    file:/d' "$TMP/run.yaml" >"$TMP/nofile.yaml"
"$BIN" run "$TMP/nofile.yaml" >"$TMP/out2" 2>"$TMP/err"
rc=$?
n=$(wc -l <"$TMP/err")
if [ "$rc" -ne 0 ] && [ "$n" -eq 1 ] && grep -q "task.arc.file" "$TMP/err"; then
    echo "ok   no task.arc.file: $(cat "$TMP/err")"
else
    echo "FAIL no task.arc.file: exit $rc, $n stderr lines:"; head -5 "$TMP/err"; fail=1
fi
sed -e "s|^    file: .*|    file: $TMP/missing.json|" -e "s|^output_dir: .*|output_dir: $TMP/out3dir|" "$TMP/run.yaml" >"$TMP/missing.yaml"
"$BIN" run "$TMP/missing.yaml" >"$TMP/out3" 2>"$TMP/err"
rc=$?
n=$(wc -l <"$TMP/err")
if [ "$rc" -ne 0 ] && [ "$n" -eq 1 ] && grep -q "missing.json" "$TMP/err"; then
    echo "ok   missing task file: $(cat "$TMP/err")"
else
    echo "FAIL missing task file: exit $rc, $n stderr lines:"; head -5 "$TMP/err"; fail=1
fi
exit $fail
