// Training forward and backward over a packed batch. The forward keeps what the backward needs (one set of
// buffers per layer); the backward walks the layers in reverse, accumulating into the trainable gradients only:
// in LoRA mode the frozen weights get no gradient buffer at all, only the activations' gradients flow through.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "model/accel.h"
#include "model/model_internal.h"

typedef struct {
    float *resid_in;    // (N, C) layer input
    float *xn1;         // (N, C) after input_layernorm
    float *rstd1;       // (N)
    float *q;           // (N, Hq*D) after RoPE
    float *k, *v;       // (N, Hkv*D), k after RoPE
    float *att;         // (N, Hq*D) attention output
    float *resid_mid;   // (N, C) after the attention residual
    float *xn2;         // (N, C)
    float *rstd2;       // (N)
    float *gate, *up;   // (N, F) pre-activation
    float *act;         // (N, F) silu(gate) * up
    float *lora_h[LORA_N_MODULES];  // (N, R) inp @ A^T per adapted module
} layer_acts;

struct model_acts {
    int capacity;       // tokens
    int lora_rank;      // rank and target modules the lora_h buffers were carved for
    unsigned lora_targets;
    float *slab;
    layer_acts *layers;
    float *resid_out;   // (N, C) output of the last layer
    float *xf;          // (N, C) after the final norm
    float *rstdf;       // (N)
    // backward scratch
    float *dresid, *dx, *dq, *dk, *dv, *datt, *dgate, *dup, *dact, *dh;
    float *lm_scratch;  // logprob_scratch_floats(V)
    logprob_keep *lm_keep;  // the forward's softmax, for the backward (NULL when not even one chunk fits)
    float *att_scratch;
    size_t att_scratch_n;
    int *kv_start, *kv_len;  // (N)
    float lm_temp;           // temperature of the last forward
};

void model_acts_free(model_acts *a) {
    if (!a) return;
    free(a->slab);
    free(a->layers);
    free(a->lm_scratch);
    logprob_keep_free(a->lm_keep);
    free(a->att_scratch);
    free(a->kv_start);
    free(a->kv_len);
    free(a);
}

// Carves all buffers for N tokens out of one allocation (or only sizes it when base is NULL).
static size_t carve(const model *m, model_acts *a, float *base, int N) {
    const hf_config *c = &m->cfg;
    size_t C = c->hidden_size, Q = (size_t)c->num_attention_heads * c->head_dim;
    size_t KV = (size_t)c->num_key_value_heads * c->head_dim, F = c->intermediate_size, n = N;
    size_t R = m->lora ? (size_t)m->lora->cfg.rank : 0, off = 0;
#define TAKE(ptr, count)                                                                                             \
    do {                                                                                                             \
        if (base) (ptr) = base + off;                                                                                \
        off += (count);                                                                                              \
    } while (0)
    for (int l = 0; l < c->num_hidden_layers; l++) {
        layer_acts *la = base ? &a->layers[l] : NULL;
        layer_acts dummy;
        if (!la) la = &dummy;
        TAKE(la->resid_in, n * C);
        TAKE(la->xn1, n * C);
        TAKE(la->rstd1, n);
        TAKE(la->q, n * Q);
        TAKE(la->k, n * KV);
        TAKE(la->v, n * KV);
        TAKE(la->att, n * Q);
        TAKE(la->resid_mid, n * C);
        TAKE(la->xn2, n * C);
        TAKE(la->rstd2, n);
        TAKE(la->gate, n * F);
        TAKE(la->up, n * F);
        TAKE(la->act, n * F);
        for (int k = 0; k < LORA_N_MODULES; k++) {
            la->lora_h[k] = NULL;
            if (m->lora && (m->lora->cfg.targets & (1u << k))) TAKE(la->lora_h[k], n * R);
        }
    }
    TAKE(a->resid_out, n * C);
    TAKE(a->xf, n * C);
    TAKE(a->rstdf, n);
    size_t widest = C > Q ? C : Q;
    TAKE(a->dresid, n * C);
    TAKE(a->dx, n * (widest > F ? widest : F));
    TAKE(a->dq, n * Q);
    TAKE(a->dk, n * KV);
    TAKE(a->dv, n * KV);
    TAKE(a->datt, n * Q);
    TAKE(a->dgate, n * F);
    TAKE(a->dup, n * F);
    TAKE(a->dact, n * F);
    TAKE(a->dh, n * (R ? R : 1));
#undef TAKE
    return off;
}

// At most this much memory keeps the LM head's softmax from the forward for the backward (all 1024 scored tokens of
// the benchmark's step at V = 8192 take 32 MB; at Llama-3's V = 128k, 256 MB holds the first 448 and the rest
// are computed again).
#define LM_KEEP_BYTES ((size_t)256 << 20)

static model_acts *ensure_acts(model *m, int N, int max_seq) {
    model_acts *a = m->acts;
    int rank = m->lora ? m->lora->cfg.rank : 0;
    unsigned targets = m->lora ? m->lora->cfg.targets : 0;
    if (!a || a->capacity < N || a->lora_rank != rank || a->lora_targets != targets) {
        int cap = a && a->capacity > N ? a->capacity : N;
        if (a) {
            free(a->slab);
            free(a->kv_start);
            free(a->kv_len);
            logprob_keep_free(a->lm_keep);
        } else {
            a = callocCheck(1, sizeof *a);
            a->layers = callocCheck((size_t)m->cfg.num_hidden_layers, sizeof(layer_acts));
            a->lm_scratch = mallocCheck(logprob_scratch_floats(m->cfg.vocab_size) * sizeof(float));
        }
        a->capacity = cap;
        a->lora_rank = rank;
        a->lora_targets = targets;
        a->slab = mallocCheck(carve(m, a, NULL, cap) * sizeof(float));
        carve(m, a, a->slab, cap);
        a->kv_start = mallocCheck((size_t)cap * sizeof(int));
        a->kv_len = mallocCheck((size_t)cap * sizeof(int));
        a->lm_keep = logprob_keep_new(cap, m->cfg.vocab_size, LM_KEEP_BYTES);
        m->acts = a;
    }
    size_t need = attention_scratch_floats(max_seq);
    if (need > a->att_scratch_n) {
        free(a->att_scratch);
        a->att_scratch = mallocCheck(need * sizeof(float));
        a->att_scratch_n = need;
    }
    return a;
}

static void linear_bwd(model *m, int l, int module, float *dinp, float *dW, float *db, const float *dout,
                       const float *inp, const float *W, const float *h, float *dh, int N) {
    int in, outd;
    linear_shape(&m->cfg, module, &in, &outd);
    matmul_backward(dinp, dW, db, dout, inp, W, N, in, outd);
    if (lora_active(m, module)) {
        lora_adapter *a = m->lora;
        int train = m->mode == TRAIN_LORA;
        lora_backward(dinp, train ? a->dlayers[l].A[module] : NULL, train ? a->dlayers[l].B[module] : NULL, dh, dout,
                      inp, h, a->layers[l].A[module], a->layers[l].B[module], N, in, outd, a->cfg.rank, a->scale);
    }
}

double model_forward(model *m, const packed_batch *b, float temperature, float *logp, float *entropy) {
    if (m->accel) return m->accel->ops->forward(m->accel, m, b, temperature, logp, entropy);
    mgCheck(m->params != NULL, "model_forward on a model without host weights (model_load_shape, or dropped)");
    const hf_config *c = &m->cfg;
    int N = b->n_tokens, C = c->hidden_size, Hq = c->num_attention_heads, Hkv = c->num_key_value_heads;
    int D = c->head_dim, F = c->intermediate_size, max_seq = 1;
    for (int s = 0; s < b->n_seqs; s++)
        if (b->seq_start[s + 1] - b->seq_start[s] > max_seq) max_seq = b->seq_start[s + 1] - b->seq_start[s];
    model_acts *a = ensure_acts(m, N, max_seq);
    // Token i of sequence s attends to its own sequence's tokens 0..pos[i].
    for (int s = 0; s < b->n_seqs; s++)
        for (int i = b->seq_start[s]; i < b->seq_start[s + 1]; i++) a->kv_start[i] = b->seq_start[s], a->kv_len[i] = b->pos[i] + 1;

    encoder_forward(a->layers[0].resid_in, b->tokens, m->w.wte, N, C);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        layer_acts *la = &a->layers[l];
        const layer_weights *w = &m->w.layers[l];
        float *out = l + 1 < c->num_hidden_layers ? a->layers[l + 1].resid_in : a->resid_out;
        rmsnorm_forward(la->xn1, la->rstd1, la->resid_in, w->attn_norm, N, C, c->rms_norm_eps);
        linear_forward(m, l, 0, la->q, la->lora_h[0], la->xn1, w->wq, w->bq, N, 0);
        linear_forward(m, l, 1, la->k, la->lora_h[1], la->xn1, w->wk, w->bk, N, 0);
        linear_forward(m, l, 2, la->v, la->lora_h[2], la->xn1, w->wv, w->bv, N, 0);
        rope_forward(la->q, b->pos, m->inv_freq, N, Hq, D);
        rope_forward(la->k, b->pos, m->inv_freq, N, Hkv, D);
        attention_forward(la->att, la->q, la->k, la->v, a->kv_start, a->kv_len, N, Hq, Hkv, D, a->att_scratch);
        linear_forward(m, l, 3, a->dx, la->lora_h[3], la->att, w->wo, w->bo, N, 0);  // dx: scratch for o_proj output
        residual_forward(la->resid_mid, la->resid_in, a->dx, (size_t)N * C);
        rmsnorm_forward(la->xn2, la->rstd2, la->resid_mid, w->mlp_norm, N, C, c->rms_norm_eps);
        linear_forward(m, l, 4, la->gate, la->lora_h[4], la->xn2, w->wgate, w->bgate, N, 0);
        linear_forward(m, l, 5, la->up, la->lora_h[5], la->xn2, w->wup, w->bup, N, 0);
        swiglu_forward(la->act, la->gate, la->up, N, F);
        linear_forward(m, l, 6, a->dx, la->lora_h[6], la->act, w->wdown, w->bdown, N, 0);
        residual_forward(out, la->resid_mid, a->dx, (size_t)N * C);
    }
    rmsnorm_forward(a->xf, a->rstdf, a->resid_out, m->w.norm, N, C, c->rms_norm_eps);
    logprob_forward(logp, entropy, a->xf, m->w.lm_head, b->targets, N, C, c->vocab_size, 1.0f / temperature,
                    a->lm_scratch, a->lm_keep);
    double total = 0.0;
    for (int i = 0; i < N; i++) total += logp[i];
    // Remember the temperature for the backward pass.
    a->lm_temp = temperature;
    return total;
}

void model_backward(model *m, const packed_batch *b, const float *dlogp) {
    if (m->accel) {
        mgCheck(m->mode == TRAIN_LORA, "a model on another backend trains LoRA adapters only");
        m->accel->ops->backward(m->accel, m, b, dlogp);
        return;
    }
    mgCheck(m->mode != TRAIN_NONE, "model_backward needs TRAIN_LORA or TRAIN_FULL (model_set_train_mode)");
    model_acts *a = m->acts;
    mgCheck(a != NULL && a->capacity >= b->n_tokens, "model_backward must follow model_forward on the same batch");
    const hf_config *c = &m->cfg;
    int N = b->n_tokens, C = c->hidden_size, Hq = c->num_attention_heads, Hkv = c->num_key_value_heads;
    int D = c->head_dim, F = c->intermediate_size, Q = Hq * D, KV = Hkv * D;
    model_weights *g = &m->g;  // all NULL unless full-parameter training
    int full = m->mode == TRAIN_FULL;

    memset(a->dx, 0, (size_t)N * C * sizeof(float));
    logprob_backward(a->dx, full ? g->lm_head : NULL, dlogp, a->xf, m->w.lm_head, b->targets, N, C, c->vocab_size,
                     1.0f / a->lm_temp, a->lm_scratch, a->lm_keep);
    memset(a->dresid, 0, (size_t)N * C * sizeof(float));
    rmsnorm_backward(a->dresid, full ? g->norm : NULL, a->dx, a->resid_out, m->w.norm, a->rstdf, N, C);

    for (int l = c->num_hidden_layers - 1; l >= 0; l--) {
        layer_acts *la = &a->layers[l];
        const layer_weights *w = &m->w.layers[l];
        layer_weights gl = full ? g->layers[l] : (layer_weights){0};
        // MLP block: resid_out = resid_mid + down(act); dresid flows to resid_mid unchanged.
        memset(a->dact, 0, (size_t)N * F * sizeof(float));
        linear_bwd(m, l, 6, a->dact, gl.wdown, gl.bdown, a->dresid, la->act, w->wdown, la->lora_h[6], a->dh, N);
        memset(a->dgate, 0, (size_t)N * F * sizeof(float));
        memset(a->dup, 0, (size_t)N * F * sizeof(float));
        swiglu_backward(a->dgate, a->dup, a->dact, la->gate, la->up, N, F);
        memset(a->dx, 0, (size_t)N * C * sizeof(float));
        linear_bwd(m, l, 4, a->dx, gl.wgate, gl.bgate, a->dgate, la->xn2, w->wgate, la->lora_h[4], a->dh, N);
        linear_bwd(m, l, 5, a->dx, gl.wup, gl.bup, a->dup, la->xn2, w->wup, la->lora_h[5], a->dh, N);
        rmsnorm_backward(a->dresid, gl.mlp_norm, a->dx, la->resid_mid, w->mlp_norm, la->rstd2, N, C);
        // Attention block: resid_mid = resid_in + o_proj(att).
        memset(a->datt, 0, (size_t)N * Q * sizeof(float));
        linear_bwd(m, l, 3, a->datt, gl.wo, gl.bo, a->dresid, la->att, w->wo, la->lora_h[3], a->dh, N);
        memset(a->dq, 0, (size_t)N * Q * sizeof(float));
        memset(a->dk, 0, (size_t)N * KV * sizeof(float));
        memset(a->dv, 0, (size_t)N * KV * sizeof(float));
        attention_backward(a->dq, a->dk, a->dv, a->datt, la->q, la->k, la->v, a->kv_start, a->kv_len, N, Hq, Hkv, D,
                           a->att_scratch);
        rope_backward(a->dq, b->pos, m->inv_freq, N, Hq, D);
        rope_backward(a->dk, b->pos, m->inv_freq, N, Hkv, D);
        memset(a->dx, 0, (size_t)N * C * sizeof(float));
        linear_bwd(m, l, 0, a->dx, gl.wq, gl.bq, a->dq, la->xn1, w->wq, la->lora_h[0], a->dh, N);
        linear_bwd(m, l, 1, a->dx, gl.wk, gl.bk, a->dk, la->xn1, w->wk, la->lora_h[1], a->dh, N);
        linear_bwd(m, l, 2, a->dx, gl.wv, gl.bv, a->dv, la->xn1, w->wv, la->lora_h[2], a->dh, N);
        rmsnorm_backward(a->dresid, gl.attn_norm, a->dx, la->resid_in, w->attn_norm, la->rstd1, N, C);
    }
    if (full) encoder_backward(g->wte, a->dresid, b->tokens, N, C);
}
