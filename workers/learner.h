// The learner role: GRPO updates of the adapter (or, with lora.use_peft false, of every weight) on one mixed group.
//
// With several ranks the group comes from the coordinator: rank 0 sends it (members, advantages, old log-probs) to
// every rank, and each checks it against the group its own replica formed.
//
// The group is cut into fixed shards of members_per_shard members (fixed by the group, not by the number of
// learners). Learner ranks take shards round-robin; each shard is one packed forward/backward. The shards'
// gradients are summed exactly: scaled by a power of two fitted to the largest element anywhere, rounded to int64
// and all-reduced among the learners, which is order-free. So the summed gradient, and after the identical AdamW
// step on every learner the adapter, are bit-identical for 1 or many learners. The ranks that are not learners
// receive the new adapter from the learner leader with its version (the optimizer's step count), and the
// coordinator the AdamW moments before it checkpoints. With one process it is the same computation.
#pragma once
#include "model/optimizer.h"
#include "workers/comm.h"
#include "workers/grpo.h"

typedef struct {
    double loss, kl, clip_low, clip_high, clip_region;
    double entropy;     // mean over completion tokens, first update
    double grad_norm;   // before clipping, last update
    long tokens;
    int updates;
    int skipped;        // optimizer steps not taken, the adapter left as it was: the advantages or the summed
                        // gradient were not finite (an update that would turn the adapter into NaN)
    int skip_reason;    // LEARNER_SKIP_*: why (the first reason)
} learner_stats;

enum { LEARNER_SKIP_ADVANTAGES = 1, LEARNER_SKIP_GRADIENT = 2 };

// b: one sequence per member (prompt + completion; targets on completion tokens). old_logp (N): the sampling-time
// log-probs of on-policy members; NaN marks off-policy members (greedy, neighborhood), whose old log-probs are
// taken from the current policy on the first update. adv (S): per-member advantages. The learners run
// num_iterations optimizer steps; then the learner leader publishes the adapter to every other rank. When every
// advantage is 0 there is no signal and no step is taken (updates = 0); that is not a skip. Non-finite advantages
// skip the whole update, and a step whose summed gradient is not finite is skipped (st->skipped counts them); every
// rank, learner or not, gets the same count.
// Every rank of c calls it with the same arguments.
// The AdamW moments live on the learners (every learner has the same); before rank 0 checkpoints, this hands them
// to it when it is not a learner. Every rank calls it.
void learner_share_optimizer(const comm *c, adamw_state *opt);
void learner_update(const comm *c, model *m, adamw_state *opt, const grpo_params *gp, int num_iterations,
                    float temperature, int members_per_shard, const packed_batch *b, const float *old_logp,
                    const float *adv, learner_stats *st);
