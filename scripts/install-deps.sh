#!/usr/bin/env bash
# Installs every build and test dependency of migrate from Debian 12 packages.
# Safe to re-run. CUDA is optional: if /usr/local/cuda/bin/nvcc exists the CUDA build is added.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(
  build-essential cmake ninja-build pkg-config clang
  libopenblas-openmp-dev libopenmpi-dev openmpi-bin libhdf5-dev libyaml-dev
  libpcre2-dev libjansson-dev libunistring-dev
  slurmctld slurmd slurm-client munge   # the local Slurm of the slurm tests (scripts/slurm-local.sh)
  librdkit-dev libboost-dev rdkit-data python3-rdkit zlib1g-dev   # molecule tasks (QED.py is read at build time)
  autodock-vina openbabel              # the docking oracle example (tasks/examples/docking_oracle.py)
  python3-numpy python3-seccomp        # the ARC sandbox's worker (tasks/arc/arc_worker.py)
  gnuplot-nox fonts-dejavu-core        # `migrate report` draws its figures with gnuplot
  chromium                             # its test opens the pages in a real browser (tests/unit/test_report.sh)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install-deps] installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[install-deps] all Debian packages present"
fi
