#!/usr/bin/env bash
# Engine vs PyTorch on one machine, one run, same thread count (docs/benchmarks.md has the table and analysis).
#
#   bench/run.sh [--threads N] [--quick] [--build DIR] [--out DIR] [--profile] [--openmp-blas DIR]
#
# 1. builds bench_engine (Release) in DIR (default build-bench);
# 2. writes a random ~15.7M-parameter Llama-3-shaped model (fp32 safetensors + config.json) to a temp folder;
# 3. checks that the engine's logits agree between OpenBLAS's default core and OPENBLAS_CORETYPE=SkylakeX, and
#    that PyTorch's logits agree with the engine's on the same weights;
# 4. runs the engine (OpenBLAS default core; SkylakeX; SkylakeX + OMP_WAIT_POLICY=passive) and bench_torch.py,
#    all with N threads (default: nproc);
# 5. prints one table: tokens/s, achieved GFLOP/s, PyTorch time / engine time, and the sgemm floor of each side.
# The machine should be quiet: each run waits (up to QUIET_WAIT seconds, default 60) for the CPUs to go idle and
# prints how idle they were. --profile adds the engine's per-kernel breakdown of a decode run and a LoRA step. --openmp-blas DIR adds a
# fourth engine run with the OpenMP build of the same OpenBLAS: DIR holds its libopenblas.so.0, or "auto" fetches
# Debian's libopenblas0-openmp with apt-get download and unpacks it in the temp folder (nothing is installed).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-bench
threads=$(nproc)
quick=()
profile=()
out=
ompblas=
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --quick) quick=(--quick); shift ;;
    --profile) profile=(--profile); shift ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --openmp-blas) ompblas=$2; [ "$2" = auto ] || ompblas=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: bench/run.sh [--threads N] [--quick] [--build DIR] [--out DIR] [--profile] [--openmp-blas DIR]" >&2
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

echo "== machine"
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|L2|L3)' | sed 's/  */ /g'
grep MemTotal /proc/meminfo
echo "threads: $threads"

echo "== model"
"$engine" --save "$tmp/model"

echo "== agreement checks"
env -u OPENBLAS_CORETYPE "$engine" --threads "$threads" --dump "$out/dump_default.json"
OPENBLAS_CORETYPE=SkylakeX "$engine" --threads "$threads" --dump "$out/dump_skylakex.json"
python3 - "$out/dump_default.json" "$out/dump_skylakex.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
d = max(abs(x - y) for x, y in zip(a["logits"], b["logits"]))
print(f"engine, default core vs SkylakeX: logits max |diff| {d:.3g}, mean logp {a['mean_logp']:.7f} vs "
      f"{b['mean_logp']:.7f}")
if d > 1e-4 or abs(a["mean_logp"] - b["mean_logp"]) > 1e-4:
    sys.exit("engine results differ between OpenBLAS core types beyond float noise")
PY

# Engine configurations, "label|environment|extra flags". OpenBLAS 0.3.21 does not know this CPU and falls back to
# its generic Prescott kernels unless told the core type; OMP_WAIT_POLICY=passive stops libgomp's idle threads from
# spinning against OpenBLAS's own thread pool; the OpenMP build of OpenBLAS shares one pool (docs/benchmarks.md).
# The two as-shipped configurations are slow (thread-pool contention), so they run only batch 16 and the LoRA step.
short="--only sgemm,sample,lora --batches 16 --repeats 3"
configs=("default|-u OPENBLAS_CORETYPE|$short" "skylakex|OPENBLAS_CORETYPE=SkylakeX|$short"
         "skylakex_passive|OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=passive|")
if [ "$ompblas" = auto ]; then
  # Debian's OpenMP build of the same OpenBLAS, unpacked here, not installed.
  if (cd "$tmp" && apt-get download -q libopenblas0-openmp >/dev/null 2>&1) && dpkg -x "$tmp"/libopenblas0-openmp_*.deb "$tmp/ompblas"; then
    ompblas=$(dirname "$(find "$tmp/ompblas" -name libopenblas.so.0 | head -1)")
  else
    echo "(could not fetch libopenblas0-openmp; skipping that configuration)"
    ompblas=
  fi
fi
[ -n "$ompblas" ] && configs+=("skylakex_ompblas|OPENBLAS_CORETYPE=SkylakeX LD_LIBRARY_PATH=$ompblas|")
labels=()
for c in "${configs[@]}"; do
  IFS='|' read -r label envs flags <<<"$c"
  labels+=("$label")
  read -r -a envs <<<"$envs"
  read -r -a flags <<<"$flags"
  echo "== engine, $label (${envs[*]})"
  wait_quiet "engine $label"
  env "${envs[@]}" "$engine" --threads "$threads" --json "$out/engine_$label.json" "${flags[@]}" "${quick[@]}" \
    "${profile[@]}"
done
echo "== PyTorch"
wait_quiet pytorch
python3 "$root/bench/bench_torch.py" --model "$tmp/model" --threads "$threads" --dump "$out/dump_default.json" \
  --json "$out/torch.json" "${quick[@]}" 2> >(grep -v -E 'Loading weights|original_max_position|FutureWarning|warnings.warn' >&2)

echo "== comparison ($threads threads; [PyTorch time / engine time])"
python3 - "$out" "${labels[@]}" <<'PY'
import json, sys
d, labels = sys.argv[1], sys.argv[2:]
eng = {k: json.load(open(f"{d}/engine_{k}.json")) for k in labels}
pt = json.load(open(f"{d}/torch.json"))["results"]
names = {"default": f"engine {eng['default']['openblas_core']}", "skylakex": "engine SkylakeX",
         "skylakex_passive": "SkylakeX+passive", "skylakex_ompblas": "SkylakeX+OpenMP BLAS"}
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
print("sgemm floor, GFLOP/s:")
for n, r in cols:
    sg = {k[6:]: v.get("gflops", 0) for k, v in r.items() if k.startswith("sgemm ")}
    print(f"  {n:<18} " + ", ".join(f"{k} {g:.0f}" for k, g in sg.items()))
PY
echo "(JSON results in $out)"
