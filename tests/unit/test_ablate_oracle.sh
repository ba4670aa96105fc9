#!/usr/bin/env bash
# `migrate ablate` on an external oracle (task.type oracle, {target} in task.command): each target reaches its
# oracle intact (a quote included), the rank columns come from the oracle's info and agree with its rewards, a
# --draw takes its words from task.vectors, and `migrate run` fills {target} from task.target. The oracle is a
# stand-in with the built-in task's info format (tests/unit/letters_oracle.py; python3's standard library only).
set -u
M="$1/migrate"
source tests/shell_lib.sh
JOB=jobs/semantle-sentence-oracle.yaml
oracle() { echo "python3 tests/unit/letters_oracle.py --target {target} --seen $T/$1.seen"; }
Q=(--seeds 0 --set iterations=6 --set threads=1 --set task.workers=1 --set search.num_on_policy=6
   --set search.num_neighborhood=2 --set search.num_greedy=2)

"$M" ablate "$JOB" "${Q[@]}" --strategies random,migrate --targets "orchestra,don't" \
    --set task.command="$(oracle a)" --set output_dir="$T/a" >/dev/null 2>"$T/a.err" ||
    bad "ablate on the oracle failed: $(tail -2 "$T/a.err")"
seen=$(sort -u "$T/a.seen" 2>/dev/null | paste -sd,)
[ "$seen" = "don't,orchestra" ] && ok "each oracle got its target intact: $seen" || bad "the oracles were given '$seen'"
rows=$(tail -n +2 "$T/a/ablation.csv" 2>/dev/null | cut -d, -f1,3 | paste -sd';')
[ "$rows" = "random,orchestra;random,don't;migrate,orchestra;migrate,don't" ] &&
    ok "one row per strategy and target" || bad "rows: '$rows'"

# calls_to_rank950/990 (from the oracle's info) = the first call whose best reward so far is >= 0.95/0.99
# (best_curves.csv, from the archive's rewards), since this oracle's rank is 1000 x reward.
compared=0
while IFS=, read -r strategy seed target solved calls to_solve best c950 c990 secs; do
    for th in 950:$c950 990:$c990; do
        want=$(awk -F, -v s="$strategy" -v t="$target" -v th="${th%%:*}" \
            '$1 == s && $4 == t && $6 * 1000 >= th - 1e-9 { print $5; exit }' "$T/a/best_curves.csv")
        [ "${th#*:}" = "${want:--1}" ] ||
            bad "$strategy $target: calls to rank ${th%%:*} ${th#*:}, the curve says ${want:--1}"
        [ "${th#*:}" != -1 ] && compared=$((compared + 1))
    done
done < <(tail -n +2 "$T/a/ablation.csv")
if [ $compared -ge 2 ] && [ $fails = 0 ]; then ok "rank columns agree with the rewards ($compared reached thresholds)"
else bad "rank columns: $compared reached thresholds compared"; fi

"$M" ablate "$JOB" "${Q[@]}" --strategies random --draw 2 --draw-seed 7 --set task.command="$(oracle d)" \
    --set output_dir="$T/d" >/dev/null 2>"$T/d.err"
drawn=$(sed -n 's/.*targets drawn ([^)]*): //p' "$T/d.err")
seen=$(paste -sd, "$T/d.seen" 2>/dev/null)
[ -n "$drawn" ] && [ "$drawn" = "$seen" ] && ok "--draw from task.vectors: $drawn" ||
    bad "drew '$drawn', oracles saw '$seen'"

"$M" run "$JOB" --quiet --set iterations=1 --set threads=1 --set task.workers=1 --set task.target=harbour \
    --set task.command="$(oracle r)" --set output_dir="$T/r" >/dev/null 2>"$T/r.err"
[ "$(cat "$T/r.seen" 2>/dev/null)" = harbour ] && ok "migrate run fills {target} from task.target" ||
    bad "migrate run: the oracle saw '$(cat "$T/r.seen" 2>/dev/null)' ($(tail -1 "$T/r.err"))"

# task.candidate_pattern + task.candidate_format: the oracle is asked about the lower-cased first word of each
# completion, never twice about one (so `Ocean` and `ocean` cost one call), and once per oracle call counted.
"$M" run "$JOB" --quiet --set iterations=4 --set threads=1 --set task.workers=1 --set task.target=harbour \
    --set task.command="$(oracle p) --calls $T/p.calls" --set output_dir="$T/p" --set "task.candidate_pattern=(\w+)" \
    --set 'task.candidate_format=\L$1' >/dev/null 2>"$T/p.err"
calls=$(sed -n 's/.*"oracle_calls": *\([0-9]*\).*/\1/p' "$T/p/summary.json" 2>/dev/null | head -1)
asked=$(wc -l <"$T/p.calls" 2>/dev/null || echo 0)
distinct=$(sort -u "$T/p.calls" 2>/dev/null | wc -l)
words=$(grep -c '^"[a-z0-9_]*"$' "$T/p.calls" 2>/dev/null)
if [ "${calls:-x}" = "$asked" ] && [ "$asked" -gt 10 ] && [ "$distinct" = "$asked" ] && [ "$words" = "$asked" ]; then
    ok "candidate_pattern: $asked oracle calls, each a distinct lower-case word"
else
    bad "candidate_pattern: summary says ${calls:-?} calls; the oracle was asked $asked ($distinct distinct, $words" \
        "lower-case words): $(head -3 "$T/p.calls" 2>/dev/null | paste -sd' ') $(tail -1 "$T/p.err")"
fi

# refusals: one line, exit 1, nothing run
refuse() {
    local pattern=$1
    shift
    refused 1 "$pattern" "$M" "$@" --set output_dir="$T/x"
}
refuse "task.command has no {target}" ablate "$JOB" "${Q[@]}" --targets sea \
    --set task.command="python3 tests/unit/letters_oracle.py --target sea"
refuse "draws .*task.vectors" ablate "$JOB" "${Q[@]}" --draw 2 --set task.vectors= --set task.command="$(oracle x)"
refuse "task.command: it uses {target}, but task.target is not set" run "$JOB" --quiet --set task.target= \
    --set task.command="$(oracle x)"
refuse "only Semantle|Semantle searches" ablate jobs/molecule-qed.yaml --targets sea
[ $fails = 0 ] || exit 1
