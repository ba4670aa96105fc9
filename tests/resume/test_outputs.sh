#!/usr/bin/env bash
# A run's outputs are its own and lose nothing without a word (label resume), through the CLI on the bundled demo:
#   1. two runs into one output_dir: the second stops at once, naming the first's pid and host;
#   2. a fresh run refuses a folder that holds a checkpoint unless --overwrite;
#   3. resuming a copy of a run writes into the copy and leaves the original alone;
#   4. a metrics.jsonl cut short, edited or deleted is restored from the checkpoint's copy (never NUL-padded);
#   5. links planted in the output folder are never written through;
#   6. failed writes (a file-size limit; summary.json unwritable) are reported once and the exit status is 1,
#      and a resume from the last good checkpoint still ends where an uninterrupted run ends;
#   7. a checkpoint never chooses a program: an oracle run resumes only with a command the user gives, and
#      `migrate inspect` shows the stored one.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
BASE=("${SMALL[@]}")
has_nul() { [ "$(tr -d '\000' < "$1" | wc -c)" != "$(wc -c < "$1")" ]; }

"$M" run "${BASE[@]}" --set iterations=8 --set output_dir="$T/ref" >"$T/ref.out" 2>&1 || { fail "reference run"; cat "$T/ref.out"; }
REF=$(digest_of "$T/ref")

# 1. one output_dir, one run
d="$T/busy"
"$M" run "${BASE[@]}" --set iterations=400 --set output_dir="$d" >"$d.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -s "$d/metrics.jsonl" ] && break; sleep 0.05; done
t0=$(date +%s)
"$M" run "${BASE[@]}" --set iterations=2 --set output_dir="$d" --overwrite >"$d.2.out" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "is in use by another migrate run (pid $pid on host $(hostname)" "$d.2.out" &&
   [ $(( $(date +%s) - t0 )) -lt 30 ] && kill -0 $pid 2>/dev/null; then ok "second run refused: $(cat "$d.2.out")"
else fail "second run into a busy output_dir: exit $rc: $(cat "$d.2.out")"; fi
kill -TERM $pid; wait $pid || fail "the first run did not stop cleanly on SIGTERM"
# The lock goes with the process, even a killed one: a run after it is not refused.
"$M" run "${BASE[@]}" --set iterations=30 --set output_dir="$T/killed" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -s "$T/killed/checkpoint.h5" ] && break; sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null
"$M" run --resume "$T/killed/checkpoint.h5" --set iterations=3 --quiet >"$T/killed.out" 2>&1 &&
    ok "a kill -9'd run's folder is free again" || { fail "resume after kill -9"; cat "$T/killed.out"; }

# 2. a finished run is not replaced silently
d="$T/done"
cp -r "$T/ref" "$d"
before=$(md5sum < "$d/checkpoint.h5")
"$M" run "${BASE[@]}" --set iterations=2 --set output_dir="$d" >"$d.out" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "checkpoint.h5 holds the checkpoint of a run at iteration 8" "$d.out" && grep -q -- "--overwrite" "$d.out" &&
   [ "$(md5sum < "$d/checkpoint.h5")" = "$before" ]; then ok "fresh run refused: $(cat "$d.out")"
else fail "fresh run over a checkpoint: exit $rc: $(cat "$d.out")"; fi
"$M" run "${BASE[@]}" --set iterations=2 --set output_dir="$d" --overwrite >"$d.out" 2>&1 &&
    [ "$(wc -l < "$d/metrics.jsonl")" = 2 ] && ok "--overwrite starts afresh" || { fail "--overwrite"; cat "$d.out"; }

# 3. a copy resumes into the copy
"$M" run "${BASE[@]}" --set iterations=4 --set output_dir="$T/orig" >/dev/null 2>&1 || fail "4-iteration run"
cp -r "$T/orig" "$T/copy"
sum_orig=$(cd "$T/orig" && md5sum checkpoint.h5 metrics.jsonl summary.json)
"$M" run --resume "$T/copy/checkpoint.h5" --set iterations=8 >"$T/copy.out" 2>&1 || { fail "resume of a copy"; cat "$T/copy.out"; }
if grep -q "writing to $T/copy" "$T/copy.out" && [ "$(cd "$T/orig" && md5sum checkpoint.h5 metrics.jsonl summary.json)" = "$sum_orig" ] &&
   [ "$(digest_of "$T/copy")" = "$REF" ]; then ok "the copy continued in its own folder; the original is untouched"
else fail "resume of a copy: $(grep writing "$T/copy.out"), copy digest $(digest_of "$T/copy") vs $REF"; fi
"$M" run --resume "$T/orig/checkpoint.h5" --set iterations=8 --set output_dir="$T/elsewhere" --quiet >/dev/null 2>&1 &&
    [ "$(digest_of "$T/elsewhere")" = "$REF" ] && [ "$(cd "$T/orig" && md5sum checkpoint.h5 metrics.jsonl summary.json)" = "$sum_orig" ] &&
    ok "--set output_dir sends a resume elsewhere" || fail "resume with --set output_dir"

# 4. metrics.jsonl repaired from the checkpoint
for how in short edited missing; do
    d="$T/metrics-$how"
    cp -r "$T/orig" "$d"
    case $how in
        short) head -c 100 "$T/orig/metrics.jsonl" > "$d/metrics.jsonl" ;;
        edited) sed -i 's/"iteration":2,/"iteration":7,/' "$d/metrics.jsonl" ;;
        missing) rm "$d/metrics.jsonl" ;;
    esac
    "$M" run --resume "$d/checkpoint.h5" --set iterations=8 >"$d.out" 2>&1 || { fail "metrics $how: resume"; cat "$d.out"; continue; }
    if diff -q <(metrics_of "$T/ref") <(metrics_of "$d") >/dev/null && ! has_nul "$d/metrics.jsonl" &&
       grep -q "restored the 4 lines of the checkpoint" "$d.out"; then ok "metrics.jsonl $how: $(grep restored "$d.out")"
    else fail "metrics.jsonl $how: $(diff <(metrics_of "$T/ref") <(metrics_of "$d") | head -3) $(cat "$d.out")"; fi
    [ $how = missing ] || cmp -s "$d/metrics.jsonl.before-resume" <(case $how in short) head -c 100 "$T/orig/metrics.jsonl" ;;
        edited) sed 's/"iteration":2,/"iteration":7,/' "$T/orig/metrics.jsonl" ;; esac) ||
        fail "metrics.jsonl $how: the old file was not kept beside it"
done

# 5. planted links
d="$T/links"
mkdir -p "$d/adapter"
echo precious > "$T/victim"
for f in adapter/adapter_model.safetensors.tmp adapter/adapter_model.safetensors adapter/adapter_config.json \
         summary.json checkpoint.h5.tmp; do ln -s "$T/victim" "$d/$f"; done
"$M" run "${BASE[@]}" --set iterations=2 --set output_dir="$d" >"$d.out" 2>&1 || { fail "run with planted links"; cat "$d.out"; }
if [ "$(cat "$T/victim")" = precious ] && [ -f "$d/summary.json" ] && [ ! -L "$d/summary.json" ] &&
   [ ! -L "$d/adapter/adapter_model.safetensors" ]; then ok "planted links were replaced, never written through"
else fail "a planted link was followed: victim now $(head -c 40 "$T/victim" | od -c | head -1)"; fi
d="$T/links2"
mkdir -p "$d"
ln -s "$T/victim" "$d/metrics.jsonl"
"$M" run "${BASE[@]}" --set iterations=2 --set output_dir="$d" >"$d.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "metrics.jsonl: is a symbolic link" "$d.out" && [ "$(cat "$T/victim")" = precious ] &&
    ok "metrics.jsonl as a link refused: $(cat "$d.out")" || fail "metrics.jsonl link: exit $rc $(cat "$d.out")"

# 6. failed writes are reported, once, and the exit status says so
d="$T/fsize"
cp -r "$T/orig" "$d"
kb=$(( $(stat -c %s "$d/metrics.jsonl") / 1024 + 1 ))
( ulimit -f "$kb"; "$M" run --resume "$d/checkpoint.h5" --set iterations=8 --quiet >"$d.out" 2>&1 )
rc=$?
n_warn=$(grep -c "cannot write $d/metrics.jsonl" "$d.out")
if [ $rc = 1 ] && [ "$n_warn" = 1 ] && grep -q "outputs in $d are incomplete" "$d.out" && ! has_nul "$d/metrics.jsonl"; then
    ok "file-size limit ${kb} KiB: exit 1, metrics.jsonl's failure reported once"
else fail "file-size limit: exit $rc, $n_warn warnings: $(cat "$d.out")"; fi
"$M" run --resume "$d/checkpoint.h5" --set iterations=8 --quiet >"$d.2.out" 2>&1 &&
    diff -q <(metrics_of "$T/ref") <(metrics_of "$d") >/dev/null && [ "$(digest_of "$d")" = "$REF" ] &&
    ok "resumed after the failed writes: metrics and state equal the uninterrupted run's" ||
    { fail "resume after failed writes"; cat "$d.2.out"; }
d="$T/nosummary"
mkdir -p "$d/summary.json"  # a folder where the file goes: its rename fails
"$M" run "${BASE[@]}" --set iterations=2 --set output_dir="$d" >"$d.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "summary.json: not written" "$d.out" && grep -q "are incomplete" "$d.out" &&
    ok "summary.json unwritable: exit 1 and said" || fail "summary.json unwritable: exit $rc: $(cat "$d.out")"

# 7. an oracle run's checkpoint
ORACLE=(jobs/oracle-example.yaml --quiet --set iterations=2 --set save_steps=1 --set sampling.max_completion_length=8
        --set threads=2 --set lora.r=4 --set search.num_on_policy=2 --set search.num_neighborhood=1 --set search.num_greedy=1)
d="$T/oracle"
"$M" run "${ORACLE[@]}" --set output_dir="$d" >"$d.out" 2>&1 || { fail "oracle run"; cat "$d.out"; }
"$M" inspect "$d/checkpoint.h5" >"$d.inspect" 2>&1
grep -q "its command (task.command): python3 tasks/examples/length_oracle.py" "$d.inspect" &&
    ok "inspect shows the oracle command: $(grep task.command "$d.inspect")" || { fail "inspect"; cat "$d.inspect"; }
"$M" run --resume "$d/checkpoint.h5" --set iterations=3 >"$d.r1" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "a resume runs only a command you give" "$d.r1" && grep -q "python3 tasks/examples/length_oracle.py" "$d.r1" &&
    [ "$(wc -l < "$d/metrics.jsonl")" = 2 ] && ok "resume without the command refused: $(cat "$d.r1")" ||
    fail "resume without the command: exit $rc: $(cat "$d.r1")"
"$M" run --resume "$d/checkpoint.h5" --set iterations=3 --set "task.command=sh -c true" >"$d.r2" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "'task.command' was" "$d.r2" && ok "another command refused" || fail "another command: exit $rc: $(cat "$d.r2")"
"$M" run --resume "$d/checkpoint.h5" --set iterations=3 --set "task.command=python3 tasks/examples/length_oracle.py" >"$d.r3" 2>&1 &&
    grep -q "oracle command (task.command): python3 tasks/examples/length_oracle.py" "$d.r3" &&
    [ "$(wc -l < "$d/metrics.jsonl")" = 3 ] && ok "resume with the confirmed command" || { fail "confirmed command"; cat "$d.r3"; }
"$M" run "${ORACLE[@]}" --set iterations=4 --resume "$d/checkpoint.h5" >"$d.r4" 2>&1 &&
    ok "resume with the run's config" || { fail "resume with the config"; cat "$d.r4"; }

[ $fails = 0 ] && echo "test_outputs: all passed" || echo "test_outputs: $fails failed"
exit $((fails > 0))
