// Training forward and backward over a packed batch: the model's engine (model/engine.c), on the CPU over this
// model's own buffers or on the backend of model_use_backend.
#include "model/engine.h"
#include "model/model_internal.h"

double model_forward(model *m, const packed_batch *b, float temperature, float *logp, float *entropy) {
    return engine_forward(model_engine(m), b, temperature, logp, entropy);
}

// The engine a backward runs on: a device engine as the forward before it left it (its adapter is already up, so
// no second upload), else the CPU engine over the model's buffers, synced.
static engine *backward_engine(model *m) { return m->eng && !m->eng->borrowed ? m->eng : model_engine(m); }

void model_backward(model *m, const packed_batch *b, const float *dlogp) {
    mgCheck(m->mode != TRAIN_NONE, "model_backward needs TRAIN_LORA or TRAIN_FULL (model_set_train_mode)");
    engine *e = backward_engine(m);
    if (!e->borrowed) {
        mgCheck(m->mode == TRAIN_LORA, "a model on another backend trains LoRA adapters only");
        mgCheck(m->lora && e->lora_n, "backward on the GPU needs the adapter of the forward before it");
    }
    engine_backward(e, b, dlogp);
    if (!e->borrowed) engine_lora_download_grads(e, m->lora->grads);  // the CPU engine's gradients are the model's
}

void model_backward_keep(model *m, const packed_batch *b, const float *dlogp, int slot) {
    mgCheck((m->mode == TRAIN_LORA && m->lora) || m->mode == TRAIN_FULL, "kept gradients need TRAIN_LORA or TRAIN_FULL");
    engine *e = backward_engine(m);
    if (m->mode == TRAIN_FULL)
        mgCheck(e->borrowed && e->full_n == m->n_params, "full training runs on the CPU engine over the model's weights");
    else
        mgCheck(e->lora_n == m->lora->n_params, "backward needs the adapter of the forward before it");
    engine_zero_grad(e);
    engine_backward(e, b, dlogp);
    engine_grad_keep(e, slot);
}
