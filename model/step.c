// Inference: feed new tokens of several sequences (cache slots) at once. Prefill (many tokens of one slot) and
// batched decode (one token of many slots) are the same call: the GEMMs run over all n tokens together and
// attention reads each token's slot of the cache up to its own position. The step itself is the engine's
// (model/engine_decode.c) over this model's buffers and the caller's cache.
#include <stdlib.h>
#include <string.h>

#include "model/engine.h"
#include "model/model_internal.h"

// The cache lives in the CPU table's memory (64-byte aligned host memory), as the engine's own would.
int kv_cache_init(kv_cache *kv, const model *m, int n_slots, int max_len, mg_err *e) {
    memset(kv, 0, sizeof *kv);
    void *k, *v;
    if (engine_kv_tensors(&mg_backend_cpu, &m->cfg, MG_F32, n_slots, max_len, &k, &v, e)) return -1;
    kv->k = k, kv->v = v;
    kv->n_slots = n_slots;
    kv->max_len = max_len;
    kv->kv_dim = m->cfg.num_key_value_heads * m->cfg.head_dim;
    kv->len = callocCheck((size_t)n_slots, sizeof(int));
    return 0;
}

void kv_cache_free(kv_cache *kv) {
    free(kv->k);
    free(kv->v);
    free(kv->len);
    memset(kv, 0, sizeof *kv);
}

int model_step(model *m, kv_cache *kv, int n, const int *tokens, const int *slot_of, const char *want_logits,
               float *logits, mg_err *e) {
    mgCheck(!m->eng || m->eng->borrowed, "model_step runs on the CPU (its cache is host memory); use generate");
    engine *en = model_engine(m);
    engine_kv_attach(en, kv->k, kv->v, kv->len, kv->n_slots, kv->max_len);
    int rows = engine_step(en, n, tokens, slot_of, want_logits, NULL, NULL, NULL, NULL, NULL, e);
    if (rows < 0) return -1;
    engine_logits(en, logits, rows);
    return 0;
}
