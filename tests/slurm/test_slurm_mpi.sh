#!/usr/bin/env bash
# A 2-rank job through sbatch on the local Slurm: `srun --mpi=pmix -n 2` starts two MPI ranks that find each other
# (tests/slurm/mpi_hello.c) and a 2-rank `migrate run`, whose final state must equal a 1-process run's; and sbatch
# accepts every template in jobs/slurm/.
# Usage: test_slurm_mpi.sh BUILD_DIR   (run from the repository root)
source "$(dirname "$0")/lib.sh"

command -v mpicc >/dev/null || { echo "FAIL mpicc not found (libopenmpi-dev, scripts/install-deps.sh)"; exit 1; }
mpicc tests/slurm/mpi_hello.c -o "$TMP/mpi_hello" || { echo "FAIL cannot build tests/slurm/mpi_hello.c"; exit 1; }
RUN=(run jobs/semantle-demo.yaml --quiet --set iterations=3 --set lora.r=8 --set threads=1
     --set sampling.max_completion_length=8)
"$BIN" "${RUN[@]}" --set output_dir="$TMP/np1" >/dev/null 2>&1
want_digest=$("$BIN" inspect --digest "$TMP/np1/checkpoint.h5")

cat >"$TMP/ranks.sbatch" <<JOB
#!/bin/bash
#SBATCH --ntasks=2
#SBATCH --output=$TMP/ranks.out
srun --mpi=pmix $TMP/mpi_hello
srun --mpi=pmix $BIN ${RUN[*]} --set output_dir=$TMP/np2
JOB
job=$(sbatch --parsable "$TMP/ranks.sbatch")
check "sbatch takes a 2-rank job (id ${job:-none})" test -n "$job"
wait_gone "$job" 60
check "the 2-rank job completed (state $(job_state "$job"))" test "$(job_state "$job")" = COMPLETED
sed 's/^/     | /' "$TMP/ranks.out"
check "rank 0 of 2 saw the other rank (sum 1)" grep -q "^rank 0 of 2, sum of ranks 1$" "$TMP/ranks.out"
check "rank 1 of 2 saw the other rank (sum 1)" grep -q "^rank 1 of 2, sum of ranks 1$" "$TMP/ranks.out"
check "the 2-rank migrate run says so" grep -q "2 ranks: 2 rollout, 2 learner" "$TMP/ranks.out"
got_digest=$("$BIN" inspect --digest "$TMP/np2/checkpoint.h5" 2>&1)
check "the 2-rank run ends bit-identical to the 1-process run ($got_digest vs $want_digest)" \
    test "$got_digest" = "$want_digest"

# The templates: valid bash, and sbatch accepts their #SBATCH lines (--test-only schedules nothing). The node
# here is one with 8 CPUs, so the jobs ask for that much; the array template is the one migrate sweep fills in.
"$BIN" sweep jobs/semantle-demo.yaml --targets ocean,river --out "$TMP/sweep" --dry-run >/dev/null 2>&1
for t in jobs/slurm/one-node.sbatch jobs/slurm/many-nodes.sbatch jobs/slurm/apptainer.sbatch "$TMP/sweep/sweep.sbatch"; do
    check "bash -n $(basename "$t")" bash -n "$t"
    check "sbatch --test-only accepts $(basename "$t")" sbatch --test-only --nodes=1 --ntasks=2 --ntasks-per-node=2 \
        --cpus-per-task=1 "$t" jobs/semantle-demo.yaml
done
report
