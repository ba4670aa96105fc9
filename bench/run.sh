#!/usr/bin/env bash
# Engine vs PyTorch on one machine, one run, same thread count (docs/benchmarks.md has the table and analysis).
#
#   bench/run.sh [--threads N] [--quick] [--build DIR] [--out DIR] [--profile] [--pthread-blas] [--arc]
#
# 1. builds bench_engine (Release) in DIR (default build-bench);
# 2. writes a random ~15.7M-parameter Llama-3-shaped model (fp32 safetensors + config.json) to a temp folder;
# 3. checks that the engine's logits agree between the kernels OpenBLAS picks by itself (MIGRATE_NO_REEXEC=1:
#    generic "Prescott" on CPUs OpenBLAS 0.3.21 does not know) and those the program selects by re-executing
#    itself (kernels/cpu/blas_setup.h), and that PyTorch's logits agree with the engine's on the same weights;
# 4. runs the engine as shipped (OpenMP OpenBLAS, kernels selected at start), then with OpenBLAS's own choice of
#    kernels (batch 16 and the LoRA step only), then bench_torch.py, all with N threads (default: nproc);
# 5. prints one table: tokens/s, achieved GFLOP/s, PyTorch time / engine time, the sgemm floor of each side and
#    the fp32 FMA peak (the ceiling no fp32 GEMM can pass).
# The machine should be quiet: each run waits (up to QUIET_WAIT seconds, default 60) for the CPUs to go idle,
# prints how idle they were, and afterwards how much of the machine other processes took while it ran.
# --profile adds the engine's per-kernel breakdown of a decode run and a LoRA step.
# --pthread-blas adds the engine on Debian's default pthread OpenBLAS (through LD_LIBRARY_PATH, which comes before
# the programs' run path), as it was linked before: with its own kernel choice, and with the re-exec (which then
# also sets OMP_WAIT_POLICY=passive).
# --arc runs the ARC shape instead (one 1024-token prompt, 16 samples of 256 new tokens): the engine's sampling and
# GRPO LoRA update with the prompt shared and not, then PyTorch + peft the usual way, back to back, and prints their
# table. PYTHON names the interpreter with torch, transformers and peft (default python3).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-bench
threads=$(nproc)
quick=()
profile=()
out=
pthread_blas=0
arc=0
python=${PYTHON:-python3}
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --quick) quick=(--quick); shift ;;
    --profile) profile=(--profile); shift ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --pthread-blas) pthread_blas=1; shift ;;
    --arc) arc=1; shift ;;
    *) echo "usage: bench/run.sh [--threads N] [--quick] [--build DIR] [--out DIR] [--profile] [--pthread-blas]" \
            "[--arc]" >&2
       exit 2 ;;
  esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=${out:-$tmp}
mkdir -p "$out"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target bench_engine -j2 >/dev/null
engine=$build/bench_engine

# Percentage of the machine's CPU time that was idle over one second.
idle_pct() {
  local u n s i w q sq st t1 i1
  read -r _ u n s i w q sq st _ </proc/stat
  t1=$((u + n + s + i + w + q + sq + st)) i1=$((i + w))
  sleep 1
  read -r _ u n s i w q sq st _ </proc/stat
  echo $((100 * (i + w - i1) / (u + n + s + i + w + q + sq + st - t1)))
}
wait_quiet() {  # up to QUIET_WAIT seconds (default 60) for two idle seconds in a row
  local idle=0 prev=0 tries=0
  while [ $tries -lt "${QUIET_WAIT:-60}" ]; do
    prev=$idle idle=$(idle_pct) tries=$((tries + 1))
    [ "$idle" -ge 90 ] && [ "$prev" -ge 90 ] && break
  done
  echo "[$1: machine ${idle}% idle before the run; load $(cut -d' ' -f1-3 /proc/loadavg)]"
}
# Runs a command and then prints how much of the machine other processes took meanwhile (all CPU time spent,
# less the command's own): a 2-thread run on a 2-core machine is only worth reading when that is near 0.
measured() {
  local label=$1 u n s i w q sq st t0 i0 ours
  shift
  read -r _ u n s i w q sq st _ </proc/stat
  t0=$((u + n + s + i + w + q + sq + st)) i0=$((i + w))
  local TIMEFORMAT="%U %S"
  { time "$@" 2>&3; } 3>&2 2>"$tmp/time_$label"
  read -r _ u n s i w q sq st _ </proc/stat
  read -r ours <"$tmp/time_$label" || true
  awk -v t=$((u + n + s + i + w + q + sq + st - t0)) -v idle=$((i + w - i0)) -v ours="$ours" -v l="$label" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN { split(ours, c, " "); o = (t - idle) / hz - c[1] - c[2]; if (o < 0) o = 0;
      printf "[%s: other processes used %.0f%% of the machine during the run]\n", l, 100 * o / (t / hz) }'
}

echo "== machine"
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|L2|L3)' | sed 's/  */ /g'
grep MemTotal /proc/meminfo
echo "threads: $threads"

echo "== model"
"$engine" --save "$tmp/model"

echo "== agreement checks"
# The program as shipped: no BLAS settings inherited from the caller.
unset OPENBLAS_CORETYPE OMP_WAIT_POLICY MIGRATE_NO_REEXEC MIGRATE_BLAS_REEXEC
MIGRATE_NO_REEXEC=1 "$engine" --threads "$threads" --dump "$out/dump_default.json"
"$engine" --threads "$threads" --dump "$out/dump_shipped.json"
python3 - "$out/dump_default.json" "$out/dump_shipped.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
d = max(abs(x - y) for x, y in zip(a["logits"], b["logits"]))
print(f"engine, OpenBLAS's own core ({a['openblas_core']}) vs selected core ({b['openblas_core']}): logits max "
      f"|diff| {d:.3g}, mean logp {a['mean_logp']:.7f} vs {b['mean_logp']:.7f}")
if d > 1e-4 or abs(a["mean_logp"] - b["mean_logp"]) > 1e-4:
    sys.exit("engine results differ between OpenBLAS core types beyond float noise")
PY

# Engine configurations, "label|environment|extra flags". "shipped" is the program as built and run with no
# settings: OpenMP OpenBLAS (one thread pool), and OpenBLAS's kernels selected for this CPU by the re-exec.
# "default_core" turns the re-exec off: OpenBLAS 0.3.21 falls back to generic SSE3 kernels on CPUs it does not know.
# The pthread-BLAS runs load Debian's default OpenBLAS, whose own thread pool competes with OpenMP's. All but
# "shipped" run only batch 16 and the LoRA step, to keep run.sh short.
short="--only sgemm,sample,lora --batches 16 --repeats 3"
pthread_dir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/openblas-pthread
configs=("shipped|-u MIGRATE_NO_REEXEC|" "default_core|MIGRATE_NO_REEXEC=1|$short")
torch_only=()
if [ "$arc" = 1 ]; then  # the ARC shape alone, engine as shipped; profile and pthread runs do not apply
  configs=("shipped|-u MIGRATE_NO_REEXEC|--only arc")
  torch_only=(--only arc)
  profile=() pthread_blas=0
fi
if [ "$pthread_blas" = 1 ]; then
  configs+=("pthread_default|MIGRATE_NO_REEXEC=1 LD_LIBRARY_PATH=$pthread_dir|$short"
            "pthread_reexec|LD_LIBRARY_PATH=$pthread_dir|$short")
fi
labels=()
for c in "${configs[@]}"; do
  IFS='|' read -r label envs flags <<<"$c"
  labels+=("$label")
  read -r -a envs <<<"$envs"
  read -r -a flags <<<"$flags"
  echo "== engine, $label (${envs[*]})"
  wait_quiet "engine $label"
  measured "engine $label" env "${envs[@]}" "$engine" --threads "$threads" --json "$out/engine_$label.json" \
    "${flags[@]}" "${quick[@]}" "${profile[@]}"
done
echo "== PyTorch"
wait_quiet pytorch
measured pytorch "$python" "$root/bench/bench_torch.py" --model "$tmp/model" --threads "$threads" \
  --dump "$out/dump_shipped.json" --json "$out/torch.json" "${quick[@]}" "${torch_only[@]}" \
  2> >(grep -v -E 'Loading weights|original_max_position|FutureWarning|warnings.warn' >&2)

if [ "$arc" = 0 ]; then
echo "== comparison ($threads threads; [PyTorch time / engine time])"
python3 - "$out" "${labels[@]}" <<'PY'
import json, sys
d, labels = sys.argv[1], sys.argv[2:]
eng = {k: json.load(open(f"{d}/engine_{k}.json")) for k in labels}
pt = json.load(open(f"{d}/torch.json"))["results"]
names = {"shipped": f"engine ({eng['shipped']['openblas_core']})",
         "default_core": f"engine ({eng['default_core']['openblas_core']})",
         "pthread_default": "pthread BLAS", "pthread_reexec": "pthread BLAS+reexec"}
cols = [(names.get(k, k), eng[k]["results"]) for k in labels] + [("PyTorch", pt)]
W = 31
print(f"{'workload':<16}" + "".join(f"{n:>{W}}" for n, _ in cols))
for w in ("sample batch 1", "sample batch 16", "sample batch 64", "train step lora", "train step full"):
    ref = next((r[w] for _, r in cols if w in r and "flops" in r[w]), None)
    if ref is None:
        continue
    line = f"{w:<16}"
    for n, r in cols:
        e = r.get(w)
        if not e:
            line += f"{'-':>{W}}"
            continue
        ratio = f" [{pt[w]['median_s'] / e['median_s']:4.2f}x]" if n != "PyTorch" and w in pt else ""
        line += f"{e['per_s']:7.0f} tok/s {ref['flops'] / e['median_s'] / 1e9:5.1f} GF{ratio}".rjust(W)
    print(line)
print("tok/s: new tokens for sampling, all tokens for training; GF: achieved model GFLOP/s (docs/benchmarks.md)")
print("fp32 FMA peak (the ceiling), sgemm floor and the engine's batch-invariant GEMM, GFLOP/s:")
for n, r in cols:
    sg = {k: v.get("gflops", 0) for k, v in r.items() if k.startswith(("fma ", "sgemm ", "invariant "))}
    print(f"  {n:<18} " + ", ".join(f"{k} {g:.0f}" for k, g in sg.items()))
PY
fi
if [ "$arc" = 1 ]; then
  echo "== ARC shape ($threads threads; [PyTorch time / engine time])"
  python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
eng = json.load(open(f"{d}/engine_shipped.json"))["results"]
pt = json.load(open(f"{d}/torch.json"))["results"]
rows = (("sampling", "arc sample"), ("GRPO LoRA update", "arc train lora"))
cols = ("engine, prompt per sample", "engine, prompt shared", "PyTorch + peft")
W = 38
print(f"{'one 1024-token prompt, 16 x 256':<34}" + "".join(f"{c:>{W}}" for c in cols))
for title, key in rows:
    cells = [eng[key + " unshared"], eng[key + " shared"], dict(pt[key])]
    cells[2]["flops"] = cells[0]["flops"]  # PyTorch does the unshared work
    line = f"{title:<34}"
    for i, e in enumerate(cells):
        ratio = f" [{pt[key]['median_s'] / e['median_s']:5.2f}x]" if i < 2 else ""
        line += (f"{e['median_s']:7.2f} s {e['per_s']:6.0f} tok/s {e['flops'] / e['median_s'] / 1e9:5.1f} GF"
                 + ratio).rjust(W)
    print(line)
    runs = ", ".join(str(c["runs"]) for c in cells)
    mins = ", ".join(f"{c['min_s']:.2f}" for c in cells)
    gflop = ", ".join(f"{c['flops'] / 1e9:.0f}" for c in cells)
    print(f"{'':<34}  runs {runs}; min {mins} s; GFLOP counted {gflop}")
chk = eng.get("arc checks", {})
print(f"engine checks: completions identical with sharing on and off: {chk.get('completions_identical')}; "
      f"scored log-probs, shared vs unshared packing: max |diff| {chk.get('logp_max_abs_diff', float('nan')):.3g}")
print("tok/s: new tokens for sampling, all 16 x 1280 tokens for the update; GF: GFLOP counted / time, where the")
print("count is the work each column does (PyTorch: the unshared count); ratio = PyTorch time / engine time")
PY
fi
echo "(JSON results in $out)"
