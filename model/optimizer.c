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
    o->t++;
    adamw_update(p, g, o->m, o->v, n, o->lr, o->beta1, o->beta2, o->eps, o->weight_decay, o->t);
    if (m->mode == TRAIN_LORA) lora_adapter_changed(m->lora);
    return norm;
}
