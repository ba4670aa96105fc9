#!/usr/bin/env bash
# Builds the GPU programs on this machine (no GPU needed: nvcc and the project's dependencies) and packs them, with
# the non-system shared libraries they load, into one compressed file that tests/gpu/run.sh --bundle unpacks on a
# GPU machine, which may have CUDA but not the project's build dependencies (OpenBLAS, jansson, ...).
#
#   tests/gpu/pack.sh [--arch 90] [--build DIR] [--out FILE] [--slim]   (defaults: sm_90 for H100/H200,
#                                                                  build/gpu-pack, build/gpu-bundle.tar.xz)
#
# --slim leaves OpenBLAS (with its libgfortran and libquadmath: 4-5 MB of the ~14 MB bundle) to the GPU machine,
# whose image has one (run.sh finds it there): the device tool carries at most 64 MiB, the working tree included.
# Left out of the bundle: the C library family and libstdc++ (the GPU machine's own, newer ones serve), and the
# driver's libcuda, cuBLAS and NCCL (hundreds of MB; run.sh finds them there). The CUDA runtime, small, travels. Built without
# -march=native: the GPU machine's CPU may lack this one's instructions.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
arch=90
build=build/gpu-pack
out=build/gpu-bundle.tar.xz
slim=0
while [ $# -gt 0 ]; do
  case $1 in
    --arch) arch=${2:?}; shift 2 ;;
    --build) build=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --slim) slim=1; shift ;;
    *) echo "usage: tests/gpu/pack.sh [--arch 90] [--build DIR] [--out FILE] [--slim]" >&2; exit 2 ;;
  esac
done
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMIGRATE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  -DMIGRATE_NATIVE=OFF -DMIGRATE_RDKIT=OFF >/dev/null
cmake --build "$build" -j2 --target test_cuda_parity test_device_engine test_attention_gemm test_nccl bench_cuda migrate \
  make_random_llama
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
cp "$build/tests/test_cuda_parity" "$build/tests/test_device_engine" "$build/tests/test_attention_gemm" "$build/tests/test_nccl" "$build/bench_cuda" "$build/migrate" "$stage/bin/"
cp "$build/tests/make_random_llama" "$stage/bin/"  # the big stage's checkpoint writer
for b in "$stage"/bin/*; do ldd "$b"; done | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
  while read -r name path; do
    case $name in
      libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | libresolv.so* | ld-linux* | libstdc++* | libgcc_s* | \
        libcuda.so* | libcublas* | libnccl*) continue ;;
      libopenblas* | libgfortran* | libquadmath*) [ "$slim" = 1 ] && continue ;;
    esac
    cp -L "$path" "$stage/lib/$name"
  done
mkdir -p "$(dirname "$out")"
XZ_OPT="-9 -T2" tar -cJf "$out" -C "$stage" .
echo "$out: $(du -h "$out" | cut -f1):"
tar -tJf "$out" | grep -v '/$' | tr '\n' ' '
echo
