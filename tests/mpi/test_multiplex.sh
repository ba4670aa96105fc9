#!/usr/bin/env bash
# Several searches multiplexed over the same ranks (`migrate run SWEEP.yaml`, coordinator/run_multiplex.c), label mpi:
#   1. each element of a 4-element sweep run in one process ends bit-identical to that element run alone (the
#      way a Slurm array runs it: SWEEP_DIR/config.yaml + its manifest line);
#   2. the same sweep over 3 ranks ends bit-identical to 1;
#   3. SIGUSR1 mid-sweep on 2 ranks checkpoints every element; `--resume SWEEP_DIR` on 1 rank finishes it
#      bit-identically, and the results table lists every element as done;
#   4. resuming with other axes, and a grid over a key the elements must share, are one-line errors;
#   5. overlap: with every element training and no periodic checkpoint, each element's update runs during the next
#      element's sampling; each element still ends bit-identical to running alone (digest and metrics.jsonl
#      without timings), on 1 rank and on 4 with disjoint roles (coordinator-only, 2 rollout, 1 learner).
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/mpi_env.sh"

sweep_config() {  # file, output_dir, strategies
    cat >"$1" <<YAML
model: data/models/semantle-tiny
seed: 3
iterations: 4
save_steps: 1
threads: 1
output_dir: $2
task:
  type: semantle
  target: ocean
  vectors: data/semantle/vectors.bin
search:
  num_on_policy: 4
  num_neighborhood: 2
  num_greedy: 2
sampling:
  max_completion_length: 8
lora:
  r: 8
training:
  members_per_shard: 2
sweep:
  strategies: [$3]
  targets: [ocean, music]
YAML
}
N=4
sweep_config "$T/a.yaml" "$T/a" "random, migrate"
"$M" run "$T/a.yaml" --quiet >"$T/a.out" 2>&1 || { fail "np 1 sweep: exit $?"; tail -5 "$T/a.out"; }
grep -q "4 searches multiplexed over 1 rank" "$T/a.out" || fail "no multiplex banner: $(head -3 "$T/a.out")"

# Element $2 of sweep folder $1 run alone into $3, as a Slurm array element runs it: the folder's config.yaml with
# its manifest line's overrides. Sets kv to those overrides.
run_alone() {
    mapfile -t kv < <(grep -P "^$2\t" "$1/manifest.tsv" | cut -f2- | tr '\t' '\n' | grep -v '^output_dir=')
    local sets=() x
    for x in "${kv[@]}"; do sets+=(--set "$x"); done
    "$M" run "$1/config.yaml" --quiet "${sets[@]}" --set output_dir="$3" >"$3.out" 2>&1 ||
        { fail "element $2 of $1 alone: exit $?"; tail -3 "$3.out"; }
}

# 1. each element alone, from the sweep folder's config.yaml and its manifest line
for i in $(seq 0 $((N - 1))); do
    run_alone "$T/a/sweep" "$i" "$T/alone$i"
    ref=$(digest_of "$T/alone$i") got=$(digest_of "$T/a/sweep/$i")
    [ "$ref" = "$got" ] && ok "element $i (${kv[*]}) multiplexed = alone ($got)" || fail "element $i: $got vs alone $ref"
    REF[$i]=$ref
done

# 2. the same sweep over 3 ranks
sweep_config "$T/b.yaml" "$T/b" "random, migrate"
if mpirun -np 3 "$M" run "$T/b.yaml" --quiet >"$T/b.out" 2>&1; then
    for i in $(seq 0 $((N - 1))); do
        got=$(digest_of "$T/b/sweep/$i")
        [ "$got" = "${REF[$i]}" ] && ok "np 3 element $i = np 1" || fail "np 3 element $i: $got vs ${REF[$i]}"
    done
else fail "np 3 sweep: exit $?"; tail -5 "$T/b.out"; fi

# 3. a signal mid-sweep on 2 ranks, resumed on 1
sweep_config "$T/c.yaml" "$T/c" "random, migrate"
mpirun -np 2 "$M" run "$T/c.yaml" --quiet >"$T/c.out" 2>&1 &
last_element_started() { [ "$(cat "$T/c/sweep/3/metrics.jsonl" 2>/dev/null | wc -l)" -ge 1 ]; }
usr1_when $! last_element_started
rc=$?
if [ $rc -eq 0 ] && grep -q "stopped by SIGUSR1" "$T/c.out"; then
    ok "SIGUSR1 stopped the sweep: $(grep -m1 'continue with' "$T/c.out")"
    "$M" run "$T/c.yaml" --quiet --resume "$T/c/sweep" >"$T/c.resume.out" 2>&1 ||
        { fail "resume: exit $?"; tail -5 "$T/c.resume.out"; }
    for i in $(seq 0 $((N - 1))); do
        got=$(digest_of "$T/c/sweep/$i")
        [ "$got" = "${REF[$i]}" ] && ok "stopped + resumed element $i = uninterrupted" || fail "resumed element $i: $got vs ${REF[$i]}"
    done
    done_rows=$(grep -c '| done |' "$T/c/sweep/results.md")
    [ "$done_rows" = "$N" ] && ok "results.md: $N elements done" || fail "results.md has $done_rows done rows"
elif [ $rc -eq 0 ]; then
    echo "note: the sweep ended before the signal arrived; the resume case is not exercised this time"
else fail "SIGUSR1 run: exit $rc"; tail -5 "$T/c.out"; fi

# 4. bad input: other axes on resume; a grid over a shared key
sweep_config "$T/d.yaml" "$T/c" "random"
"$M" run "$T/d.yaml" --quiet --resume "$T/c/sweep" >"$T/d.out" 2>&1
rc=$? msg=$(grep -m1 "lists other elements" "$T/d.out")
[ $rc -ne 0 ] && [ -n "$msg" ] && [ "$(wc -l <"$T/d.out")" -le 2 ] && ok "other axes refused: $msg" ||
    { fail "resume with other axes: exit $rc"; cat "$T/d.out"; }
sweep_config "$T/e.yaml" "$T/e" "random"
printf '  grid:\n    threads: [1, 2]\n' >>"$T/e.yaml"
"$M" run "$T/e.yaml" --quiet >"$T/e.out" 2>&1
rc=$? msg=$(grep -m1 "'threads' differs" "$T/e.out")
[ $rc -ne 0 ] && [ -n "$msg" ] && ok "shared key refused: $msg" || { fail "grid over threads: exit $rc"; cat "$T/e.out"; }

# 5. overlapped updates
metrics_of() { sed -E 's/,"tokens_per_second".*$//' "$1/metrics.jsonl"; }
for np in 1 4; do
    sweep_config "$T/f$np.yaml" "$T/f$np" "migrate, grpo"
    sed -i 's/^save_steps: 1$/save_steps: 0/' "$T/f$np.yaml"
    layout=()
    [ "$np" = 4 ] && layout=(--set distributed.coordinator_only=true --set distributed.rollout_ranks=2
                             --set distributed.learner_ranks=1)
    if ! mpirun -np "$np" "$M" run "$T/f$np.yaml" --quiet "${layout[@]}" >"$T/f$np.out" 2>&1; then
        fail "overlap sweep on np $np: exit $?"; tail -5 "$T/f$np.out"; continue
    fi
    for i in $(seq 0 $((N - 1))); do
        [ "$np" = 1 ] && run_alone "$T/f1/sweep" "$i" "$T/falone$i"
        ref=$(digest_of "$T/falone$i") got=$(digest_of "$T/f$np/sweep/$i")
        if [ "$ref" = "$got" ] && diff -q <(metrics_of "$T/falone$i") <(metrics_of "$T/f$np/sweep/$i") >/dev/null; then
            ok "overlap, np $np: element $i = alone ($got, metrics too)"
        else fail "overlap, np $np: element $i: $got vs alone $ref; $(diff <(metrics_of "$T/falone$i") <(metrics_of "$T/f$np/sweep/$i") 2>&1 | head -2)"; fi
    done
done

[ $fails -eq 0 ] && echo "all multiplex checks passed" || echo "$fails multiplex check(s) failed"
exit $((fails > 0))
