// Several independent searches in one job: every element of a sweep (strategies x targets x seeds x grid) runs
// over the same ranks, sharing one copy of the model weights. Each element is a run_job with its own adapter,
// optimizer, archive, metrics and checkpoint in SWEEP_DIR/i; the loop gives each unfinished element one iteration
// in turn, and an iteration uses every rank as a single search does (samples and scoring over the rollout ranks,
// shards over the learners). An element's results do not depend on the others: the RNG is keyed on its own
// (seed, problem, iteration, sample), and its adapter is attached only while it runs. So element i ends
// bit-identical to `migrate run SWEEP_DIR/config.yaml` with the overrides of manifest line i, which is how a Slurm
// array (`migrate sweep`) runs it, and the folder has the same layout for `migrate sweep --collect`.
#pragma once
#include "common/sweep_spec.h"
#include "workers/comm.h"

typedef struct {
    const char *config_path;
    const char **overrides;  // --set for every element
    int n_overrides;
    const char *resume_dir;  // NULL, or the sweep folder to continue
    int print_config, quiet;
    int overwrite;           // --overwrite: element folders that hold a checkpoint start afresh
} multiplex_opts;

// Returns the exit status: 0 when every element finished (solved, budget or iterations) or was stopped by a
// signal with its checkpoint written; 1 on any error (the other elements still run to their end).
int run_multiplexed(comm *world, const sweep_spec *sweep, const multiplex_opts *o);
