#!/usr/bin/env bash
# `migrate ablate --draw`: targets drawn from the declared population are the same for the same seed, differ for
# another, respect the rank range and the exclusions, and reach the CSV with the threshold columns. `--grid`: one
# row per strategy and value, each the same run as with that value --set. Bad options are refused in one line
# before any search runs.
set -u
M="$1/migrate"
source tests/shell_lib.sh
QUICK=(--strategies random --seeds 0 --set strategy=random --set iterations=1 --set threads=1 --set search.num_on_policy=2
       --set search.num_neighborhood=0 --set search.num_greedy=0)
drawn() { sed -n 's/.*targets drawn ([^)]*): //p' "$1"; }

"$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" --draw 4 --draw-seed 11 --set output_dir="$T/a" 2>"$T/a.err" >/dev/null ||
    bad "draw run failed: $(tail -1 "$T/a.err")"
"$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" --draw 4 --draw-seed 11 --set output_dir="$T/b" 2>"$T/b.err" >/dev/null
"$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" --draw 4 --draw-seed 12 --set output_dir="$T/c" 2>"$T/c.err" >/dev/null
A=$(drawn "$T/a.err") B=$(drawn "$T/b.err") C=$(drawn "$T/c.err")
[ -n "$A" ] && [ "$A" = "$B" ] && ok "seed 11 draws the same targets twice: $A" || bad "seed 11: '$A' then '$B'"
[ -n "$C" ] && [ "$A" != "$C" ] && ok "seed 12 draws others: $C" || bad "seed 12 drew '$C' (seed 11: '$A')"
n=$(echo "$A" | tr ',' '\n' | sort -u | wc -l)
[ "$n" = 4 ] && ok "4 distinct targets" || bad "$n distinct targets in '$A'"
in_range=0; [ -n "$A" ] && in_range=1
for w in $(echo "$A" | tr ',' ' '); do
    r=$(grep -nx "$w" data/semantle/vocab.txt | cut -d: -f1)
    { [ -n "$r" ] && [ "$r" -ge 100 ] && [ "$r" -le 2000 ]; } || in_range=0
done
[ $in_range = 1 ] && ok "every target has frequency rank 100-2000" || bad "a target outside ranks 100-2000: $A"
head -1 "$T/a/ablation.csv" | grep -q "best_reward,calls_to_rank950,calls_to_rank990,seconds" &&
    [ "$(tail -n +2 "$T/a/ablation.csv" | wc -l)" = 4 ] && ok "CSV: 4 rows with the threshold columns" ||
    bad "CSV: $(head -2 "$T/a/ablation.csv")"
grep -q "sign test" "$T/a/ablation.md" && grep -q "Targets: 4 drawn with seed 11" "$T/a/ablation.md" &&
    ok "ablation.md names the draw and has the statistics table" || bad "ablation.md: $(head -3 "$T/a/ablation.md")"
first=${A%%,*}
"$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" --draw 4 --draw-seed 11 --exclude "$first" \
    --set output_dir="$T/d" 2>"$T/d.err" >/dev/null
D=$(drawn "$T/d.err")
case ",$D," in *",$first,"*) bad "excluded '$first' was drawn: $D" ;; *) ok "--exclude $first: $D" ;; esac

# a long exclusion list (every target used so far, say): 400 words, far over 2,048 characters, all honoured
many=$(head -n 400 data/semantle/nouns.txt | paste -sd,)
"$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" --draw 8 --draw-seed 11 --draw-from data/semantle/nouns.txt \
    --exclude "$many" --set output_dir="$T/l" 2>"$T/l.err" >/dev/null
L=$(drawn "$T/l.err") hit=""
for w in ${L//,/ }; do case ",$many," in *",$w,"*) hit="$hit $w" ;; esac; done
if [ -n "$L" ] && [ -z "$hit" ] && grep -q "400 excluded" "$T/l.err"; then ok "400 excluded words (${#many} characters): $L"
else bad "long --exclude: drawn '$L', excluded among them:$hit; $(head -2 "$T/l.err")"; fi

"$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" --draw 5 --draw-seed 3 --draw-from data/semantle/nouns.txt \
    --set output_dir="$T/e" 2>"$T/e.err" >/dev/null
E=$(drawn "$T/e.err") all_listed=0
[ -n "$E" ] && all_listed=1
for w in $(echo "$E" | tr ',' ' '); do grep -qx "$w" data/semantle/nouns.txt || all_listed=0; done
[ $all_listed = 1 ] && ok "--draw-from data/semantle/nouns.txt: $E" || bad "--draw-from nouns.txt drew '$E'"

"$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" --strategies random,grpo --targets river \
    --grid training.learning_rate=5e-5,1e-2 --set output_dir="$T/g" >/dev/null 2>"$T/g.err"
"$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" --strategies grpo --targets river \
    --set training.learning_rate=1e-2 --set output_dir="$T/h" >/dev/null 2>"$T/h.err"
rows=$(tail -n +2 "$T/g/ablation.csv" | cut -d, -f1,2 | tr '\n' ';')
[ "$rows" = "random,training.learning_rate=5e-5;random,training.learning_rate=1e-2;grpo,training.learning_rate=5e-5;grpo,training.learning_rate=1e-2;" ] &&
    ok "--grid: one row per strategy and value" || bad "--grid rows: $rows ($(tail -1 "$T/g.err"))"
g=$(grep "^grpo,training.learning_rate=1e-2," "$T/g/ablation.csv" | cut -d, -f5-10)
h=$(tail -1 "$T/h/ablation.csv" | cut -d, -f4-9)
[ -n "$g" ] && [ "$g" = "$h" ] && ok "--grid value 1e-2 = --set training.learning_rate=1e-2: $g" || bad "grid '$g' vs set '$h'"
grep -q "grpo training.learning_rate=1e-2" "$T/g/ablation.md" && ok "ablation.md names the arms" ||
    bad "ablation.md: $(head -5 "$T/g/ablation.md")"

# --grid model=A,B: each arm samples from its own model (the ablation once ran every arm with the first)
"$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" --strategies random --targets river --set iterations=2 \
    --grid model=data/models/semantle-tiny,data/models/semantle-words --set output_dir="$T/m" >/dev/null 2>"$T/m.err"
"$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" --strategies random --targets river --set iterations=2 \
    --set model=data/models/semantle-words --set output_dir="$T/n" >/dev/null 2>"$T/n.err"
mt=$(grep "^random,model=data/models/semantle-tiny," "$T/m/ablation.csv" | cut -d, -f5-9)
mw=$(grep "^random,model=data/models/semantle-words," "$T/m/ablation.csv" | cut -d, -f5-9)
nw=$(tail -1 "$T/n/ablation.csv" | cut -d, -f4-8)
[ -n "$mw" ] && [ "$mw" = "$nw" ] && [ "$mt" != "$mw" ] &&
    ok "--grid model: each arm its own model ($mt | $mw)" || bad "--grid model: tiny '$mt', words '$mw', --set '$nw'"

# --summarize: the tables again from ablation.csv files, merged; a row cut short compared on its own pairs
"$M" ablate --summarize "$T/g/ablation.csv" > "$T/g.sum" 2>"$T/g.sumerr" || bad "--summarize failed: $(cat "$T/g.sumerr")"
# the tables' rows, without the wall time (ablate averages its own clock, the CSV keeps it to 0.01 s) and with
# rewards masked (the CSV keeps 6 decimals, so a 4-decimal mean may round the other way); counts and calls stay
rows_of() { grep '^|' "$1" | sed -E '/\| [0-9]+\/[0-9]+ \|/ s/ [0-9.]+ \|$/ |/; s/[0-9]\.[0-9]{4}/R/g'; }
if [ -s "$T/g.sum" ] && diff <(rows_of "$T/g/ablation.md") <(rows_of "$T/g.sum") >/dev/null; then
    ok "--summarize of ablate's CSV prints ablate's own tables"
else bad "--summarize differs from ablation.md: $(diff <(rows_of "$T/g/ablation.md") <(rows_of "$T/g.sum") | head -4)"; fi
H="strategy,seed,target,solved,oracle_calls,oracle_calls_to_solve,best_reward,calls_to_rank950,calls_to_rank990,seconds"
printf '%s\n' "$H" "random,0,fact,1,300,300,1.0,10,200,1" "random,0,table,0,600,-1,0.70,40,-1,1" \
    "random,1,fact,0,600,-1,0.80,20,500,1" > "$T/s0.csv"
printf '%s\n' "$H" "migrate,0,fact,1,100,100,1.0,5,90,1" "migrate,0,table,1,250,250,1.0,30,120,1" > "$T/s1.csv"
"$M" ablate --summarize "$T/s0.csv" "$T/s1.csv" > "$T/s.sum" 2>&1
grep -q "^| random | 3 | 1 | 0.8000 \[-inf, inf\] | 0.8333 | 20 (3/3) | 500 (2/3) | - |" "$T/s.sum" &&
    grep -q "^| migrate | 2 | 2 | 1.0000 \[-inf, inf\] | 1.0000 | 17.5 (2/2) | 105 (2/2) | 1 / 1 / 0 (1) |" "$T/s.sum" &&
    grep -q "^| migrate | 2/2 | 175 | 1.0000 |" "$T/s.sum" &&
    grep -q "^| migrate | 1 / 1 / 0 (1) | - |$" "$T/s.sum" && grep -q "^| random | - | 0 / 1 / 1 (1) |$" "$T/s.sum" &&
    ok "--summarize merges two files: medians, reached counts, wins against random and the paired matrix on the shared pairs" ||
    bad "--summarize of two files: $(cat "$T/s.sum")"
"$M" ablate --summarize "$T/s0.csv" "$T/s1.csv" --common --baseline migrate > "$T/c.sum" 2>&1
grep -q "^| random | 2 | 1 | 0.8500 \[-inf, inf\] | 0.8500 | 25 (2/2) | inf (1/2) | 0 / 1 / 1 (1) |" "$T/c.sum" &&
    grep -q "only the seed and target pairs every row has" "$T/c.sum" &&
    ok "--common keeps the pairs both rows have; --baseline migrate" || bad "--common: $(cat "$T/c.sum")"
printf '%s\n' "strategy,seed,target,solved,oracle_calls,oracle_calls_to_solve,best_reward,seconds" \
    "random,0,fact,0,600,-1,0.75,1" > "$T/old.csv"
"$M" ablate --summarize "$T/old.csv" 2>&1 | grep -q "^| random | 1 | 0 | 0.7500 \[-inf, inf\] | 0.7500 | n/a | n/a | - |" &&
    ok "a CSV from before the threshold columns: n/a, not inf" || bad "old CSV: $("$M" ablate --summarize "$T/old.csv" 2>&1)"
printf '%s\n' "$H" "random,0,fact,1,300,300,1.0,10,200,1" "random,0,fact,1,300,300,1.0,10,200,1" > "$T/dup.csv"
refused 1 "dup.csv:3: a second row for random, seed 0 target fact \(the first: .*dup.csv:2\)" "$M" ablate --summarize "$T/dup.csv"
printf '%s\n' "$H" "random,0,fact,1,300" > "$T/short.csv"
refused 1 "short.csv:2: 5 fields, the header has 10" "$M" ablate --summarize "$T/short.csv"
printf '%s\n' "$H" "random,0,fact,yes,300,300,1.0,10,200,1" > "$T/word.csv"
refused 1 "word.csv:2: solved is not a number" "$M" ablate --summarize "$T/word.csv"
printf 'target,best\nfact,1\n' > "$T/other.csv"
refused 1 "other.csv:1: no 'strategy' column" "$M" ablate --summarize "$T/other.csv"
refused 1 "--baseline 'grpo' is no row of the table; the rows: 'random'" "$M" ablate --summarize "$T/s0.csv" --baseline grpo
refused 1 "nothing.csv: cannot open" "$M" ablate --summarize "$T/nothing.csv"
refused 2 "name at least one ablation.csv" "$M" ablate --summarize

# refusals: exit 2 (usage) or 1 (a population too small), one line, nothing run
refuse() {
    local want=$1 pattern=$2
    shift 2
    refused "$want" "$pattern" "$M" ablate jobs/semantle-demo.yaml "${QUICK[@]}" "$@" --set output_dir="$T/x"
}
refuse 2 "exclude each other" --draw 3 --targets ocean
refuse 2 "need --draw N" --draw-seed 4
refuse 2 "expected KEY=V1,V2" --grid training.learning_rate
refuse 1 "training.learning_rate" --grid training.learning_rate=5e-5,-3
refuse 1 "no-such-list.txt: cannot open" --draw 2 --draw-from "$T/no-such-list.txt"
refuse 1 "task.vectors differs between arms" --grid task.vectors=data/semantle/vectors.bin,"$T/other.bin"
refuse 1 "model '$T/no-model': cannot open" --grid model=data/models/semantle-tiny,"$T/no-model"
refuse 2 "expected a count" --draw 0
refuse 2 "expected LO-HI" --draw 2 --draw-ranks 5
refuse 1 "has ranks 1-25000" --draw 2 --draw-ranks 10-30000
refuse 1 "has only 3 words" --draw 5 --draw-ranks 1-3
[ $fails = 0 ] || exit 1
