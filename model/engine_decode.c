// The transformer over a backend table, part 2: KV-cache steps (prefill and batched decode are the same call),
// CUDA graphs of decode steps, and generate()'s loop (model/gen_batch.h) with sampling on the backend. Part 1
// (weights, adapter, training) is engine.c.
#include "model/engine_internal.h"
#include "model/gen_batch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- KV cache and steps ----
enum { GRAPH_SLOTS = 32 };

typedef struct {
    int n, nw, sample, lora;
    mg_sample_params sp;
    int seen;
    void *graph;
} graph_entry;

static void graphs_clear(engine *e);

struct engine_kv {
    int n_slots, max_len, kv_dim;
    // (L, n_slots, max_len, KV) of dt: the weights' dtype (bf16 halves the cache; attention reads it into fp32
    // arithmetic), fp32 for fp32 weights and for a borrowed cache
    void *k, *v;
    mg_dtype dt;
    int *len;      // host (n_slots)
    int borrowed;  // k, v and len are a caller's (engine_kv_attach)
    int cap, rank;  // tokens per step the buffers hold, and the adapter rank h holds
    int wcap;       // wanted rows per step logits, logp and ids hold (a prefill wants one row per prompt)
    float *slab;
    float *x, *xn, *qkv, *q, *att, *tmp, *gu, *act, *h, *logits;  // qkv: q|k|v rows, gu: gate|up rows
    // GEMM operands in the weights' dtype as their producers write them (bf16 weights; fp32: xn, att, act themselves)
    void *xop, *attop, *actop;
    char *in;       // backend: the step's inputs, one upload (ints, then u64)
    char *host_in;  // host staging of the same
    int *ids;       // backend: sampled ids (wcap)
    float *logp;    // backend: their log-probs (wcap)
    int last_rows;
    graph_entry graphs[GRAPH_SLOTS];
    int n_graphs;
    unsigned long epoch;     // the backend's graph_epoch when the graphs were captured
    unsigned long lora_gen;  // and the engine's adapter generation (its buffers, rank, targets and scale)
};

static void graphs_clear(engine *e) {
    engine_kv *kv = e->kv;
    for (int i = 0; i < kv->n_graphs; i++)
        if (kv->graphs[i].graph) BE->graph_free(kv->graphs[i].graph);
    kv->n_graphs = 0;
}

static void step_buffers_free(engine *e) {
    engine_kv *kv = e->kv;
    graphs_clear(e);
    BE->free(kv->slab);
    BE->free(kv->in);
    free(kv->host_in);
    kv->slab = NULL;
    kv->in = kv->host_in = NULL;
    kv->cap = kv->rank = kv->wcap = 0;
}

// Inputs of a step of n tokens and nw wanted rows, packed so that one upload of step_in_bytes(n, nw) carries them:
// ints tokens, pos, kv_start, kv_len, cache_row (n each), wanted (nw); then u64 seq_ids, counters (nw each). The
// offsets depend on (n, nw) only, which a captured graph's key includes.
typedef struct {
    int *tokens, *pos, *kv_start, *kv_len, *cache_row, *wanted;
    uint64_t *seq_ids, *counters;
} step_inputs;

static size_t step_u64_at(int n, int nw) { return ((size_t)(5 * n + nw) * sizeof(int) + 7) / 8 * 8; }
static size_t step_in_bytes(int n, int nw) { return step_u64_at(n, nw) + (size_t)2 * nw * sizeof(uint64_t); }

static step_inputs step_layout(char *base, int n, int nw) {
    step_inputs in;
    int *i = (int *)base;
    in.tokens = i, in.pos = i + n, in.kv_start = i + 2 * n, in.kv_len = i + 3 * n, in.cache_row = i + 4 * n;
    in.wanted = i + 5 * n;
    in.seq_ids = (uint64_t *)(base + step_u64_at(n, nw));
    in.counters = in.seq_ids + nw;
    return in;
}

// The positions of a step's n tokens: token i continues slot slot_of[i] from its cached length len[slot] (tokens
// of one slot in order), is written to cache row slot * max_len + pos and attends to rows slot * max_len .. + pos
// (the last sliding_window of them under a window); kv_start/kv_len as kernels/ops.h's attention takes them. A slot
// out of range, a full slot or a token outside the vocabulary is a one-line error.
static int kv_step_positions(const hf_config *c, const int *len, int n_slots, int max_len, int n, const int *tokens,
                             const int *slot_of, int *pos, int *kv_start, int *kv_len, int *cache_row, mg_err *e) {
    int vocab = c->vocab_size;
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
        int from = engine_window_from(c, pos[i]);  // the cache keeps every position; a window reads the last ones
        kv_start[i] = slot * max_len + from;
        kv_len[i] = pos[i] + 1 - from;
        cache_row[i] = slot * max_len + pos[i];
    }
    free(added);
    return rc;
}

// The step buffers' sizes in floats, each rounded up to 64 (256-byte alignment for cuBLAS): at[i] the offsets,
// returns the total. m tokens, mw wanted rows, R the adapter's rank (1 without), lp bytes per value of the separate
// bf16 GEMM operands (0 with fp32 weights: the fp32 buffers are the operands).
enum { STEP_BUFS = 14 };
static size_t step_buffers_layout(const hf_config *c, size_t m, size_t mw, size_t R, size_t lp, size_t at[STEP_BUFS]) {
    size_t C = c->hidden_size, Q = (size_t)c->num_attention_heads * c->head_dim;
    size_t KV = (size_t)c->num_key_value_heads * c->head_dim, F = c->intermediate_size, V = c->vocab_size;
    size_t sizes[STEP_BUFS] = {m * C, m * C, m * (Q + 2 * KV), m * Q, m * Q, m * C, m * 2 * F, m * F, m * R, mw * V,
                               mw, (m * C * lp + 3) / 4, (m * Q * lp + 3) / 4, (m * F * lp + 3) / 4};
    size_t total = 0;
    for (int i = 0; i < STEP_BUFS; i++) at[i] = total, total += (sizes[i] + 63) / 64 * 64;
    return total;
}

size_t engine_step_bytes(const hf_config *c, mg_dtype wt, int lora_rank, int n, int nw) {
    size_t at[STEP_BUFS], mw = nw > 0 ? (size_t)nw : 1;
    size_t lp = wt == MG_F32 ? 0 : mg_dtype_size(wt);
    return step_buffers_layout(c, (size_t)n, mw, lora_rank > 0 ? (size_t)lora_rank : 1, lp, at) * sizeof(float) +
           mw * sizeof(int) + step_in_bytes(n, n);
}

// Buffers for steps of n tokens with nw wanted rows. The logits are (rows wanted, V), not (tokens, V): a prefill
// of 16 prompts of 4k tokens wants 16 rows, and 64k rows of a 128k vocabulary would be 33 GB.
static void ensure_step(engine *e, int n, int nw) {
    engine_kv *kv = e->kv;
    int rank = e->lora_n ? e->lora.rank : 1;
    if (n <= kv->cap && nw <= kv->wcap && rank <= kv->rank) return;
    int cap = n > 2 * kv->cap ? n : n > kv->cap ? 2 * kv->cap : kv->cap;
    int wcap = nw > 2 * kv->wcap ? nw : nw > kv->wcap ? 2 * kv->wcap : kv->wcap;
    if (wcap > cap) wcap = cap;
    step_buffers_free(e);
    size_t mw = wcap > 0 ? wcap : 1;
    size_t lp = e->wt == MG_F32 ? 0 : mg_dtype_size(e->wt);  // bytes per value of the separate GEMM operands
    float *xop, *attop, *actop;
    float **bufs[STEP_BUFS] = {&kv->x, &kv->xn, &kv->qkv, &kv->q, &kv->att, &kv->tmp, &kv->gu, &kv->act, &kv->h,
                               &kv->logits, &kv->logp, &xop, &attop, &actop};
    size_t at[STEP_BUFS], total = step_buffers_layout(&e->cfg, (size_t)cap, mw, (size_t)rank, lp, at);
    kv->slab = engine_phase_alloc(e, total * sizeof(float) + mw * sizeof(int), 0);
    for (int i = 0; i < STEP_BUFS; i++) *bufs[i] = kv->slab + at[i];
    kv->xop = lp ? (void *)xop : kv->xn;
    kv->attop = lp ? (void *)attop : kv->att;
    kv->actop = lp ? (void *)actop : kv->act;
    kv->rank = rank;
    kv->ids = (int *)(kv->slab + total);  // sampled ids after the float buffers
    kv->in = BE->alloc(step_in_bytes(cap, cap));
    kv->host_in = mallocCheck(step_in_bytes(cap, cap));
    kv->cap = cap;
    kv->wcap = (int)mw;
}

// Lets go of the cache's k, v and len (freed when they are the engine's own); the step buffers stay.
static void cache_release(engine *e) {
    engine_kv *kv = e->kv;
    if (!kv->borrowed) BE->free(kv->k), BE->free(kv->v), free(kv->len);
    kv->k = kv->v = NULL;
    kv->len = NULL;
    kv->n_slots = kv->max_len = kv->borrowed = 0;
    graphs_clear(e);  // the graphs point at the old cache
}

static engine_kv *kv_state(engine *e) {
    if (!e->kv) {
        e->kv = callocCheck(1, sizeof *e->kv);
        e->kv->kv_dim = e->cfg.num_key_value_heads * e->cfg.head_dim;
    }
    return e->kv;
}

size_t engine_kv_cache_bytes(const hf_config *c, mg_dtype dt, int n_slots, int max_len) {
    return 2 * (size_t)c->num_hidden_layers * n_slots * max_len * c->num_key_value_heads * c->head_dim *
           mg_dtype_size(dt);
}

int engine_kv_tensors(const mg_backend *be, const hf_config *c, mg_dtype dt, int n_slots, int max_len, void **k,
                      void **v, mg_err *err) {
    *k = *v = NULL;
    if (n_slots <= 0 || max_len <= 0)
        return mg_fail(err, "kv cache needs positive slots and length (%d, %d)", n_slots, max_len);
    size_t bytes = engine_kv_cache_bytes(c, dt, n_slots, max_len) / 2;  // k, then v
    void *(*try_alloc)(size_t) = be->try_alloc ? be->try_alloc : be->alloc;
    *k = try_alloc(bytes);
    *v = *k ? try_alloc(bytes) : NULL;
    if (*v) return 0;
    be->free(*k);
    *k = NULL;
    return mg_fail(err, "cannot allocate a KV cache of %d slots x %d tokens (%.1f GB)", n_slots, max_len,
                   2.0 * bytes / 1e9);
}

int engine_kv_init(engine *e, int n_slots, int max_len, mg_err *err) {
    void *k, *v;
    mg_dtype dt = e->wt;  // bf16 weights (a GPU's): a bf16 cache; fp32 weights (the parity mode, the CPU): fp32
    if (n_slots <= 0 || max_len <= 0)  // its error line, before the cache there is let go
        return engine_kv_tensors(BE, &e->cfg, dt, n_slots, max_len, &k, &v, err);
    engine_kv *kv = kv_state(e);
    if (!kv->borrowed && kv->n_slots == n_slots && kv->max_len == max_len && kv->dt == dt) {
        memset(kv->len, 0, (size_t)n_slots * sizeof(int));
        return 0;
    }
    cache_release(e);
    // The cache does not fit beside the training activations: they go (engine_phase_alloc), and it is tried again.
    if (engine_kv_tensors(BE, &e->cfg, dt, n_slots, max_len, &kv->k, &kv->v, err)) {
        if (!e->acts) return -1;
        engine_acts_free(e);
        if (engine_kv_tensors(BE, &e->cfg, dt, n_slots, max_len, &kv->k, &kv->v, err)) return -1;
    }
    kv->dt = dt;
    kv->len = callocCheck((size_t)n_slots, sizeof(int));
    kv->n_slots = n_slots;
    kv->max_len = max_len;
    return 0;
}

void engine_kv_attach(engine *e, float *k, float *v, int *len, int n_slots, int max_len) {
    engine_kv *kv = kv_state(e);
    if (kv->borrowed && kv->k == k && kv->v == v && kv->len == len && kv->n_slots == n_slots && kv->max_len == max_len)
        return;
    cache_release(e);
    kv->k = k, kv->v = v, kv->len = len, kv->dt = MG_F32;
    kv->n_slots = n_slots, kv->max_len = max_len;
    kv->borrowed = 1;
}

void engine_kv_reset_slot(engine *e, int slot) { e->kv->len[slot] = 0; }

size_t engine_kv_bytes(const engine *e, mg_dtype *dt) {
    const engine_kv *kv = e->kv;
    if (dt) *dt = kv && kv->k ? kv->dt : MG_F32;
    return kv && kv->k ? engine_kv_cache_bytes(&e->cfg, kv->dt, kv->n_slots, kv->max_len) : 0;
}

// Layer l's k or v (t: kv->k or kv->v) as the backend ops take it.
static void *kv_layer(const engine_kv *kv, void *t, int l) {
    return (char *)t + (size_t)l * kv->n_slots * kv->max_len * kv->kv_dim * mg_dtype_size(kv->dt);
}

// o_proj and down_proj add into the residual stream inside their GEMM unless the module has an adapter or a bias
// (a linear layer adds those to its product before the residual add; adding them after would round differently).
static int folds(const engine *e, int l, int k) { return !engine_lora_on(e, k) && !e->layers[l].b[k]; }

// x += linear k of layer l (3: o_proj, 6: down_proj) of the n rows whose GEMM operand (e->wt) is op and, when the
// module has an adapter, whose fp32 values are in32.
static void residual_linear(engine *e, int l, int k, const void *op, const float *in32, int n) {
    engine_kv *kv = e->kv;
    const engine_layer *w = &e->layers[l];
    int in, out;
    linear_shape(&e->cfg, k, &in, &out);
    if (folds(e, l, k)) {
        BE->matmul_forward_acc(kv->x, op, e->wt, w->W[k], e->wt, n, in, out, 1);
        return;
    }
    const void *W[1] = {w->W[k]};
    const float *b[1] = {w->b[k]};
    BE->matmul_forward_parts(kv->tmp, op, e->wt, W, b, &out, 1, e->wt, n, in, 1);
    engine_lora_add(e, l, k, kv->tmp, out, kv->h, in32, n, 1);
    BE->add_inplace(kv->x, kv->tmp, (size_t)n * out);
}

// The backend work of one step after its inputs are uploaded (what a CUDA graph captures): the layers with the
// table's fused ops. q|k|v and gate|up are one product each (the engine's weights lie one after another), bias
// + RoPE + cache writes one op, o_proj and down_proj add into the residual stream inside their GEMM, and whatever
// feeds a GEMM writes it in the weights' dtype (no casts). Adapters add into their module's columns: before the
// bias-free RoPE op when a q/k/v module has one, since a linear layer adds its bias before its adapter.
static void step_kernels(engine *e, int n, int nw, const mg_sample_params *sp) {
    engine_kv *kv = e->kv;
    const hf_config *c = &e->cfg;
    int C = c->hidden_size, Hq = c->num_attention_heads, Hkv = c->num_key_value_heads, D = c->head_dim;
    int F = c->intermediate_size, KV = kv->kv_dim, Q = Hq * D, QKV = Q + 2 * KV;
    step_inputs in = step_layout(kv->in, n, nw);
    const int *tokens = in.tokens, *pos = in.pos, *kv_start = in.kv_start, *kv_len = in.kv_len;
    const int *cache_row = in.cache_row, *wanted = in.wanted;
    const uint64_t *seq_ids = in.seq_ids, *counters = in.counters;
    const int qkv_parts[3] = {Q, KV, KV}, qkv_at[3] = {0, Q, Q + KV}, gu_parts[2] = {F, F};
    int lora_qkv = engine_lora_on(e, 0) || engine_lora_on(e, 1) || engine_lora_on(e, 2);
    int lora_gu = engine_lora_on(e, 4) || engine_lora_on(e, 5);
    // The norms, the attention and SwiGLU write the next GEMM's operand (bf16 weights: bf16, so no GEMM casts), and
    // the fp32 values beside it (xn, att, act) where an adapter there reads them; fp32 weights: one and the same.
    int bf = e->wt != MG_F32;
    float *xn32 = bf ? kv->xn : NULL, *att32 = bf && engine_lora_on(e, 3) ? kv->att : NULL;
    float *act32 = bf && engine_lora_on(e, 6) ? kv->act : NULL;

    BE->encoder_forward(kv->x, tokens, e->wte, e->wt, n, C);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        const engine_layer *w = &e->layers[l];
        void *kc = kv_layer(kv, kv->k, l), *vc = kv_layer(kv, kv->v, l);
        const void *Wqkv[3] = {w->W[0], w->W[1], w->W[2]}, *Wgu[2] = {w->W[4], w->W[5]};
        const float *bqkv[3] = {w->b[0], w->b[1], w->b[2]}, *bgu[2] = {w->b[4], w->b[5]};
        BE->rmsnorm_forward_as(kv->xop, e->wt, lora_qkv ? xn32 : NULL, kv->x, w->attn_norm, n, C, c->rms_norm_eps);
        BE->matmul_forward_parts(kv->qkv, kv->xop, e->wt, Wqkv, lora_qkv ? bqkv : NULL, qkv_parts, 3, e->wt, n, C, 1);
        for (int k = 0; k < 3; k++) engine_lora_add(e, l, k, kv->qkv + qkv_at[k], QKV, kv->h, kv->xn, n, 1);
        BE->qkv_rope_cache(kv->q, kc, vc, kv->dt, kv->qkv, lora_qkv ? NULL : bqkv, pos, cache_row, e->inv_freq, n, Hq,
                           Hkv, D);
        BE->attention_forward(kv->attop, e->wt, att32, kv->q, kc, vc, kv->dt, kv_start, kv_len, n, Hq, Hkv, D,
                              kv->max_len);
        residual_linear(e, l, 3, kv->attop, kv->att, n);
        BE->rmsnorm_forward_as(kv->xop, e->wt, lora_gu ? xn32 : NULL, kv->x, w->mlp_norm, n, C, c->rms_norm_eps);
        BE->matmul_forward_parts(kv->gu, kv->xop, e->wt, Wgu, bgu, gu_parts, 2, e->wt, n, C, 1);
        for (int k = 4; k < 6; k++) engine_lora_add(e, l, k, kv->gu + (k - 4) * F, 2 * F, kv->h, kv->xn, n, 1);
        BE->swiglu_forward_parts(kv->actop, e->wt, act32, kv->gu, n, F);
        residual_linear(e, l, 6, kv->actop, kv->act, n);
    }
    // Final norm and LM head only for the rows whose logits are wanted (usually each slot's last token).
    if (!nw) return;
    const void *head[1] = {e->lm_head};
    int V = c->vocab_size;
    BE->gather_rows(kv->tmp, kv->x, wanted, nw, C);
    BE->rmsnorm_forward_as(kv->xop, e->wt, NULL, kv->tmp, e->norm, nw, C, c->rms_norm_eps);
    BE->matmul_forward_parts(kv->logits, kv->xop, e->wt, head, NULL, &V, 1, e->wt, nw, C, 1);
    if (sp) BE->sample(kv->ids, kv->logp, kv->logits, nw, V, sp, seq_ids, counters);
}

static graph_entry *graph_for(engine *e, int n, int nw, const mg_sample_params *sp) {
    engine_kv *kv = e->kv;
    unsigned long epoch = BE->graph_epoch();
    // A scratch buffer moved, or the adapter was made again or dropped: every captured graph may point at freed
    // memory (and holds the old adapter's shape and scale).
    if (epoch != kv->epoch || e->lora_gen != kv->lora_gen) {
        graphs_clear(e);
        kv->epoch = epoch, kv->lora_gen = e->lora_gen;
    }
    mg_sample_params none;
    memset(&none, 0, sizeof none);
    for (int i = 0; i < kv->n_graphs; i++) {
        graph_entry *g = &kv->graphs[i];
        if (g->n == n && g->nw == nw && g->sample == (sp != NULL) && g->lora == engine_lora_live(e) &&
            !memcmp(&g->sp, sp ? sp : &none, sizeof none))
            return g;
    }
    if (kv->n_graphs == GRAPH_SLOTS) graphs_clear(e);
    graph_entry *g = &kv->graphs[kv->n_graphs++];
    memset(g, 0, sizeof *g);
    g->n = n, g->nw = nw, g->sample = sp != NULL, g->lora = engine_lora_live(e);
    g->sp = sp ? *sp : none;
    return g;
}

int engine_step(engine *e, int n, const int *tokens, const int *slot_of, const char *want_logits,
                const mg_sample_params *sp, const uint64_t *seq_ids, const uint64_t *counters, int *ids, float *logp,
                mg_err *err) {
    engine_kv *kv = e->kv;
    if (!kv || !kv->k) return mg_fail(err, "engine_step before engine_kv_init");
    if (n <= 0) return mg_fail(err, "engine_step needs at least one token");
    const hf_config *c = &e->cfg;
    int nw = 0;
    for (int i = 0; i < n; i++) nw += !want_logits || want_logits[i];
    ensure_step(e, n, nw);
    step_inputs hin = step_layout(kv->host_in, n, nw);
    int *pos = hin.pos, *kv_start = hin.kv_start, *kv_len = hin.kv_len, *cache_row = hin.cache_row;
    if (kv_step_positions(c, kv->len, kv->n_slots, kv->max_len, n, tokens, slot_of, pos, kv_start, kv_len, cache_row,
                          err) < 0)
        return -1;
    for (int i = 0; i < n; i++) hin.tokens[i] = tokens[i];
    for (int i = 0, r = 0; i < n; i++)
        if (!want_logits || want_logits[i]) hin.wanted[r++] = i;
    for (int r = 0; r < nw; r++) {
        hin.seq_ids[r] = sp ? seq_ids[r] : 0;
        hin.counters[r] = sp ? counters[r] : 0;
    }
    BE->upload(kv->in, kv->host_in, step_in_bytes(n, nw));

    // Graphs: the first step of a shape runs eagerly (it also sizes every scratch buffer), the second is captured.
    graph_entry *g = e->use_graphs && BE->graph_begin ? graph_for(e, n, nw, sp) : NULL;
    if (g && g->graph) {
        BE->graph_launch(g->graph);
        e->graph_replays++;
    } else if (g && g->seen == 1 && BE->graph_begin()) {
        step_kernels(e, n, nw, sp);
        g->graph = BE->graph_end();
        if (g->graph) {
            BE->graph_launch(g->graph);
        } else {  // capture failed (nothing ran): eager for this shape from now on
            g->seen = -1;
            step_kernels(e, n, nw, sp);
        }
    } else {
        step_kernels(e, n, nw, sp);
        if (g && !g->seen) g->seen = 1;
    }
    for (int i = 0; i < n; i++) kv->len[slot_of[i]]++;
    kv->last_rows = nw;
    if (sp && nw) {
        BE->download(ids, kv->ids, (size_t)nw * sizeof(int));
        BE->download(logp, kv->logp, (size_t)nw * sizeof(float));
    }
    return nw;
}

void engine_logits(const engine *e, float *host, int rows) {
    BE->download(host, e->kv->logits, (size_t)rows * e->cfg.vocab_size * sizeof(float));
}

// ---- generate(): model/gen_batch.h's loop, sampling on the backend ----
static int is_eos(const engine *e, const tokenizer *tok, int id) {
    for (int i = 0; i < e->cfg.n_eos; i++)
        if (e->cfg.eos_token_ids[i] == id) return 1;
    return tok && tokenizer_eos_id(tok) == id;
}

static void reset_kv_slot(void *e, int slot) { engine_kv_reset_slot((engine *)e, slot); }

// model/gen_batch.h's copy_prefix: the first n positions of slot `from`, every layer's keys and values.
static void copy_kv_prefix(void *ctx, int from, int to, int n) {
    engine *e = ctx;
    engine_kv *kv = e->kv;
    size_t row = (size_t)kv->kv_dim * mg_dtype_size(kv->dt), slot = (size_t)kv->max_len * row;  // bytes
    for (int l = 0; l < e->cfg.num_hidden_layers; l++) {
        char *k = kv_layer(kv, kv->k, l), *v = kv_layer(kv, kv->v, l);
        BE->copy(k + to * slot, k + from * slot, (size_t)n * row);
        BE->copy(v + to * slot, v + from * slot, (size_t)n * row);
    }
    kv->len[to] = n;
}

int engine_generate(engine *e, const tokenizer *tok, int n, const int *const *prompts, const int *prompt_lens,
                    const uint64_t *seq_ids, const sampling_params *p, int max_batch, completion *out, mg_err *err) {
    gen_batch b;
    if (gen_batch_init(&b, n, prompts, prompt_lens, p, max_batch, e->cfg.max_position_embeddings, out, err)) return -1;
    if (b.slots == 0) return 0;
    if (engine_kv_init(e, b.slots, b.max_len, err)) {
        gen_batch_free(&b, 0);
        return -1;
    }
    mg_sample_params sp = {p->temperature, p->top_k, p->top_p, p->min_p, p->seed};
    int *ids = mallocCheck((size_t)b.slots * sizeof(int));
    float *lps = mallocCheck((size_t)b.slots * sizeof(float));
    uint64_t *sids = mallocCheck((size_t)b.slots * sizeof(uint64_t)), *cnts = mallocCheck((size_t)b.slots * sizeof(uint64_t));
    int rc = 0;
    gen_batch_cache cache = {reset_kv_slot, copy_kv_prefix, e};
    while (!gen_batch_done(&b)) {
        int rows = gen_batch_next(&b, &cache);
        for (int r = 0; r < rows; r++) {
            int i = gen_batch_prompt(&b, r);
            sids[r] = seq_ids[i], cnts[r] = (uint64_t)out[i].n;
        }
        if (engine_step(e, b.n_tokens, b.tokens, b.slot_of, b.want, &sp, sids, cnts, ids, lps, err) < 0) {
            rc = -1;
            break;
        }
        for (int r = 0; r < rows; r++) gen_batch_accept(&b, r, ids[r], lps[r], is_eos(e, tok, ids[r]), tok);
    }
    free(ids), free(lps), free(sids), free(cnts);
    gen_batch_free(&b, rc != 0);
    return rc;
}

void engine_kv_free(engine *e) {
    if (!e->kv) return;
    cache_release(e);
    step_buffers_free(e);
    free(e->kv);
    e->kv = NULL;
}
