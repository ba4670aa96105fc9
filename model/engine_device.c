// The model's engine on another backend (a GPU): the weights live there, the adapter stays the model's. A call
// uploads the model's current adapter only when its version (lora_adapter.version) is not the one the device
// holds: every writer of the adapter (optimizer, checkpoint resume, publication from the learners, PEFT load) gives
// it a new version, and an upload is n x 4 bytes (0.2 GB for rank-64 LoRA on an 8B model, ~10 ms over PCIe) that
// a sampling call between two updates no longer pays. The exact gradient sum keeps shard gradients on the device
// (model/engine_grads.c).
#include "model/engine_internal.h"

#include <stdlib.h>
#include <string.h>

int model_use_backend(model *m, const mg_backend *be, mg_dtype wt, mg_err *err) {
    engine *e = callocCheck(1, sizeof *e);
    lora_adapter *keep = m->lora;
    m->lora = NULL;  // weights only: the adapter goes up at every call (engine_device_sync)
    int rc = engine_create(e, m, be, wt, err);
    m->lora = keep;
    if (rc) {
        free(e);
        return -1;
    }
    model_drop_host_weights(m);  // the device has them; the host copy would cost 4 bytes per parameter per rank
    m->eng = e;
    return 0;
}

// The engine gets the model's current adapter: its shape (made again when it changed, e.g. another search's
// adapter on a shared model), its values and its switch; none means the base model.
void engine_device_sync(engine *e, const model *m) {
    const lora_adapter *l = m->lora;
    if (!l) {
        e->lora_enabled = 0;
        return;
    }
    if (!e->lora_n || memcmp(&e->lora, &l->cfg, sizeof e->lora)) {
        if (e->lora_n) engine_lora_drop(e);
        mg_err err;
        if (engine_lora_create(e, &l->cfg, 0.0f, 0, &err)) check_failed("engine_lora_create", __FILE__, __LINE__, err.msg);
        e->lora_version = 0;
    }
    if (e->lora_version != l->version) {
        engine_lora_upload(e, l->params);
        e->lora_version = l->version;
        e->lora_uploads++;
    }
    e->lora_enabled = l->enabled;
}
