#!/usr/bin/env bash
# What the distributed loop costs the coordinator (rank 0) per iteration, by group size and rank count, on the
# bundled demo: bytes rank 0 put into collectives, seconds it spent in them, and the iteration's wall time.
#   bench/bench_mpi.sh [BUILD_DIR] [ITERATIONS]
# Ranks beyond the cores are oversubscribed: on a 2-core machine wall times for np > 2 measure contention, the
# bytes do not depend on the machine.
set -euo pipefail
BUILD=${1:-build}
ITERS=${2:-4}
M="$BUILD/migrate"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_btl=self,vader
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# Layouts: every rank rolls out and learns (np 1, 2, 4), then disjoint roles: rank 0 a rollout rank with 3 rollout
# ranks and 1 learner, and a coordinator-only rank 0 with 2 rollout ranks and 1 learner. With disjoint roles the
# gradient is summed among the learners only, and the learner leader publishes the adapter (4 bytes per parameter
# to each non-learner rank): those bytes are the leader's, not rank 0's.
layouts=("1|" "2|" "4|" "4 (R3 L1)|--set distributed.rollout_ranks=3 --set distributed.learner_ranks=1"
         "4 (coord, R2 L1)|--set distributed.coordinator_only=true --set distributed.rollout_ranks=2 --set distributed.learner_ranks=1")
printf '| np | group (new + greedy) | adapter params | rank-0 bytes / iteration | rank-0 comm s / iteration | iteration s |\n'
printf '|---|---|---|---|---|---|\n'
for group in 6 12 24; do
    on=$((group * 2 / 3)); ns=$((group - on)); greedy=$((group / 3))
    for layout in "${layouts[@]}"; do
        label=${layout%%|*} np=${layout%%[ |]*}
        read -r -a extra <<<"${layout#*|}"
        d="$T/g$group-${label// /}"
        cmd=("$M" run jobs/semantle-demo.yaml --quiet --set iterations="$ITERS" --set save_steps=0 --set threads=1
             --set search.num_on_policy=$on --set search.num_neighborhood=$ns --set search.num_greedy=$greedy
             --set output_dir="$d" "${extra[@]}")
        if [ "$np" = 1 ]; then "${cmd[@]}" >/dev/null 2>&1; else mpirun -np "$np" "${cmd[@]}" >/dev/null 2>&1; fi
        params=$("$M" inspect "$d/checkpoint.h5" | sed -nE 's/.*: ([0-9]+) parameters in.*/\1/p')
        python3 - "$d/metrics.jsonl" "$label" "$group + $greedy" "$params" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]  # the first iteration includes warm-up
mean = lambda k: sum(r.get(k, 0.0) for r in rows) / len(rows)
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {mean('comm/bytes'):,.0f} | {mean('time/comm'):.3f} | {mean('time/iteration'):.2f} |")
PY
    done
done
