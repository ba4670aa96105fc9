#!/usr/bin/env bash
# Resume is bit-exact and faults lose nothing, through the CLI on the bundled demo (label resume):
#   1. a reference run of 8 iterations, uninterrupted;
#   2. SIGTERM / SIGUSR1 / SIGINT mid-run -> checkpoint, exit 0; --resume ends in the reference's state; so does
#      a run under a warmup + cosine step-size schedule (a function of the step count the checkpoint holds);
#   3. kill -9 at random moments, resuming after each, until the run completes -> the reference's state;
#   4. a full disk (ulimit -f) while checkpointing keeps the previous checkpoint; extending a finished run
#      with --set iterations=N ends where an uninterrupted N-iteration run ends;
#   2c. the same for full training (lora.use_peft false), whose weights the run and export write as a model folder;
#   5. checkpoints of another config or model, truncated, flipped or not HDF5 are refused in one line.
# "State" = `migrate inspect --digest` (archive, adapter, AdamW moments, counters) plus metrics.jsonl without timings.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
BASE=("${SMALL[@]}" --set iterations=8)

# 1. reference
t0=$(date +%s%N)
"$M" run "${BASE[@]}" --set output_dir="$T/ref" >"$T/ref.out" 2>&1 || { fail "reference run"; cat "$T/ref.out"; }
ref_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
REF=$(digest_of "$T/ref")
[ "$(wc -l < "$T/ref/metrics.jsonl")" = 8 ] || fail "reference metrics has $(wc -l < "$T/ref/metrics.jsonl") lines"
echo "reference digest $REF"

# Waits until $1 has a checkpoint and at least $2 iterations of metrics (or the process $3 ended).
wait_for_iteration() {
    for _ in $(seq 1 1200); do
        if [ -f "$1/checkpoint.h5" ] && [ "$(cat "$1/metrics.jsonl" 2>/dev/null | wc -l)" -ge "$2" ]; then return 0; fi
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# Runs ARGS into folder $1, stops the run with signal $2 once it has checkpointed iteration 3 (it must exit 0,
# saying so), and resumes it to the end.
stop_and_resume() {
    local d=$1 sig=$2
    shift 2
    "$M" run "$@" --set output_dir="$d" >"$d.out" 2>&1 &
    local pid=$!
    wait_for_iteration "$d" 3 $pid || { fail "SIG$sig: no checkpoint by iteration 3"; cat "$d.out"; }
    kill -s "$sig" $pid
    wait $pid
    local rc=$?
    if [ $rc -ne 0 ] || ! grep -q "stopped by SIG$sig" "$d.out"; then fail "SIG$sig: exit $rc"; cat "$d.out"; return 1; fi
    "$M" run --resume "$d/checkpoint.h5" --quiet >"$d.resume.out" 2>&1 ||
        { fail "SIG$sig: resume failed"; cat "$d.resume.out"; return 1; }
}
# The runs in folders $1 and $2 ended in the same state: digest and metrics.
same_state() { [ "$(digest_of "$1")" = "$(digest_of "$2")" ] && diff -q <(metrics_of "$1") <(metrics_of "$2") >/dev/null; }

# 2. signals
for sig in TERM USR1 INT; do
    d="$T/sig-$sig"
    stop_and_resume "$d" $sig "${BASE[@]}" || continue
    if same_state "$T/ref" "$d"; then ok "SIG$sig + resume = reference"
    else fail "SIG$sig: resumed digest $(digest_of "$d"), metrics $(diff <(metrics_of "$T/ref") <(metrics_of "$d") | head -3)"; fi
done

# 2b. a step-size schedule resumes exactly too, and is not a no-op: its state differs from the constant rate's
SCHED=("${BASE[@]}" --set training.learning_rate=1e-3 --set training.lr_scheduler_type=cosine --set training.warmup_ratio=0.25)
"$M" run "${SCHED[@]}" --set output_dir="$T/sched" >"$T/sched.out" 2>&1 || fail "schedule reference run"
"$M" run "${SCHED[@]}" --set training.lr_scheduler_type=constant --set training.warmup_ratio=0 \
    --set output_dir="$T/sched-const" >"$T/sched-const.out" 2>&1 || fail "constant-rate run"
d="$T/sched-sig"
if stop_and_resume "$d" TERM "${SCHED[@]}" && same_state "$T/sched" "$d" &&
   [ "$(digest_of "$T/sched")" != "$(digest_of "$T/sched-const")" ]; then
    ok "cosine schedule with warmup: SIGTERM + resume = uninterrupted, and differs from the constant rate"
else fail "schedule: resumed $(digest_of "$d"), uninterrupted $(digest_of "$T/sched"), constant $(digest_of "$T/sched-const")"; fi

# 2c. full training (lora.use_peft false): the search's own copy of every weight and its AdamW moments resume
# exactly too, and the run leaves its weights as a model folder (OUTPUT_DIR/model) that export writes from the
# checkpoint byte for byte and that a next run loads as its model
FULLW=("${BASE[@]}" --set lora.use_peft=false --set training.learning_rate=1e-3)
"$M" run "${FULLW[@]}" --set output_dir="$T/fullw" >"$T/fullw.out" 2>&1 || { fail "full-training run"; cat "$T/fullw.out"; }
d="$T/fullw-sig"
if stop_and_resume "$d" TERM "${FULLW[@]}" && same_state "$T/fullw" "$d" && [ "$(digest_of "$T/fullw")" != "$REF" ] &&
   cmp -s "$T/fullw/model/model.safetensors" "$d/model/model.safetensors"; then
    ok "full training: SIGTERM + resume = uninterrupted (state and written weights), and differs from LoRA's"
else fail "full training: resumed $(digest_of "$d"), uninterrupted $(digest_of "$T/fullw")"; fi
if "$M" export "$T/fullw/checkpoint.h5" --out "$T/fullw-export" >/dev/null 2>&1 &&
   cmp -s "$T/fullw/model/model.safetensors" "$T/fullw-export/model.safetensors" &&
   "$M" inspect "$T/fullw/checkpoint.h5" | grep -q "every weight trained" &&
   "$M" run jobs/semantle-demo.yaml --quiet --set model="$T/fullw/model" --set strategy=random --set iterations=1 \
       --set output_dir="$T/fullw-next" >"$T/fullw-next.out" 2>&1; then
    ok "full training: export writes the run's weights byte for byte, and a run loads them as its model"
else fail "full training: export or reload"; cat "$T/fullw-next.out" 2>/dev/null; fi

# 3. kill -9 at random moments (seeded, so a failure can be replayed). Each attempt waits for one new checkpoint
# (so every attempt makes progress, however slow the build), then kills at a random moment within about one
# iteration: mid-sampling, mid-training or mid-write.
RANDOM=${RESUME_TEST_SEED:-20261127}
d="$T/kill9"
kills=0 finished=0
span=$(( ref_ms / 8 > 100 ? ref_ms / 8 : 100 ))
for attempt in $(seq 1 10); do
    prev=$(stat -c %y "$d/checkpoint.h5" 2>/dev/null)
    if [ -f "$d/checkpoint.h5" ]; then "$M" run --resume "$d/checkpoint.h5" --quiet >"$d.out" 2>&1 &
    else "$M" run "${BASE[@]}" --set output_dir="$d" >"$d.out" 2>&1 & fi
    pid=$!
    for _ in $(seq 1 6000); do
        [ "$(stat -c %y "$d/checkpoint.h5" 2>/dev/null)" != "$prev" ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.05
    done
    sleep "$(( (RANDOM * 32768 + RANDOM) % span ))e-3"
    if kill -9 $pid 2>/dev/null; then wait $pid 2>/dev/null; kills=$((kills + 1))
    else wait $pid && finished=1 || { fail "kill9: a run failed"; cat "$d.out"; }; break; fi
done
if [ $finished = 0 ]; then
    "$M" run --resume "$d/checkpoint.h5" --quiet >"$d.out" 2>&1 || { fail "kill9: last resume"; cat "$d.out"; }
fi
got=$(digest_of "$d")
if same_state "$T/ref" "$d" && ! ls "$d"/checkpoint.h5.tmp* >/dev/null 2>&1; then
    ok "$kills kill -9s + resumes = reference"
else fail "kill -9 ($kills kills): digest $got vs $REF; $(diff <(metrics_of "$T/ref") <(metrics_of "$d") | head -3)"; fi

# 4. full disk during a checkpoint, then extend a finished run
d="$T/full"
"$M" run "${BASE[@]}" --set iterations=4 --set output_dir="$d" >"$d.out" 2>&1 || fail "6-iteration run"
four=$(digest_of "$d")
kb=$(( $(stat -c %s "$d/checkpoint.h5") / 1024 - 1 ))
( ulimit -f "$kb"; "$M" run --resume "$d/checkpoint.h5" --set iterations=8 --quiet >"$d.full.out" 2>&1 )
rc=$?
if [ $rc -eq 1 ] && grep -q "the previous one is kept" "$d.full.out" && [ "$(digest_of "$d")" = "$four" ] && ! ls "$d"/checkpoint.h5.tmp* >/dev/null 2>&1; then
    ok "disk full (ulimit -f $kb KiB): exit $rc, previous checkpoint intact"
else fail "disk full: exit $rc, digest $(digest_of "$d") vs $four"; cat "$d.full.out"; fi
"$M" run --resume "$d/checkpoint.h5" --set iterations=8 --quiet >"$d.ext.out" 2>&1 || fail "extend: resume failed"
[ "$(digest_of "$d")" = "$REF" ] && ok "4 iterations extended to 8 = 8 uninterrupted" || fail "extended run differs"

# 5. refusals: exit 1, one line on stderr, the right reason
source tests/checks.sh  # one_line_error
refuse() {  # name, expected text, command...
    local name=$1 want=$2
    shift 2
    if one_line_error 1 "$want" "$T/r.err" "$@"; then ok "refused $name: $(cat "$T/r.err")"
    else fail "$name: exit $error_status, stderr: $(cat "$T/r.err")"; fi
}
C="$T/ref/checkpoint.h5"
refuse "another config" "'training.learning_rate' was 5e-05" "$M" run --resume "$C" --set training.learning_rate=1e-3
refuse "another model" "is another model" "$M" run --resume "$C" --set model=tests/parity/fixtures/llama3-tiny
refuse "LoRA on a full-training checkpoint" "'lora.use_peft' was false" "$M" run --resume "$T/fullw/checkpoint.h5" \
    --set lora.use_peft=true
refuse "a config file that differs" "'seed' was 1234" "$M" run jobs/semantle-demo.yaml --resume "$C" --set seed=5
size=$(stat -c %s "$C")
head -c $((size / 2)) "$C" > "$T/half.h5"
refuse "a truncated file" "truncated" "$M" run --resume "$T/half.h5"
refuse "a YAML file" "not a checkpoint" "$M" inspect jobs/semantle-demo.yaml
refuse "a missing file" "cannot read the checkpoint" "$M" inspect "$T/nothing.h5"
# One flipped byte in the adapter's data (most of the file), and 20 more anywhere: never a silently different state.
flip_byte() {  # file, offset: complements one byte
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\x$(printf %02x $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# Most of the file is chunked data (adapter, moments, archive), the rest HDF5 metadata with slack in its B-tree
# nodes: a complemented byte at 40..80% is caught when it lands in data (test_checkpoint.c aims at a chunk).
caught=0
for pct in 40 50 60 70 80; do
    cp "$C" "$T/flip.h5"
    flip_byte "$T/flip.h5" $((size * pct / 100))
    "$M" inspect "$T/flip.h5" >/dev/null 2>"$T/r.err" && continue
    grep -q "corrupt" "$T/r.err" && [ "$(wc -l < "$T/r.err")" = 1 ] && caught=$((caught + 1))
done
[ $caught -ge 1 ] && ok "complemented bytes at 40..80%: $caught of 5 refused as corrupt, the others landed in metadata slack" || fail "only $caught of 5 data flips caught"
silent=0
for k in $(seq 1 20); do
    cp "$C" "$T/flip.h5"
    flip_byte "$T/flip.h5" $(( (RANDOM * 32768 + RANDOM) % size ))
    out=$("$M" inspect --digest "$T/flip.h5" 2>&1)
    rc=$?
    [ $rc -gt 1 ] && fail "flip $k crashed (exit $rc): $out"
    [ $rc -eq 0 ] && [ "$out" != "$REF" ] && fail "flip $k read as another state: $out"
    [ $rc -eq 0 ] && silent=$((silent + 1))
done
ok "20 random byte flips: none crashed or changed the state ($silent landed in unused bytes)"

# PEFT export of the adapter
"$M" export "$C" --out "$T/peft" >/dev/null 2>&1 && [ -s "$T/peft/adapter_model.safetensors" ] && grep -q '"r": 8' "$T/peft/adapter_config.json" \
    && ok "export: PEFT folder written" || fail "export"

echo "$fails failed"
[ $fails -eq 0 ]
