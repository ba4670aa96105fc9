// Parameters: the table of HF tensor names and shapes, one contiguous buffer, loading, saving and random init.
#include "model/model.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file.h"
#include "common/rng.h"
#include "model/engine.h"
#include "model/model_internal.h"
#include "model/safetensors.h"

// One row per tensor a decoder layer may have, in HF's order. `needs` says which config flag makes it exist.
enum { ALWAYS, ATTN_BIAS, O_BIAS, MLP_BIAS };
enum { DIM_C, DIM_Q, DIM_KV, DIM_F };
typedef struct {
    const char *suffix;
    size_t field;  // offset in layer_weights
    int needs;
    int rows, cols;  // DIM_* (cols < 0: a vector)
} layer_tensor;

static const layer_tensor LAYER_TENSORS[] = {
    {"input_layernorm.weight", offsetof(layer_weights, attn_norm), ALWAYS, DIM_C, -1},
    {"self_attn.q_proj.weight", offsetof(layer_weights, wq), ALWAYS, DIM_Q, DIM_C},
    {"self_attn.q_proj.bias", offsetof(layer_weights, bq), ATTN_BIAS, DIM_Q, -1},
    {"self_attn.k_proj.weight", offsetof(layer_weights, wk), ALWAYS, DIM_KV, DIM_C},
    {"self_attn.k_proj.bias", offsetof(layer_weights, bk), ATTN_BIAS, DIM_KV, -1},
    {"self_attn.v_proj.weight", offsetof(layer_weights, wv), ALWAYS, DIM_KV, DIM_C},
    {"self_attn.v_proj.bias", offsetof(layer_weights, bv), ATTN_BIAS, DIM_KV, -1},
    {"self_attn.o_proj.weight", offsetof(layer_weights, wo), ALWAYS, DIM_C, DIM_Q},
    {"self_attn.o_proj.bias", offsetof(layer_weights, bo), O_BIAS, DIM_C, -1},
    {"post_attention_layernorm.weight", offsetof(layer_weights, mlp_norm), ALWAYS, DIM_C, -1},
    {"mlp.gate_proj.weight", offsetof(layer_weights, wgate), ALWAYS, DIM_F, DIM_C},
    {"mlp.gate_proj.bias", offsetof(layer_weights, bgate), MLP_BIAS, DIM_F, -1},
    {"mlp.up_proj.weight", offsetof(layer_weights, wup), ALWAYS, DIM_F, DIM_C},
    {"mlp.up_proj.bias", offsetof(layer_weights, bup), MLP_BIAS, DIM_F, -1},
    {"mlp.down_proj.weight", offsetof(layer_weights, wdown), ALWAYS, DIM_C, DIM_F},
    {"mlp.down_proj.bias", offsetof(layer_weights, bdown), MLP_BIAS, DIM_C, -1},
};
enum { N_LAYER_TENSORS = sizeof LAYER_TENSORS / sizeof LAYER_TENSORS[0] };

static int tensor_present(const hf_config *c, const layer_tensor *t) {
    switch (t->needs) {
    case ATTN_BIAS: return c->attention_bias;
    case O_BIAS: return c->o_proj_bias;
    case MLP_BIAS: return c->mlp_bias;
    default: return 1;
    }
}

static int64_t dim_size(const hf_config *c, int dim) {
    switch (dim) {
    case DIM_C: return c->hidden_size;
    case DIM_Q: return (int64_t)c->num_attention_heads * c->head_dim;
    case DIM_KV: return (int64_t)c->num_key_value_heads * c->head_dim;
    default: return c->intermediate_size;
    }
}

static int tensors_per_layer(const hf_config *c) {
    int n = 0;
    for (int k = 0; k < N_LAYER_TENSORS; k++) n += tensor_present(c, &LAYER_TENSORS[k]);
    return n;
}

// embed_tokens, the layers' tensors, the final norm, and lm_head unless tied
static int param_count(const hf_config *c) {
    return 1 + c->num_hidden_layers * tensors_per_layer(c) + 1 + (c->tie_word_embeddings ? 0 : 1);
}

int model_param_count(const model *m) { return param_count(&m->cfg); }

// Describes tensor `index` of a weight set `w`: HF name into buf, its pointer slot in w, and its shape.
static float **param_slot(const hf_config *c, model_weights *w, int index, char *buf, size_t buflen, int *ndim,
                          int64_t shape[2]) {
    int per_layer = tensors_per_layer(c), L = c->num_hidden_layers;
    if (index == 0) {
        snprintf(buf, buflen, "model.embed_tokens.weight");
        *ndim = 2, shape[0] = c->vocab_size, shape[1] = c->hidden_size;
        return &w->wte;
    }
    index -= 1;
    if (index < L * per_layer) {
        int l = index / per_layer, want = index % per_layer;
        for (int k = 0; k < N_LAYER_TENSORS; k++) {
            const layer_tensor *t = &LAYER_TENSORS[k];
            if (!tensor_present(c, t)) continue;
            if (want-- > 0) continue;
            snprintf(buf, buflen, "model.layers.%d.%s", l, t->suffix);
            shape[0] = dim_size(c, t->rows);
            *ndim = 1;
            if (t->cols >= 0) *ndim = 2, shape[1] = dim_size(c, t->cols);
            return (float **)((char *)&w->layers[l] + t->field);
        }
    }
    index -= L * per_layer;
    if (index == 0) {
        snprintf(buf, buflen, "model.norm.weight");
        *ndim = 1, shape[0] = c->hidden_size;
        return &w->norm;
    }
    snprintf(buf, buflen, "lm_head.weight");
    *ndim = 2, shape[0] = c->vocab_size, shape[1] = c->hidden_size;
    return &w->lm_head;
}

const char *model_param_name(const model *m, int index, char *buf, size_t buflen, float **ptr, int *ndim,
                             int64_t shape[2]) {
    model_weights w = m->w;  // a copy: param_slot hands out slots, we only read through them
    float **slot = param_slot(&m->cfg, &w, index, buf, buflen, ndim, shape);
    if (ptr) *ptr = *slot;
    return buf;
}

static int64_t numel(int ndim, const int64_t shape[2]) { return ndim == 1 ? shape[0] : shape[0] * shape[1]; }

// Lays every tensor of the table out in `buf` (or just counts when buf is NULL), one after the other, and lists
// them in `out` when given; ties lm_head to wte (a tied head is not a tensor of its own, so it is not listed).
static size_t layout_weights(const hf_config *c, model_weights *w, float *buf, param_tensor *out) {
    size_t off = 0;
    char name[128];
    int ndim, count = param_count(c);
    int64_t shape[2];
    for (int i = 0; i < count; i++) {
        float **slot = out ? param_slot(c, w, i, out[i].name, sizeof out[i].name, &ndim, shape)
                           : param_slot(c, w, i, name, sizeof name, &ndim, shape);
        if (buf) *slot = buf + off;
        if (out) {
            out[i].offset = off;
            out[i].rows = ndim == 1 ? 1 : (int)shape[0];
            out[i].cols = ndim == 1 ? (int)shape[0] : (int)shape[1];
        }
        off += (size_t)numel(ndim, shape);
    }
    if (c->tie_word_embeddings && buf) w->lm_head = w->wte;
    return off;
}

int model_weight_tensors(const model *m, param_tensor *out) {
    model_weights w = m->w;  // layout_weights is handed a copy: only names and shapes are read
    if (out) layout_weights(&m->cfg, &w, NULL, out);
    return model_param_count(m);
}

// Rotary frequencies, in fp32 arithmetic as transformers computes them (including llama3 scaling), so that the
// angles round the same way.
static void compute_inv_freq(const hf_config *c, float *inv_freq) {
    int D = c->head_dim;
    for (int j = 0; j < D / 2; j++) {
        float expo = (float)(2 * j) / (float)D;
        float f = 1.0f / powf((float)c->rope_theta, expo);
        if (c->rope_llama3) {
            float factor = (float)c->rope_factor, lo = (float)c->rope_low_freq_factor;
            float hi = (float)c->rope_high_freq_factor, old = (float)c->rope_original_max_position_embeddings;
            float low_wavelen = old / lo, high_wavelen = old / hi;
            float wavelen = 2.0f * (float)M_PI / f;
            if (wavelen > low_wavelen) {
                f = f / factor;
            } else if (wavelen >= high_wavelen) {
                float smooth = (old / wavelen - lo) / (hi - lo);
                f = (1.0f - smooth) * f / factor + smooth * f;
            }
        }
        inv_freq[j] = f;
    }
}

// weights 0: the shape only (n_params counted, m->params NULL), for model_load_shape.
static void model_alloc(model *m, const hf_config *cfg, int weights) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->w.layers = callocCheck((size_t)cfg->num_hidden_layers, sizeof(layer_weights));
    m->g.layers = callocCheck((size_t)cfg->num_hidden_layers, sizeof(layer_weights));
    m->n_params = layout_weights(cfg, &m->w, NULL, NULL);
    if (weights) {
        // Aligned: with the usual dims (multiples of 16) every tensor then starts on a cache line.
        m->params = m->own_params = alignedCallocCheck(m->n_params, sizeof(float));
        layout_weights(cfg, &m->w, m->params, NULL);
    }
    m->inv_freq = mallocCheck((size_t)cfg->head_dim / 2 * sizeof(float));
    compute_inv_freq(cfg, m->inv_freq);
}

// tie_word_embeddings against the checkpoint: an untied model needs its lm_head.weight (checked before reading, so
// the message names the key), and a tied one must not hold another head (which of the two transformers would use
// depends on its loading order): refused, not guessed.
static int check_untied_head(const hf_config *c, const st_file *st, const char *dir, mg_err *e) {
    if (c->tie_word_embeddings || st_find(st, "lm_head.weight")) return 0;
    return mg_fail(e, "%s: config.json has tie_word_embeddings false (the default when absent), but the checkpoint "
                      "has no lm_head.weight: set it to true if the head is the embedding", dir);
}

static int check_tied_head(const model *m, const st_file *st, const char *dir, mg_err *e) {
    if (!m->cfg.tie_word_embeddings || !st_find(st, "lm_head.weight")) return 0;
    size_t n = (size_t)m->cfg.vocab_size * (size_t)m->cfg.hidden_size;
    float *copy = mallocCheck(n * sizeof(float));
    int64_t shape[2] = {m->cfg.vocab_size, m->cfg.hidden_size};
    int rc = st_read_f32(st, "lm_head.weight", copy, 2, shape, e);
    if (!rc && memcmp(copy, m->w.wte, n * sizeof(float)) != 0)
        rc = mg_fail(e, "%s: config.json has tie_word_embeddings true, but the checkpoint holds an lm_head.weight "
                        "unlike model.embed_tokens.weight: set it to false to use that head", dir);
    free(copy);
    return rc;
}

int model_load(model *m, const char *dir, mg_err *e) {
    hf_config cfg;
    if (hf_config_load(&cfg, dir, e)) return -1;
    st_file st;
    if (st_open(&st, dir, e)) return -1;
    if (check_untied_head(&cfg, &st, dir, e)) {
        st_close(&st);
        return -1;
    }
    model_alloc(m, &cfg, 1);
    int count = model_param_count(m);
    for (int i = 0; i < count; i++) {
        char name[128];
        int ndim;
        int64_t shape[2];
        float *ptr;
        model_param_name(m, i, name, sizeof name, &ptr, &ndim, shape);
        if (st_read_f32(&st, name, ptr, ndim, shape, e)) {
            st_close(&st);
            model_free(m);
            return -1;
        }
    }
    int rc = check_tied_head(m, &st, dir, e);
    st_close(&st);
    if (rc) model_free(m);
    return rc;
}

int model_load_shape(model *m, const char *dir, mg_err *e) {
    hf_config cfg;
    if (hf_config_load(&cfg, dir, e)) return -1;
    model_alloc(m, &cfg, 0);
    return 0;
}

void model_drop_host_weights(model *m) {
    if (m->eng && m->eng->borrowed) engine_free(m->eng), free(m->eng), m->eng = NULL;  // it wrapped them
    free(m->own_params);
    m->params = m->own_params = NULL;
    int L = m->cfg.num_hidden_layers;
    memset(m->w.layers, 0, (size_t)L * sizeof(layer_weights));  // every pointer pointed into params
    m->w.wte = m->w.norm = m->w.lm_head = NULL;
}

void model_init_random(model *m, const hf_config *cfg, uint64_t seed) {
    model_alloc(m, cfg, 1);
    int count = model_param_count(m);
    for (int i = 0; i < count; i++) {
        char name[128];
        int ndim;
        int64_t shape[2];
        float *ptr;
        model_param_name(m, i, name, sizeof name, &ptr, &ndim, shape);
        int64_t n = numel(ndim, shape);
        int is_norm = strstr(name, "norm") != NULL, is_bias = strstr(name, ".bias") != NULL;
        for (int64_t k = 0; k < n; k++)
            ptr[k] = is_norm ? 1.0f : is_bias ? 0.0f : 0.02f * rng_normal(seed, (uint64_t)i, (uint64_t)k);
    }
}

int model_save(const model *m, const char *dir, int as_bf16, mg_err *e) {
    mkdir(dir, 0755);  // may exist already; hf_config_write reports a real failure
    if (hf_config_write(&m->cfg, dir, e)) return -1;
    int count = model_param_count(m);
    st_write_entry *entries = callocCheck((size_t)count, sizeof *entries);
    char (*names)[128] = callocCheck((size_t)count, sizeof *names);
    uint16_t **converted = callocCheck((size_t)count, sizeof *converted);
    for (int i = 0; i < count; i++) {
        float *ptr;
        model_param_name(m, i, names[i], sizeof names[i], &ptr, &entries[i].ndim, entries[i].shape);
        entries[i].name = names[i];
        entries[i].dtype = ST_F32;
        entries[i].data = ptr;
        if (as_bf16) {
            int64_t n = numel(entries[i].ndim, entries[i].shape);
            converted[i] = mallocCheck((size_t)n * sizeof(uint16_t));
            for (int64_t k = 0; k < n; k++) converted[i][k] = f32_to_bf16(ptr[k]);
            entries[i].dtype = ST_BF16;
            entries[i].data = converted[i];
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const char *meta[] = {"format", "pt", NULL};
    int rc = st_write(path, entries, count, meta, e);
    for (int i = 0; i < count; i++) free(converted[i]);
    free(converted);
    free(names);
    free(entries);
    return rc;
}

int model_save_folder(const model *m, const char *dir, int as_bf16, const char *tokenizer_dir, mg_err *e) {
    if (model_save(m, dir, as_bf16, e)) return -1;
    const char *files[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        char from[4200], to[4200];
        snprintf(from, sizeof from, "%s/%s", tokenizer_dir, files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        if (file_copy(from, to, (size_t)1 << 30, i == 1, e) < 0) return -1;
    }
    return 0;
}

void model_free(model *m) {
    if (!m) return;
    if (m->eng) engine_free(m->eng), free(m->eng);
    if (m->lora) lora_free(m->lora);
    free(m->own_params);
    free(m->grads);
    free(m->w.layers);
    free(m->g.layers);
    free(m->inv_freq);
    memset(m, 0, sizeof *m);
}

void model_set_train_mode(model *m, train_mode mode) {
    m->mode = mode;
    if (mode == TRAIN_FULL && !m->grads) {
        m->grads = callocCheck(m->n_params, sizeof(float));
        layout_weights(&m->cfg, &m->g, m->grads, NULL);
    }
    if (mode == TRAIN_LORA) mgCheck(m->lora != NULL, "call model_lora_init before TRAIN_LORA");
}

void model_use_weights(model *m, float *params) {
    if (!params) params = m->own_params;
    if (params == m->params) return;
    mgCheck(!m->eng || m->eng->borrowed, "a model on another backend runs its own weights (train LoRA there)");
    mgCheck(params != NULL, "the model has no host weights");
    m->params = params;
    layout_weights(&m->cfg, &m->w, params, NULL);
}

void model_zero_grad(model *m) {
    if (m->grads) memset(m->grads, 0, m->n_params * sizeof(float));
    if (m->lora) memset(m->lora->grads, 0, m->lora->n_params * sizeof(float));
    if (m->eng && !m->eng->borrowed) engine_zero_grad(m->eng);  // a device engine's own gradient buffer
}

float *model_trainable(model *m, size_t *n) {
    if (m->mode == TRAIN_LORA) return *n = m->lora->n_params, m->lora->params;
    if (m->mode == TRAIN_FULL) return *n = m->n_params, m->params;
    return *n = 0, NULL;
}

float *model_trainable_grad(model *m, size_t *n) {
    if (m->mode == TRAIN_LORA) return *n = m->lora->n_params, m->lora->grads;
    if (m->mode == TRAIN_FULL) return *n = m->n_params, m->grads;
    return *n = 0, NULL;
}
