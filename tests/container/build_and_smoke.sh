#!/usr/bin/env bash
# Builds the container images and runs each one's filesystem, on a machine with no Docker daemon and a kernel that
# forbids running containers (CI's): podman builds with --isolation=chroot on vfs storage, from a Debian 12 base
# made by debootstrap; the images' root filesystems then run under chroot.
#   cpu   docker/Dockerfile: `migrate --help` and `version`, no library missing, the README's demo (fewer
#         iterations), a 2-rank run under the image's mpirun, the examples' Python (the length oracle, one
#         molecule docked by the docking oracle), no munge key baked in; the image's size.
#   cuda  docker/Dockerfile.cuda: `migrate version` (CUDA compiled in; here no GPU), no library missing,
#         engine.backend: cuda failing in one line that names the driver it needs, the demo on the CPU; the size.
#   slurm jobs/slurm/apptainer.sbatch on the local Slurm of scripts/slurm-local.sh, with a stand-in for
#         `apptainer exec` that chroots into the CPU image: srun --mpi=pmix starts 2 ranks of the image's migrate
#         (the image's Open MPI talking to the host Slurm's PMIx), whose run must equal a 1-process run.
# Usage: tests/container/build_and_smoke.sh [cpu] [cuda] [slurm]   (none: all three; as root, from anywhere)
# Installs what it needs (podman, debootstrap) with apt-get. Exits non-zero on any failure; never skips.
# MIGRATE_CI_CACHE (default /var/cache/migrate-ci) keeps the debootstrap base between runs, renewed after 7 days;
# where it cannot be written the base is made afresh each run. MIGRATE_DEBIAN_MIRROR picks the Debian mirror.
# docs/containers.md has the measured times.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
t_start=$(date +%s)
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(cpu cuda slurm)
for w in "${want[@]}"; do
  case $w in cpu | cuda | slurm) ;; *) echo "usage: $0 [cpu] [cuda] [slurm]"; exit 2 ;; esac
done
wants() { local w; for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
say() { printf '[container %4ds] %s\n' $(($(date +%s) - t_start)) "$*"; }
die() { say "FAIL $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mounts)"
need=()
command -v podman >/dev/null || need+=(podman)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- scratch space, and cleaning it up whatever happens ----
WORK=$(mktemp -d /var/tmp/migrate-ctr.XXXXXX)
free_gb=$(df -P -BG "$WORK" | awk 'NR == 2 {print int($4)}')
[ "$free_gb" -ge 25 ] || die "$free_gb GiB free under /var/tmp; the builds need about 25 (vfs stores each layer whole)"
mounts=()   # mount points made by this script, unmounted in reverse order on exit
cleanup() {
  local rc=$? i
  set +e +o pipefail   # every step below runs, whatever fails
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -R "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" || true; done
  [ -z "${P:-}" ] || "${P[@]}" image unmount -a >/dev/null 2>&1 || true
  grep " $WORK/storage" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount "$m" || true; done
  rm -rf "${SMOKE:-/nonexistent}"
  if [ -n "${SLURM_STARTED:-}" ]; then scripts/slurm-local.sh stop 9>&- >/dev/null 2>&1 || true; fi
  # Never delete a tree that still has something mounted in it (a bound /dev would go with it).
  if grep -q " $WORK/" /proc/mounts; then
    echo "[container] WARNING: mounts left under $WORK; not removing it:"; grep " $WORK/" /proc/mounts
    exit 1
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
# Storage: overlay where the kernel lets root mount one (layers are diffs: fast), else vfs (each layer a full copy:
# about twice the time and disk).
DRIVER=vfs
mkdir -p "$WORK/ovl/lower" "$WORK/ovl/upper" "$WORK/ovl/work" "$WORK/ovl/merged"
if mount -t overlay overlay -o "lowerdir=$WORK/ovl/lower,upperdir=$WORK/ovl/upper,workdir=$WORK/ovl/work" \
     "$WORK/ovl/merged" 2>/dev/null; then
  umount "$WORK/ovl/merged" && DRIVER=overlay
fi
rm -rf "$WORK/ovl"
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver "$DRIVER" --cgroup-manager cgroupfs
   --events-backend file --tmpdir "$WORK/libpod")
say "podman $(podman --version | awk '{print $3}'), $DRIVER storage in $WORK ($free_gb GiB free)"

# ---- the Debian 12 base: debootstrap, cached between runs ----
MIRROR=${MIGRATE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${MIGRATE_CI_CACHE:-/var/cache/migrate-ci}
if mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ]; then
  base_tar=$CACHE/debian12-base.tar
else
  say "cache $CACHE cannot be written: making the base afresh"
  CACHE="" base_tar=$WORK/debian12-base.tar
fi
make_base() {
  local r=$WORK/base-rootfs t0
  t0=$(date +%s)
  debootstrap --variant=minbase bookworm "$r" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
  # The image's apt gets security updates too; what debootstrap downloaded is not kept.
  local sec=${MIRROR%/debian}/debian-security
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$MIRROR" "$MIRROR" "$sec" >"$r/etc/apt/sources.list"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
  tar -C "$r" --numeric-owner -cf "$base_tar.tmp" .
  mv "$base_tar.tmp" "$base_tar"
  rm -rf "$r"
  say "debootstrap base made in $(($(date +%s) - t0)) s ($(du -m "$base_tar" | cut -f1) MB tar)"
}
t0=$(date +%s)
{
  [ -z "$CACHE" ] || flock -w 1200 9 || die "another run held $CACHE/lock for 20 minutes"
  if [ -n "$CACHE" ] && [ -s "$base_tar" ] && [ -z "$(find "$base_tar" -mtime +7)" ] && tar -tf "$base_tar" >/dev/null 2>&1; then
    say "debootstrap base from the cache ($base_tar, $(( ($(date +%s) - $(stat -c %Y "$base_tar")) / 3600 )) h old)"
  else
    make_base
  fi
} 9>"${CACHE:-$WORK}/lock"
BASE=localhost/migrate-ci/debian:12
"${P[@]}" import -q "$base_tar" "$BASE" >/dev/null || die "podman import of the base failed"
t_base=$(($(date +%s) - t0))

source "$ROOT/tests/checks.sh"  # check NAME COMMAND...: counts into $passed / $failed

# build TAG DOCKERFILE: podman build; the log is kept, its end shown on failure.
build() {
  local tag=$1 file=$2 t0
  t0=$(date +%s)
  if ! "${P[@]}" build --isolation=chroot --build-arg BASE="$BASE" "${secret[@]}" -f "$file" -t "$tag" "$ROOT" \
       >"$WORK/build-${tag##*:}.log" 2>&1; then
    tail -60 "$WORK/build-${tag##*:}.log"
    die "podman build -f $file failed"
  fi
  local mb
  mb=$(( $("${P[@]}" image inspect --format '{{.Size}}' "$tag") / 1000000 ))
  say "built $tag from $file in $(($(date +%s) - t0)) s: $mb MB"
  sizes+=("$tag $mb MB")
}
sizes=()
# The CA bundle this machine's pip trusts (a TLS-re-signing proxy's CA, where there is one) goes to the CUDA build's
# pip step as a build secret (docker/Dockerfile.cuda): never into an image.
secret=()
ca=${PIP_CERT:-$(pip3 config get global.cert 2>/dev/null || true)}
[ -s "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] && secret=(--secret "id=ca-bundle,src=$ca")

# rootfs TAG: R = the image's root filesystem (podman image mount), with /proc, /dev, /sys and the host's /tmp
# mounted in it as `apptainer exec` has them; the runs write only under /tmp ($SMOKE, the same path in and out).
rootfs() {
  local r m
  r=$("${P[@]}" image mount "$1") && [ -d "$r/usr" ] || die "podman image mount $1 failed"
  for m in proc dev sys tmp; do
    case $m in
      proc) mount -t proc proc "$r/proc" ;;
      *) mount --rbind "/$m" "$r/$m" && mount --make-rslave "$r/$m" ;;
    esac
    mounts+=("$r/$m")
  done
  R=$r
}
# in_image ROOT CMD...: CMD by bash -c in the image's /opt/migrate, with an environment of its own (not the host's).
in_image() {
  local r=$1
  shift
  chroot "$r" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    OMP_NUM_THREADS="$(nproc)" /bin/bash -c "cd /opt/migrate && $*"
}
export -f in_image
SMOKE=$(mktemp -d /tmp/migrate-ctr-smoke.XXXXXX)
chmod 755 "$SMOKE"
# 5 iterations of the README's demo (scripts/demo.sh runs 50: minutes on 2 cores); the image's own job file.
DEMO="migrate run jobs/semantle-demo.yaml --overwrite --set iterations=5"

# ---- the CPU image ----
if wants cpu || wants slurm; then
  build localhost/migrate:cpu docker/Dockerfile
  t0=$(date +%s)
  rootfs localhost/migrate:cpu
  CPU_ROOT=$R
  check "cpu: migrate --help" bash -c "in_image '$R' 'migrate --help' | grep -q '^usage: migrate'"
  in_image "$R" "migrate version" | sed 's/^/     | /'
  check "cpu: migrate version: the CPU engine, OpenBLAS's OpenMP build" \
    bash -c "in_image '$R' 'migrate version' | grep -q 'engines: cpu' && in_image '$R' 'migrate version' | grep -q USE_OPENMP"
  check "cpu: ldd finds every library" bash -c "! in_image '$R' 'ldd /usr/local/bin/migrate' | grep 'not found'"
  if in_image "$R" "$DEMO --set output_dir=$SMOKE/cpu-demo" >"$WORK/cpu-demo.log" 2>&1; then demo_rc=0; else demo_rc=$?; fi
  tail -3 "$WORK/cpu-demo.log" | sed 's/^/     | /'
  check "cpu: the demo runs (exit $demo_rc)" test "$demo_rc" = 0
  check "cpu: the demo wrote summary.json" test -s "$SMOKE/cpu-demo/summary.json"
  in_image "$R" "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -n 2 \
      migrate run jobs/semantle-demo.yaml --overwrite --set iterations=2 --set lora.r=8 --set threads=1 \
      --set output_dir=$SMOKE/np2" >"$WORK/cpu-mpi.log" 2>&1 || true
  check "cpu: 2 ranks under the image's mpirun share one run" grep -q "2 ranks: 2 rollout, 2 learner" "$WORK/cpu-mpi.log"
  check "cpu: the length oracle's Python answers" bash -c \
    "echo '{\"id\": 1, \"candidate\": \"hello world!\"}' | in_image '$R' 'python3 tasks/examples/length_oracle.py' | grep -q '\"reward\": 1.0'"
  in_image "$R" "echo '{\"id\": 1, \"candidate\": \"c1ccccc1O\"}' | python3 tasks/examples/docking_oracle.py \
      --receptor tasks/examples/docking/receptor.pdbqt.gz --center 11 90.5 57.5 --size 14 14 14 \
      --exhaustiveness 1 --cpu 1" >"$WORK/cpu-dock.log" 2>&1 || true
  sed 's/^/     | /' "$WORK/cpu-dock.log" | tail -2
  check "cpu: the docking oracle docks phenol (RDKit's Python, Open Babel, Vina)" grep -q '"valid": true' "$WORK/cpu-dock.log"
  check "cpu: the ARC worker's Python modules import (numpy, seccomp)" in_image "$R" "python3 -c 'import numpy, seccomp'"
  check "cpu: no munge key in the image" test ! -e "$R/etc/munge/munge.key"
  check "cpu: Slurm's client is there (sbatch, srun, scontrol)" in_image "$R" "command -v sbatch srun scontrol >/dev/null"
  echo "     | the largest packages (installed MB): $(in_image "$R" "dpkg-query -W -f='\${Installed-Size} \${Package}\n'" |
    sort -rn | head -12 | awk '{printf "%s %d, ", $2, $1 / 1024}')"
  say "cpu image smoke runs: $(($(date +%s) - t0)) s"
fi

# ---- Slurm: srun --mpi=pmix into the image, through jobs/slurm/apptainer.sbatch ----
if wants slurm; then
  t0=$(date +%s)
  check "slurm: tests/container/slurm_apptainer.sh (its lines above)" \
    bash tests/container/slurm_apptainer.sh "$CPU_ROOT" "$WORK/slurm-stub"
  say "Slurm with the image: $(($(date +%s) - t0)) s"
fi

# ---- the CUDA image ----
if wants cuda; then
  build localhost/migrate:cuda docker/Dockerfile.cuda
  t0=$(date +%s)
  rootfs localhost/migrate:cuda
  in_image "$R" "migrate version" >"$WORK/cuda-version.log" 2>&1 || true
  sed 's/^/     | /' "$WORK/cuda-version.log"
  check "cuda: migrate version: the CUDA engine compiled in, runtime 13.0, sm_80 and sm_90" \
    grep -q "^CUDA: runtime 13.0 (needs driver R580+), kernels for sm_80 sm_90" "$WORK/cuda-version.log"
  check "cuda: ldd finds every library (libcuda.so.1 comes from the host's driver at run time)" \
    bash -c "! in_image '$R' 'ldd /usr/local/bin/migrate' | grep 'not found'"
  if in_image "$R" "$DEMO --set iterations=1 --set engine.backend=cuda --set output_dir=$SMOKE/gpu" \
       >"$WORK/cuda-nogpu.log" 2>&1; then gpu_rc=0; else gpu_rc=$?; fi
  sed 's/^/     | /' "$WORK/cuda-nogpu.log"
  if grep -q "GPU usable" "$WORK/cuda-version.log"; then
    check "cuda: engine.backend cuda without a GPU fails (exit $gpu_rc)" test "$gpu_rc" != 0
    check "cuda: ... in one line" test "$(wc -l <"$WORK/cuda-nogpu.log")" = 1
    check "cuda: ... naming the driver it needs" grep -q "needs an NVIDIA GPU (sm_80 or newer) with a driver of the R580" \
      "$WORK/cuda-nogpu.log"
  else
    check "cuda: engine.backend cuda on this machine's GPU (exit $gpu_rc)" test "$gpu_rc" = 0
  fi
  if in_image "$R" "$DEMO --set iterations=2 --set output_dir=$SMOKE/demo" >"$WORK/cuda-demo.log" 2>&1; then
    cdemo_rc=0; else cdemo_rc=$?; fi
  check "cuda: the demo runs on the CPU engine (exit $cdemo_rc)" test "$cdemo_rc" = 0
  check "cuda: NVIDIA's license texts are in the image" test -s "$R/usr/share/doc/nvidia-cuda-wheels/nvidia_cublas-13.0.2.14.txt"
  say "cuda image smoke runs: $(($(date +%s) - t0)) s"
fi

say "sizes: ${sizes[*]:-none}; base ${t_base} s; total $(($(date +%s) - t_start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
