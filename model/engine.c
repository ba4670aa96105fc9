// The transformer over a backend table, part 1: the weights and the adapter on the backend, and the training
// forward and backward over a packed batch (the KV-cache steps and generate() are in engine_decode.c, the engine
// over a model's own buffers in engine_wrap.c). An engine of its own on mg_backend_cpu and a wrapped one make the
// same calls in the same order on the same values, so their results are the same bits.
#include "model/engine_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- weights ----
static int has_bias(const hf_config *c, int module) {
    if (module <= 2) return c->attention_bias;
    if (module == 3) return c->o_proj_bias;
    return c->mlp_bias;
}

// Buffers carved out of one allocation: ptr = base + off * unit (unit: bytes per element of a char base, 1 for a
// typed one), then off += count; with a NULL base only the count.
#define CARVE(base, unit, off, ptr, count)                                                                           \
    do {                                                                                                             \
        if (base) (ptr) = (base) + (off) * (unit);                                                                   \
        (off) += (count);                                                                                            \
    } while (0)

// Points every weight into mat (element offsets times the dtype size) and vec; with NULL bases only counts.
static void weight_layout(engine *e, char *mat, float *vec, size_t *n_mat, size_t *n_vec) {
    const hf_config *c = &e->cfg;
    size_t es = mg_dtype_size(e->wt), om = 0, ov = 0, C = c->hidden_size, V = c->vocab_size;
#define MAT(ptr, count) CARVE(mat, es, om, ptr, count)
#define VEC(ptr, count) CARVE(vec, 1, ov, ptr, count)
    engine_layer dummy;
    MAT(e->wte, V * C);
    if (c->tie_word_embeddings) {
        if (mat) e->lm_head = e->wte;
    } else {
        MAT(e->lm_head, V * C);
    }
    VEC(e->norm, C);
    VEC(e->inv_freq, (size_t)c->head_dim / 2);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        engine_layer *L = mat ? &e->layers[l] : &dummy;
        VEC(L->attn_norm, C);
        VEC(L->mlp_norm, C);
        for (int k = 0; k < LORA_N_MODULES; k++) {
            int in, out;
            linear_shape(c, k, &in, &out);
            MAT(L->W[k], (size_t)in * out);
            L->b[k] = NULL;
            if (has_bias(c, k)) VEC(L->b[k], (size_t)out);
        }
    }
#undef MAT
#undef VEC
    *n_mat = om;
    *n_vec = ov;
}

static void alloc_weights(engine *e, const mg_backend *be, const hf_config *cfg, mg_dtype wt) {
    memset(e, 0, sizeof *e);
    e->be = be;
    e->cfg = *cfg;
    e->wt = wt;
    e->layers = callocCheck((size_t)cfg->num_hidden_layers, sizeof(engine_layer));
    size_t nm, nv;
    weight_layout(e, NULL, NULL, &nm, &nv);
    e->wmat = be->alloc(nm * mg_dtype_size(wt));
    e->wvec = be->alloc(nv * sizeof(float));
    weight_layout(e, e->wmat, e->wvec, &nm, &nv);
}

int engine_check_shape(const hf_config *c, const mg_backend *be, mg_dtype wt, mg_err *err) {
    if (wt == MG_BF16 && !strcmp(be->name, "cpu")) return mg_fail(err, "the CPU backend takes fp32 weights only");
    if (c->num_key_value_heads <= 0 || c->num_attention_heads % c->num_key_value_heads)
        return mg_fail(err, "%d query heads are not a multiple of %d KV heads", c->num_attention_heads,
                       c->num_key_value_heads);
    return 0;
}

int engine_create(engine *e, const model *m, const mg_backend *be, mg_dtype wt, mg_err *err) {
    if (engine_check_shape(&m->cfg, be, wt, err)) return -1;
    hf_config cfg = m->cfg;
    cfg.tie_word_embeddings = m->w.lm_head == m->w.wte;
    alloc_weights(e, be, &cfg, wt);
    const hf_config *c = &e->cfg;
    size_t C = c->hidden_size, V = c->vocab_size;
    be->upload_weights(e->wte, wt, m->w.wte, V * C);
    if (e->lm_head != e->wte) be->upload_weights(e->lm_head, wt, m->w.lm_head, V * C);
    be->upload(e->norm, m->w.norm, C * sizeof(float));
    be->upload(e->inv_freq, m->inv_freq, (size_t)c->head_dim / 2 * sizeof(float));
    for (int l = 0; l < c->num_hidden_layers; l++) {
        const layer_weights *w = &m->w.layers[l];
        engine_layer *L = &e->layers[l];
        const float *W[LORA_N_MODULES] = {w->wq, w->wk, w->wv, w->wo, w->wgate, w->wup, w->wdown};
        const float *b[LORA_N_MODULES] = {w->bq, w->bk, w->bv, w->bo, w->bgate, w->bup, w->bdown};
        be->upload(L->attn_norm, w->attn_norm, C * sizeof(float));
        be->upload(L->mlp_norm, w->mlp_norm, C * sizeof(float));
        for (int k = 0; k < LORA_N_MODULES; k++) {
            int in, out;
            linear_shape(c, k, &in, &out);
            be->upload_weights(L->W[k], wt, W[k], (size_t)in * out);
            if ((L->b[k] != NULL) != (b[k] != NULL)) {
                engine_free(e);
                return mg_fail(err, "layer %d %s: bias presence disagrees with the config", l, lora_module_names[k]);
            }
            if (b[k]) be->upload(L->b[k], b[k], (size_t)out * sizeof(float));
        }
    }
    if (m->lora) {
        if (engine_lora_create(e, &m->lora->cfg, 0.0f, 0, err)) {
            engine_free(e);
            return -1;
        }
        engine_lora_upload(e, m->lora->params);
        e->lora_version = m->lora->version;
        e->lora_enabled = m->lora->enabled;
    }
    return 0;
}

// inv_freq (incl. llama3 scaling) as the model code computes it, from a one-layer stand-in with the same rope
// settings: the formula stays in one place (model/model.c).
static void rope_inv_freq(const hf_config *c, float *out) {
    hf_config t = *c;
    t.vocab_size = 4;
    t.hidden_size = 4;
    t.intermediate_size = 4;
    t.num_hidden_layers = 1;
    t.num_attention_heads = t.num_key_value_heads = 1;
    t.tie_word_embeddings = 1;
    t.attention_bias = t.o_proj_bias = t.mlp_bias = 0;
    model m;
    model_init_random(&m, &t, 1);
    memcpy(out, m.inv_freq, (size_t)c->head_dim / 2 * sizeof(float));
    model_free(&m);
}

int engine_create_random(engine *e, const hf_config *cfg, const mg_backend *be, mg_dtype wt, uint64_t seed,
                         mg_err *err) {
    if (engine_check_shape(cfg, be, wt, err)) return -1;
    alloc_weights(e, be, cfg, wt);
    const hf_config *c = &e->cfg;
    size_t C = c->hidden_size, V = c->vocab_size, nm, nv;
    weight_layout(e, NULL, NULL, &nm, &nv);
    be->fill(e->wmat, wt, nm, 0.02f, 0.0f, seed, 0);  // every matrix
    be->fill(e->wvec, MG_F32, nv, 0.0f, 0.0f, seed, 1);  // biases 0
    be->fill(e->norm, MG_F32, C, 0.0f, 1.0f, seed, 2);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        be->fill(e->layers[l].attn_norm, MG_F32, C, 0.0f, 1.0f, seed, 3);
        be->fill(e->layers[l].mlp_norm, MG_F32, C, 0.0f, 1.0f, seed, 3);
    }
    float *inv = mallocCheck((size_t)c->head_dim / 2 * sizeof(float));
    rope_inv_freq(c, inv);
    be->upload(e->inv_freq, inv, (size_t)c->head_dim / 2 * sizeof(float));
    free(inv);
    (void)V;
    return 0;
}

// ---- LoRA ----
static void acts_free(engine *e);
int engine_lora_create(engine *e, const lora_config *lc, float std, uint64_t seed, mg_err *err) {
    if (lc->rank <= 0 || !lc->targets) return mg_fail(err, "LoRA needs a positive rank and a target module");
    if (e->A) return mg_fail(err, "the engine already has an adapter: engine_lora_drop it first");
    const hf_config *c = &e->cfg;
    int L = c->num_hidden_layers;
    size_t slots = (size_t)L * LORA_N_MODULES, n = 0;
    e->lora = *lc;
    e->lora_scale = lc->alpha / (float)lc->rank;
    e->lora_enabled = 1;
    e->lora_gen++;
    e->A = callocCheck(slots, sizeof(float *));
    e->B = callocCheck(slots, sizeof(float *));
    e->dA = callocCheck(slots, sizeof(float *));
    e->dB = callocCheck(slots, sizeof(float *));
    for (int pass = 0; pass < 2; pass++) {  // the buffer order of model/lora.c: layer, module, A then B
        n = 0;
        for (int l = 0; l < L; l++)
            for (int k = 0; k < LORA_N_MODULES; k++) {
                if (!(lc->targets & (1u << k))) continue;
                int in, out;
                linear_shape(c, k, &in, &out);
                size_t s = (size_t)l * LORA_N_MODULES + k;
                if (pass) {
                    e->A[s] = e->lora_params + n, e->dA[s] = e->lora_grads + n;
                    e->B[s] = e->lora_params + n + (size_t)lc->rank * in;
                    e->dB[s] = e->lora_grads + n + (size_t)lc->rank * in;
                }
                n += (size_t)lc->rank * in + (size_t)out * lc->rank;
            }
        if (!pass) {
            e->lora_n = n;
            e->lora_params = BE->alloc(n * sizeof(float));
            e->lora_grads = BE->alloc(n * sizeof(float));
            e->opt_m = BE->alloc(n * sizeof(float));
            e->opt_v = BE->alloc(n * sizeof(float));
        }
    }
    BE->fill(e->lora_params, MG_F32, n, std, 0.0f, seed, 7);
    BE->zero(e->lora_grads, n * sizeof(float));
    BE->zero(e->opt_m, n * sizeof(float));
    BE->zero(e->opt_v, n * sizeof(float));
    e->opt_t = 0;
    return 0;
}

// What the engine holds of its adapter: all of it, but a wrapped engine's values and gradients are the model's.
void engine_adapter_free(engine *e) {
    if (!e->borrowed) BE->free(e->lora_params), BE->free(e->lora_grads);
    BE->free(e->opt_m), BE->free(e->opt_v);
    free(e->A), free(e->B), free(e->dA), free(e->dB);
    e->lora_params = e->lora_grads = e->opt_m = e->opt_v = NULL;
    e->A = e->B = e->dA = e->dB = NULL;
    e->lora_n = 0;
    memset(&e->lora, 0, sizeof e->lora);
    e->lora_gen++;
}

void engine_lora_drop(engine *e) {
    mgCheck(!e->borrowed, "engine_lora_drop: a wrapped engine's adapter belongs to the model");
    acts_free(e);  // carved for the adapter's shape
    engine_adapter_free(e);
}

void engine_lora_upload(engine *e, const float *host) { BE->upload(e->lora_params, host, e->lora_n * sizeof(float)); }
void engine_lora_download(const engine *e, float *host) {
    BE->download(host, e->lora_params, e->lora_n * sizeof(float));
}
void engine_lora_download_grads(const engine *e, float *host) {
    BE->download(host, e->lora_grads, e->lora_n * sizeof(float));
}
void engine_zero_grad(engine *e) {
    if (e->lora_n) BE->zero(e->lora_grads, e->lora_n * sizeof(float));
    if (e->full_n) BE->zero(e->full_grads, e->full_n * sizeof(float));
}

int engine_lora_live(const engine *e) {
    return e->lora_n && (e->lora_enabled_src ? *e->lora_enabled_src : e->lora_enabled);
}
int engine_lora_on(const engine *e, int module) {
    return engine_lora_live(e) && (e->lora.targets & (1u << module));
}

void engine_lora_add(engine *e, int l, int k, float *out, int ldo, float *h, const float *inp, int N,
                     int batch_invariant) {
    if (!engine_lora_on(e, k)) return;
    int in, outd;
    linear_shape(&e->cfg, k, &in, &outd);
    size_t s = (size_t)l * LORA_N_MODULES + k;
    BE->lora_forward(out, h, inp, e->A[s], e->B[s], N, in, outd, ldo, e->lora.rank, e->lora_scale, batch_invariant);
}

void engine_linear(engine *e, int l, int k, float *out, float *h, const float *inp, int N, int batch_invariant) {
    int in, outd;
    linear_shape(&e->cfg, k, &in, &outd);
    const engine_layer *L = &e->layers[l];
    BE->matmul_forward(out, inp, L->W[k], e->wt, L->b[k], N, in, outd, batch_invariant);
    engine_lora_add(e, l, k, out, outd, h, inp, N, batch_invariant);
}

// The backward of engine_linear: the weight and bias learn in full-parameter training (dW, db set), otherwise the
// frozen weight passes the gradient through; a live adapter passes it through too and learns unless dA is NULL.
static void linear_bwd(engine *e, int l, int k, float *dinp, const float *dout, const float *inp, const float *h,
                       float *dh, int N) {
    int in, outd;
    linear_shape(&e->cfg, k, &in, &outd);
    const engine_layer *L = &e->layers[l];
    BE->matmul_backward(dinp, L->dW[k], L->db[k], dout, inp, L->W[k], e->wt, N, in, outd);
    if (!engine_lora_on(e, k)) return;
    size_t s = (size_t)l * LORA_N_MODULES + k;
    BE->lora_backward(dinp, e->dA[s], e->dB[s], dh, dout, inp, h, e->A[s], e->B[s], N, in, outd, e->lora.rank,
                      e->lora_scale);
}

// ---- training activations ----
typedef struct {
    float *resid_in, *xn1, *rstd1, *q, *k, *v, *att, *resid_mid, *xn2, *rstd2, *gate, *up, *act;
    float *lora_h[LORA_N_MODULES];
} acts_layer;

struct engine_acts {
    int capacity, rank;
    unsigned targets;
    float *slab;
    acts_layer *layers;
    float *resid_out, *xf, *rstdf, *dresid, *dx, *dq, *dk, *dv, *datt, *dgate, *dup, *dact, *dh;
    float *logp, *entropy, *dlogp;
    int *ints;       // tokens, targets, pos, kv_start, kv_len: (5, capacity)
    int *host_ints;  // the same on the host, kept until the next forward: the backward's attention plans from it
    void *lm_keep;   // the LM head's softmax from the forward for the backward (logprob_keep_new; NULL: none)
    float temp;
    int max_seq;
    // Shared prefixes (packed_batch_add_prefix): rows [0, prefix_rows) are the prefixes; every other sequence's keys
    // and values are laid out again in an expanded array, each after a copy of its prefix's, so that its queries
    // attend to one contiguous range. (exp_rows, KV) each; max_kv_members bounds their ranges.
    int prefix_rows, exp_rows, exp_cap, max_kv_members;
    float *kexp, *vexp, *dkexp, *dvexp;
};

// Each buffer starts 256 bytes (64 floats) after the last, as the decode step's do: packed back to back, their
// alignment would follow the capacity (rstd1 of 51 rows moves everything after it by 12 bytes), and kernels pick
// their path by alignment (rmsnorm's float4 kernel sums in another order; cuBLAS picks kernels by operand
// alignment), so a step's bits would depend on the largest batch the engine had seen before.
static size_t acts_carve(const engine *e, engine_acts *a, float *base, int N) {
    const hf_config *c = &e->cfg;
    size_t C = c->hidden_size, Q = (size_t)c->num_attention_heads * c->head_dim;
    size_t KV = (size_t)c->num_key_value_heads * c->head_dim, F = c->intermediate_size, n = N;
    size_t R = e->lora_n ? (size_t)e->lora.rank : 0, off = 0;
#define TAKE(ptr, count) CARVE(base, 1, off, ptr, ((count) + 63) / 64 * 64)
    acts_layer dummy;
    for (int l = 0; l < c->num_hidden_layers; l++) {
        acts_layer *la = base ? &a->layers[l] : &dummy;
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
            if (R && (e->lora.targets & (1u << k))) TAKE(la->lora_h[k], n * R);
        }
    }
    size_t widest = C > Q ? C : Q;
    TAKE(a->resid_out, n * C);
    TAKE(a->xf, n * C);
    TAKE(a->rstdf, n);
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
    TAKE(a->logp, n);
    TAKE(a->entropy, n);
    TAKE(a->dlogp, n);
#undef TAKE
    return off;
}

void *engine_phase_alloc(engine *e, size_t bytes, int training) {
    void *p = BE->try_alloc ? BE->try_alloc(bytes) : NULL;
    if (p || !BE->try_alloc) return p ? p : BE->alloc(bytes);
    if (training)
        engine_kv_free(e);
    else
        acts_free(e);
    return BE->alloc(bytes);
}

void engine_acts_free(engine *e) { acts_free(e); }

size_t engine_weight_bytes(const hf_config *c, mg_dtype wt) {
    engine tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg = *c, tmp.wt = wt;
    size_t nm, nv;
    weight_layout(&tmp, NULL, NULL, &nm, &nv);
    return nm * mg_dtype_size(wt) + nv * sizeof(float);
}

size_t engine_train_bytes(const hf_config *c, const lora_config *lc, int tokens, int expanded_rows) {
    engine tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg = *c;
    if (lc && lc->rank > 0) tmp.lora = *lc, tmp.lora_n = 1;
    size_t KV = (size_t)c->num_key_value_heads * c->head_dim;
    // the slab, the 5 int arrays (ensure_acts), the expanded keys and values with their gradients (engine_forward)
    size_t exp = ((size_t)expanded_rows * KV + 63) / 64 * 64;  // as engine_forward rounds it
    return acts_carve(&tmp, NULL, NULL, tokens) * sizeof(float) + (size_t)5 * tokens * sizeof(int) +
           (expanded_rows ? 4 * exp * sizeof(float) : 0);
}

static void acts_free(engine *e) {
    engine_acts *a = e->acts;
    if (!a) return;
    BE->free(a->slab);
    BE->free(a->ints);
    free(a->host_ints);
    BE->free(a->kexp);
    if (a->lm_keep) BE->logprob_keep_free(a->lm_keep);
    free(a->layers);
    free(a);
    e->acts = NULL;
}

static engine_acts *ensure_acts(engine *e, int N) {
    engine_acts *a = e->acts;
    int rank = e->lora_n ? e->lora.rank : 0;
    unsigned targets = e->lora_n ? e->lora.targets : 0;
    if (a && a->capacity >= N && a->rank == rank && a->targets == targets) return a;
    int cap = a && a->capacity > N ? a->capacity : N;
    acts_free(e);
    a = callocCheck(1, sizeof *a);
    a->layers = callocCheck((size_t)e->cfg.num_hidden_layers, sizeof(acts_layer));
    a->capacity = cap;
    a->rank = rank;
    a->targets = targets;
    a->slab = engine_phase_alloc(e, acts_carve(e, a, NULL, cap) * sizeof(float), 1);
    acts_carve(e, a, a->slab, cap);
    a->ints = BE->alloc((size_t)5 * cap * sizeof(int));
    a->host_ints = mallocCheck((size_t)5 * cap * sizeof(int));
    if (BE->logprob_keep_new) a->lm_keep = BE->logprob_keep_new(cap, e->cfg.vocab_size);
    e->acts = a;
    return a;
}

// The expanded keys or values of the sequences that are not prefixes: for each, a copy of its prefix's rows (if it
// continues one), then its own rows of x (N, KV), into xexp (exp_rows, KV). fold: the backward instead, x += every
// copy's gradient in xexp, sequence by sequence (a fixed order, so a prefix's gradient is the same sum every run).
static void expand_kv(engine *e, const packed_batch *b, float *x, float *xexp, int fold) {
    size_t KV = (size_t)e->cfg.num_key_value_heads * e->cfg.head_dim, at = 0;
    for (int s = b->n_prefixes; s < b->n_seqs; s++)
        for (int part = 0; part < 2; part++) {
            int from = part ? s : b->prefix_of[s];  // the prefix first, then the sequence itself
            if (from < 0) continue;
            size_t row = (size_t)b->seq_start[from] * KV, n = (size_t)(b->seq_start[from + 1] - b->seq_start[from]) * KV;
            if (fold) BE->add_inplace(x + row, xexp + at, n);
            else BE->copy(xexp + at, x + row, n * sizeof(float));
            at += n;
        }
}

double engine_forward(engine *e, const packed_batch *b, float temperature, float *logp, float *entropy) {
    const hf_config *c = &e->cfg;
    int N = b->n_tokens, C = c->hidden_size, Hq = c->num_attention_heads, Hkv = c->num_key_value_heads;
    int D = c->head_dim, F = c->intermediate_size, max_seq = 1;
    for (int s = 0; s < b->n_seqs; s++)
        if (b->seq_start[s + 1] - b->seq_start[s] > max_seq) max_seq = b->seq_start[s + 1] - b->seq_start[s];
    engine_acts *a = ensure_acts(e, N);
    // Token i of sequence s attends to its own sequence's tokens 0..pos[i], or to the last sliding_window of them.
    int *h = a->host_ints, cap = a->capacity;
    memcpy(h, b->tokens, (size_t)N * sizeof(int));
    memcpy(h + cap, b->targets, (size_t)N * sizeof(int));
    memcpy(h + 2 * cap, b->pos, (size_t)N * sizeof(int));
    // A sequence that continues a shared prefix attends to the expanded array instead (expand_kv), where its
    // region holds the prefix's keys and then its own, so position p is region row p.
    int region = 0, max_kv_members = 1;
    for (int s = 0; s < b->n_seqs; s++) {
        int expanded = s >= b->n_prefixes && b->n_prefixes;
        for (int i = b->seq_start[s]; i < b->seq_start[s + 1]; i++) {
            int from = engine_window_from(c, b->pos[i]);
            h[3 * cap + i] = (expanded ? region : b->seq_start[s]) + from, h[4 * cap + i] = b->pos[i] + 1 - from;
            if (expanded && h[4 * cap + i] > max_kv_members) max_kv_members = h[4 * cap + i];
        }
        if (expanded) region += b->pos[b->seq_start[s + 1] - 1] + 1;
    }
    a->prefix_rows = b->n_prefixes ? b->seq_start[b->n_prefixes] : 0;
    a->exp_rows = region, a->max_kv_members = max_kv_members;
    if (region > a->exp_cap) {
        BE->free(a->kexp);
        size_t rows = ((size_t)region * c->num_key_value_heads * c->head_dim + 63) / 64 * 64;  // as acts_carve
        a->kexp = BE->alloc(4 * rows * sizeof(float));
        a->vexp = a->kexp + rows, a->dkexp = a->vexp + rows, a->dvexp = a->dkexp + rows;
        a->exp_cap = region;
    }
    BE->upload(a->ints, h, (size_t)5 * cap * sizeof(int));
    const int *tokens = a->ints, *targets = a->ints + cap, *pos = a->ints + 2 * cap;
    const int *kv_start = a->ints + 3 * cap, *kv_len = a->ints + 4 * cap;
    const int *targets_host = h + cap, *kv_start_host = h + 3 * cap, *kv_len_host = h + 4 * cap;
    a->max_seq = max_seq;

    BE->encoder_forward(a->layers[0].resid_in, tokens, e->wte, e->wt, N, C);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        acts_layer *la = &a->layers[l];
        const engine_layer *w = &e->layers[l];
        float *out = l + 1 < c->num_hidden_layers ? a->layers[l + 1].resid_in : a->resid_out;
        BE->rmsnorm_forward(la->xn1, la->rstd1, la->resid_in, w->attn_norm, N, C, c->rms_norm_eps);
        engine_linear(e, l, 0, la->q, la->lora_h[0], la->xn1, N, 0);
        engine_linear(e, l, 1, la->k, la->lora_h[1], la->xn1, N, 0);
        engine_linear(e, l, 2, la->v, la->lora_h[2], la->xn1, N, 0);
        BE->rope_forward(la->q, pos, e->inv_freq, N, Hq, D);
        BE->rope_forward(la->k, pos, e->inv_freq, N, Hkv, D);
        if (!b->n_prefixes) {
            BE->attention_forward_train(la->att, la->q, la->k, la->v, kv_start, kv_len, kv_start_host, kv_len_host, N,
                                        Hq, Hkv, D, max_seq, e->wt);
        } else {  // the prefixes on their own rows, then every other sequence on the expanded keys
            int P = a->prefix_rows, Q = Hq * D;
            BE->attention_forward_train(la->att, la->q, la->k, la->v, kv_start, kv_len, kv_start_host, kv_len_host, P,
                                        Hq, Hkv, D, max_seq, e->wt);
            expand_kv(e, b, la->k, a->kexp, 0);
            expand_kv(e, b, la->v, a->vexp, 0);
            BE->attention_forward_train(la->att + (size_t)P * Q, la->q + (size_t)P * Q, a->kexp, a->vexp,
                                        kv_start + P, kv_len + P, kv_start_host + P, kv_len_host + P, N - P, Hq, Hkv,
                                        D, a->max_kv_members, e->wt);
        }
        engine_linear(e, l, 3, a->dx, la->lora_h[3], la->att, N, 0);  // dx: scratch for o_proj's output
        BE->residual_forward(la->resid_mid, la->resid_in, a->dx, (size_t)N * C);
        BE->rmsnorm_forward(la->xn2, la->rstd2, la->resid_mid, w->mlp_norm, N, C, c->rms_norm_eps);
        engine_linear(e, l, 4, la->gate, la->lora_h[4], la->xn2, N, 0);
        engine_linear(e, l, 5, la->up, la->lora_h[5], la->xn2, N, 0);
        BE->swiglu_forward(la->act, la->gate, la->up, N, F);
        engine_linear(e, l, 6, a->dx, la->lora_h[6], la->act, N, 0);
        BE->residual_forward(out, la->resid_mid, a->dx, (size_t)N * C);
    }
    BE->rmsnorm_forward(a->xf, a->rstdf, a->resid_out, e->norm, N, C, c->rms_norm_eps);
    BE->logprob_forward(a->logp, entropy ? a->entropy : NULL, a->xf, e->lm_head, e->wt, targets, targets_host, N, C,
                        c->vocab_size, 1.0f / temperature, a->lm_keep);
    BE->download(logp, a->logp, (size_t)N * sizeof(float));
    if (entropy) BE->download(entropy, a->entropy, (size_t)N * sizeof(float));
    double total = 0.0;
    for (int i = 0; i < N; i++) total += logp[i];
    a->temp = temperature;
    return total;
}

void engine_backward(engine *e, const packed_batch *b, const float *dlogp) {
    engine_acts *a = e->acts;
    mgCheck(e->lora_n > 0 || e->dwte, "engine_backward has nothing to train: create an adapter (engine_lora_create)");
    mgCheck(a != NULL && a->capacity >= b->n_tokens, "engine_backward must follow engine_forward on the same batch");
    const hf_config *c = &e->cfg;
    int N = b->n_tokens, C = c->hidden_size, Hq = c->num_attention_heads, Hkv = c->num_key_value_heads;
    int D = c->head_dim, F = c->intermediate_size, Q = Hq * D, KV = Hkv * D, cap = a->capacity;
    const int *targets = a->ints + cap, *pos = a->ints + 2 * cap;
    const int *kv_start = a->ints + 3 * cap, *kv_len = a->ints + 4 * cap;
    const int *targets_host = a->host_ints + cap;
    const int *kv_start_host = a->host_ints + 3 * cap, *kv_len_host = a->host_ints + 4 * cap;
    size_t fs = sizeof(float);
    BE->upload(a->dlogp, dlogp, (size_t)N * fs);

    BE->zero(a->dx, (size_t)N * C * fs);
    BE->logprob_backward(a->dx, e->dlm_head, a->dlogp, a->xf, e->lm_head, e->wt, targets, targets_host, N, C, c->vocab_size,
                         1.0f / a->temp, a->lm_keep);
    BE->zero(a->dresid, (size_t)N * C * fs);
    BE->rmsnorm_backward(a->dresid, e->dnorm, a->dx, a->resid_out, e->norm, a->rstdf, N, C);
    for (int l = c->num_hidden_layers - 1; l >= 0; l--) {
        acts_layer *la = &a->layers[l];
        const engine_layer *w = &e->layers[l];
        // MLP block: resid_out = resid_mid + down(act); dresid flows to resid_mid unchanged.
        BE->zero(a->dact, (size_t)N * F * fs);
        linear_bwd(e, l, 6, a->dact, a->dresid, la->act, la->lora_h[6], a->dh, N);
        BE->zero(a->dgate, (size_t)N * F * fs);
        BE->zero(a->dup, (size_t)N * F * fs);
        BE->swiglu_backward(a->dgate, a->dup, a->dact, la->gate, la->up, N, F);
        BE->zero(a->dx, (size_t)N * C * fs);
        linear_bwd(e, l, 4, a->dx, a->dgate, la->xn2, la->lora_h[4], a->dh, N);
        linear_bwd(e, l, 5, a->dx, a->dup, la->xn2, la->lora_h[5], a->dh, N);
        BE->rmsnorm_backward(a->dresid, w->dmlp_norm, a->dx, la->resid_mid, w->mlp_norm, la->rstd2, N, C);
        // Attention block: resid_mid = resid_in + o_proj(att).
        BE->zero(a->datt, (size_t)N * Q * fs);
        linear_bwd(e, l, 3, a->datt, a->dresid, la->att, la->lora_h[3], a->dh, N);
        BE->zero(a->dq, (size_t)N * Q * fs);
        BE->zero(a->dk, (size_t)N * KV * fs);
        BE->zero(a->dv, (size_t)N * KV * fs);
        if (!b->n_prefixes) {
            BE->attention_backward(a->dq, a->dk, a->dv, a->datt, la->q, la->k, la->v, kv_start, kv_len, kv_start_host,
                                   kv_len_host, N, Hq, Hkv, D, a->max_seq, e->wt);
        } else {  // as in the forward; the expanded keys' gradients fold back onto the rows they copy
            int P = a->prefix_rows;
            BE->attention_backward(a->dq, a->dk, a->dv, a->datt, la->q, la->k, la->v, kv_start, kv_len, kv_start_host,
                                   kv_len_host, P, Hq, Hkv, D, a->max_seq, e->wt);
            expand_kv(e, b, la->k, a->kexp, 0);
            expand_kv(e, b, la->v, a->vexp, 0);
            size_t exp_bytes = (size_t)a->exp_rows * KV * fs;
            BE->zero(a->dkexp, exp_bytes);
            BE->zero(a->dvexp, exp_bytes);
            BE->attention_backward(a->dq + (size_t)P * Q, a->dkexp, a->dvexp, a->datt + (size_t)P * Q,
                                   la->q + (size_t)P * Q, a->kexp, a->vexp, kv_start + P, kv_len + P,
                                   kv_start_host + P, kv_len_host + P, N - P, Hq, Hkv, D, a->max_kv_members, e->wt);
            expand_kv(e, b, a->dk, a->dkexp, 1);
            expand_kv(e, b, a->dv, a->dvexp, 1);
        }
        BE->rope_backward(a->dq, pos, e->inv_freq, N, Hq, D);
        BE->rope_backward(a->dk, pos, e->inv_freq, N, Hkv, D);
        BE->zero(a->dx, (size_t)N * C * fs);
        linear_bwd(e, l, 0, a->dx, a->dq, la->xn1, la->lora_h[0], a->dh, N);
        linear_bwd(e, l, 1, a->dx, a->dk, la->xn1, la->lora_h[1], a->dh, N);
        linear_bwd(e, l, 2, a->dx, a->dv, la->xn1, la->lora_h[2], a->dh, N);
        BE->rmsnorm_backward(a->dresid, w->dattn_norm, a->dx, la->resid_in, w->attn_norm, la->rstd1, N, C);
    }
    if (e->dwte) BE->encoder_backward(e->dwte, a->dresid, a->ints, N, C);
}

float engine_optimizer_step(engine *e, float lr, float beta1, float beta2, float eps, float weight_decay,
                            float max_grad_norm) {
    mgCheck(e->lora_n > 0, "engine_optimizer_step needs a LoRA adapter");
    size_t n = e->lora_n;
    if (!e->opt_m) {  // a wrapped engine's moments, made on its first step (the model's own optimizer has its own)
        e->opt_m = BE->alloc(n * sizeof(float)), e->opt_v = BE->alloc(n * sizeof(float));
        BE->zero(e->opt_m, n * sizeof(float)), BE->zero(e->opt_v, n * sizeof(float));
    }
    float norm = (float)sqrt(BE->sumsq(e->lora_grads, n));
    // torch: clip_coef = max_norm / (total_norm + 1e-6), applied only when below 1
    if (max_grad_norm > 0.0f) {
        float coef = max_grad_norm / (norm + 1e-6f);
        if (coef < 1.0f) BE->scale_inplace(e->lora_grads, coef, n);
    }
    e->opt_t++;
    BE->adamw_update(e->lora_params, e->lora_grads, e->opt_m, e->opt_v, n, lr, beta1, beta2, eps, weight_decay,
                     e->opt_t);
    return norm;
}

void engine_free(engine *e) {
    if (!e->be) return;
    acts_free(e);
    engine_kv_free(e);
    engine_grads_free(e);
    engine_adapter_free(e);
    if (!e->borrowed) BE->free(e->wmat), BE->free(e->wvec);
    free(e->layers);
    memset(e, 0, sizeof *e);
}
