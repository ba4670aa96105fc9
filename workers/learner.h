// The learner role: GRPO updates of the adapter on one mixed group. With one process it runs in the loop's
// process; with MPI the same function runs on each learner rank over its shard (distributed issue).
#pragma once
#include "model/optimizer.h"
#include "workers/grpo.h"

typedef struct {
    double loss, kl, clip_low, clip_high, clip_region;
    double entropy;     // mean over completion tokens, first update
    double grad_norm;   // before clipping, last update
    long tokens;
    int updates;
} learner_stats;

// b: one sequence per member (prompt + completion; targets on completion tokens). old_logp (N): the sampling-time
// log-probs of on-policy members; NaN marks off-policy members (greedy, neighborhood), whose old log-probs are
// taken from the current policy before the first update. adv (S): per-member advantages. Runs num_iterations
// optimizer steps. When every advantage is 0 there is no signal and no step is taken (updates = 0).
void learner_update(model *m, adamw_state *opt, const grpo_params *gp, int num_iterations, float temperature,
                    const packed_batch *b, float *old_logp, const float *adv, learner_stats *st);
