// Inference: feed new tokens of several sequences (cache slots) at once. Prefill (many tokens of one slot) and
// batched decode (one token of many slots) are the same call: the GEMMs run over all n tokens together and
// attention reads each token's slot of the cache up to its own position. The step itself is the engine's
// (model/engine_decode.c) over this model's buffers and the caller's cache.
#include <stdlib.h>
#include <string.h>

#include "model/engine.h"
#include "model/model_internal.h"

int kv_cache_init(kv_cache *kv, const model *m, int n_slots, int max_len, mg_err *e) {
    memset(kv, 0, sizeof *kv);
    if (n_slots <= 0 || max_len <= 0) return mg_fail(e, "kv cache needs positive slots and length (%d, %d)", n_slots, max_len);
    const hf_config *c = &m->cfg;
    kv->n_slots = n_slots;
    kv->max_len = max_len;
    kv->kv_dim = c->num_key_value_heads * c->head_dim;
    size_t n = (size_t)c->num_hidden_layers * n_slots * max_len * kv->kv_dim;
    // 64-byte aligned, like the weights: attention reads whole rows of the cache.
    if (posix_memalign((void **)&kv->k, 64, n * sizeof(float))) kv->k = NULL;
    if (posix_memalign((void **)&kv->v, 64, n * sizeof(float))) kv->v = NULL;
    kv->len = calloc((size_t)n_slots, sizeof(int));
    if (!kv->k || !kv->v || !kv->len) {
        kv_cache_free(kv);
        return mg_fail(e, "cannot allocate a KV cache of %d slots x %d tokens (%.1f GB)", n_slots, max_len,
                       2.0 * n * sizeof(float) / 1e9);
    }
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
    mgCheck(m->params != NULL, "model_step on a model without host weights (model_load_shape, or dropped)");
    engine *en = model_engine(m);
    engine_kv_attach(en, kv->k, kv->v, kv->len, kv->n_slots, kv->max_len);
    int rows = engine_step(en, n, tokens, slot_of, want_logits, NULL, NULL, NULL, NULL, NULL, e);
    if (rows < 0) return -1;
    engine_logits(en, logits, rows);
    return 0;
}
