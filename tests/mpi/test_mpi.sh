#!/usr/bin/env bash
# The distributed loop (label mpi), with mpirun --oversubscribe on however many cores there are:
#   1. np = 2, 3, 4 and coordinator-only / disjoint rollout-learner layouts end bit-identical to np = 1 (the
#      learners publish the adapter to the other ranks; a coordinator-only rank 0 loads no weights)
#      (`migrate inspect --digest`: archive, adapter, AdamW moments, counters; and metrics.jsonl without timings);
#   1b. the same for full training (lora.use_peft false: every weight trains and is published);
#   2. a layout that does not fit is one clear error;
#   3. SIGUSR1 to mpirun mid-run checkpoints; resuming with another rank count ends as np = 1;
#   4. a rank that hangs ends the job within distributed.timeout, naming the rank and its step; a rank that
#      crashes ends it at once; the last checkpoint stays intact and a resume completes the run exactly;
#   5. training.staleness 1 (learner ranks train on the previous group while rollout ranks sample): disjoint layouts
#      end bit-identical to np = 1 with the same staleness, and a checkpoint taken while a group waits resumes
#      exactly on another rank count; the run differs from staleness 0.
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/mpi_env.sh"
BASE=(jobs/semantle-demo.yaml --quiet --set iterations=6 --set save_steps=1 --set sampling.max_completion_length=8
      --set threads=1 --set lora.r=8 --set search.num_on_policy=6 --set search.num_neighborhood=3
      --set search.num_greedy=3 --set training.members_per_shard=3)
metrics_of() { sed -E 's/,"tokens_per_second".*$//' "$1/metrics.jsonl"; }
same_as_ref() {  # dir, description
    local got
    got=$(digest_of "$1")
    if [ "$got" = "$REF" ] && diff -q <(metrics_of "$T/ref") <(metrics_of "$1") >/dev/null; then ok "$2 = np 1"
    else fail "$2: digest $got vs $REF; $(diff <(metrics_of "$T/ref") <(metrics_of "$1") 2>&1 | head -3)"; fi
}

"$M" run "${BASE[@]}" --set output_dir="$T/ref" >"$T/ref.out" 2>&1 || { fail "np 1 run"; cat "$T/ref.out"; }
REF=$(digest_of "$T/ref")
echo "np 1 digest $REF"

# 1. rank counts and layouts
layouts=(
    "2|"
    "3|"
    "4|"
    "3|--set distributed.coordinator_only=true --set distributed.rollout_ranks=1 --set distributed.learner_ranks=1"
    "4|--set distributed.rollout_ranks=3 --set distributed.learner_ranks=1"
    "4|--set distributed.coordinator_only=true --set distributed.rollout_ranks=2 --set distributed.learner_ranks=1"
)
for i in "${!layouts[@]}"; do
    np=${layouts[$i]%%|*}
    read -r -a extra <<<"${layouts[$i]#*|}"
    d="$T/l$i"
    if mpirun -np "$np" "$M" run "${BASE[@]}" --set output_dir="$d" "${extra[@]}" >"$d.out" 2>&1; then
        same_as_ref "$d" "np $np ${extra[*]}"
    else fail "np $np ${extra[*]}: exit $?"; tail -5 "$d.out"; fi
done

# 1b. full training (lora.use_peft false): the learners sum every weight's gradient exactly and the leader publishes
# the weights to the rollout-only ranks, so layouts end as np 1 does here too
FULLW=("${BASE[@]}" --set lora.use_peft=false --set training.learning_rate=1e-3)
"$M" run "${FULLW[@]}" --set output_dir="$T/fullw" >"$T/fullw.out" 2>&1 || { fail "full training, np 1"; cat "$T/fullw.out"; }
FREF=$(digest_of "$T/fullw")
for layout in "3|" "4|--set distributed.rollout_ranks=2 --set distributed.learner_ranks=2"; do
    np=${layout%%|*}
    read -r -a extra <<<"${layout#*|}"
    d="$T/fullw-$np"
    mpirun -np "$np" "$M" run "${FULLW[@]}" --set output_dir="$d" "${extra[@]}" >"$d.out" 2>&1 || { fail "full np $np: exit $?"; tail -5 "$d.out"; }
    if [ "$(digest_of "$d")" = "$FREF" ] && [ "$FREF" != "$REF" ] && diff -q <(metrics_of "$T/fullw") <(metrics_of "$d") >/dev/null; then
        ok "full training, np $np ${extra[*]} = np 1"
    else fail "full training, np $np ${extra[*]}: digest $(digest_of "$d") vs $FREF"; fi
done

# A coordinator-only rank 0 never runs the model: it loads the shape and tokenizer, not the weights.
grep -q "rank 0 coordinates only (no model weights loaded there)" "$T/l3.out" && ok "coordinator-only rank 0 holds no weights" ||
    fail "no 'no model weights' banner for the coordinator-only layout: $(head -3 "$T/l3.out")"

# 2. a layout that does not fit
mpirun -np 2 "$M" run "${BASE[@]}" --set output_dir="$T/bad" --set distributed.rollout_ranks=2 \
    --set distributed.learner_ranks=1 >"$T/bad.out" 2>&1
rc=$?
msg=$(grep -m1 "does not fit" "$T/bad.out")
[ $rc -ne 0 ] && [ -n "$msg" ] && ok "bad layout refused: $msg" || { fail "bad layout: exit $rc"; cat "$T/bad.out"; }

# 3. a signal mid-run, resumed on another number of ranks
d="$T/sig"
mpirun -np 2 "$M" run "${BASE[@]}" --set output_dir="$d" >"$d.out" 2>&1 &
checkpointed_twice() { [ -f "$d/checkpoint.h5" ] && [ "$(cat "$d/metrics.jsonl" 2>/dev/null | wc -l)" -ge 2 ]; }
usr1_when $! checkpointed_twice
rc=$?
if [ $rc -eq 0 ] && grep -q "stopped by SIGUSR1" "$d.out"; then
    mpirun -np 3 "$M" run --resume "$d/checkpoint.h5" --quiet >"$d.resume.out" 2>&1 || { fail "resume on 3 ranks"; tail -5 "$d.resume.out"; }
    same_as_ref "$d" "np 2, SIGUSR1, resumed on np 3"
else fail "SIGUSR1 to mpirun: exit $rc"; tail -5 "$d.out"; fi

# 4. a rank that hangs, a rank that crashes
d="$T/hang"
start=$(date +%s)
MIGRATE_FAULT=hang:2:4 timeout 120 mpirun -x MIGRATE_FAULT -np 3 "$M" run "${BASE[@]}" --set output_dir="$d" \
    --set distributed.timeout=3 >"$d.out" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
msg=$(grep -m1 "rank 2 (rollout+learner) has been in 'sampling'" "$d.out")
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ -n "$msg" ]; then ok "hung rank ended the job in $took s: $msg"
else fail "hang: exit $rc after $took s"; tail -8 "$d.out"; fi
mpirun -np 2 "$M" run --resume "$d/checkpoint.h5" --set distributed.timeout=3600 --quiet >"$d.resume.out" 2>&1 \
    || { fail "resume after the hang"; tail -5 "$d.resume.out"; }
same_as_ref "$d" "hang at iteration 4, resumed on np 2"

d="$T/crash"
MIGRATE_FAULT=crash:1:3 timeout 120 mpirun -x MIGRATE_FAULT -np 2 "$M" run "${BASE[@]}" --set output_dir="$d" >"$d.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "rank 1" "$d.out"; then ok "crashed rank ended the job (exit $rc): $(grep -m1 'rank 1' "$d.out")"
else fail "crash: exit $rc"; tail -8 "$d.out"; fi
"$M" run --resume "$d/checkpoint.h5" --quiet >"$d.resume.out" 2>&1 || { fail "resume after the crash"; tail -5 "$d.resume.out"; }
same_as_ref "$d" "crash at iteration 3, resumed on np 1"

# 5. bounded staleness
"$M" run "${BASE[@]}" --set training.staleness=1 --set output_dir="$T/stale" >"$T/stale.out" 2>&1 ||
    { fail "np 1 staleness 1"; cat "$T/stale.out"; }
REF_EXACT=$REF
REF=$(digest_of "$T/stale")
[ "$REF" != "$REF_EXACT" ] && ok "staleness 1 changes the run ($REF vs $REF_EXACT)" || fail "staleness 1 = staleness 0"
mv "$T/ref" "$T/ref-exact" && cp -r "$T/stale" "$T/ref"
k=0
for extra in "--set distributed.rollout_ranks=3 --set distributed.learner_ranks=1" \
             "--set distributed.coordinator_only=true --set distributed.rollout_ranks=2 --set distributed.learner_ranks=1"; do
    read -r -a args <<<"$extra"
    d="$T/stale-l$((k++))"  # one folder each: a run refuses a folder that holds another run's checkpoint
    if mpirun -np 4 "$M" run "${BASE[@]}" --set training.staleness=1 --set output_dir="$d" "${args[@]}" >"$d.out" 2>&1; then
        same_as_ref "$d" "staleness 1, np 4 $extra"
    else fail "staleness 1, np 4 $extra: exit $?"; tail -5 "$d.out"; fi
done
d="$T/stale-sig"
mpirun -np 2 "$M" run "${BASE[@]}" --set training.staleness=1 --set output_dir="$d" >"$d.out" 2>&1 &
checkpointed_twice() { [ -f "$d/checkpoint.h5" ] && [ "$(cat "$d/metrics.jsonl" 2>/dev/null | wc -l)" -ge 2 ]; }
usr1_when $! checkpointed_twice
rc=$?
if [ $rc -eq 0 ] && grep -q "stopped by SIGUSR1" "$d.out"; then
    mpirun -np 3 "$M" run --resume "$d/checkpoint.h5" --quiet >"$d.resume.out" 2>&1 ||
        { fail "staleness 1: resume on 3 ranks"; tail -5 "$d.resume.out"; }
    same_as_ref "$d" "staleness 1, np 2, SIGUSR1 with a group waiting, resumed on np 3"
else fail "staleness 1, SIGUSR1 to mpirun: exit $rc"; tail -5 "$d.out"; fi

echo "$fails failed"
[ $fails -eq 0 ]
