// AdamW over the model's trainable buffer (the adapter, or every weight), with global-norm gradient clipping as
// torch.nn.utils.clip_grad_norm_ does it. Gradient accumulation is free: model_backward adds into the gradients,
// so several forward/backward micro-batches before one optimizer_step accumulate.
#pragma once
#include <stddef.h>

#include "model/model.h"

// How the step size moves over a run, as transformers' get_scheduler defines it (TRL's lr_scheduler_type).
typedef enum { LR_CONSTANT = 0, LR_LINEAR, LR_COSINE } lr_schedule;

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;  // lr: the peak step size
    float max_grad_norm;  // <= 0: no clipping
    lr_schedule schedule;
    int total_steps;      // the schedule's length (LR_LINEAR and LR_COSINE reach 0 there)
    int warmup_steps;     // linear ramp from 0 before the schedule (every kind)
    int t;                // steps taken
    size_t n;
    float *m, *v;         // first and second moments, (n)
} adamw_state;

// TRL/transformers defaults: lr 5e-5 (MiGrATe's), betas (0.9, 0.999), eps 1e-8, weight decay 0, clip 1.0.
void adamw_init(adamw_state *o, size_t n);
void adamw_free(adamw_state *o);
// The step size of the step taken after t steps. Exactly transformers' schedules: warmup t / W, then constant,
// linear (T - t) / (T - W) or cosine 0.5 (1 + cos(pi (t - W) / (T - W))), and 0 from T on (where transformers'
// cosine would start a new cycle). A function of the step count alone, so a resumed run steps as the unbroken one
// does.
float adamw_lr_at(const adamw_state *o, int t);
// Clips the trainable gradient, steps with adamw_lr_at(o, o->t), and returns the gradient norm before clipping.
float optimizer_step(model *m, adamw_state *o);
