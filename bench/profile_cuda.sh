#!/usr/bin/env bash
# Where the GPU time of a decode step and of a GRPO step goes, on a machine with an NVIDIA GPU: ncu times every
# kernel inside bench_cuda --profile's ranges (the last decode step of a batch, one warm GRPO step) and
# bench/ncu_summary.py sums them by kernel, largest first. Each ncu run is one CSV in OUT.
#
#   bench/profile_cuda.sh --env PROGRAMS_ENV [--out DIR] [--models llama,qwen] [--batches 1,64]
#
# PROGRAMS_ENV is what `tests/gpu/run.sh --only env,prepare` writes (PATH and LD_LIBRARY_PATH for the programs).
# Kernel times are ncu's (each launch serialized, clocks as found: --clock-control none); the sum leaves out the
# gaps between launches, which the benchmark's step time includes.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
env_file=
out=${OUT:-/tmp/profile_cuda}
models=llama,qwen
batches=1,64
while [ $# -gt 0 ]; do
  case $1 in
    --env) env_file=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --models) models=${2:?}; shift 2 ;;
    --batches) batches=${2:?}; shift 2 ;;
    *) echo "usage: bench/profile_cuda.sh --env PROGRAMS_ENV [--out DIR] [--models M,...] [--batches B,...]" >&2
       exit 2 ;;
  esac
done
[ -f "$env_file" ] || { echo "profile_cuda.sh: no programs file '$env_file' (tests/gpu/run.sh --only env,prepare)" >&2; exit 2; }
# shellcheck disable=SC1090
source "$env_file"
command -v ncu >/dev/null || { echo "profile_cuda.sh: ncu (Nsight Compute) is not on PATH" >&2; exit 1; }
mkdir -p "$out"
ncu_run() {  # ncu_run NAME bench_cuda-args...: one CSV per run, bounded in time
  local name=$1
  shift
  echo "== $name: bench_cuda --profile $*"
  timeout 150 ncu --profile-from-start off --clock-control none --metrics gpu__time_duration.sum --csv \
    --log-file "$out/ncu_$name.csv" bench_cuda --profile "$@" || echo "profile_cuda.sh: $name failed or timed out"
}
for m in ${models//,/ }; do
  for b in ${batches//,/ }; do ncu_run "${m}_decode_b$b" --models "$m" --batches "$b" --new 6 --no-train; done
  ncu_run "${m}_grpo" --models "$m" --no-decode
done
python3 bench/ncu_summary.py "$out"/ncu_*.csv
