#include "workers/grpo.h"

#include <float.h>
#include <math.h>
#include <string.h>

// Mean and std of r in units of 2^*ex, where 2^*ex > max |r|: every scaled value is below 1 in magnitude, so the sum
// is below n and each centered square below 4.
static void scaled_stats(const double *r, int n, int *ex, double *mean, double *std) {
    double amax = 0;
    for (int i = 0; i < n; i++) amax = fmax(amax, fabs(r[i]));
    *ex = 0;
    if (amax > 0) frexp(amax, ex);
    double m = 0, var = 0;
    for (int i = 0; i < n; i++) m += ldexp(r[i], -*ex);
    m /= n > 0 ? n : 1;
    for (int i = 0; i < n; i++) {
        double d = ldexp(r[i], -*ex) - m;
        var += d * d;
    }
    *mean = m;
    *std = n > 1 ? sqrt(var / (n - 1)) : 0.0;
}

void grpo_reward_stats(const double *r, int n, double *mean, double *std) {
    int ex;
    scaled_stats(r, n, &ex, mean, std);
    *mean = ldexp(*mean, ex), *std = ldexp(*std, ex);
}

void grpo_advantages(const double *rewards, int n, int scale, float *adv) {
    int ex;
    double mean, std;
    scaled_stats(rewards, n, &ex, &mean, &std);
    double den = std + ldexp(1e-4, -ex);  // (std + 1e-4) in the same units
    for (int i = 0; i < n; i++) {
        double d = ldexp(rewards[i], -ex) - mean, a = scale ? d / den : ldexp(d, ex);
        adv[i] = fabs(a) <= FLT_MAX ? (float)a : a > 0 ? INFINITY : a < 0 ? -INFINITY : NAN;
    }
}

// Per-token weight of the normalisation: the loss is sum_t weight_t * per_token_loss_t.
static double token_weight(const grpo_params *p, int seq_tokens, long total_tokens, int n_seqs) {
    switch (p->loss_type) {
    case LOSS_GRPO: return 1.0 / ((seq_tokens > 0 ? seq_tokens : 1) * (double)n_seqs);  // mean per seq, then mean
    case LOSS_BNPO: return 1.0 / (total_tokens > 0 ? total_tokens : 1);                 // mean over all tokens
    default: return 1.0 / ((double)n_seqs * p->max_completion_length);                  // Dr. GRPO: constant
    }
}

long grpo_count_tokens(const packed_batch *b) {
    long total = 0;
    for (int i = 0; i < b->n_tokens; i++) total += b->targets[i] >= 0;
    return total;
}

double grpo_loss(const packed_batch *b, const float *logp, const float *old_logp, const float *ref_logp,
                 const float *adv, const grpo_params *p, float *dlogp, grpo_stats *st) {
    return grpo_loss_shard(b, logp, old_logp, ref_logp, adv, p, grpo_count_tokens(b), packed_batch_members(b), dlogp,
                           st);
}

double grpo_loss_shard(const packed_batch *b, const float *logp, const float *old_logp, const float *ref_logp,
                       const float *adv, const grpo_params *p, long group_tokens, int group_seqs, float *dlogp,
                       grpo_stats *st) {
    memset(st, 0, sizeof *st);
    long total = group_tokens;
    double loss = 0;
    for (int i = 0; b->n_prefixes && i < b->seq_start[b->n_prefixes]; i++) dlogp[i] = 0.0f;  // prefixes: no scores
    for (int s = b->n_prefixes; s < b->n_seqs; s++) {
        int seq_tokens = 0;
        for (int i = b->seq_start[s]; i < b->seq_start[s + 1]; i++) seq_tokens += b->targets[i] >= 0;
        double w = token_weight(p, seq_tokens, total, group_seqs);
        double A = adv[s - b->n_prefixes];
        for (int i = b->seq_start[s]; i < b->seq_start[s + 1]; i++) {
            dlogp[i] = 0.0f;
            if (b->targets[i] < 0) continue;
            double ratio = exp((double)logp[i] - old_logp[i]);
            double clipped = fmin(fmax(ratio, 1.0 - p->epsilon_low), 1.0 + p->epsilon_high);
            double unclipped_term = ratio * A, clipped_term = clipped * A;
            // -min(r A, clip(r) A): the gradient flows only when the unclipped term is the smaller one.
            double per_token = -fmin(unclipped_term, clipped_term);
            double grad = unclipped_term <= clipped_term ? -ratio * A : 0.0;
            if (p->beta != 0.0f && ref_logp) {
                double d = (double)ref_logp[i] - logp[i];
                double kl = exp(d) - d - 1.0;  // k3 estimator, >= 0
                per_token += p->beta * kl;
                grad += p->beta * (1.0 - exp(d));
                st->kl += kl;
            }
            loss += w * per_token;
            dlogp[i] = (float)(w * grad);
            int low = ratio < 1.0 - p->epsilon_low && A < 0, high = ratio > 1.0 + p->epsilon_high && A > 0;
            st->clip_low += low;
            st->clip_high += high;
            st->clip_region += low || high;
        }
    }
    st->tokens = grpo_count_tokens(b);
    if (total) st->kl /= total, st->clip_low /= total, st->clip_high /= total, st->clip_region /= total;
    st->loss = loss;
    return loss;
}
