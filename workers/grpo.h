// The GRPO objective as TRL's GRPOTrainer defines it (clipped surrogate with separate low/high epsilons, optional
// k3 KL to the reference policy, three normalisations), written as a function of per-token log-probs so the
// engine's model_backward can take its gradient: dL/dlogp per token.
#pragma once
#include "model/model.h"

// TRL's loss_type values, in the order of training.loss_type's names (common/run_config.c).
typedef enum { LOSS_GRPO = 0, LOSS_BNPO, LOSS_DR_GRPO } loss_kind;

typedef struct {
    float epsilon_low, epsilon_high;
    float beta;                 // KL coefficient; 0 = no reference forward at all
    loss_kind loss_type;
    int max_completion_length;  // dr_grpo's constant denominator
    int share_prefix;           // the learner packs a prompt that members of a shard share once (engine.h)
} grpo_params;

typedef struct {
    double loss;
    double kl;           // mean k3 KL over completion tokens (0 when beta = 0)
    double clip_low;     // share of tokens with ratio < 1 - eps_low and advantage < 0
    double clip_high;    // share with ratio > 1 + eps_high and advantage > 0
    double clip_region;  // either
    long tokens;
} grpo_stats;

// A_i = r_i - mean(r), divided by (std(r) + 1e-4) when scale (TRL's scale_rewards; std unbiased like torch.std).
// The sums run on the rewards scaled by a power of two that brings the largest below 1, so they cannot overflow for
// any finite rewards, and give the same bits as the plain formulas wherever those do not overflow (a power-of-two
// scale is exact). An advantage beyond float's range is stored as +-inf, which the learner refuses (it skips the
// update and says so); rewards within an oracle's range (|r| <= 1e9) never get there.
void grpo_advantages(const double *rewards, int n, int scale, float *adv);
// The mean and unbiased standard deviation of n values (0 when n < 1; std 0 when n < 2), computed the same
// overflow-free way: the mean is finite for any finite values; the std overflows only past DBL_MAX itself.
void grpo_reward_stats(const double *r, int n, double *mean, double *std);

// b: the group as a packed batch whose targets mark completion tokens (one sequence per member).
// logp: current per-token log-probs (N); old_logp: at sampling / group formation; ref_logp: base model (NULL when
// beta = 0); adv: per member sequence (packed_batch_members: shared prefixes
// have none). Writes dL/dlogp (N) and returns the loss.
double grpo_loss(const packed_batch *b, const float *logp, const float *old_logp, const float *ref_logp,
                 const float *adv, const grpo_params *p, float *dlogp, grpo_stats *st);
// The same for a shard of the group (some of its members): the normalisation uses the whole group's completion
// tokens and member count, and the stats are sums divided by group_tokens, so shards' losses and stats add up to
// the group's. st->tokens counts the shard's own tokens.
double grpo_loss_shard(const packed_batch *b, const float *logp, const float *old_logp, const float *ref_logp,
                       const float *adv, const grpo_params *p, long group_tokens, int group_seqs, float *dlogp,
                       grpo_stats *st);
long grpo_count_tokens(const packed_batch *b);  // completion tokens (positions with a target)
