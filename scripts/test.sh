#!/usr/bin/env bash
# Installs the Debian dependencies, builds and runs every test of migrate. Exits non-zero on any failure.
#   1. Release build with -Werror: all ctest labels (unit, parity, resume, fuzz corpus replay), then the slurm
#      label against a single-node Slurm the tests start on localhost.
#   2. ASan + UBSan build: the same tests again under the sanitizers.
#   3. clang libFuzzer build: each fuzz target fuzzes for a short smoke run (long runs: see README).
#   4. Container images: the CPU and CUDA images built with podman and run under chroot, and the Slurm template for
#      Apptainer run into the image (tests/container/build_and_smoke.sh; docs/containers.md has its times).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/install-deps.sh
JOBS=$(nproc)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# install-deps.sh installed Vina, Open Babel and RDKit's Python: the docking test must run, not skip.
export MIGRATE_REQUIRE_DOCKING=1
# ... and Chromium: the report test must open its pages in the browser, not skip.
export MIGRATE_REQUIRE_BROWSER=1

step() { printf '\n==== %s ====\n' "$*"; }

step "release build (-Werror)"
cmake -S . -B build/ci-release -G Ninja -DMIGRATE_WERROR=ON >/dev/null
cmake --build build/ci-release -j"$JOBS"
step "release tests"
(cd build/ci-release && ctest --output-on-failure -j2 -LE slurm)
step "Slurm tests (a real single-node Slurm on localhost)"
(cd build/ci-release && MIGRATE_REQUIRE_SLURM=1 ctest --output-on-failure -L slurm)

step "ASan + UBSan build"
# The CUDA backend is compiled and linked in the release build; here its kernels run on the CPU emulation only
# (test_cuda_parity_emu), so nvcc is skipped.
cmake -S . -B build/ci-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMIGRATE_SANITIZE=ON -DMIGRATE_WERROR=ON \
    -DMIGRATE_CUDA=OFF >/dev/null
cmake --build build/ci-asan -j"$JOBS"
step "ASan + UBSan tests"
(cd build/ci-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions="$ROOT/tests/lsan.supp" \
    ctest --output-on-failure -j2 -LE slurm)

step "libFuzzer build (clang) and smoke fuzzing"
cmake -S . -B build/ci-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DMIGRATE_FUZZ=ON -DMIGRATE_WERROR=ON >/dev/null
cmake --build build/ci-fuzz -j"$JOBS"
(cd build/ci-fuzz && ctest --output-on-failure -L fuzz)

step "container images (podman build, chroot smoke runs, Slurm into the image)"
bash tests/container/build_and_smoke.sh

step "all test stages passed"
