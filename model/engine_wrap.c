// The engine over a model's own host buffers on the CPU table: this is how model_forward, model_backward and
// model_step run, so the transformer's loop exists once (engine.c, engine_decode.c) for the CPU and the GPU.
// Nothing is copied: weights, the adapter, its gradients and the full-parameter gradients are the model's, and the
// model's writers (optimizer_step, checkpoint resume, PEFT load, another search attaching its adapter) need no
// bookkeeping because engine_wrap_sync re-reads the pointers at every call (a few hundred assignments).
#include "model/engine_internal.h"

#include <stdlib.h>
#include <string.h>

int engine_wrap(engine *e, model *m, mg_err *err) {
    if (engine_check_shape(&m->cfg, &mg_backend_cpu, MG_F32, err)) return -1;
    memset(e, 0, sizeof *e);
    e->be = &mg_backend_cpu;
    e->cfg = m->cfg;
    e->wt = MG_F32;
    e->borrowed = 1;
    e->layers = callocCheck((size_t)m->cfg.num_hidden_layers, sizeof(engine_layer));
    engine_wrap_sync(e, m);
    return 0;
}

// The adapter's pointers, per (layer, module) slot; dA and dB stay NULL unless the model trains the adapter.
static void wrap_adapter(engine *e, lora_adapter *a, int trains) {
    int L = e->cfg.num_hidden_layers;
    size_t slots = (size_t)L * LORA_N_MODULES;
    int same = e->lora_n == a->n_params && e->lora_params == a->params && e->lora_grads == a->grads &&
               !memcmp(&e->lora, &a->cfg, sizeof a->cfg) && e->lora_scale == a->scale;
    if (!same) {
        e->lora_gen++;  // another adapter: decode graphs and optimizer moments are not this one's
        BE->free(e->opt_m), BE->free(e->opt_v);
        e->opt_m = e->opt_v = NULL;
        e->opt_t = 0;
    }
    if (!e->A) {
        e->A = callocCheck(slots, sizeof(float *));
        e->B = callocCheck(slots, sizeof(float *));
        e->dA = callocCheck(slots, sizeof(float *));
        e->dB = callocCheck(slots, sizeof(float *));
    }
    e->lora = a->cfg;
    e->lora_scale = a->scale;
    e->lora_enabled_src = &a->enabled;
    e->lora_n = a->n_params;
    e->lora_params = a->params;
    e->lora_grads = a->grads;
    for (int l = 0; l < L; l++)
        for (int k = 0; k < LORA_N_MODULES; k++) {
            size_t s = (size_t)l * LORA_N_MODULES + k;
            e->A[s] = a->layers[l].A[k], e->B[s] = a->layers[l].B[k];
            e->dA[s] = trains ? a->dlayers[l].A[k] : NULL;
            e->dB[s] = trains ? a->dlayers[l].B[k] : NULL;
        }
}

void engine_wrap_sync(engine *e, model *m) {
    mgCheck(e->borrowed && e->be == &mg_backend_cpu, "engine_wrap_sync: the engine does not wrap a model");
    mgCheck(m->params != NULL, "the model has no host weights (model_load_shape, or dropped for another backend)");
    int L = m->cfg.num_hidden_layers, full = m->mode == TRAIN_FULL;
    mgCheck(L == e->cfg.num_hidden_layers, "engine_wrap_sync: the model's shape changed under its engine");
    const model_weights *w = &m->w, *g = &m->g;
    e->cfg = m->cfg;  // the settings a caller may change between calls (EOS ids) with it
    e->cfg.tie_word_embeddings = w->lm_head == w->wte;
    e->wte = w->wte, e->lm_head = w->lm_head, e->norm = w->norm, e->inv_freq = m->inv_freq;
    e->dwte = full ? g->wte : NULL, e->dlm_head = full ? g->lm_head : NULL, e->dnorm = full ? g->norm : NULL;
    e->full_grads = full ? m->grads : NULL, e->full_n = full ? m->n_params : 0;
    for (int l = 0; l < L; l++) {
        const layer_weights *wl = &w->layers[l], *gl = full ? &g->layers[l] : &(layer_weights){0};
        engine_layer *el = &e->layers[l];
        float *W[LORA_N_MODULES] = {wl->wq, wl->wk, wl->wv, wl->wo, wl->wgate, wl->wup, wl->wdown};
        float *b[LORA_N_MODULES] = {wl->bq, wl->bk, wl->bv, wl->bo, wl->bgate, wl->bup, wl->bdown};
        float *dW[LORA_N_MODULES] = {gl->wq, gl->wk, gl->wv, gl->wo, gl->wgate, gl->wup, gl->wdown};
        float *db[LORA_N_MODULES] = {gl->bq, gl->bk, gl->bv, gl->bo, gl->bgate, gl->bup, gl->bdown};
        el->attn_norm = wl->attn_norm, el->mlp_norm = wl->mlp_norm;
        el->dattn_norm = gl->attn_norm, el->dmlp_norm = gl->mlp_norm;
        for (int k = 0; k < LORA_N_MODULES; k++) el->W[k] = W[k], el->b[k] = b[k], el->dW[k] = dW[k], el->db[k] = db[k];
    }
    if (m->lora) {
        wrap_adapter(e, m->lora, !full);
    } else if (e->lora_n) {
        engine_adapter_free(e);
    }
}

engine *model_engine(model *m) {
    if (!m->eng) {
        engine *e = callocCheck(1, sizeof *e);
        mg_err err;
        if (engine_wrap(e, m, &err)) check_failed("engine_wrap", __FILE__, __LINE__, err.msg);
        m->eng = e;
        return e;
    }
    if (m->eng->borrowed)
        engine_wrap_sync(m->eng, m);
    else
        engine_device_sync(m->eng, m);
    return m->eng;
}
