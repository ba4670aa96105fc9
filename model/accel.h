// Another backend under the model: when m->accel is set (the CUDA engine, kernels/cuda/accel.h), the model's entry
// points hand their work to it instead of the host code: model_forward, model_backward, model_zero_grad and
// generate keep their signatures and semantics, so the search loop, the rollout and the learner do not know
// where the model runs. The host keeps what the loop owns: the adapter's parameters (the optimizer steps them on
// the host, where the exact int64 gradient sum happens), its gradients after each backward, and the weights it was
// loaded from. The backend is told the current adapter at every call (its values, its on/off switch, or none).
#pragma once
#include <math.h>
#include <stdint.h>

#include "model/model.h"
#include "model/sampler.h"

// The learners' exact gradient sum (workers/learner.c, docs/distributed.md): every shard's gradient is rounded to
// int64 fixed point at one scale for the whole group, 2^(62 - ceil(log2(max|g| * n_shards))), so that no sum of
// n_shards terms can overflow, and the integers are summed in any order with the same result.
static inline double grad_fixed_scale(double absmax, int n_shards) {
    int ex = 0;
    if (absmax > 0) frexp(absmax * n_shards, &ex);
    return ldexp(1.0, 62 - ex);
}

// The learners' collectives on the host (the learner's MPI all-reduces): a backend without a device collective of
// its own sums through these. Every learner calls each, in the same order.
typedef struct {
    void (*max)(void *ctx, double *x, size_t n);
    void (*sum_i64)(void *ctx, int64_t *x, size_t n);
    void *ctx;
} grad_collective;

typedef struct {
    const char *name;  // "cuda"
    double (*forward)(model_accel *a, model *m, const packed_batch *b, float temperature, float *logp, float *entropy);
    // Leaves the adapter's gradient (accumulated since the last zero_grad) in m->lora->grads on the host.
    void (*backward)(model_accel *a, model *m, const packed_batch *b, const float *dlogp);
    void (*zero_grad)(model_accel *a, model *m);
    int (*generate)(model_accel *a, model *m, const tokenizer *tok, int n, const int *const *prompts,
                    const int *prompt_lens, const uint64_t *seq_ids, const sampling_params *p, int max_batch,
                    completion *out, mg_err *e);
    void (*destroy)(model_accel *a);
    // ---- used only when model_accel.keeps_grads is set ----
    // backward whose gradient stays on the backend as shard `slot` of n_slots (nothing comes to the host).
    void (*backward_keep)(model_accel *a, model *m, const packed_batch *b, const float *dlogp, int slot, int n_slots);
    // grad (host, the adapter's n_params values) = the exact sum over every learner of the kept shards listed in
    // mine (each learner lists its own; n_shards in all): the result of workers/learner.c's host sum, bit for bit.
    // Through the backend's own collective (NCCL) when it has one, else through cl.
    void (*sum_kept)(model_accel *a, model *m, const int *mine, int n_mine, int n_shards, const grad_collective *cl,
                     float *grad);
} model_accel_ops;

struct model_accel {
    const model_accel_ops *ops;
    int keeps_grads;  // the learner leaves shard gradients on the backend and sums them there (sum_kept)
};
