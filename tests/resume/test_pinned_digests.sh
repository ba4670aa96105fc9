#!/usr/bin/env bash
# Pinned digests of the numerics: short runs of the demo, a PMO run, an ablation cell and the ARC demo, each
# reduced to one digest of what it computed (the checkpoint's state digest, the metrics without timings, the
# result rows without their seconds) and compared with tests/resume/pinned_digests.txt. Any change of the numbers
# a run produces — a kernel's rounding, the sampler, the GRPO step, the optimizer, the order of a sum — fails here,
# so it cannot reach the published tables (docs/results) unnoticed.
#
# A deliberate change: rerun with --update --why "what changed and which tables it affects" (appends the old and
# new digests and the reason to the file's history), regenerate or mark the affected tables in the same commit.
#   bash tests/resume/test_pinned_digests.sh BUILD [--update --why "..."]
# Digests are pinned per BLAS build (`migrate version`: OpenBLAS picks its kernels by CPU); on a machine with
# another one the test says so and is skipped (77) unless --update pins that machine too.
BUILD=${1:?build dir}
shift
UPDATE=0 WHY=""
while [ $# -gt 0 ]; do
    case $1 in
    --update) UPDATE=1 ;;
    --why) WHY=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ $UPDATE = 0 ] || [ -n "$WHY" ] || { echo "--update needs --why \"reason\"" >&2; exit 2; }
M="$BUILD/migrate"
PINS=tests/resume/pinned_digests.txt
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
blas=$("$M" version | sed -n 's/^BLAS: //p' | tr ' ' '_')

no_timings() { sed -E 's/"time\/[a-z_]+":[-0-9.e]+,?//g; s/,?"tokens_per_second":[-0-9.e]+//g' "$@"; }
csv_without_last_column() { sed -E 's/,[^,]*$//' "$1"; }  # the rows' last column is their wall time
state_of() { "$M" inspect --digest "$1/checkpoint.h5" && no_timings "$1/metrics.jsonl"; }

# The cases: name, then how its digest is made.
case_demo() {
    "$M" run jobs/semantle-demo.yaml --quiet --set iterations=8 --set output_dir="$T/demo" >/dev/null &&
        state_of "$T/demo"
}
# The job's model, lr and beta as they were when the pins were made; the job has moved on since.
case_pmo() {
    "$M" pmo jobs/pmo/pmo.yaml --tasks celecoxib_rediscovery --strategies migrate --seeds 0 --budget 500 \
        --set model=data/models/smiles-tiny --set training.learning_rate=5e-5 --set training.beta=0 \
        --set output_dir="$T/pmo" >/dev/null &&
        csv_without_last_column "$T/pmo/pmo.csv"
}
case_ablation() {
    "$M" ablate jobs/semantle-demo.yaml --strategies grpo-greedy --seeds 1 --targets river --set iterations=6 \
        --set output_dir="$T/ablation" >/dev/null && csv_without_last_column "$T/ablation/ablation.csv"
}
case_arc() {
    "$M" run jobs/arc-demo.yaml --quiet --set iterations=2 --set output_dir="$T/arc" >/dev/null &&
        state_of "$T/arc" && cat "$T/arc/submission.json" &&
        sed -E 's/"seconds": *[-0-9.e]+,?//' "$T/arc/arc_result.json"
}

pinned() { awk -v c="$1" -v b="$blas" '$1 == c && $2 == b { print $3 }' "$PINS"; }
declare -A got
for c in demo pmo ablation arc; do
    start=$(date +%s)
    if ! out=$("case_$c" 2>"$T/$c.err"); then
        echo "FAIL: case $c did not run: $(tail -1 "$T/$c.err")"
        fails=$((fails + 1))
        continue
    fi
    got[$c]=$(printf '%s\n' "$out" | sha256sum | cut -c1-16)
    want=$(pinned "$c")
    if [ $UPDATE = 1 ]; then
        echo "case $c: ${got[$c]} ($(( $(date +%s) - start )) s)"
    elif [ -z "$want" ]; then
        echo "SKIP: no digest pinned for case $c with BLAS $blas (pin it: --update --why \"...\")"
        exit 77
    elif [ "$want" = "${got[$c]}" ]; then
        echo "ok: $c $want ($(( $(date +%s) - start )) s)"
    else
        echo "FAIL: $c computes ${got[$c]}, pinned $want: the numerics changed. If that is intended, update the" \
            "pin with --update --why and regenerate (or mark) the tables it affects in the same commit"
        fails=$((fails + 1))
    fi
done
if [ $UPDATE = 1 ] && [ $fails = 0 ]; then
    for c in demo pmo ablation arc; do
        old=$(pinned "$c")
        [ "$old" = "${got[$c]}" ] && continue
        awk -v c="$c" -v b="$blas" '!($1 == c && $2 == b)' "$PINS" > "$T/pins" && cp "$T/pins" "$PINS"
        echo "$c $blas ${got[$c]}" >> "$PINS"
        echo "# history: $c ${old:-(none)} -> ${got[$c]}: $WHY" >> "$PINS"
    done
    echo "updated $PINS"
fi
[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
