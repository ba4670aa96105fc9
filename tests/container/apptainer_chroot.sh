#!/bin/bash
# A stand-in for `apptainer exec` where Apptainer is not installed and the kernel runs no containers (CI): runs CMD
# in IMAGE, a root filesystem folder (what Apptainer calls a sandbox), by chroot. It takes what
# jobs/slurm/apptainer.sbatch passes, `exec [--nv] [--pwd DIR] IMAGE CMD...`, and like Apptainer keeps the
# caller's environment (PATH becomes the image's) and starts in DIR, else in the current folder. The caller mounts
# /proc, /dev, /sys and /tmp in IMAGE first, as Apptainer binds them. Needs root (chroot).
set -euo pipefail
[ "${1:-}" = exec ] || { echo "apptainer stand-in: only 'exec' is supported" >&2; exit 2; }
shift
dir=$PWD
while [ $# -gt 0 ]; do
    case $1 in
        --nv) shift ;;  # no GPUs here
        --pwd) dir=${2:?--pwd needs a folder}; shift 2 ;;
        -*) echo "apptainer stand-in: option $1 is not supported" >&2; exit 2 ;;
        *) break ;;
    esac
done
img=${1:?usage: apptainer_chroot.sh exec [--nv] [--pwd DIR] IMAGE CMD...}
shift
[ -d "$img/usr" ] || { echo "apptainer stand-in: $img is not a root filesystem folder" >&2; exit 2; }
exec chroot "$img" /usr/bin/env PATH=/usr/local/bin:/usr/bin:/bin /bin/sh -c 'cd "$1" && shift && exec "$@"' sh \
    "$dir" "$@"
