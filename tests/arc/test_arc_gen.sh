#!/usr/bin/env bash
# `migrate arc-gen`: the same seed writes byte-identical folders (also with 2 threads), another seed other tasks;
# the first 10 tasks of a run of 40 are those of a run of 10; one task file and one programs.jsonl line per task,
# lengths within --lines; --combined writes the Kaggle pair and PREFIX_programs.jsonl, and with --per-file pairs of
# N tasks; --help names every option;
# each bad option is refused with exit status 2 and exactly one line on stderr, writing nothing.
# Usage: test_arc_gen.sh BUILD_DIR   (run from the repository root)
set -u
BIN="$1/migrate"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

gen() { "$BIN" arc-gen --quiet "$@" 2>"$TMP/err"; }

gen --seed 5 --count 40 --out "$TMP/a" || bad "run a: $(cat "$TMP/err")"
gen --seed 5 --count 40 --out "$TMP/b" --threads 2 || bad "run b: $(cat "$TMP/err")"
gen --seed 6 --count 40 --out "$TMP/c" || bad "run c: $(cat "$TMP/err")"
gen --seed 5 --count 10 --out "$TMP/d" || bad "run d: $(cat "$TMP/err")"
grep -q "40 tasks in" "$TMP/err" 2>/dev/null || grep -q "10 tasks in" "$TMP/err" || bad "no summary line on stderr"

if diff -r "$TMP/a" "$TMP/b" >/dev/null; then ok "seed 5 twice (1 and 2 threads): identical folders"
else bad "seed 5 with 1 and 2 threads differ"; fi
if ! cmp -s "$TMP/a/programs.jsonl" "$TMP/c/programs.jsonl"; then ok "seeds 5 and 6 differ"
else bad "seeds 5 and 6 gave the same programs"; fi
if [ "$(head -n 10 "$TMP/a/programs.jsonl")" = "$(cat "$TMP/d/programs.jsonl")" ]; then
    same=1
    for f in "$TMP"/d/*.json; do cmp -s "$f" "$TMP/a/$(basename "$f")" || same=0; done
    [ "$same" = 1 ] && ok "tasks 0..9 the same with --count 10 and --count 40" || bad "task files differ, count 10 vs 40"
else bad "programs 0..9 differ between --count 10 and --count 40"; fi

files=$(ls "$TMP/a" | grep -c '^[0-9a-f]\{8\}\.json$')
lines=$(wc -l <"$TMP/a/programs.jsonl")
ids=$(grep -o '"id": "[0-9a-f]\{8\}"' "$TMP/a/programs.jsonl" | sort -u | wc -l)
if [ "$files" -eq 40 ] && [ "$lines" -eq 40 ] && [ "$ids" -eq 40 ]; then ok "40 task files, 40 key lines, 40 ids"
else bad "$files task files, $lines key lines, $ids distinct ids (want 40 each)"; fi
for id in $(grep -o '"id": "[0-9a-f]\{8\}"' "$TMP/a/programs.jsonl" | cut -d'"' -f4); do
    [ -f "$TMP/a/$id.json" ] || { bad "no file for $id"; break; }
done
head -c 11 "$TMP/a/$(ls "$TMP/a" | head -n 1)" | grep -q '^{"train": \[' || bad "a task file does not start with {\"train\": ["

gen --seed 9 --count 30 --lines 4-6 --programs "$TMP/key.jsonl" || bad "run lines 4-6: $(cat "$TMP/err")"
if [ -f "$TMP/key.jsonl" ] && ! grep -v '"lines": [456]}$' "$TMP/key.jsonl" | grep -q .; then ok "--lines 4-6 gives 4..6 lines"
else bad "--lines 4-6: some program is outside 4..6 lines"; fi

gen --seed 5 --count 40 --combined "$TMP/k" || bad "combined run: $(cat "$TMP/err")"
if [ -s "$TMP/k_challenges.json" ] && [ -s "$TMP/k_solutions.json" ] && cmp -s "$TMP/k_programs.jsonl" "$TMP/a/programs.jsonl"
then ok "--combined writes challenges, solutions and the same programs"
else bad "--combined: files missing or programs differ from --out"; fi
n_chal=$(grep -o '"[0-9a-f]\{8\}": {"train"' "$TMP/k_challenges.json" | wc -l)
[ "$n_chal" -eq 40 ] && ok "40 challenges" || bad "$n_chal challenges, want 40"
n_out=$(grep -o '"output"' "$TMP/k_challenges.json" | wc -l)  # 3 train pairs each, no test outputs
[ "$n_out" -eq 120 ] && ok "challenges: 120 outputs (train only)" || bad "challenges hold $n_out outputs, want 120"
n_sol=$(grep -o '"[0-9a-f]\{8\}": \[\[\[' "$TMP/k_solutions.json" | wc -l)
[ "$n_sol" -eq 40 ] && ok "40 solutions" || bad "$n_sol solutions, want 40"

gen --seed 5 --count 25 --combined "$TMP/s" --per-file 10 || bad "sharded run: $(cat "$TMP/err")"
shards=""
for i in 00000 00001 00002; do
    n=$(grep -o '"[0-9a-f]\{8\}": {"train"' "$TMP/s_${i}_challenges.json" 2>/dev/null | wc -l)
    m=$(grep -o '"[0-9a-f]\{8\}": \[\[\[' "$TMP/s_${i}_solutions.json" 2>/dev/null | wc -l)
    shards="$shards $n/$m"
done
if [ "$shards" = " 10/10 10/10 5/5" ] && [ ! -e "$TMP/s_00003_challenges.json" ] &&
    [ "$(cat "$TMP/s_programs.jsonl")" = "$(head -n 25 "$TMP/a/programs.jsonl")" ]
then ok "--per-file 10: 25 tasks in pairs of 10, 10 and 5, the same programs"
else bad "--per-file 10: challenges/solutions per file:$shards"; fi

"$BIN" arc-gen --help >"$TMP/help" || bad "--help failed"
for opt in --count --seed --lines --max-side --sides --small-prob --train --test --threads --out --combined \
    --programs --per-file --quiet; do
    grep -q -- "$opt" "$TMP/help" || bad "--help does not mention $opt"
done
"$BIN" --help | grep -q "arc-gen" || bad "migrate --help does not list arc-gen"

refuse() {  # expected fragment, then the options
    local want="$1"; shift
    "$BIN" arc-gen "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$? n
    n=$(wc -l <"$TMP/err")
    if [ $rc -eq 2 ] && [ "$n" -eq 1 ] && grep -q -- "$want" "$TMP/err" && [ ! -s "$TMP/out" ]; then
        ok "refused: $* -> $(cat "$TMP/err")"
    else bad "$*: status $rc, $n stderr lines: $(cat "$TMP/err")"; fi
}
refuse "count" --seed 1 --out "$TMP/x"
refuse "--count" --count 0 --out "$TMP/x"
refuse "--count" --count 12x --out "$TMP/x"
refuse "--seed" --seed -3 --count 2 --out "$TMP/x"
refuse "--lines" --lines 5-3 --count 2 --out "$TMP/x"
refuse "--lines" --lines 0-3 --count 2 --out "$TMP/x"
refuse "--lines" --lines 2- --count 2 --out "$TMP/x"
refuse "--lines" --lines 33 --count 2 --out "$TMP/x"
refuse "--max-side" --max-side 31 --count 2 --out "$TMP/x"
refuse "--sides" --sides 9-3 --count 2 --out "$TMP/x"
refuse "--small-prob" --small-prob 1.5 --count 2 --out "$TMP/x"
refuse "pairs" --train 12 --test 5 --count 2 --out "$TMP/x"
refuse "--threads" --threads 0 --count 2 --out "$TMP/x"
refuse "unknown option" --colour 3 --count 2 --out "$TMP/x"
refuse "needs a value" --count 2 --out
refuse "--out" --count 2
refuse "--per-file" --count 2 --out "$TMP/x" --per-file 5
refuse "--per-file" --count 2 --combined "$TMP/x" --per-file -1
[ -e "$TMP/x" ] && bad "a refused run created $TMP/x"

exit $fail
