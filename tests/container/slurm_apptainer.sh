#!/usr/bin/env bash
# jobs/slurm/apptainer.sbatch on the local Slurm of scripts/slurm-local.sh, with the CPU image's root filesystem as
# the image and tests/container/apptainer_chroot.sh standing in for `apptainer exec`: `srun --mpi=pmix` starts two
# ranks of the image's migrate, whose Open MPI must join the job through the host Slurm's PMIx server, and the run
# must end bit-identical to a 1-process run in the same image. The template refuses an output_dir inside the image.
# Usage: slurm_apptainer.sh ROOTFS STUB_DIR   (from the repository root, as root; tests/container/build_and_smoke.sh
# calls it with /proc, /dev, /sys and /tmp mounted in ROOTFS). Prints "N passed, N failed"; exit 1 on a failure.
set -u
ROOTFS=$(realpath "${1:?usage: slurm_apptainer.sh ROOTFS STUB_DIR}")
STUB=${2:?usage: slurm_apptainer.sh ROOTFS STUB_DIR}
APPT=$(pwd)/tests/container/apptainer_chroot.sh
# tests/slurm/lib.sh wants a build folder holding `migrate`: here the image's, through the stand-in.
mkdir -p "$STUB"
printf '#!/bin/sh\nexec %s exec --pwd /opt/migrate %s migrate "$@"\n' "$APPT" "$ROOTFS" >"$STUB/migrate"
chmod +x "$STUB/migrate"
export MIGRATE_REQUIRE_SLURM=1   # a Slurm that cannot start here is a failure, not a skip
source tests/slurm/lib.sh "$STUB"
[ -d "$ROOTFS$TMP" ] || { echo "FAIL $TMP is not visible in the image (is /tmp bound into it?)"; exit 1; }

RUN=(jobs/semantle-demo.yaml --quiet --set iterations=3 --set lora.r=8 --set threads=1
     --set sampling.max_completion_length=8)
"$BIN" run "${RUN[@]}" --set output_dir="$TMP/np1" >"$TMP/np1.log" 2>&1
check "a 1-process run in the image" test -s "$TMP/np1/checkpoint.h5"
want=$("$BIN" inspect --digest "$TMP/np1/checkpoint.h5" 2>&1)

job=$(MIGRATE_SIF=$ROOTFS MIGRATE_PWD=/opt/migrate APPTAINER=$APPT \
      sbatch --parsable --nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 --output="$TMP/job.out" \
      jobs/slurm/apptainer.sbatch "${RUN[@]}" --set output_dir="$TMP/np2")
check "sbatch takes jobs/slurm/apptainer.sbatch with 2 ranks (id ${job:-none})" test -n "$job"
wait_gone "$job" 120
check "the job completed (state $(job_state "$job"))" test "$(job_state "$job")" = COMPLETED
sed 's/^/     | /' "$TMP/job.out"
check "srun --mpi=pmix started 2 ranks of the image's migrate as one run" \
    grep -q "2 ranks: 2 rollout, 2 learner" "$TMP/job.out"
check "job.status says the run exited 0" grep -qx "exited 0" "$TMP/np2/job.status"
got=$("$BIN" inspect --digest "$TMP/np2/checkpoint.h5" 2>&1)
check "the 2-rank run in the image equals the 1-process run ($got vs $want)" test "$got" = "$want"

# An output_dir relative to MIGRATE_PWD would be inside the read-only image: refused before anything starts.
MIGRATE_SIF=$ROOTFS MIGRATE_PWD=/opt/migrate APPTAINER=$APPT bash jobs/slurm/apptainer.sbatch jobs/semantle-demo.yaml \
    >"$TMP/rel.out" 2>&1
rc=$?
check "a relative output_dir with MIGRATE_PWD is refused (exit $rc): $(head -c 120 "$TMP/rel.out")" \
    bash -c "[ $rc = 1 ] && grep -q 'is read-only' '$TMP/rel.out'"
report
