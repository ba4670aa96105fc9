// Another backend under the model: when m->accel is set (the CUDA engine, kernels/cuda/accel.h), the model's entry
// points hand their work to it instead of the host code: model_forward, model_backward, model_zero_grad and
// generate keep their signatures and semantics, so the search loop, the rollout and the learner do not know
// where the model runs. The host keeps what the loop owns: the adapter's parameters (the optimizer steps them on
// the host, where the exact int64 gradient sum happens), its gradients after each backward, and the weights it was
// loaded from. The backend is told the current adapter at every call (its values, its on/off switch, or none).
#pragma once
#include "model/model.h"
#include "model/sampler.h"

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
} model_accel_ops;

struct model_accel {
    const model_accel_ops *ops;
};
