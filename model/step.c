// Inference: feed new tokens of several sequences (cache slots) at once. Prefill (many tokens of one slot) and
// batched decode (one token of many slots) are the same call: the GEMMs run over all n tokens together and
// attention reads each token's slot of the cache up to its own position.
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
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
    free(kv->work);
    memset(kv, 0, sizeof *kv);
}

typedef struct {
    float *x, *xn, *q, *k, *v, *att, *tmp, *gate, *up, *h, *att_scratch;
    int *pos, *kv_start, *kv_len, *rows;
} step_buffers;

static void step_carve(const model *m, const kv_cache *kv, int n, step_buffers *s, float *base, size_t *total) {
    const hf_config *c = &m->cfg;
    size_t C = c->hidden_size, Q = (size_t)c->num_attention_heads * c->head_dim, KV = kv->kv_dim;
    size_t F = c->intermediate_size, R = m->lora ? (size_t)m->lora->cfg.rank : 1, off = 0;
    size_t ints = (n * sizeof(int) + sizeof(float) - 1) / sizeof(float);
    float **bufs[] = {&s->x, &s->xn, &s->q, &s->k, &s->v, &s->att, &s->tmp, &s->gate, &s->up, &s->h, &s->att_scratch};
    size_t sizes[] = {n * C, n * C, n * Q, n * KV, n * KV, n * Q, n * C, n * F, n * F, n * R,
                      attention_scratch_floats(kv->max_len)};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (base) *bufs[i] = base + off;
        off += (sizes[i] + 15) / 16 * 16;  // each buffer on a cache line (kv->work is 64-byte aligned)
    }
    int **ibufs[] = {&s->pos, &s->kv_start, &s->kv_len, &s->rows};
    for (int i = 0; i < 4; i++) {
        if (base) *ibufs[i] = (int *)(base + off);
        off += ints;
    }
    *total = off;
}

int kv_step_positions(const int *len, int n_slots, int max_len, int vocab, int n, const int *tokens,
                      const int *slot_of, int *pos, int *kv_start, int *kv_len, mg_err *e) {
    int *added = callocCheck((size_t)(n_slots > 0 ? n_slots : 1), sizeof(int));
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        int slot = slot_of[i];
        if (slot < 0 || slot >= n_slots) {
            rc = mg_fail(e, "step: slot %d out of range (cache has %d)", slot, n_slots);
            break;
        }
        pos[i] = len[slot] + added[slot]++;
        if (pos[i] >= max_len) rc = mg_fail(e, "sequence in slot %d reached the cache length %d", slot, max_len);
        else if (tokens[i] < 0 || tokens[i] >= vocab)
            rc = mg_fail(e, "token id %d outside the vocabulary (size %d)", tokens[i], vocab);
        kv_start[i] = slot * max_len;
        kv_len[i] = pos[i] + 1;
    }
    free(added);
    return rc;
}

int model_step(model *m, kv_cache *kv, int n, const int *tokens, const int *slot_of, const char *want_logits,
               float *logits, mg_err *e) {
    const hf_config *c = &m->cfg;
    int C = c->hidden_size, Hq = c->num_attention_heads, Hkv = c->num_key_value_heads, D = c->head_dim;
    int F = c->intermediate_size, KV = kv->kv_dim, L = c->num_hidden_layers;
    step_buffers s;
    size_t need;
    step_carve(m, kv, n, &s, NULL, &need);
    if (need > kv->work_cap) {
        free(kv->work);
        kv->work = alignedCallocCheck(need, sizeof(float));
        kv->work_cap = need;
    }
    step_carve(m, kv, n, &s, kv->work, &need);

    if (kv_step_positions(kv->len, kv->n_slots, kv->max_len, c->vocab_size, n, tokens, slot_of, s.pos, s.kv_start,
                          s.kv_len, e))
        return -1;

    encoder_forward(s.x, tokens, m->w.wte, n, C);
    for (int l = 0; l < L; l++) {
        const layer_weights *w = &m->w.layers[l];
        float *kc = kv->k + (size_t)l * kv->n_slots * kv->max_len * KV;
        float *vc = kv->v + (size_t)l * kv->n_slots * kv->max_len * KV;
        rmsnorm_forward(s.xn, NULL, s.x, w->attn_norm, n, C, c->rms_norm_eps);
        linear_forward_invariant_group(m, l, 3, (const int[]){0, 1, 2}, (float *const[]){s.q, s.k, s.v},
                                       (const float *const[]){w->wq, w->wk, w->wv},
                                       (const float *const[]){w->bq, w->bk, w->bv}, s.h, s.xn, n);
        rope_forward(s.q, s.pos, m->inv_freq, n, Hq, D);
        rope_forward(s.k, s.pos, m->inv_freq, n, Hkv, D);
        for (int i = 0; i < n; i++) {
            size_t row = (size_t)s.kv_start[i] + s.pos[i];
            memcpy(kc + row * KV, s.k + (size_t)i * KV, (size_t)KV * sizeof(float));
            memcpy(vc + row * KV, s.v + (size_t)i * KV, (size_t)KV * sizeof(float));
        }
        // Pairwise: a prefill into slot 0 would look like a training block to attention_forward and take its GEMMs,
        // and a token's result must not depend on its slot or on what else is in the batch.
        attention_forward_pairwise(s.att, s.q, kc, vc, s.kv_start, s.kv_len, n, Hq, Hkv, D, s.att_scratch);
        linear_forward(m, l, 3, s.tmp, s.h, s.att, w->wo, w->bo, n, 1);
        add_inplace(s.x, s.tmp, (size_t)n * C);
        rmsnorm_forward(s.xn, NULL, s.x, w->mlp_norm, n, C, c->rms_norm_eps);
        linear_forward_invariant_group(m, l, 2, (const int[]){4, 5}, (float *const[]){s.gate, s.up},
                                       (const float *const[]){w->wgate, w->wup},
                                       (const float *const[]){w->bgate, w->bup}, s.h, s.xn, n);
        swiglu_forward(s.gate, s.gate, s.up, n, F);
        linear_forward(m, l, 6, s.tmp, s.h, s.gate, w->wdown, w->bdown, n, 1);
        add_inplace(s.x, s.tmp, (size_t)n * C);
    }
    for (int i = 0; i < n; i++) kv->len[slot_of[i]]++;

    // Final norm and LM head only for the rows whose logits are wanted (usually each slot's last token).
    int nw = 0;
    for (int i = 0; i < n; i++)
        if (!want_logits || want_logits[i]) s.rows[nw++] = i;
    for (int r = 0; r < nw; r++) memcpy(s.xn + (size_t)r * C, s.x + (size_t)s.rows[r] * C, (size_t)C * sizeof(float));
    rmsnorm_forward(s.xn, NULL, s.xn, m->w.norm, nw, C, c->rms_norm_eps);
    if (nw) matmul_forward_invariant(logits, s.xn, m->w.lm_head, NULL, nw, C, c->vocab_size);
    return 0;
}
