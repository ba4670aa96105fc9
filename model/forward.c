// Training forward and backward over a packed batch: the engine's (model/engine.c) over this model's own buffers,
// or another backend's when the model has one (model/accel.h).
#include "model/accel.h"
#include "model/engine.h"
#include "model/model_internal.h"

double model_forward(model *m, const packed_batch *b, float temperature, float *logp, float *entropy) {
    if (m->accel) return m->accel->ops->forward(m->accel, m, b, temperature, logp, entropy);
    return engine_forward(model_engine(m), b, temperature, logp, entropy);
}

void model_backward(model *m, const packed_batch *b, const float *dlogp) {
    if (m->accel) {
        mgCheck(m->mode == TRAIN_LORA, "a model on another backend trains LoRA adapters only");
        m->accel->ops->backward(m->accel, m, b, dlogp);
        return;
    }
    mgCheck(m->mode != TRAIN_NONE, "model_backward needs TRAIN_LORA or TRAIN_FULL (model_set_train_mode)");
    engine_backward(model_engine(m), b, dlogp);
}
