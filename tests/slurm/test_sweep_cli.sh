#!/usr/bin/env bash
# `migrate sweep` without Slurm: the sweep: section and the axis options, the manifest and the filled template
# (--dry-run), one-line errors for bad input, and --collect over elements run by the generated array script with
# a stand-in srun (complete, unfinished, failed and missing elements). Needs no daemons: never skipped.
# Usage: test_sweep_cli.sh BUILD_DIR   (run from the repository root)
set -u
BIN=$(realpath "$1/migrate")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source tests/checks.sh  # check, expect, $passed, $failed
# The data lines of a manifest, without the output_dir field (it names the temp folder).
elements() { grep -v '^#' "$1/manifest.tsv" | sed 's/\toutput_dir=[^\t]*$//' | tr '\t' ' '; }

# ---- a sweep: section, and options replacing its lists ----
cp jobs/semantle-demo.yaml "$TMP/s.yaml"
cat >>"$TMP/s.yaml" <<'EOF2'
sweep:
  targets: [ocean, river]
  seeds: 0,1          # a comma string works as well as a list
  grid:
    search.top_k: [3, 5]
  max_parallel: 2
  sbatch_args: "--time=00:10:00"
EOF2
"$BIN" sweep "$TMP/s.yaml" --set iterations=2 --out "$TMP/a" --dry-run --sbatch-args "--partition=p1 --comment='a b'" \
    >"$TMP/a.sh" 2>"$TMP/a.err"
check "dry run exits 0" test $? -eq 0
check "8 elements: targets (slowest) x seeds x grid" diff <(elements "$TMP/a") - <<'EOF2'
0 iterations=2 task.target=ocean seed=0 search.top_k=3
1 iterations=2 task.target=ocean seed=0 search.top_k=5
2 iterations=2 task.target=ocean seed=1 search.top_k=3
3 iterations=2 task.target=ocean seed=1 search.top_k=5
4 iterations=2 task.target=river seed=0 search.top_k=3
5 iterations=2 task.target=river seed=0 search.top_k=5
6 iterations=2 task.target=river seed=1 search.top_k=3
7 iterations=2 task.target=river seed=1 search.top_k=5
EOF2
check "element i writes into OUT/i" grep -q "	output_dir=$TMP/a/7$" "$TMP/a/manifest.tsv"
check "the printed script is the written one" cmp "$TMP/a.sh" "$TMP/a/sweep.sbatch"
check "the array line has the range and max_parallel" grep -qx "#SBATCH --array=0-7%2" "$TMP/a/sweep.sbatch"
check "no template field is left unfilled" bash -c "! grep -q '{{' $TMP/a/sweep.sbatch"
check "dry run submits nothing" bash -c "! test -e $TMP/a/jobid"
check "the sbatch command: sweep.sbatch_args, then --sbatch-args" \
    grep -q "would run: sbatch --parsable --time=00:10:00 --partition=p1 '--comment=a b' $TMP/a/sweep.sbatch" "$TMP/a.err"
check "config.yaml is the run config without the sweep: section" \
    "$BIN" run "$TMP/a/config.yaml" --print-config --set iterations=2 >/dev/null
"$BIN" sweep "$TMP/s.yaml" --out "$TMP/b" --strategies grpo,migrate --targets music --grid training.learning_rate=1e-4,2e-4 \
    --max-parallel 0 --dry-run >/dev/null 2>&1
check "options replace the section's lists; strategies come first" diff <(elements "$TMP/b" | head -3) - <<'EOF2'
0 strategy=grpo task.target=music seed=0 search.top_k=3 training.learning_rate=1e-4
1 strategy=grpo task.target=music seed=0 search.top_k=3 training.learning_rate=2e-4
2 strategy=grpo task.target=music seed=0 search.top_k=5 training.learning_rate=1e-4
EOF2
check "16 elements" test "$(elements "$TMP/b" | wc -l)" -eq 16
check "--max-parallel 0 lifts the limit" grep -qx "#SBATCH --array=0-15" "$TMP/b/sweep.sbatch"

# ---- bad input: one line, naming the file and line or the option ----
sed 's/^  seeds: 0,1.*/  seed: 0,1/' "$TMP/s.yaml" >"$TMP/bad1.yaml"
line=$(grep -n '^  seed: ' "$TMP/bad1.yaml" | cut -d: -f1)
expect "unknown sweep key" 1 "bad1\.yaml:$line: unknown key 'sweep\.seed'" -- "$BIN" sweep "$TMP/bad1.yaml" --dry-run
{ cat "$TMP/s.yaml"; echo "iterations: -3"; } >"$TMP/bad2.yaml"
line=$(wc -l <"$TMP/bad2.yaml")
expect "a run key after the sweep: section keeps its line" 1 "bad2\.yaml:$line:.*iterations" -- \
    "$BIN" sweep "$TMP/bad2.yaml" --dry-run --out "$TMP/c"
expect "a target that is not a word of the vectors" 1 "element 1: .*oceanx" -- \
    "$BIN" sweep jobs/semantle-demo.yaml --targets ocean,oceanx --out "$TMP/c" --dry-run
expect "a bad --set" 1 "element 0: --set search.top_kk=3: .*top_k" -- \
    "$BIN" sweep jobs/semantle-demo.yaml --grid search.top_kk=3 --out "$TMP/c" --dry-run
expect "--grid without =" 2 "--grid 'seed'" -- "$BIN" sweep jobs/semantle-demo.yaml --grid seed --dry-run
expect "--grid output_dir" 2 "output_dir" -- "$BIN" sweep jobs/semantle-demo.yaml --grid output_dir=a,b --dry-run
expect "an empty list" 2 "no values" -- "$BIN" sweep jobs/semantle-demo.yaml --seeds , --dry-run
expect "unknown option" 2 "unknown option '--target'" -- "$BIN" sweep jobs/semantle-demo.yaml --target x
printf '#!/bin/bash\n#SBATCH --array={{ARRAY}}\necho {{NOPE}}\n' >"$TMP/t.sbatch"
expect "unknown template field" 1 "t\.sbatch: unknown field \{\{NOPE\}\}" -- \
    "$BIN" sweep jobs/semantle-demo.yaml --template "$TMP/t.sbatch" --out "$TMP/c" --dry-run
expect "collect of a folder that is no sweep" 1 "manifest\.tsv.*sweep folder" -- "$BIN" sweep --collect "$TMP"

# ---- the generated array script, element by element, with a stand-in srun (drops its options, runs the rest) ----
mkdir -p "$TMP/bin"
printf '#!/bin/bash\nwhile [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n' >"$TMP/bin/srun"
chmod +x "$TMP/bin/srun"
"$BIN" sweep jobs/semantle-demo.yaml --targets ocean,river,music,house --set iterations=2 --set threads=1 \
    --out "$TMP/r" --dry-run >/dev/null 2>&1
for i in 0 1 2 3; do
    SLURM_ARRAY_TASK_ID=$i PATH="$TMP/bin:$PATH" bash "$TMP/r/sweep.sbatch" >"$TMP/r/logs/1_$i.out" 2>&1
done
check "each element ran and wrote its summary" test -s "$TMP/r/0/summary.json" -a -s "$TMP/r/3/summary.json"
expect "a sweep folder with results is not overwritten" 1 "already holds results" -- \
    "$BIN" sweep jobs/semantle-demo.yaml --targets ocean --out "$TMP/r" --dry-run
"$BIN" sweep --collect "$TMP/r" >"$TMP/col.out" 2>"$TMP/col.err"
check "collect: exit 0, 4 of 4 done" bash -c "[ $? -eq 0 ] && grep -q '4 of 4 elements done' $TMP/col.err"
calls3=$(grep -o '"oracle_calls": *[0-9]*' "$TMP/r/3/summary.json" | grep -o '[0-9]*$')  # the bundled model's
check "collect: the house row" grep -q "^3,done,house,migrate,1234,0,$calls3,-1,0\.[0-9]*,[a-z']*,2,[0-9.]*,iterations=2 threads=1 task.target=house$" \
    "$TMP/r/results.csv"
# Now break three of them: 1 stopped mid-way (no summary, metrics kept), 2 failed, 3 never ran.
rm "$TMP/r/1/summary.json"
head -1 "$TMP/r/1/metrics.jsonl" >"$TMP/m" && mv "$TMP/m" "$TMP/r/1/metrics.jsonl"
echo "requeued" >"$TMP/r/1/job.status"
rm "$TMP/r/2/summary.json"
echo "exited 1" >"$TMP/r/2/job.status"
echo "migrate run: something broke" >>"$TMP/r/logs/1_2.out"
rm -r "$TMP/r/3"
"$BIN" sweep --collect "$TMP/r" >"$TMP/col.out" 2>"$TMP/col.err"
check "collect exits 1 when elements are not done" test $? -eq 1
cat "$TMP/col.err"
check "element 1 is unfinished, after 1 iteration" grep -q "element 1 (river, migrate, seed 1234) unfinished: .*1 iteration in metrics.jsonl, job status 'requeued'" "$TMP/col.err"
check "element 2 failed, with its log's last line" grep -q "element 2 (music, migrate, seed 1234) failed: migrate run exited with status 1; log .*1_2.out: migrate run: something broke" "$TMP/col.err"
check "element 3 is missing" grep -q "element 3 (house, migrate, seed 1234) missing: no output in" "$TMP/col.err"
check "1 of 4 done" grep -q "1 of 4 elements done" "$TMP/col.err"
check "results.csv keeps every element with its status" \
    test "$(cut -d, -f1,2 "$TMP/r/results.csv" | tr '\n' ' ')" = "element,status 0,done 1,unfinished 2,failed 3,missing "
calls1=$(grep -o '"oracle_calls":[0-9]*' "$TMP/r/1/metrics.jsonl" | grep -o '[0-9]*$')
check "the unfinished element's row comes from its last metrics line ($calls1 calls)" \
    grep -q "^1,unfinished,river,migrate,1234,0,$calls1," "$TMP/r/results.csv"
check "the strategy table counts the finished element only" grep -q '^| migrate | 0/1 |' "$TMP/r/results.md"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
