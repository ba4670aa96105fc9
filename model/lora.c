// LoRA adapters: A (R, IC) and B (OC, R) per adapted linear layer, all in one contiguous buffer so the optimizer,
// the all-reduce and the checkpoint each see a single array.
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/model_internal.h"

const char *const lora_module_names[LORA_N_MODULES] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                       "gate_proj", "up_proj", "down_proj"};

void linear_shape(const hf_config *c, int module, int *in, int *out) {
    int C = c->hidden_size, Q = c->num_attention_heads * c->head_dim, KV = c->num_key_value_heads * c->head_dim;
    int F = c->intermediate_size;
    static const int ins[LORA_N_MODULES] = {0, 0, 0, 1, 0, 0, 2};   // 0: C, 1: Q, 2: F
    static const int outs[LORA_N_MODULES] = {1, 3, 3, 0, 2, 2, 0};  // 0: C, 1: Q, 2: F, 3: KV
    int dims[4] = {C, Q, F, KV};
    *in = dims[ins[module]];
    *out = dims[outs[module]];
}

int lora_parse_targets(const char *list, unsigned *targets, mg_err *e) {
    *targets = 0;
    if (strcmp(list, "all-linear") == 0) {
        *targets = (1u << LORA_N_MODULES) - 1;
        return 0;
    }
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        int found = -1;
        for (int k = 0; k < LORA_N_MODULES; k++)
            if (strlen(lora_module_names[k]) == len && strncmp(p, lora_module_names[k], len) == 0) found = k;
        if (found < 0)
            return mg_fail(e, "unknown LoRA target module '%.*s' (known: q_proj, k_proj, v_proj, o_proj, gate_proj, "
                              "up_proj, down_proj, or all-linear)", (int)len, p);
        *targets |= 1u << found;
        if (!end) break;
        p = end + 1;
    }
    if (!*targets) return mg_fail(e, "LoRA target module list is empty");
    return 0;
}

// Points every A/B of every layer into buf (or only counts when buf is NULL).
static size_t lora_layout(const hf_config *c, const lora_config *lc, lora_layer *layers, float *buf) {
    size_t off = 0;
    for (int l = 0; l < c->num_hidden_layers; l++) {
        for (int k = 0; k < LORA_N_MODULES; k++) {
            if (!(lc->targets & (1u << k))) continue;
            int in, out;
            linear_shape(c, k, &in, &out);
            if (buf) layers[l].A[k] = buf + off;
            off += (size_t)lc->rank * in;
            if (buf) layers[l].B[k] = buf + off;
            off += (size_t)out * lc->rank;
        }
    }
    return off;
}

size_t lora_param_count(const hf_config *c, const lora_config *lc) { return lora_layout(c, lc, NULL, NULL); }

int model_lora_init(model *m, const lora_config *lc, uint64_t seed, mg_err *e) {
    if (lc->rank <= 0) return mg_fail(e, "LoRA rank must be positive (got %d)", lc->rank);
    if (!(lc->alpha > 0)) return mg_fail(e, "LoRA alpha must be positive (got %g)", lc->alpha);
    if (!lc->targets) return mg_fail(e, "LoRA needs at least one target module");
    if (m->lora) lora_free(m->lora);
    lora_adapter *a = callocCheck(1, sizeof *a);
    a->cfg = *lc;
    a->scale = lc->alpha / (float)lc->rank;
    a->enabled = 1;
    int L = m->cfg.num_hidden_layers;
    a->layers = callocCheck((size_t)L, sizeof(lora_layer));
    a->dlayers = callocCheck((size_t)L, sizeof(lora_layer));
    a->n_params = lora_layout(&m->cfg, lc, NULL, NULL);
    a->params = alignedCallocCheck(a->n_params, sizeof(float));  // rows on cache lines, like the weights
    a->grads = callocCheck(a->n_params, sizeof(float));
    lora_layout(&m->cfg, lc, a->layers, a->params);
    lora_layout(&m->cfg, lc, a->dlayers, a->grads);
    // PEFT's init: A ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); B = 0, so the adapted model
    // starts equal to the base model.
    uint64_t stream = 0;
    for (int l = 0; l < L; l++) {
        for (int k = 0; k < LORA_N_MODULES; k++, stream++) {
            if (!(lc->targets & (1u << k))) continue;
            int in, out;
            linear_shape(&m->cfg, k, &in, &out);
            float bound = 1.0f / sqrtf((float)in);
            size_t n = (size_t)lc->rank * in;
            for (size_t i = 0; i < n; i++)
                a->layers[l].A[k][i] = bound * (2.0f * rng_uniform(seed, stream, i) - 1.0f);
        }
    }
    lora_adapter_changed(a);
    m->lora = a;
    return 0;
}

void lora_adapter_changed(lora_adapter *l) {
    static _Atomic uint64_t last;  // versions are never reused, even by an adapter allocated where a freed one was
    l->version = atomic_fetch_add(&last, 1) + 1;
}

void lora_free(lora_adapter *l) {
    free(l->params);
    free(l->grads);
    free(l->layers);
    free(l->dlayers);
    free(l);
}

// PEFT's module paths: attention projections under self_attn, the MLP's under mlp.
int lora_tensors(const model *m, param_tensor *out) {
    const lora_adapter *a = m->lora;
    if (!a) return 0;
    int n = 0;
    for (int l = 0; l < m->cfg.num_hidden_layers; l++) {
        for (int k = 0; k < LORA_N_MODULES; k++) {
            if (!(a->cfg.targets & (1u << k))) continue;
            int in, outd;
            linear_shape(&m->cfg, k, &in, &outd);
            for (int ab = 0; ab < 2; ab++, n++) {
                if (!out) continue;
                param_tensor *t = &out[n];
                snprintf(t->name, sizeof t->name, "model.layers.%d.%s.%s.lora_%c.weight", l, k < 4 ? "self_attn" : "mlp",
                         lora_module_names[k], ab ? 'B' : 'A');
                const float *p = ab ? a->layers[l].B[k] : a->layers[l].A[k];
                t->offset = (size_t)(p - a->params);
                t->rows = ab ? outd : a->cfg.rank;
                t->cols = ab ? a->cfg.rank : in;
            }
        }
    }
    return n;
}
