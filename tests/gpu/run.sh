#!/usr/bin/env bash
# The one script for a machine with an NVIDIA GPU (docs/cuda.md). From the repository root:
#
#   tests/gpu/run.sh [--bundle FILE] [--build DIR] [--out DIR] [--deadline SECONDS] [--big SECONDS] [--dry-run]
#                    [--only STAGE,...] [--fake STAGE=ok|fail|hang,...] [--table-only DIR]
#
# Stages, in order of importance, each under its own `timeout` and all under one deadline (default 285 s, so the
# whole run stays under 5 minutes); a stage that fails or times out is recorded and the next one runs:
#   env        nvidia-smi line, compute capability, nvcc and driver versions
#   prepare    the programs: unpacked from --bundle (made here by tests/gpu/pack.sh: CI-built binaries plus the
#              non-system libraries they need), or else configured and built from source for this GPU's
#              architecture (needs the project's build dependencies there)
#   parity     test_cuda_parity: every CUDA op and the tiny fixtures' models against the CPU engine; test_device_engine:
#              the model code (forward, backward, generate, a migrate search, the exact gradient sum) on the GPU
#              through the device engine (model_use_backend);
#              test_attention_gemm: training attention as GEMMs against the CPU op
#   bench      bench_cuda: decode at batch 1/16/64/256 and a GRPO LoRA step, Llama-3.2-1B and Qwen2.5-0.5B shapes
#   torch      bench/bench_cuda_torch.py: the same workloads with transformers generate and peft
#   nccl       test_nccl: the NCCL all-reduce with one rank
#   memcheck   compute-sanitizer --tool memcheck on test_cuda_parity --quick
#   search     migrate run jobs/semantle-demo.yaml with engine.backend cuda (gradients summed with NCCL, then on
#              the host: the same adapter), then cpu: the README's demo on the GPU
#   graphs     bench_cuda --graphs: decode steps replayed as CUDA graphs
#   arc        the ARC shape on a random-weight Llama-3.1-8B: bench_cuda --arc (prefill and decode through
#              engine_generate with sampling.share_prefix off and on, one GRPO LoRA update packed whole and with the
#              prompt once per shard) and bench/bench_cuda_torch.py --arc (transformers generate, peft): 16 samples
#              of one 4096-token prompt, the update over 16 x (4096 + 1024) tokens, but only 256 tokens generated for
#              the decode timing (an iteration's 1024-token decode is extrapolated from the measured step). The last
#              of the deadline's stages but source: cap 170 s (the engine 45% of it, PyTorch the rest), skipped when less than 120 s
#              are left or when the card cannot hold the shape (bench_cuda's exit 78: under ~80 GB)
#   source     (with --bundle only, if time is left) the source build for this GPU, to show it configures
#   big        tests/gpu/test_big_model.sh --shape 8b --backend cuda: a random-weight Llama-3.1-8B checkpoint (16 GB,
#              made in TMPDIR and removed) loaded, and one ARC iteration end to end plus one GRPO step at its
#              shapes; figures (bytes, times, peak RSS, peak GPU memory) in OUT/big_model.tsv. It runs AFTER the
#              deadline, under its own timeout (--big S, default 270; 0 = leave it out), so it never takes time
#              from the stages above: the whole run stays under deadline + big + a few seconds (555 s by default)
# then prints one table LAST: each stage's status and time, the benchmark comparison and the big model's figures.
#
# Logs: everything printed goes to OUT/run.log as well (OUT = $OUT, or --out, or a temp folder); the benchmark
# results are OUT/*.tsv (six files in all: what a GPU lease brings back is a few files of OUT). A bundle is
# unpacked into build/gpu-bundle-run. --dry-run prints the stages and their commands without running anything. --fake replaces
# stage commands by `true` (ok), `false` (fail) or a sleep past the timeout (hang): CI tests the script's own
# logic with it (tests/unit/test_gpu_script.sh). --only runs the stages named and records the others as not asked
# (`--only env,prepare` unpacks the programs and writes OUT/programs.env, what bench/profile_cuda.sh --env reads).
# --table-only DIR prints the table from DIR's files and exits.
# Stage functions run in their own shells (declare -f), which shellcheck cannot follow.
# shellcheck disable=SC2317,SC1091
set -uo pipefail  # no -e: a failing stage must never end the run

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

deadline=285
big=270
bundle=
build=build/gpu-run
out=${OUT:-}
dry=0
fake=
only=
table_only=
usage() {
  echo "usage: tests/gpu/run.sh [--bundle FILE] [--build DIR] [--out DIR] [--deadline S] [--big S] [--dry-run]" \
       "[--only STAGE,...] [--fake STAGE=ok|fail|hang,...] [--table-only DIR]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --bundle) bundle=${2:?}; shift 2 ;;
    --build) build=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --deadline) deadline=${2:?}; shift 2 ;;
    --big) big=${2:?}; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --fake) fake=${2:?}; shift 2 ;;
    --only) only=${2:?}; shift 2 ;;
    --table-only) table_only=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
case $deadline$big in '' | *[!0-9]*) usage ;; esac

# ---- the table: stage statuses, then engine vs PyTorch vs the bandwidth floor ----
# Files in DIR: stages.tsv (stage, status, seconds), bench_cuda.tsv / bench_cuda_graphs.tsv / bench_torch.tsv
# (# comment lines, then: model, workload, batch, tokens, seconds, tokens_per_s, step_ms, floor_ms).
print_table() {
  local dir=$1
  echo
  echo "==================== summary ===================="
  if [ -f "$dir/stages.tsv" ]; then
    awk -F'\t' '{ printf "  %-10s %-26s %6s s\n", $1, $2, $3 }' "$dir/stages.tsv"
  fi
  if [ -f "$dir/big_model.tsv" ]; then  # test_big_model.sh's figures: shape, backend, key, value
    echo "  big model (tests/gpu/test_big_model.sh):"
    awk -F'\t' '{ printf "    %-5s %-5s %-28s %s\n", $1, $2, $3, $4 }' "$dir/big_model.tsv"
  fi
  print_arc_table "$dir"
  local files=() f
  for f in bench_cuda bench_cuda_graphs bench_torch; do [ -f "$dir/$f.tsv" ] && files+=("$dir/$f.tsv"); done
  [ ${#files[@]} -gt 0 ] || { echo "  (no benchmark results)"; return; }
  grep -h '^# device' "${files[@]}" | sed 's/^# /  /'
  awk -F'\t' '
    FNR == 1 { src = FILENAME; sub(/.*\//, "", src); sub(/[.]tsv$/, "", src) }
    /^#/ { next }
    NF >= 6 {
      key = $1 SUBSEP $2 SUBSEP $3
      if (src == "bench_cuda") { eng[key] = $6; step[key] = $7; flo[key] = $8; seen[key] = 1 }
      else if (src == "bench_cuda_graphs") { gra[$1 SUBSEP "decode" SUBSEP $3] = $6; gstep[$1 SUBSEP "decode" SUBSEP $3] = $7 }
      else if (src == "bench_torch" && $2 == "decode_loop") ptl[$1 SUBSEP "decode" SUBSEP $3] = $6
      else if (src == "bench_torch") { pt[key] = $6; seen[key] = 1 }
    }
    END {
      printf "  %-6s %-10s %5s %10s %10s %10s %10s %8s %8s %8s %8s %6s\n", "model", "workload", "batch", "migrate",
             "+graphs", "pytorch", "pt loop", "speedup", "vs loop", "step ms", "floor ms", "floor%"
      n = 0
      for (k in seen) keys[++n] = k
      # order: model, workload, batch (numeric)
      for (i = 1; i <= n; i++)
        for (j = i + 1; j <= n; j++) {
          split(keys[i], a, SUBSEP); split(keys[j], b, SUBSEP)
          if (a[1] > b[1] || (a[1] == b[1] && (a[2] > b[2] || (a[2] == b[2] && a[3] + 0 > b[3] + 0)))) {
            t = keys[i]; keys[i] = keys[j]; keys[j] = t
          }
        }
      for (i = 1; i <= n; i++) {
        k = keys[i]; split(k, f, SUBSEP)
        e = (k in eng) ? eng[k] : ""; g = (k in gra) ? gra[k] : ""; p = (k in pt) ? pt[k] : ""
        l = (k in ptl) ? ptl[k] : ""
        best = e; if (g != "" && (best == "" || g + 0 > best + 0)) best = g
        sp = (best != "" && p != "" && p + 0 > 0) ? sprintf("%.2fx", best / p) : "-"
        sl = (best != "" && l != "" && l + 0 > 0) ? sprintf("%.2fx", best / l) : "-"
        st = (k in step) ? step[k] : ""; if ((k in gstep) && gstep[k] + 0 > 0 && (st == "" || gstep[k] + 0 < st + 0)) st = gstep[k]
        fl = (k in flo) ? flo[k] : ""
        pc = (st != "" && st + 0 > 0 && fl != "" && fl + 0 > 0) ? sprintf("%.0f%%", 100 * fl / st) : "-"
        printf "  %-6s %-10s %5s %10s %10s %10s %10s %8s %8s %8s %8s %6s\n", f[1], f[2], f[3],
               e == "" ? "-" : sprintf("%.1f", e), g == "" ? "-" : sprintf("%.1f", g), p == "" ? "-" : sprintf("%.1f", p),
               l == "" ? "-" : sprintf("%.1f", l), sp, sl, st == "" || st + 0 == 0 ? "-" : sprintf("%.3f", st),
               fl == "" || fl + 0 == 0 ? "-" : sprintf("%.3f", fl), pc
      }
      print "  tokens/s: decode = new tokens / generate() wall time (prefill included); grpo_step = all tokens of one"
      print "  step (forward, backward, AdamW). pytorch = transformers generate(); pt loop = a plain forward loop on"
      print "  the KV cache (no generate() machinery). speedup = best migrate / pytorch, vs loop = over pt loop."
      print "  floor = weight bytes per decode step / device-to-device copy bandwidth; floor% = floor / step time."
    }' "${files[@]}"
}

# The ARC table: bench_arc.tsv (bench_cuda --arc) and bench_arc_torch.tsv (bench_cuda_torch.py --arc), columns
# model, workload, batch, tokens, seconds, tokens_per_s, step_ms, floor_ms, flops, note; workloads prefill_, decode_,
# update_ + unshared | shared | pytorch. "vs pytorch" = PyTorch's time / the engine's (shared); an iteration is
# prefill + (new - 1) decode steps at the measured step time + update.
print_arc_table() {
  local dir=$1 files=() f
  for f in bench_arc bench_arc_torch; do [ -f "$dir/$f.tsv" ] && files+=("$dir/$f.tsv"); done
  [ ${#files[@]} -gt 0 ] || return 0
  awk -F'\t' '
    /^# peak_tflops:/ { peak = $0; sub(/.*: /, "", peak) }
    /^# gemm_tflops:/ { gemm = $0; sub(/.*: /, "", gemm) }
    /^# arc:/ { if (shape == "") { shape = $0; sub(/^# arc: /, "", shape) } n = $0; sub(/.*new /, "", n); sub(/,.*/, "", n); new = n + 0 }
    /^#/ { next }
    NF >= 9 {
      model = $1; w = $2; mode = w; sub(/^[a-z]+_/, "", mode); ph = w; sub(/_.*/, "", ph)
      sec[ph, mode] = $5; tps[ph, mode] = $6; step[ph, mode] = $7; flo[ph, mode] = $8; fl[ph, mode] = $9
      note[ph, mode] = $10; have[mode] = 1
    }
    function cell(v) { return v == "" ? "-" : (v ~ /^[0-9.]+$/ ? sprintf("%.3f", v) : v) }
    function ratio(a, b) { return (a == "" || b == "" || a + 0 <= 0 || b + 0 <= 0) ? "-" : sprintf("%.2fx", a / b) }
    function iter(m) {
      if (sec["prefill", m] == "" || step["decode", m] == "" || sec["update", m] == "") return ""
      return sprintf("%.2f", sec["prefill", m] + step["decode", m] * (new - 1) / 1000 + sec["update", m])
    }
    END {
      if (model == "") exit
      split("unshared shared pytorch", ms, " ")
      printf "  ARC shape, %s (%s): times in s unless said\n", model, shape
      printf "  %-22s %10s %10s %10s %10s %10s\n", "", "unshared", "shared", "pytorch", "pt/shared", "pt/unsh"
      row("prefill s", sec["prefill", "unshared"], sec["prefill", "shared"], sec["prefill", "pytorch"], 1)
      row("decode step ms", step["decode", "unshared"], step["decode", "shared"], step["decode", "pytorch"], 1)
      row("decode tok/s", tps["decode", "unshared"], tps["decode", "shared"], tps["decode", "pytorch"], 0)
      for (i = 1; i <= 3; i++) {
        m = ms[i]; f = flo["decode", m]; st = step["decode", m]
        fp[m] = (f != "" && f + 0 > 0 && st + 0 > 0) ? sprintf("%.0f%%", 100 * f / st) : ""
      }
      row("decode floor%", fp["unshared"], fp["shared"], fp["pytorch"], 0)
      if (peak + 0 <= 0) peak = gemm  # an unknown card: MFU against the measured GEMM, as bench_cuda prints it
      row("update s", sec["update", "unshared"], sec["update", "shared"], sec["update", "pytorch"], 1)
      for (i = 1; i <= 3; i++) {
        m = ms[i]; u = sec["update", m]
        mfu[m] = (peak + 0 > 0 && u + 0 > 0 && fl["update", m] + 0 > 0) ? sprintf("%.0f%%", 100 * fl["update", m] / u / 1e12 / peak) : ""
      }
      row("update MFU", mfu["unshared"], mfu["shared"], mfu["pytorch"], 0)
      row("iteration s", iter("unshared"), iter("shared"), iter("pytorch"), 1)
      for (i = 1; i <= 3; i++) if (note["update", ms[i]] != "") printf "  update %-9s %s\n", ms[i] ":", note["update", ms[i]]
      pk = (peak + 0 > 0) ? peak : "?"; gm = (gemm == "") ? "?" : gemm
      printf "  MFU against %s TFLOP/s (the nominal dense bf16 peak, else the bf16 GEMM measured: %s). floor%% =\n", pk, gm
      print "  (weights, adapter and every sample KV rows at the mean context, the engine fp32, PyTorch bf16) / copy"
      print "  bandwidth / step time."
      print "  iteration = prefill + (new - 1) x decode step + update; pt/x = PyTorch time / that time."
    }
    function row(what, u, s, p, ratios) {
      printf "  %-22s %10s %10s %10s %10s %10s\n", what, cell(u), cell(s), cell(p), ratios ? ratio(p, s) : "-", \
             ratios ? ratio(p, u) : "-"
    }' "${files[@]}"
}

if [ -n "$table_only" ]; then
  print_table "$table_only"
  exit 0
fi

if [ "$dry" = 1 ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
elif [ -z "$out" ]; then
  out=$(mktemp -d)
fi
mkdir -p "$out"
: >"$out/stages.tsv"
log=$out/run.log
if [ "$dry" = 0 ]; then
  exec > >(tee "$log") 2>&1
  tee_pid=$!
fi
start=$SECONDS

# Programs and libraries: set by the prepare stage, read by the later ones (each stage is its own bash).
case $build in /*) bin_dir=$build ;; *) bin_dir=$root/$build ;; esac
lib_path=
export MG_ROOT=$root MG_OUT=$out

fake_mode() {  # the fake action for a stage, or nothing
  local s
  for s in ${fake//,/ }; do
    [ "${s%%=*}" = "$1" ] && { echo "${s#*=}"; return; }
  done
}

# stage NAME CAP FUNCTION [MIN]: runs FUNCTION under timeout min(CAP, time left), records the status; skipped when
# less than MIN seconds (default 5) are left. With stage_deadline=0 (the big stage) the timeout is CAP alone: a
# stage run after the deadline, on its own time. The stage sees its timeout as MG_STAGE_TIMEOUT.
stage_deadline=1
stage() {
  local name=$1 cap=$2 fn=$3 min=${4:-5} left t rc status t0
  left=$((deadline - (SECONDS - start) - 3))
  [ "$stage_deadline" = 0 ] && left=$cap
  t=$((cap < left ? cap : left))
  if [ "$dry" = 1 ]; then
    printf 'stage %-9s timeout %4ss: %s\n' "$name" "$cap" "$(describe_"$fn")"
    printf '%s\t%s\t%s\n' "$name" "dry-run" 0 >>"$out/stages.tsv"
    return 0
  fi
  case ,$only, in
    ,, | *,"$name",*) ;;
    *)
      printf '%s\t%s\t%s\n' "$name" "not asked" 0 >>"$out/stages.tsv"
      return 0
      ;;
  esac
  if [ "$t" -lt "$min" ]; then
    printf '\n==== %s: skipped (deadline)\n' "$name"
    printf '%s\t%s\t%s\n' "$name" "skipped (deadline)" 0 >>"$out/stages.tsv"
    return 0
  fi
  printf '\n==== %s (timeout %ss, %ss into the run)\n' "$name" "$t" "$((SECONDS - start))"
  t0=$SECONDS
  local f
  f=$(fake_mode "$name")
  case $f in
    ok) timeout -k 3 "$t" true ;;
    fail) timeout -k 3 "$t" false ;;
    hang) timeout -k 3 "$t" sleep $((t + 60)) ;;
    *) MG_STAGE_TIMEOUT=$t timeout -k 5 "$t" bash -c "$(declare -f); $fn" ;;
  esac
  rc=$?
  case $rc in
    0) status=ok ;;
    77) status="skipped (no GPU)" ;;
    78) status="skipped (card too small)" ;;
    124 | 137) status="TIMEOUT after ${t}s" ;;
    *) status="FAILED (exit $rc)" ;;
  esac
  printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - t0))" >>"$out/stages.tsv"
  echo "---- $name: $status"
  return 0
}

# Where each program lives and what it needs: one file the stages source (they run in their own shells).
write_env() {
  {
    echo "export PATH=\"$bin_dir:$bin_dir/tests:\$PATH\""
    echo "export LD_LIBRARY_PATH=\"$lib_path\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""
  } >"$out/programs.env"
}

# ---- stages ----
describe_st_env() { echo "nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap; nvcc --version"; }
st_env() {
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv,noheader || exit 1
  command -v nvcc >/dev/null && nvcc --version | tail -2
  command -v compute-sanitizer >/dev/null && compute-sanitizer --version | head -2
  nproc
  exit 0
}

describe_st_prepare() {
  if [ -n "$bundle" ]; then echo "tar -xJf $bundle (bin/ + lib/)"; else
    echo "cmake -B $build -DCMAKE_BUILD_TYPE=Release -DMIGRATE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=<compute cap>" \
         "&& cmake --build $build --target test_cuda_parity test_device_engine test_attention_gemm test_nccl" \
         "bench_cuda migrate make_random_llama"
  fi
}
st_prepare() {
  if [ -n "$MG_BUNDLE" ]; then  # unpacked outside OUT, whose files are what comes back from the machine
    rm -rf "$MG_BUNDLE_DIR" && mkdir -p "$MG_BUNDLE_DIR" && tar -xJf "$MG_BUNDLE" -C "$MG_BUNDLE_DIR" || exit 1
    ls "$MG_BUNDLE_DIR/bin" "$MG_BUNDLE_DIR/lib"
    exit 0
  fi
  source_build "$MG_BUILD"
}
source_build() {
  local dir=$1 arch gen=()
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
  [ -n "$arch" ] || { echo "no compute capability from nvidia-smi"; exit 1; }
  command -v ninja >/dev/null && gen=(-G Ninja)
  echo "building for sm_$arch in $dir"
  cmake -S "$MG_ROOT" -B "$MG_ROOT/$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DMIGRATE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" -DMIGRATE_RDKIT=OFF || exit 1
  cmake --build "$MG_ROOT/$dir" -j"$(nproc)" --target test_cuda_parity test_device_engine test_attention_gemm test_nccl \
    bench_cuda migrate make_random_llama || exit 1
}

describe_st_parity() { echo "test_cuda_parity && test_device_engine && test_attention_gemm"; }
st_parity() {
  source "$MG_OUT/programs.env"
  test_cuda_parity && test_device_engine && test_attention_gemm
}

describe_st_bench() { echo "bench_cuda --tsv OUT/bench_cuda.tsv"; }
st_bench() {
  source "$MG_OUT/programs.env"
  bench_cuda --tsv "$MG_OUT/bench_cuda.tsv"
}

describe_st_torch() { echo "python3 bench/bench_cuda_torch.py --tsv OUT/bench_torch.tsv"; }
st_torch() {
  PYTHONUNBUFFERED=1 python3 "$MG_ROOT/bench/bench_cuda_torch.py" --tsv "$MG_OUT/bench_torch.tsv" \
    2> >(grep -v -E 'Warning|warn\(' >&2)
}

describe_st_nccl() { echo "test_nccl (one rank; libnccl from the system or from pip's nvidia-nccl)"; }
st_nccl() {
  source "$MG_OUT/programs.env"
  test_nccl
}

describe_st_memcheck() { echo "compute-sanitizer --tool memcheck --error-exitcode 99 test_cuda_parity --quick"; }
st_memcheck() {
  source "$MG_OUT/programs.env"
  command -v compute-sanitizer >/dev/null || { echo "compute-sanitizer not found"; exit 1; }
  compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 20 --leak-check no \
    "$(command -v test_cuda_parity)" --quick
}

describe_st_search() {
  echo "migrate run jobs/semantle-demo.yaml --quiet --set engine.backend=cuda with distributed.allreduce nccl, then"
  echo "  mpi (the two adapters and metrics must be equal), then engine.backend=cpu (outputs in a temp folder)"
}
st_search() {  # the whole program on the GPU: config, model upload, sampling and GRPO through the device engine
  source "$MG_OUT/programs.env"
  local run b t0 dir rc=0
  dir=$(mktemp -d)
  for run in cuda:nccl cuda:mpi cpu:auto; do
    b=${run%%:*}
    t0=$(date +%s%N)
    migrate run "$MG_ROOT/jobs/semantle-demo.yaml" --quiet --set engine.backend="$b" --set output_dir="$dir/${run/:/-}" \
      --set distributed.allreduce="${run#*:}" --set model="$MG_ROOT/data/models/semantle-tiny" \
      --set task.vectors="$MG_ROOT/data/semantle/vectors.bin" || rc=1
    echo "engine.backend=$b distributed.allreduce=${run#*:}: $((($(date +%s%N) - t0) / 1000000)) ms wall"
  done
  # The learners' sum is exact either way: gradients summed on the GPU with ncclAllReduce (one rank) and on the
  # host must give the same adapter and the same metrics (timings aside).
  strip_times() { sed -E 's/"(time\/[a-z_]+|tokens_per_second)":[^,}]*,?//g' "$1"; }
  if cmp "$dir/cuda-nccl/adapter/adapter_model.safetensors" "$dir/cuda-mpi/adapter/adapter_model.safetensors" &&
     diff <(strip_times "$dir/cuda-nccl/metrics.jsonl") <(strip_times "$dir/cuda-mpi/metrics.jsonl") >/dev/null; then
    echo "allreduce nccl vs mpi: the same adapter and metrics ($(wc -l < "$dir/cuda-nccl/metrics.jsonl") iterations)"
  else
    echo "allreduce nccl vs mpi: the runs differ"
    rc=1
  fi
  rm -rf "$dir"
  exit "$rc"
}

describe_st_graphs() { echo "bench_cuda --graphs --no-train --tsv OUT/bench_cuda_graphs.tsv"; }
st_graphs() {
  source "$MG_OUT/programs.env"
  bench_cuda --graphs --no-train --tsv "$MG_OUT/bench_cuda_graphs.tsv"
}

describe_st_source() { echo "the source build of 'prepare' for this GPU (only after a --bundle run)"; }
st_source() { source_build build/gpu-source; }

describe_st_arc() {
  echo "bench_cuda --arc --arc-gen 256 --tsv OUT/bench_arc.tsv, then python3 bench/bench_cuda_torch.py --arc" \
       "--arc-gen 256 --tsv OUT/bench_arc_torch.tsv (each under its share of the stage's timeout)"
}
st_arc() {  # the engine first (a 78 from it, the card too small, skips PyTorch too), each under its own timeout
  source "$MG_OUT/programs.env"
  local t=${MG_STAGE_TIMEOUT:-170} te rc
  te=$((t * 45 / 100))
  timeout -k 3 "$te" bench_cuda --arc --arc-gen 256 --tsv "$MG_OUT/bench_arc.tsv"
  rc=$?
  [ "$rc" = 78 ] && exit 78
  PYTHONUNBUFFERED=1 timeout -k 3 $((t - te - 5)) python3 "$MG_ROOT/bench/bench_cuda_torch.py" --arc --arc-gen 256 \
    --tsv "$MG_OUT/bench_arc_torch.tsv" 2> >(grep -v -E 'Warning|warn\(' >&2) || rc=$((rc ? rc : $?))
  exit "$rc"
}

describe_st_big() {
  echo "tests/gpu/test_big_model.sh BIN --shape 8b --backend cuda --tsv OUT/big_model.tsv (after the deadline," \
       "on its own time)"
}
st_big() {  # the checkpoint goes to TMPDIR (never OUT: what is in OUT comes back from the machine)
  source "$MG_OUT/programs.env"
  local bin
  bin=$(command -v migrate) || { echo "no migrate program"; exit 1; }
  bash "$MG_ROOT/tests/gpu/test_big_model.sh" "${bin%/*}" --shape 8b --backend cuda --tsv "$MG_OUT/big_model.tsv"
}

# ---- run ----
export MG_BUNDLE=$bundle MG_BUILD=$build MG_BUNDLE_DIR=$root/build/gpu-bundle-run
[ -n "$bundle" ] && [ "$dry" = 0 ] && [ ! -f "$bundle" ] && echo "run.sh: no bundle $bundle (continuing)"
echo "tests/gpu/run.sh: deadline ${deadline}s, logs in $out"
stage env 20 st_env
stage prepare 200 st_prepare
# Library path for the programs: the bundle's own libraries, then CUDA's, then NCCL wherever it is installed.
if [ -n "$bundle" ]; then
  bin_dir=$MG_BUNDLE_DIR/bin
  lib_path=$MG_BUNDLE_DIR/lib
fi
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do [ -d "$d" ] && lib_path=${lib_path:+$lib_path:}$d; done
# Any library a program still lacks (ldd: "not found") is looked for where CUDA, pip's nvidia-* wheels (CUDA 13
# keeps them in nvidia/cu13/lib) and the system put them, and its folder added; what stays missing is printed.
find_missing_libs() {
  local b name dir
  for b in "$bin_dir"/test_cuda_parity "$bin_dir"/tests/test_cuda_parity "$bin_dir"/test_nccl \
           "$bin_dir"/tests/test_nccl "$bin_dir"/bench_cuda "$bin_dir"/test_device_engine "$bin_dir"/tests/test_device_engine \
           "$bin_dir"/migrate; do
    [ -x "$b" ] && LD_LIBRARY_PATH=$lib_path ldd "$b" 2>/dev/null | awk '$3 == "not" { print $1 }'
  done | sort -u | while read -r name; do
    dir=$(find /usr/local /opt /usr/lib /usr/lib64 -name "$name" \( -type f -o -type l \) 2>/dev/null | head -1)
    if [ -n "$dir" ]; then echo "${dir%/*}"; else echo "run.sh: $name not found on this machine" >&2; fi
  done | sort -u
}
if [ "$dry" = 0 ] && [ -z "$fake" ]; then
  for d in $(find_missing_libs); do lib_path=$lib_path:$d; done
  echo "library path: $lib_path"
fi
write_env
stage parity 90 st_parity
stage bench 100 st_bench
stage torch 120 st_torch
stage nccl 30 st_nccl
stage memcheck 120 st_memcheck
stage search 60 st_search
stage graphs 60 st_graphs
stage arc 170 st_arc 120
if [ -n "$bundle" ]; then stage source 150 st_source; fi
if [ "$big" -gt 0 ]; then
  stage_deadline=0
  stage big "$big" st_big
fi
print_table "$out"
echo "(total $((SECONDS - start)) s; logs: $log)"
if [ "$dry" = 0 ]; then  # let tee write the last lines before the script ends
  exec >&- 2>&-
  wait "$tee_pid" 2>/dev/null
fi
exit 0
