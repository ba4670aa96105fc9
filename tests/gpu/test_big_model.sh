#!/usr/bin/env bash
# The engine on a checkpoint of Llama-3.1-8B's shape (docs/arc.md, "The 8B model"): a random-weight checkpoint made
# here (tests/gpu/make_random_llama.c: sharded bf16 safetensors, the 128k-token Llama-3 vocabulary and chat
# tokens, llama3 RoPE scaling), read by `migrate inspect-model`, then `migrate run` for one iteration, twice, with
# a group of 16 (11 on-policy + 4 neighborhood + 1 greedy) and LoRA r128/alpha32 on q_proj,v_proj:
#   arc    an ARC task end to end with the grid-language executor, colour names, a prompt of about 4k tokens;
#   train  the same shapes with an oracle task whose rewards differ, so that the GRPO step runs (random weights
#          never write a program that parses: the arc run's rewards are all equal and its update is skipped).
# From the repository root:
#
#   tests/gpu/test_big_model.sh BUILD_DIR [--shape 8b|mini] [--backend cuda|cpu] [--completion N]
#                               [--task FILE] [--tsv FILE]
#
# Defaults: --shape 8b --backend cuda --completion 1024 --task data/arc-agi-1/training/7b6016b9.json (about 4k
# prompt tokens; the CPU ctest takes a shorter task and completion, to stay under a minute). The checkpoint lives
# in a temporary folder (TMPDIR), removed at the end. Prints, and appends to --tsv FILE as `shape backend key
# value` lines: the checkpoint's bytes and write time, inspect-model's time, the prompts' token counts, and per
# run its wall time, its startup (wall minus the search's own seconds: loading the weights, uploading them on a
# GPU), its peak RSS (VmHWM, polled from /proc), the GPU's peak memory in use (nvidia-smi, sampled) on cuda, and
# its seconds per phase (summary.json: sample, score, train, total). Exit 1 when a step fails; 77 (skipped) with
# cuda and no GPU, or under the sanitizers (a 128k-vocabulary run takes minutes there).
set -uo pipefail

usage="usage: test_big_model.sh BUILD_DIR [--shape 8b|mini] [--backend cuda|cpu] [--completion N] [--task FILE]"
build=${1:?$usage [--tsv FILE]}
shift
shape=8b
backend=cuda
completion=1024
tsv=
task_file=data/arc-agi-1/training/7b6016b9.json  # 3 pairs of up to 22x22: ~4.0k prompt tokens with colour names
while [ $# -gt 0 ]; do
  case $1 in
    --shape) shape=${2:?}; shift 2 ;;
    --backend) backend=${2:?}; shift 2 ;;
    --completion) completion=${2:?}; shift 2 ;;
    --task) task_file=${2:?}; shift 2 ;;
    --tsv) tsv=${2:?}; shift 2 ;;
    *) echo "test_big_model.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case $build in /*) ;; *) build=$PWD/$build ;; esac
case $task_file in /*) ;; *) task_file=$PWD/$task_file ;; esac
if grep -q '^MIGRATE_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "test_big_model.sh: skipped under the sanitizers (a 128k-vocabulary run takes minutes there)"
  exit 77
fi
if [ "$backend" = cuda ] && ! nvidia-smi -L >/dev/null 2>&1; then
  echo "test_big_model.sh: skipped: no GPU (nvidia-smi -L fails)"
  exit 77
fi
# A build folder (make_random_llama in tests/) or a bundle's bin/ (every program side by side: tests/gpu/pack.sh)
migrate=$build/migrate
maker=$build/tests/make_random_llama
[ -x "$maker" ] || maker=$build/make_random_llama
for p in "$migrate" "$maker"; do
  [ -x "$p" ] || { echo "test_big_model.sh: $p is not built" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/big-model.XXXXXX")
smi_pid=
cleanup() {
  [ -n "$smi_pid" ] && kill "$smi_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT  # a stage's timeout: the EXIT trap still removes the checkpoint (16 GB for 8b)

report() {  # report KEY VALUE: one figure, printed and kept
  printf '  %-28s %s\n' "$1" "$2"
  [ -n "$tsv" ] && printf '%s\t%s\t%s\t%s\n' "$shape" "$backend" "$1" "$2" >>"$tsv"
  return 0
}

# run_measured NAME CMD...: runs CMD, polling its VmHWM (peak resident set) every 0.2 s; sets $wall (s), $rss (MB),
# $status. Polling sees the peak of the program itself, not of children (the grid-language executor has none).
run_measured() {
  local name=$1 t0 hwm=0 h
  shift
  t0=$(date +%s%N)
  "$@" >"$tmp/$name.log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    h=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
    [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
    sleep 0.2
  done
  wait "$pid"
  status=$?
  wall=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  rss=$((hwm / 1024))
  return 0
}

fail() {
  echo "test_big_model.sh: FAILED: $1"
  [ -f "$tmp/$2.log" ] && tail -20 "$tmp/$2.log"
  exit 1
}

echo "test_big_model.sh: shape $shape, backend $backend, completions of $completion tokens," \
     "task ${task_file##*/}, in $tmp"
model=$tmp/model
run_measured make "$maker" --shape "$shape" "$model"
cat "$tmp/make.log"
[ "$status" = 0 ] || fail "make_random_llama exited $status" make
report checkpoint_bytes "$(du -sb "$model" | cut -f1)"
report write_s "$wall"

run_measured inspect "$migrate" inspect-model "$model"
[ "$status" = 0 ] || fail "migrate inspect-model exited $status" inspect
grep -iE '^ *(architecture|layers|hidden|vocab|rope|weights|tokenizer|chat)' "$tmp/inspect.log" | head -12
report inspect_s "$wall"
report inspect_peak_rss_mb "$rss"

"$maker" --count-prompt "$model" "$task_file" >"$tmp/prompt.log" 2>&1 || fail "counting the prompt's tokens" prompt
report prompt_tokens "$(awk '/^prompt:/ { print $4 }' "$tmp/prompt.log")"

# The two runs share everything but the task: the group, the completion length, the adapter, the backend.
common_yaml() {
  cat <<EOF
model: $model
seed: 1
strategy: migrate
iterations: 1
search:
  num_on_policy: 11
  num_greedy: 1
  num_neighborhood: 4
  top_k: 5
sampling:
  temperature: 1.0
  max_completion_length: $completion
training:
  learning_rate: 1.0e-5
  members_per_shard: 1
lora:
  r: 128
  alpha: 32
  target_modules: [q_proj, v_proj]
engine:
  backend: $backend
EOF
}
{
  common_yaml
  cat <<EOF
output_dir: $tmp/arc
task:
  type: arc
  arc:
    file: $task_file
    executor: dsl
    format: colors
    reward: partial
EOF
} >"$tmp/arc.yaml"

# A random-weight model never writes a program that parses, so every member of the ARC group scores the same and
# the GRPO update is skipped (no advantage: the learner's rule). The second run gives the training step the same
# shape: an oracle task whose prompt has as many tokens (a run of 'é', two tokens each with this tokenizer) and
# whose reward is the reply's length, so rewards differ and the update runs: forward and backward of 16 members
# of prompt + completion tokens, one member per shard, and the AdamW step on the adapter.
arc_tokens=$(awk '/^prompt:/ { print $4 }' "$tmp/prompt.log")
standin() { awk -v k="$1" 'BEGIN { for (i = 0; i < k; i++) printf "é" }' >"$tmp/standin.txt"; }
standin 2000
t0=$("$maker" --count-prompt "$model" "$tmp/standin.txt" | awk '{ print $4 }')
k=$((2000 + (arc_tokens - t0) / 2))
[ "$k" -gt 2047 ] && k=2047  # task.prompt holds at most 4095 bytes
standin "$k"
"$maker" --count-prompt "$model" "$tmp/standin.txt" >"$tmp/standin.log" 2>&1 ||
  fail "counting the stand-in prompt" standin
report train_prompt_tokens "$(awk '/^prompt:/ { print $4 }' "$tmp/standin.log")"
cat >"$tmp/oracle.sh" <<'EOF'
#!/usr/bin/env bash
# reward: the length of the request line (the candidate's length, escaped), in thousands of bytes
while IFS= read -r line; do
  [[ $line =~ \"id\":\ *([0-9]+) ]] || continue
  printf '{"id": %s, "reward": %d.%03d, "valid": true}\n' "${BASH_REMATCH[1]}" $((${#line} / 1000)) $((${#line} % 1000))
done
EOF
{
  common_yaml
  echo "output_dir: $tmp/train"
  echo "task:"
  echo "  type: oracle"
  echo "  command: bash $tmp/oracle.sh"
  echo "  workers: 1"
  printf '  prompt: "%s"\n' "$(cat "$tmp/standin.txt")"
} >"$tmp/train.yaml"

gpu_sampler_start() {
  [ "$backend" = cuda ] || return 0
  base_mb=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 >"$tmp/smi.log" 2>/dev/null &
  smi_pid=$!
}
gpu_sampler_stop() {  # reports KEY: the peak in use above what was in use before the run
  [ -n "$smi_pid" ] || return 0
  kill "$smi_pid" 2>/dev/null
  wait "$smi_pid" 2>/dev/null
  smi_pid=
  report "$1" "$(awk -v b="$base_mb" '$1 + 0 > m { m = $1 + 0 } END { print m - b }' "$tmp/smi.log")"
}
summary_seconds() {  # summary_seconds RUN KEY: the number of "KEY" inside RUN's summary.json "seconds" object
  sed -n '/"seconds"/,/}/p' "$tmp/$1/summary.json" | awk -v k="\"$2\":" '$1 == k { gsub(/,/, "", $2); print $2 }'
}
summary_int() {  # summary_int RUN KEY: a top-level integer of summary.json
  awk -v k="\"$2\":" '$1 == k { gsub(/,/, "", $2); print $2 }' "$tmp/$1/summary.json"
}

# run_one NAME: migrate run NAME.yaml, measured; its figures are reported as NAME_*
run_one() {
  local name=$1 total
  gpu_sampler_start
  run_measured "$name" "$migrate" run "$tmp/$name.yaml" --quiet
  gpu_sampler_stop "${name}_device_peak_mb"
  tail -4 "$tmp/$name.log"
  [ "$status" = 0 ] || fail "migrate run ($name) exited $status" "$name"
  [ -f "$tmp/$name/summary.json" ] || fail "the $name run wrote no summary.json" "$name"
  [ "$(summary_int "$name" iterations)" = 1 ] || fail "the $name run did not do 1 iteration" "$name"
  report "${name}_wall_s" "$wall"
  report "${name}_peak_rss_mb" "$rss"
  total=$(summary_seconds "$name" total)
  report "${name}_startup_s" "$(awk -v w="$wall" -v t="$total" 'BEGIN { printf "%.1f", w - t }')"
  for k in sample score train total; do
    report "${name}_seconds_$k" "$(awk -v x="$(summary_seconds "$name" "$k")" 'BEGIN { printf "%.2f", x }')"
  done
}
run_one arc
run_one train
# The update must have run: train/skipped 0 and time spent training.
grep -q '"train/skipped": *0' "$tmp/train/metrics.jsonl" || fail "the training run skipped its update" train
[ "$(summary_seconds train train | awk '{ print ($1 > 0) }')" = 1 ] ||
  fail "the training run spent no time training" train
echo "test_big_model.sh: ok"
