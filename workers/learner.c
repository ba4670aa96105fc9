#include "workers/learner.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/engine.h"

// One shard: members [first, first + count) of the group as their own packed batch.
typedef struct {
    packed_batch b;
    float *old;      // (shard tokens) old log-probs, NaN until taken for off-policy members
    float *ref;      // (shard tokens) base-model log-probs, when beta != 0
} shard;

enum { ST_LOSS, ST_KL, ST_CLIP_LOW, ST_CLIP_HIGH, ST_CLIP_REGION, ST_ENTROPY, ST_COUNT };

// Shorter common prompts are packed with each member: a shared prefix's bookkeeping costs more than it saves.
enum { MIN_SHARED_PROMPT = 16 };

// With share, members whose prompts (all but the prompt's last token) are equal have that prefix packed once
// (packed_batch_add_prefix) and continue it from the prompt's last token: the prompt's forward and backward run once
// for them all, and every completion token keeps its log-prob, target and gradient (engine.h). Only tokens move, so
// old log-probs follow them.
static void shard_build(shard *sh, const packed_batch *g, const float *old_logp, int first, int count, int share) {
    packed_batch_init(&sh->b);
    int *from = mallocCheck((size_t)count * sizeof(int));  // the first group token each member's shard tokens copy
    packed_batch_share_prompts(&sh->b, g, first, count, share ? MIN_SHARED_PROMPT : 0, from);
    int N = sh->b.n_tokens, np = sh->b.n_prefixes;
    sh->old = mallocCheck((size_t)N * sizeof(float));
    for (int i = 0; np && i < sh->b.seq_start[np]; i++) sh->old[i] = 0.0f;  // prefixes: nothing scored
    for (int j = 0; j < count; j++) {
        int at = sh->b.seq_start[np + j];
        memcpy(sh->old + at, old_logp + from[j], (size_t)(sh->b.seq_start[np + j + 1] - at) * sizeof(float));
    }
    sh->ref = NULL;
    free(from);
}

static void shard_free(shard *sh) {
    packed_batch_free(&sh->b);
    free(sh->old), free(sh->ref);
}

// The learners' exact gradient sum (docs/distributed.md): every shard's gradient is rounded to int64 fixed point at
// one scale for the whole group, 2^(62 - ceil(log2(max|g| * n_shards))), so that no sum of n_shards terms can
// overflow, and the integers are summed in any order with the same result.
static double grad_fixed_scale(double absmax, int n_shards) {
    int ex = 0;
    if (absmax > 0) frexp(absmax * n_shards, &ex);
    return ldexp(1.0, 62 - ex);
}

// The base model's log-probs, for the KL term: the adapter switched off, or in full training the model's own
// weights in place of the search's trained copy (no second copy of the weights either way).
static void reference_forward(model *m, const packed_batch *b, float temperature, float *ref) {
    if (m->mode == TRAIN_FULL) {
        float *trained = m->params;
        model_use_weights(m, NULL);
        model_forward(m, b, temperature, ref, NULL);
        model_use_weights(m, trained);
        return;
    }
    m->lora->enabled = 0;
    model_forward(m, b, temperature, ref, NULL);
    m->lora->enabled = 1;
}

// One forward/backward of a shard on the current adapter; its gradient stays in the engine as kept slot `slot`
// (on a GPU it never crosses to the host before the sum), its stats go to stat.
static void shard_step(model *m, shard *sh, int slot, const grpo_params *gp, float temperature,
                       const float *adv, long group_tokens, int group_seqs, int first_update, double *stat) {
    int N = sh->b.n_tokens;
    float *logp = mallocCheck((size_t)N * sizeof(float)), *ent = mallocCheck((size_t)N * sizeof(float));
    float *dlogp = mallocCheck((size_t)N * sizeof(float));
    if (first_update && gp->beta != 0.0f && (m->lora || m->mode == TRAIN_FULL)) {
        sh->ref = mallocCheck((size_t)N * sizeof(float));
        reference_forward(m, &sh->b, temperature, sh->ref);
    }
    model_forward(m, &sh->b, temperature, logp, ent);
    if (first_update)  // off-policy members: their old log-probs are the policy's as the group is formed
        for (int i = 0; i < N; i++)
            if (isnan(sh->old[i])) sh->old[i] = logp[i];
    grpo_stats gs;
    grpo_loss_shard(&sh->b, logp, sh->old, sh->ref, adv, gp, group_tokens, group_seqs, dlogp, &gs);
    if (first_update) {
        double e = 0;
        for (int i = 0; i < N; i++) e += sh->b.targets[i] >= 0 ? ent[i] : 0.0;
        stat[ST_LOSS] = gs.loss, stat[ST_KL] = gs.kl, stat[ST_CLIP_LOW] = gs.clip_low;
        stat[ST_CLIP_HIGH] = gs.clip_high, stat[ST_CLIP_REGION] = gs.clip_region;
        stat[ST_ENTROPY] = group_tokens ? e / group_tokens : 0.0;
    }
    model_backward_keep(m, &sh->b, dlogp, slot);
    free(logp), free(ent), free(dlogp);
}

// grad = the exact sum of the shards' gradients (on every learner), through int64 fixed point: the n_kept slots this
// learner's engine kept, of n_shards in all. A non-finite element on any learner has no fixed-point value: then
// every learner gets NaN everywhere, and none takes the step.
static void reduce_gradients(const comm *c, model *m, int n_kept, int n_shards, float *grad, size_t n) {
    // the engine of this learner's shards; one that ran none yet (no forward since the adapter came) gets it now
    size_t en = 0;
    engine *e = m->eng && m->mode == TRAIN_LORA && m->eng->lora_n == m->lora->n_params ? m->eng : model_engine(m);
    engine_train_grads(e, &en);
    mgCheck(en == n, "the learner sums the trained buffer's gradient");
    double amax = engine_grad_kept_absmax(e, n_kept);
    comm_grad_max(c, e->be, &amax);
    if (!(amax <= DBL_MAX)) {
        for (size_t i = 0; i < n; i++) grad[i] = NAN;
        return;
    }
    double scale = grad_fixed_scale(amax, n_shards);
    int64_t *acc = engine_grad_kept_fixed(e, n_kept, scale);
    comm_grad_sum_i64(c, e->be, acc, n);
    engine_grad_from_fixed(e, acc, scale, grad);
}

// Every learner took the same steps; the other ranks (rollout-only, a coordinator-only rank 0) get the new adapter
// from the learner leader with its version (the optimizer's step count) and the last gradient norm (a metric).
static void publish_adapter(const comm *c, model *m, adamw_state *opt, learner_stats *st) {
    if (!comm_has_non_learners(c)) return;
    size_t n;
    float *trained = model_trainable(m, &n);  // the adapter, or in full training the search's weights
    double head[4] = {(double)opt->t, st->grad_norm, st->skipped, st->skip_reason};
    size_t len = sizeof head + n * sizeof(float);
    char *buf = mallocCheck(len);
    if (c->rank == c->learner_leader) memcpy(buf, head, sizeof head), memcpy(buf + sizeof head, trained, n * sizeof(float));
    comm_publish(c, buf, len, "adapter publication");
    if (!c->is_learner) {
        memcpy(head, buf, sizeof head);
        memcpy(trained, buf + sizeof head, n * sizeof(float));
        if (m->mode == TRAIN_LORA) lora_adapter_changed(m->lora);
        opt->t = (int)head[0], st->grad_norm = head[1], st->skipped = (int)head[2], st->skip_reason = (int)head[3];
    }
    free(buf);
}

void learner_share_optimizer(const comm *c, adamw_state *opt) {
    if (!opt->m || c->learner_leader == 0) return;  // a baseline, or rank 0 holds the moments already
    size_t n = opt->n;
    char *buf = mallocCheck(sizeof(double) + 2 * n * sizeof(float));
    double t = opt->t;
    memcpy(buf, &t, sizeof t), memcpy(buf + sizeof t, opt->m, n * sizeof(float));
    memcpy(buf + sizeof t + n * sizeof(float), opt->v, n * sizeof(float));
    comm_to_coordinator(c, buf, sizeof t + 2 * n * sizeof(float), "optimizer to the coordinator");
    if (c->rank == 0 && !c->is_learner) {
        memcpy(&t, buf, sizeof t), memcpy(opt->m, buf + sizeof t, n * sizeof(float));
        memcpy(opt->v, buf + sizeof t + n * sizeof(float), n * sizeof(float));
        opt->t = (int)t;
    }
    free(buf);
}

// The coordinator's mixed group, sent from rank 0 to every rank before the update: per member its length, first
// scored position and advantage, then the ids and old log-probs of every token. The learners train on what they
// receive, after checking that it equals the group their own replica formed (byte for byte: a NaN old log-prob is
// the same NaN everywhere). Layout: int32 n_seqs, n_tokens, (length, score_from) per member; float advantages;
// int32 ids; float old log-probs.
static char *pack_group(const packed_batch *b, const float *old, const float *adv, size_t *len) {
    size_t S = (size_t)b->n_seqs, N = (size_t)b->n_tokens;
    *len = (2 + 2 * S) * sizeof(int32_t) + S * sizeof(float) + N * (sizeof(int32_t) + sizeof(float));
    char *buf = mallocCheck(*len), *p = buf;
    int32_t *h = (int32_t *)p;
    h[0] = b->n_seqs, h[1] = b->n_tokens;
    for (int k = 0; k < b->n_seqs; k++)
        h[2 + 2 * k] = b->seq_start[k + 1] - b->seq_start[k], h[3 + 2 * k] = packed_batch_score_from(b, k);
    p += (2 + 2 * S) * sizeof(int32_t);
    memcpy(p, adv, S * sizeof(float)), p += S * sizeof(float);
    memcpy(p, b->tokens, N * sizeof(int32_t)), p += N * sizeof(int32_t);
    memcpy(p, old, N * sizeof(float));
    return buf;
}

// Every rank: the group as rank 0 formed it, in rb / rold / radv (the caller frees them).
static void share_group(const comm *c, const packed_batch *b, const float *old, const float *adv, packed_batch *rb,
                        float **rold, float **radv) {
    size_t mine_len, len;
    char *mine = pack_group(b, old, adv, &mine_len);
    uint64_t sent = c->rank == 0 ? mine_len : 0;
    comm_bcast(c, &sent, sizeof sent, 0, "mixed group");
    len = (size_t)sent;
    char *msg = mallocCheck(len ? len : 1);
    if (c->rank == 0) memcpy(msg, mine, len);
    comm_bcast(c, msg, len, 0, "mixed group");
    if (c->rank != 0 && (len != mine_len || memcmp(msg, mine, len))) {
        char hint[160];
        snprintf(hint, sizeof hint, "rank %d formed another group (%zu bytes) than rank 0 sent (%zu bytes)", c->rank,
                 mine_len, len);
        check_failed("every rank's replica forms the coordinator's group", __FILE__, __LINE__, hint);
    }
    free(mine);
    const int32_t *h = (const int32_t *)msg;
    int S = h[0], N = h[1];
    const float *a = (const float *)(h + 2 + 2 * S);
    const int32_t *ids = (const int32_t *)(a + S);
    const float *o = (const float *)(ids + N);
    packed_batch_init(rb);
    for (int k = 0, at = 0; k < S; at += h[2 + 2 * k], k++) packed_batch_add(rb, ids + at, h[2 + 2 * k], h[3 + 2 * k]);
    *radv = mallocCheck((size_t)(S ? S : 1) * sizeof(float));
    *rold = mallocCheck((size_t)(N ? N : 1) * sizeof(float));
    memcpy(*radv, a, (size_t)S * sizeof(float));
    memcpy(*rold, o, (size_t)N * sizeof(float));
    free(msg);
}

static void update(const comm *c, model *m, adamw_state *opt, const grpo_params *gp, int num_iterations,
                   float temperature, int members_per_shard, const packed_batch *b, const float *old_logp,
                   const float *adv, learner_stats *st);

void learner_update(const comm *c, model *m, adamw_state *opt, const grpo_params *gp, int num_iterations,
                    float temperature, int members_per_shard, const packed_batch *b, const float *old_logp,
                    const float *adv, learner_stats *st) {
    if (c->size == 1) {
        update(c, m, opt, gp, num_iterations, temperature, members_per_shard, b, old_logp, adv, st);
        return;
    }
    packed_batch rb;
    float *rold, *radv;
    share_group(c, b, old_logp, adv, &rb, &rold, &radv);
    update(c, m, opt, gp, num_iterations, temperature, members_per_shard, &rb, rold, radv, st);
    packed_batch_free(&rb);
    free(rold), free(radv);
}

static void update(const comm *c, model *m, adamw_state *opt, const grpo_params *gp, int num_iterations,
                   float temperature, int members_per_shard, const packed_batch *b, const float *old_logp,
                   const float *adv, learner_stats *st) {
    memset(st, 0, sizeof *st);
    int S = b->n_seqs, signal = 0, finite = 1;
    for (int s = 0; s < S; s++) signal |= adv[s] != 0.0f, finite &= isfinite(adv[s]) != 0;
    // every rank sees the same advantages, so every rank returns here
    if (!finite) {  // rewards too far apart for float: any step would make the adapter NaN
        st->skipped = num_iterations, st->skip_reason = LEARNER_SKIP_ADVANTAGES;
        return;
    }
    if (!signal) return;
    int per = members_per_shard > 0 ? members_per_shard : S;
    int n_shards = (S + per - 1) / per;
    long group_tokens = grpo_count_tokens(b);
    shard *shards = callocCheck((size_t)n_shards, sizeof(shard));
    int *mine = mallocCheck((size_t)n_shards * sizeof(int)), n_mine = 0;
    for (int k = 0; k < n_shards; k++) {
        if (!c->is_learner || k % c->n_learner != c->learner_index) continue;
        mine[n_mine++] = k;
        shard_build(&shards[k], b, old_logp, k * per, (k + 1) * per <= S ? per : S - k * per, gp->share_prefix);
    }
    double *stats = callocCheck((size_t)n_shards * ST_COUNT, sizeof(double));
    for (int it = 0; it < num_iterations && c->is_learner; it++) {
        comm_phase(c, "GRPO forward/backward");
        for (int j = 0; j < n_mine; j++) {
            int k = mine[j];
            shard_step(m, &shards[k], j, gp, temperature, adv + k * per, group_tokens, S, it == 0,
                       stats + k * ST_COUNT);
        }
        comm_phase(c, NULL);
        size_t n;
        float *grad = model_trainable_grad(m, &n);
        reduce_gradients(c, m, n_mine, n_shards, grad, n);
        int finite_grad = 1;  // the same sum on every learner, so the same verdict
        for (size_t i = 0; i < n && finite_grad; i++) finite_grad = isfinite(grad[i]) != 0;
        if (!finite_grad) {
            if (!st->skip_reason) st->skip_reason = LEARNER_SKIP_GRADIENT;
            st->skipped++;
            continue;
        }
        st->grad_norm = optimizer_step(m, opt);
    }
    publish_adapter(c, m, opt, st);
    st->updates = num_iterations - st->skipped;
    // Each shard's stats come from exactly one rank: the all-reduce is exact, and the sum in shard order is the
    // same on every rank.
    comm_allreduce_disjoint(c, stats, (size_t)n_shards * ST_COUNT, "learner stats");
    for (int k = 0; k < n_shards; k++) {
        const double *x = stats + k * ST_COUNT;
        st->loss += x[ST_LOSS], st->kl += x[ST_KL], st->clip_low += x[ST_CLIP_LOW];
        st->clip_high += x[ST_CLIP_HIGH], st->clip_region += x[ST_CLIP_REGION], st->entropy += x[ST_ENTROPY];
    }
    st->tokens = group_tokens;
    for (int j = 0; j < n_mine; j++) shard_free(&shards[mine[j]]);
    free(shards), free(mine), free(stats);
}
