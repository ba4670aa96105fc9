// AdamW over the model's trainable buffer (the adapter, or every weight), with global-norm gradient clipping as
// torch.nn.utils.clip_grad_norm_ does it. Gradient accumulation is free: model_backward adds into the gradients,
// so several forward/backward micro-batches before one optimizer_step accumulate.
#pragma once
#include <stddef.h>

#include "model/model.h"

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    float max_grad_norm;  // <= 0: no clipping
    int t;                // steps taken
    size_t n;
    float *m, *v;         // first and second moments, (n)
} adamw_state;

// TRL/transformers defaults: lr 5e-5 (MiGrATe's), betas (0.9, 0.999), eps 1e-8, weight decay 0, clip 1.0.
void adamw_init(adamw_state *o, size_t n);
void adamw_free(adamw_state *o);
// Clips the trainable gradient, steps, and returns the gradient norm before clipping.
float optimizer_step(model *m, adamw_state *o);
