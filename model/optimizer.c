#include "model/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"

void adamw_init(adamw_state *o, size_t n) {
    memset(o, 0, sizeof *o);
    o->lr = 5e-5f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->max_grad_norm = 1.0f;
    o->n = n;
    o->m = callocCheck(n, sizeof(float));
    o->v = callocCheck(n, sizeof(float));
}

void adamw_free(adamw_state *o) {
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

float adamw_lr_at(const adamw_state *o, int t) {
    int W = o->warmup_steps, T = o->total_steps;
    if (t < W) return o->lr * (float)t / (float)W;
    if (o->schedule == LR_CONSTANT) return o->lr;
    double progress = fmin(1.0, (double)(t - W) / (double)(T - W > 1 ? T - W : 1));  // past T: 0, not a new cycle
    double f = o->schedule == LR_LINEAR ? 1.0 - progress : 0.5 * (1.0 + cos(M_PI * progress));
    return (float)(o->lr * (f > 0.0 ? f : 0.0));
}

float optimizer_step(model *m, adamw_state *o) {
    size_t n, ng;
    float *p = model_trainable(m, &n), *g = model_trainable_grad(m, &ng);
    mgCheck(p && n == o->n && ng == n, "optimizer_step: the optimizer was sized for another trainable buffer");
    float norm = (float)sqrt(sumsq(g, n));
    // torch: clip_coef = max_norm / (total_norm + 1e-6), applied only when below 1
    if (o->max_grad_norm > 0.0f) {
        float coef = o->max_grad_norm / (norm + 1e-6f);
        if (coef < 1.0f) scale_inplace(g, coef, n);
    }
    float lr = adamw_lr_at(o, o->t);
    o->t++;
    adamw_update(p, g, o->m, o->v, n, lr, o->beta1, o->beta2, o->eps, o->weight_decay, o->t);
    if (m->mode == TRAIN_LORA) lora_adapter_changed(m->lora);
    return norm;
}
