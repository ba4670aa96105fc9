// The rollout role: sampling the iteration's completions and scoring its fresh candidates, each split into
// contiguous blocks over the rollout ranks and gathered to every rank in order. Sampling is batch-invariant and
// keyed per sample, so the completions are the same whoever sampled them.
#pragma once
#include "model/sampler.h"
#include "tasks/task.h"
#include "workers/comm.h"

// Sampling in two halves, so that other work (the learners' update under training.staleness, or another search's
// update) can run on some ranks while the rollout ranks sample: rollout_sample receives the coordinator's
// generation request (rank 0 broadcasts the prompts, RNG keys, sampling settings and adapter version; every rank
// checks it against its own replica) and generates this rank's block of it; rollout_gather (every rank, the same
// n) gathers every block to every rank, in order, and frees the part. The version checked is the one given to
// rollout_sample: the adapter the samples were drawn from.
typedef struct {
    int lo, hi;        // this rank's block of the samples
    completion *mine;  // (hi - lo)
    int rc, version;
    mg_err err;
} rollout_part;
int rollout_sample(const comm *c, model *m, const tokenizer *tok, int n, const int *const *prompts,
                   const int *prompt_lens, const uint64_t *seq_ids, const sampling_params *p, int version,
                   rollout_part *part);
int rollout_gather(const comm *c, rollout_part *part, int n, completion *out, mg_err *e);
// Every rank calls it with the same n candidates; on return every rank has all n scores. A failure on any rank
// (an oracle that cannot start) fails the call on every rank, with that rank's message.
int rollout_score(const comm *c, task *t, int n, const char *const *candidates, task_score *out, mg_err *e);
