#!/usr/bin/env bash
# Bad input through the real program: each corrupted copy of a fixture model must give exit status 1 and exactly
# one line on stderr that names the offending file and the problem — never a crash or a sanitizer report.
# Usage: test_cli_bad_input.sh BUILD_DIR   (run from the repository root)
set -u
BIN="$1/migrate"
SRC=tests/parity/fixtures/llama3-tiny
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source tests/checks.sh  # check, expect

# fresh copy of the fixture model in $TMP/m
fresh() { rm -rf "$TMP/m"; cp -r "$SRC" "$TMP/m"; }
# same-length byte substitution inside the safetensors header (offsets stay valid)
patch_header() { LC_ALL=C sed -i "1s/$1/$2/" "$TMP/m/model.safetensors"; }
gen() { "$BIN" generate --model "$TMP/m" --prompt "hello" --max-new-tokens 4 "$@"; }

fresh
gen >/dev/null 2>&1 || { echo "FAIL the unmodified fixture does not run"; exit 1; }

fresh; truncate -s 5000 "$TMP/m/model.safetensors"
expect "truncated weights" 1 "model\.safetensors.*(truncat|beyond|past|short|exceed|outside)" -- gen
fresh; printf '\xff\xff\xff\xff\xff\x00\x00\x00' | dd of="$TMP/m/model.safetensors" bs=1 count=8 conv=notrunc 2>/dev/null
expect "header length lies" 1 "model\.safetensors" -- gen
fresh; patch_header '"F32"' '"F8X"'
expect "unknown dtype" 1 "model\.safetensors.*F8X" -- gen
fresh; patch_header '"model.norm.weight"' '"model.norm.weighz"'
expect "missing tensor" 1 "model\.norm\.weight" -- gen
fresh; patch_header '\[64\]' '[65]'
expect "shape disagrees with offsets" 1 "model\.safetensors" -- gen
fresh; printf 'not json at all' >"$TMP/m/config.json"
expect "config not JSON" 1 "config\.json" -- gen
fresh; LC_ALL=C sed -i 's/LlamaForCausalLM/GPT2LMHeadModel/; s/"model_type": *"llama"/"model_type": "gpt2"/' "$TMP/m/config.json"
expect "unknown architecture" 1 "config\.json.*GPT2LMHeadModel" -- gen
fresh; LC_ALL=C sed -i 's/"type": *"BPE"/"type": "WordPiece"/' "$TMP/m/tokenizer.json"
expect "unsupported tokenizer" 1 "tokenizer\.json.*WordPiece" -- gen
fresh; rm "$TMP/m/model.safetensors"
expect "no weights" 1 "m(/|:)" -- gen
fresh
long=$(for i in $(seq 1 400); do printf 'word%d ' "$i"; done)
expect "prompt longer than context" 1 "context" -- "$BIN" generate --model "$TMP/m" --prompt "$long" --max-new-tokens 4
expect "bad option value" 2 "temperature" -- "$BIN" generate --model "$TMP/m" --prompt hi --temperature banana
# engine.backend cuda where there is no GPU (or no CUDA build): one line naming the key, nothing run
expect "cuda backend without a GPU" 1 "engine\.backend" -- "$BIN" run jobs/semantle-demo.yaml --quiet --set iterations=1 \
    --set engine.backend=cuda --set output_dir="$TMP/cuda-run"
expect "unknown backend" 1 "engine\.backend.*rocm" -- "$BIN" run jobs/semantle-demo.yaml --set engine.backend=rocm

# The oracle's command: a stray quote is refused when the config loads; a program that is not there is said to be
# not found, naming the key, and oracle.log (if made) holds the same line rather than nothing.
expect "oracle command with an unbalanced quote" 1 "task\.command.*unbalanced \" quote" -- "$BIN" run \
    jobs/oracle-example.yaml --quiet --set iterations=1 --set output_dir="$TMP/quote-run" --set 'task.command=python3 "x.py'
expect "oracle command not found" 1 "task\.command.*'/no/such/prog' not found" -- "$BIN" run jobs/oracle-example.yaml \
    --quiet --set iterations=1 --set output_dir="$TMP/missing-run" --set task.command=/no/such/prog
if [ -e "$TMP/missing-run/oracle.log" ] && ! grep -q "'/no/such/prog' not found" "$TMP/missing-run/oracle.log"; then
    failed=$((failed + 1))
    echo "FAIL oracle command not found: oracle.log was left without the reason: '$(cat "$TMP/missing-run/oracle.log")'"
fi

# task.candidate_pattern / candidate_format: a bad pattern names its file, line, key and character; the keys are
# refused where they cannot apply.
sed "s/^  type: oracle .*/&\n  candidate_pattern: '<answer>(\\\\w+'/" jobs/oracle-example.yaml >"$TMP/pattern.yaml"
line=$(grep -n "candidate_pattern" "$TMP/pattern.yaml" | cut -d: -f1)
expect "candidate pattern that does not compile" 1 \
    "pattern\.yaml:$line: task\.candidate_pattern: at character 13: missing closing parenthesis" -- \
    "$BIN" run "$TMP/pattern.yaml" --quiet --set iterations=1 --set output_dir="$TMP/pattern-run"
expect "candidate format naming a group the pattern lacks" 1 "task\.candidate_format: '\\\$2': unknown substring \(the pattern has 1 capture group\)" -- \
    "$BIN" run jobs/oracle-example.yaml --quiet --set iterations=1 --set output_dir="$TMP/format-run" \
    --set 'task.candidate_pattern=(\w+)' --set 'task.candidate_format=$2'
expect "candidate format without a pattern" 1 "task\.candidate_format needs task\.candidate_pattern" -- \
    "$BIN" run jobs/oracle-example.yaml --quiet --set iterations=1 --set 'task.candidate_format=\L$0'
expect "candidate pattern on a built-in task" 1 "candidate_pattern and task\.candidate_format are for task\.type 'oracle'" -- \
    "$BIN" run jobs/semantle-demo.yaml --quiet --set iterations=1 --set 'task.candidate_pattern=(\w+)'
check "a refused config makes no output folder" test ! -e "$TMP/pattern-run"

echo "test_cli_bad_input: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
