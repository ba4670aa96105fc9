#!/usr/bin/env bash
# `migrate pmo --draw`: tasks drawn from the declared population (PMO's tasks this build defines) are the same for
# the same seed, differ for another, respect --exclude, and pmo.md names the draw; its paired matrix counts the
# same wins as pmo.csv's AUC column. Bad options are refused in one line before any search runs.
set -u
M="$1/migrate"
source tests/shell_lib.sh
Q=(--strategies random --seeds 0 --budget 10 --max-samples 30 --set threads=1)
drawn() { sed -n 's/.*tasks drawn ([^)]*): //p' "$1"; }

"$M" pmo jobs/pmo/pmo.yaml "${Q[@]}" --draw 3 --draw-seed 5 --set output_dir="$T/a" >/dev/null 2>"$T/a.err" ||
    bad "pmo --draw failed: $(tail -2 "$T/a.err")"
"$M" pmo jobs/pmo/pmo.yaml "${Q[@]}" --draw 3 --draw-seed 5 --set output_dir="$T/b" >/dev/null 2>"$T/b.err"
"$M" pmo jobs/pmo/pmo.yaml "${Q[@]}" --draw 3 --draw-seed 6 --set output_dir="$T/c" >/dev/null 2>"$T/c.err"
A=$(drawn "$T/a.err") B=$(drawn "$T/b.err") C=$(drawn "$T/c.err")
[ -n "$A" ] && [ "$A" = "$B" ] && ok "seed 5 draws the same tasks twice: $A" || bad "seed 5: '$A' then '$B'"
[ -n "$C" ] && [ "$A" != "$C" ] && ok "seed 6 draws others: $C" || bad "seed 6 drew '$C' (seed 5: '$A')"
[ "$(echo "$A" | tr ',' '\n' | sort -u | wc -l)" = 3 ] && ok "3 distinct tasks" || bad "not 3 distinct tasks: $A"
rows=$(tail -n +2 "$T/a/pmo.csv" | cut -d, -f1 | paste -sd,)
[ "$rows" = "$A" ] && ok "pmo.csv has the drawn tasks in draw order" || bad "pmo.csv tasks '$rows', drawn '$A'"
published=1
for t in ${A//,/ }; do grep -q "^| $t | 0\.[0-9]* +- " "$T/a/pmo.md" || published=0; done
[ $published = 1 ] && grep -q "^Tasks: 3 drawn with seed 5 from PMO's published tasks: ${A//,/, }\.$" "$T/a/pmo.md" &&
    ok "pmo.md names the draw, each task beside its published AUCs" || bad "pmo.md: $(head -8 "$T/a/pmo.md")"
first=${A%%,*}
"$M" pmo jobs/pmo/pmo.yaml "${Q[@]}" --draw 3 --draw-seed 5 --exclude "$first,qed" --set output_dir="$T/d" \
    >/dev/null 2>"$T/d.err"
D=$(drawn "$T/d.err")
case ",$D," in *",$first,"*|*",qed,"*) bad "an excluded task was drawn: $D" ;; *) [ -n "$D" ] && ok "--exclude $first,qed: $D" || bad "--exclude: $(tail -1 "$T/d.err")" ;; esac

# the paired matrix against pmo.csv: random and migrate on three tasks, one seed each
"$M" pmo jobs/pmo/pmo.yaml --tasks median1,zaleplon_mpo,amlodipine_mpo --strategies random,migrate --seeds 0 --budget 150 --max-samples 600 \
    --set threads=1 --set output_dir="$T/m" >/dev/null 2>"$T/m.err" || bad "pmo random,migrate: $(tail -2 "$T/m.err")"
want=$(awk -F, 'NR > 1 { auc[$1 "," $2] = $9 } END {
    w = t = l = 0
    for (k in auc) { split(k, p, ","); if (p[2] != "migrate") continue; o = auc[p[1] ",random"]
        if (auc[k] + 0 > o + 0) w++; else if (auc[k] + 0 < o + 0) l++; else t++ }
    printf "%d / %d / %d", w, t, l }' "$T/m/pmo.csv")
got=$(grep "^| migrate | " "$T/m/pmo.md" | tail -1 | awk -F' [|] ' '{ print $2 }' | sed 's/ (.*//')
[ -n "$got" ] && [ "$got" = "$want" ] && ok "paired matrix: migrate against random $got, as pmo.csv's AUCs say" ||
    bad "paired matrix: '$got', pmo.csv says '$want' ($(grep -A4 'of the row against' "$T/m/pmo.md" | tr '\n' ' '))"
grep -q "^| random | 3 | " "$T/m/pmo.md" && ok "median over every (task, seed) run" || bad "no median row: $(cat "$T/m/pmo.md")"

refuse() { refused "$1" "$2" "$M" pmo jobs/pmo/pmo.yaml "${Q[@]}" "${@:3}" --set output_dir="$T/x"; }
refuse 2 "--tasks and --draw exclude each other" --draw 2 --tasks qed
refuse 2 "--draw-seed and --exclude need --draw N" --exclude qed
refuse 2 "'0' is not a count of tasks" --draw 0
refuse 2 "'x' is not a seed" --draw 2 --draw-seed x
refuse 1 "'quux' is no PMO task" --draw 2 --exclude quux
refuse 1 "the population \(1 excluded\) has only 17 tasks" --draw 30 --exclude qed
[ -d "$T/x" ] && bad "a refused command wrote $T/x" || ok "no refused command wrote anything"
[ $fails = 0 ] || exit 1
