#include "workers/learner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void learner_update(model *m, adamw_state *opt, const grpo_params *gp, int num_iterations, float temperature,
                    const packed_batch *b, float *old_logp, const float *adv, learner_stats *st) {
    memset(st, 0, sizeof *st);
    int N = b->n_tokens, signal = 0;
    for (int s = 0; s < b->n_seqs; s++) signal |= adv[s] != 0.0f;
    float *logp = mallocCheck((size_t)N * sizeof(float)), *ent = mallocCheck((size_t)N * sizeof(float));
    float *dlogp = mallocCheck((size_t)N * sizeof(float)), *ref = NULL;
    // Off-policy members need old log-probs under the current policy; the KL needs the base model's.
    // That forward is also the first update's forward (same weights, same batch): it is reused unless the
    // reference pass below overwrites the saved activations.
    int need_old = 0, forward_done = 0;
    for (int i = 0; i < N; i++) need_old |= b->targets[i] >= 0 && isnan(old_logp[i]);
    if (need_old) {
        model_forward(m, b, temperature, logp, ent);
        forward_done = 1;
        for (int i = 0; i < N; i++)
            if (isnan(old_logp[i])) old_logp[i] = logp[i];
    }
    if (gp->beta != 0.0f && m->lora) {
        ref = mallocCheck((size_t)N * sizeof(float));
        m->lora->enabled = 0;  // the base model is the adapter switched off: no second copy of the weights
        model_forward(m, b, temperature, ref, NULL);
        m->lora->enabled = 1;
        forward_done = 0;
    }
    for (int it = 0; it < num_iterations && signal; it++) {
        if (!(it == 0 && forward_done)) model_forward(m, b, temperature, logp, it == 0 ? ent : NULL);
        grpo_stats gs;
        grpo_loss(b, logp, old_logp, ref, adv, gp, dlogp, &gs);
        if (it == 0) {
            st->loss = gs.loss, st->kl = gs.kl, st->clip_low = gs.clip_low, st->clip_high = gs.clip_high;
            st->clip_region = gs.clip_region, st->tokens = gs.tokens;
            double e = 0;
            for (int i = 0; i < N; i++) e += b->targets[i] >= 0 ? ent[i] : 0.0;
            st->entropy = gs.tokens ? e / gs.tokens : 0.0;
        }
        model_zero_grad(m);
        model_backward(m, b, dlogp);
        st->grad_norm = optimizer_step(m, opt);
        st->updates++;
    }
    free(logp), free(ent), free(dlogp), free(ref);
}
