// Parity of the C engine with PyTorch + transformers + PEFT on two tiny random checkpoints (llama3-tiny: F32,
// GQA, llama3 rope scaling, untied head; qwen2-tiny: BF16, q/k/v biases, tied head). The references come from
// tests/parity/make_model_fixtures.py; see tests/parity/README.md for what each one holds.
//
// Checked per model: logits through the KV cache (token by token, per-sequence prefill, all sequences in one
// batched step), packed-batch log-probs and entropies at T = 0.7, LoRA and full-parameter gradients, 5 AdamW
// steps in both modes, a greedy decode, and LoRA gradients of a shard whose members share prompts, packed once. Every measured worst error is printed so the README can quote it.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "model/sampler.h"
#include "model/tokenizer.h"
#include "testing.h"

#define FIXTURES "tests/parity/fixtures/"
#define MAX_SEQS 3
#define MAX_LEN 32  // longest fixture sequence the test accepts
#define LORA_RANK 8
#define LORA_ALPHA 16.0f
#define ADAMW_STEPS 5

#define TOL_LOGIT 1e-4  // absolute, on logits, logp, entropy and losses
#define TOL_GRAD 1e-3   // max|a - b| / max|b| per tensor

// ---------------------------------------------------------------- worst errors, printed at the end of a model

typedef struct {
    char what[48];
    double worst, tol;
} measure;
static measure g_meas[24];
static int g_n_meas;
static const char *g_model;

// Records err under `what` and checks it; `detail` says where (a tensor name, a step).
static void expect(const char *what, double err, double tol, const char *detail) {
    int i = 0;
    while (i < g_n_meas && strcmp(g_meas[i].what, what) != 0) i++;
    if (i == g_n_meas && g_n_meas < (int)(sizeof g_meas / sizeof g_meas[0])) {
        snprintf(g_meas[i].what, sizeof g_meas[i].what, "%s", what);
        g_meas[i].worst = 0.0, g_meas[i].tol = tol;
        g_n_meas++;
    }
    if (i < g_n_meas && (err > g_meas[i].worst || isnan(err))) g_meas[i].worst = isnan(err) ? INFINITY : err;
    CHECK(err <= tol, "%s: %s %s: error %.3e > %.0e", g_model, what, detail ? detail : "", err, tol);
}

static void print_measures(void) {
    for (int i = 0; i < g_n_meas; i++)
        printf("  %-38s worst %.3e  (tol %.0e)\n", g_meas[i].what, g_meas[i].worst, g_meas[i].tol);
    g_n_meas = 0;
}

// ---------------------------------------------------------------- the reference file

typedef struct {
    char dir[256];
    st_file ref;
    int opened;
    int S, N;                         // sequences, tokens in all
    int *ids;                         // (N) the sequences end to end
    int len[MAX_SEQS], prompt_len[MAX_SEQS], start[MAX_SEQS + 1];
    float temperature;
    float hp[7];  // lr, beta1, beta2, eps, weight_decay, max_norm, lora lr
} fixture;

// Reference tensor `name` as a malloc'd fp32 array (*n elements), or NULL (and a failed check) when absent.
static float *ref_f32(const fixture *f, const char *name, long *n) {
    const st_tensor *t = st_find(&f->ref, name);
    CHECK(t != NULL, "%s: reference tensor %s missing", g_model, name);
    if (!t) return NULL;
    float *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    mg_err e;
    int rc = st_read_f32(&f->ref, name, out, t->ndim, t->shape, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc) {
        free(out);
        return NULL;
    }
    if (n) *n = (long)t->numel;
    return out;
}

// Copies an I32 reference tensor of exactly `want` elements into out.
static int ref_i32(const fixture *f, const char *name, int *out, long want) {
    const st_tensor *t = st_find(&f->ref, name);
    int ok = t && t->dtype == ST_I32 && t->numel == want;
    CHECK(ok, "%s: reference tensor %s missing or not I32[%ld]", g_model, name, want);
    if (ok) memcpy(out, t->data, (size_t)want * sizeof(int));  // data may be unaligned
    return ok ? 0 : -1;
}

static float ref_scalar(const fixture *f, const char *name) {
    float *v = ref_f32(f, name, NULL);
    float x = v ? v[0] : NAN;
    free(v);
    return x;
}

static int fixture_open(fixture *f, const char *name) {
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, FIXTURES "%s", name);
    char path[300];
    snprintf(path, sizeof path, FIXTURES "%s.ref.safetensors", name);
    mg_err e;
    int rc = st_open(&f->ref, path, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc) return -1;
    f->opened = 1;
    f->S = MAX_SEQS;
    if (ref_i32(f, "seq.lens", f->len, f->S) || ref_i32(f, "seq.prompt_lens", f->prompt_len, f->S)) return -1;
    for (int s = 0; s < f->S; s++) {
        // The KV cache below holds MAX_LEN positions and per-sequence buffers hold MAX_LEN values.
        int ok = f->len[s] >= 2 && f->len[s] <= MAX_LEN && f->prompt_len[s] >= 1 && f->prompt_len[s] < f->len[s];
        CHECK(ok, "%s: sequence %d has length %d, prompt %d", g_model, s, f->len[s], f->prompt_len[s]);
        if (!ok) return -1;
        f->start[s + 1] = f->start[s] + f->len[s];
    }
    f->N = f->start[f->S];
    f->ids = malloc((size_t)f->N * sizeof(int));
    if (ref_i32(f, "seq.ids", f->ids, f->N)) return -1;
    f->temperature = ref_scalar(f, "temperature");
    float *hp = ref_f32(f, "adamw.hparams", NULL);
    if (!hp) return -1;
    memcpy(f->hp, hp, sizeof f->hp);
    free(hp);
    return 0;
}

static void fixture_close(fixture *f) {
    if (f->opened) st_close(&f->ref);
    free(f->ids);
}

static int load_model(model *m, const fixture *f) {
    mg_err e;
    int rc = model_load(m, f->dir, &e);
    CHECK(rc == 0, "%s", e.msg);
    return rc;
}

// ---------------------------------------------------------------- logits through the KV cache

// Compares the logits of sequence s (len x V, at `got`) with the reference.
static void compare_logits(const fixture *f, int s, const float *got, int V, const char *what) {
    char name[64];
    snprintf(name, sizeof name, "logits.%d", s);
    long n = 0;
    float *want = ref_f32(f, name, &n);
    if (!want) return;
    CHECK(n == (long)f->len[s] * V, "%s: %s has %ld values, expected %d x %d", g_model, name, n, f->len[s], V);
    if (n == (long)f->len[s] * V) {
        long at;
        float err = max_abs_diff(got, want, n, &at);
        char detail[96];
        snprintf(detail, sizeof detail, "seq %d pos %ld id %ld", s, at / V, at % V);
        expect(what, err, TOL_LOGIT, detail);
    }
    free(want);
}

// Three ways of feeding the same tokens must all give the reference logits.
static void test_step_logits(model *m, const fixture *f) {
    int V = m->cfg.vocab_size, N = f->N;
    float *logits = calloc((size_t)N * V, sizeof(float));
    int *slot_of = malloc((size_t)N * sizeof(int));
    char *want = malloc((size_t)N);
    memset(want, 1, (size_t)N);
    for (int s = 0; s < f->S; s++)
        for (int i = f->start[s]; i < f->start[s + 1]; i++) slot_of[i] = s;
    mg_err e;

    for (int mode = 0; mode < 3; mode++) {
        kv_cache kv;
        int rc = kv_cache_init(&kv, m, f->S, MAX_LEN, &e);
        CHECK(rc == 0, "%s", e.msg);
        if (rc) break;
        const char *what = mode == 0 ? "logits, step token by token" : mode == 1 ? "logits, step prefill" :
                                                                                   "logits, step 3 slots at once";
        for (int s = 0; s < f->S && mode < 2; s++) {
            int a = f->start[s];
            if (mode == 0)
                for (int i = a; i < f->start[s + 1] && rc == 0; i++)
                    rc = model_step(m, &kv, 1, &f->ids[i], &slot_of[i], want, logits + (size_t)i * V, &e);
            else
                rc = model_step(m, &kv, f->len[s], &f->ids[a], &slot_of[a], want, logits + (size_t)a * V, &e);
            CHECK(rc == 0, "%s", e.msg);
        }
        if (mode == 2) {
            rc = model_step(m, &kv, N, f->ids, slot_of, want, logits, &e);
            CHECK(rc == 0, "%s", e.msg);
        }
        for (int s = 0; s < f->S; s++) compare_logits(f, s, logits + (size_t)f->start[s] * V, V, what);
        kv_cache_free(&kv);
    }
    free(logits);
    free(slot_of);
    free(want);
}

// ---------------------------------------------------------------- packed-batch log-probs

// The batch the fixture's T = 0.7 quantities are defined on: completion tokens only.
static void completion_batch(const fixture *f, packed_batch *b) {
    packed_batch_init(b);
    for (int s = 0; s < f->S; s++) packed_batch_add(b, &f->ids[f->start[s]], f->len[s], f->prompt_len[s] - 1);
}

// Gathers per-target values (positions with a target, in batch order) of sequence s into out; returns the count.
static int gather_targets(const packed_batch *b, int s, const float *per_token, float *out) {
    int k = 0;
    for (int i = b->seq_start[s]; i < b->seq_start[s + 1]; i++)
        if (b->targets[i] >= 0) out[k++] = per_token[i];
    return k;
}

static void compare_per_target(const fixture *f, const packed_batch *b, const float *got, const char *prefix,
                               const char *what) {
    float buf[MAX_LEN];
    for (int s = 0; s < f->S; s++) {
        char name[64];
        snprintf(name, sizeof name, "%s.%d", prefix, s);
        long n = 0;
        float *want = ref_f32(f, name, &n);
        if (!want) continue;
        int k = gather_targets(b, s, got, buf);
        CHECK(k == n, "%s: %s: batch has %d targets, reference %ld", g_model, name, k, n);
        if (k == n) expect(what, max_abs_diff(buf, want, n, NULL), TOL_LOGIT, name);
        free(want);
    }
}

static void test_forward_logp(model *m, const fixture *f) {
    packed_batch b;
    completion_batch(f, &b);
    float *logp = calloc((size_t)b.n_tokens, sizeof(float)), *ent = calloc((size_t)b.n_tokens, sizeof(float));
    double sum = model_forward(m, &b, f->temperature, logp, ent);
    compare_per_target(f, &b, logp, "logp", "logp (forward, T=0.7)");
    compare_per_target(f, &b, ent, "entropy", "entropy (forward, T=0.7)");
    double want = 0.0;
    for (int i = 0; i < b.n_tokens; i++) want += b.targets[i] >= 0 ? logp[i] : 0.0;
    expect("forward return value = sum logp", fabs(sum - want), TOL_LOGIT, NULL);
    free(logp);
    free(ent);
    packed_batch_free(&b);
}

// ---------------------------------------------------------------- LoRA

// (in, out) features of linear module k, as the fixture's PEFT adapters see them.
static void module_shape(const hf_config *c, int k, int64_t *in, int64_t *out) {
    int64_t C = c->hidden_size, Q = (int64_t)c->num_attention_heads * c->head_dim;
    int64_t KV = (int64_t)c->num_key_value_heads * c->head_dim, F = c->intermediate_size;
    const int64_t ins[LORA_N_MODULES] = {C, C, C, Q, C, C, F};
    const int64_t outs[LORA_N_MODULES] = {Q, KV, KV, C, F, F, C};
    *in = ins[k];
    *out = outs[k];
}

// Adds an adapter like the fixture's PEFT one and overwrites its A (R, in) and B (out, R) with the fixture's.
static int install_lora(model *m, const fixture *f) {
    lora_config lc = {LORA_RANK, LORA_ALPHA, (1u << LORA_N_MODULES) - 1};
    mg_err e;
    int rc = model_lora_init(m, &lc, 1, &e);
    CHECK(rc == 0, "%s", e.msg);
    for (int l = 0; l < m->cfg.num_hidden_layers && rc == 0; l++) {
        for (int k = 0; k < LORA_N_MODULES && rc == 0; k++) {
            int64_t in, out;
            module_shape(&m->cfg, k, &in, &out);
            const int64_t shape_a[2] = {LORA_RANK, in}, shape_b[2] = {out, LORA_RANK};
            char name[96];
            snprintf(name, sizeof name, "lora.%d.%s.A", l, lora_module_names[k]);
            rc = st_read_f32(&f->ref, name, m->lora->layers[l].A[k], 2, shape_a, &e);
            if (rc == 0) {
                snprintf(name, sizeof name, "lora.%d.%s.B", l, lora_module_names[k]);
                rc = st_read_f32(&f->ref, name, m->lora->layers[l].B[k], 2, shape_b, &e);
            }
            CHECK(rc == 0, "%s", e.msg);
        }
    }
    return rc;
}

// dL/dlogp for L = sum w * logp over the completion tokens: w at target positions, 0 elsewhere.
static float *lora_loss_weights(const fixture *f, const packed_batch *b) {
    float *d = calloc((size_t)b->n_tokens, sizeof(float));
    for (int s = 0; s < f->S; s++) {
        char name[32];
        snprintf(name, sizeof name, "lora.w.%d", s);
        long n = 0;
        float *w = ref_f32(f, name, &n);
        if (!w) continue;
        int k = 0;
        for (int i = b->seq_start[s]; i < b->seq_start[s + 1]; i++)
            if (b->targets[i] >= 0 && k < n) d[i] = w[k++];
        CHECK(k == n, "%s: %s has %ld weights for %d targets", g_model, name, n, k);
        free(w);
    }
    return d;
}

static double weighted_sum(const float *w, const float *logp, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)w[i] * logp[i];
    return s;
}

// Compares one gradient tensor (n floats at got) with reference `name` by relative error.
static void compare_grad(const fixture *f, const char *name, const float *got, long n, const char *what) {
    long nref = 0;
    float *want = ref_f32(f, name, &nref);
    if (!want) return;
    CHECK(nref == n, "%s: %s has %ld values, engine %ld", g_model, name, nref, n);
    if (nref == n) expect(what, max_rel_diff(got, want, n, 1e-30f), TOL_GRAD, name);
    free(want);
}

static void test_lora_grads(model *m, const fixture *f) {
    if (install_lora(m, f)) return;
    model_set_train_mode(m, TRAIN_LORA);
    model_zero_grad(m);
    packed_batch b;
    completion_batch(f, &b);
    float *logp = calloc((size_t)b.n_tokens, sizeof(float));
    float *w = lora_loss_weights(f, &b);
    model_forward(m, &b, f->temperature, logp, NULL);
    expect("lora loss (sum w logp)", fabs(weighted_sum(w, logp, b.n_tokens) - ref_scalar(f, "lora.loss")),
           TOL_LOGIT, NULL);
    model_backward(m, &b, w);
    for (int l = 0; l < m->cfg.num_hidden_layers; l++) {
        for (int k = 0; k < LORA_N_MODULES; k++) {
            for (int ab = 0; ab < 2; ab++) {
                char name[96];
                snprintf(name, sizeof name, "lora_grad.%d.%s.%c", l, lora_module_names[k], ab ? 'B' : 'A');
                const st_tensor *t = st_find(&f->ref, name);
                long n = t ? (long)t->numel : 0;
                compare_grad(f, name, ab ? m->lora->dlayers[l].B[k] : m->lora->dlayers[l].A[k], n,
                             "lora grad dA/dB (rel)");
            }
        }
    }
    free(logp);
    free(w);
    packed_batch_free(&b);
}

// ---------------------------------------------------------------- shared prompts

#define SHARED_MEMBERS 6
#define SHARED_MIN_PROMPT 16  // the learner's MIN_SHARED_PROMPT: the fixture's prompts are 18-24 tokens

// A GRPO shard with shared prompts (tests/parity/make_shared_prompt_fixtures.py: PEFT runs each member whole),
// packed as the learner packs it with training.share_prefix: each shared prompt once, its members continuing it.
// Log-probs and LoRA gradients must equal the per-sequence reference.
static void test_shared_prompt_lora(model *m, const fixture *f) {
    fixture sf;  // the shared-prompt reference: only its tensors (sf.ref) are used
    memset(&sf, 0, sizeof sf);
    char path[300];
    snprintf(path, sizeof path, FIXTURES "%s.shared.ref.safetensors", g_model);
    mg_err e;
    int rc = st_open(&sf.ref, path, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc) return;
    int len[SHARED_MEMBERS], prompt_len[SHARED_MEMBERS], N = 0;
    if (ref_i32(&sf, "shared.lens", len, SHARED_MEMBERS) ||
        ref_i32(&sf, "shared.prompt_lens", prompt_len, SHARED_MEMBERS)) {
        st_close(&sf.ref);
        return;
    }
    for (int s = 0; s < SHARED_MEMBERS; s++) N += len[s];
    int *ids = malloc((size_t)N * sizeof(int)), from[SHARED_MEMBERS];
    packed_batch group, shard;
    packed_batch_init(&group);
    packed_batch_init(&shard);
    if (ref_i32(&sf, "shared.ids", ids, N) == 0 && install_lora(m, f) == 0) {
        for (int s = 0, at = 0; s < SHARED_MEMBERS; at += len[s], s++)
            packed_batch_add(&group, ids + at, len[s], prompt_len[s] - 1);
        int np = packed_batch_share_prompts(&shard, &group, 0, SHARED_MEMBERS, SHARED_MIN_PROMPT, from);
        // Two prompts are shared (by three and two members): fewer would mean the packing was not tested.
        CHECK(np == 2 && packed_batch_members(&shard) == SHARED_MEMBERS, "%s: shard has %d prefixes, %d members",
              g_model, np, packed_batch_members(&shard));
        CHECK(shard.n_tokens < group.n_tokens - 20, "%s: shared shard has %d tokens, unshared %d", g_model,
              shard.n_tokens, group.n_tokens);
        model_set_train_mode(m, TRAIN_LORA);
        model_zero_grad(m);
        float *logp = calloc((size_t)shard.n_tokens, sizeof(float)), *w = calloc((size_t)shard.n_tokens, sizeof(float));
        model_forward(m, &shard, f->temperature, logp, NULL);
        float got[MAX_LEN];
        for (int j = 0; j < SHARED_MEMBERS; j++) {
            char name[48];
            long n = 0, nw = 0;
            snprintf(name, sizeof name, "shared.logp.%d", j);
            float *want = ref_f32(&sf, name, &n);
            snprintf(name, sizeof name, "shared.w.%d", j);
            float *wj = ref_f32(&sf, name, &nw);
            int k = gather_targets(&shard, np + j, logp, got);
            CHECK(want && wj && k == n && nw == n, "%s: member %d has %d targets, reference %ld", g_model, j, k, n);
            if (want && wj && k == n && nw == n) {
                expect("shared prompt: logp (T=0.7)", max_abs_diff(got, want, n, NULL), TOL_LOGIT, name);
                for (int i = shard.seq_start[np + j], t = 0; i < shard.seq_start[np + j + 1]; i++)
                    if (shard.targets[i] >= 0) w[i] = wj[t++];
            }
            free(want), free(wj);
        }
        expect("shared prompt: loss (sum w logp)",
               fabs(weighted_sum(w, logp, shard.n_tokens) - ref_scalar(&sf, "shared.loss")), TOL_LOGIT, NULL);
        model_backward(m, &shard, w);
        for (int l = 0; l < m->cfg.num_hidden_layers; l++)
            for (int k = 0; k < LORA_N_MODULES; k++)
                for (int ab = 0; ab < 2; ab++) {
                    char name[96];
                    snprintf(name, sizeof name, "shared_grad.%d.%s.%c", l, lora_module_names[k], ab ? 'B' : 'A');
                    const st_tensor *t = st_find(&sf.ref, name);
                    compare_grad(&sf, name, ab ? m->lora->dlayers[l].B[k] : m->lora->dlayers[l].A[k],
                                 t ? (long)t->numel : 0, "shared prompt: lora grad (rel)");
                }
        free(logp), free(w);
    }
    free(ids);
    packed_batch_free(&group);
    packed_batch_free(&shard);
    st_close(&sf.ref);
}

// ---------------------------------------------------------------- full parameters

// The batch of the full-parameter loss: every next token of every sequence, T = 1.
static void all_tokens_batch(const fixture *f, packed_batch *b) {
    packed_batch_init(b);
    for (int s = 0; s < f->S; s++) packed_batch_add(b, &f->ids[f->start[s]], f->len[s], 0);
}

// Mean cross-entropy forward + backward (dlogp = -1/n at targets); returns the loss.
static double full_loss_step(model *m, const packed_batch *b, float *logp, float *dlogp) {
    int n = 0;
    for (int i = 0; i < b->n_tokens; i++) n += b->targets[i] >= 0;
    double sum = 0.0;
    model_forward(m, b, 1.0f, logp, NULL);
    for (int i = 0; i < b->n_tokens; i++) {
        dlogp[i] = b->targets[i] >= 0 ? -1.0f / (float)n : 0.0f;
        sum += b->targets[i] >= 0 ? logp[i] : 0.0;
    }
    model_backward(m, b, dlogp);
    return -sum / n;
}

static void test_full_grads(model *m, const fixture *f) {
    model_set_train_mode(m, TRAIN_FULL);
    model_zero_grad(m);
    packed_batch b;
    all_tokens_batch(f, &b);
    float *logp = calloc((size_t)b.n_tokens, sizeof(float)), *dlogp = calloc((size_t)b.n_tokens, sizeof(float));
    double loss = full_loss_step(m, &b, logp, dlogp);
    expect("full loss (mean CE, T=1)", fabs(loss - ref_scalar(f, "full.loss")), TOL_LOGIT, NULL);
    int compared = 0;
    for (int i = 0; i < model_param_count(m); i++) {
        char hf[128], name[160];
        float *p;
        int ndim;
        int64_t shape[2];
        model_param_name(m, i, hf, sizeof hf, &p, &ndim, shape);
        snprintf(name, sizeof name, "full_grad.%s", hf);
        long n = ndim == 1 ? (long)shape[0] : (long)(shape[0] * shape[1]);
        compare_grad(f, name, m->grads + (p - m->params), n, "full grad (rel)");
        compared++;
    }
    // Every parameter the reference has a gradient for must have been enumerated by the engine.
    int in_ref = 0;
    for (int i = 0; i < f->ref.n_tensors; i++) in_ref += strncmp(f->ref.tensors[i].name, "full_grad.", 10) == 0;
    CHECK(compared == in_ref, "%s: engine enumerates %d parameters, reference has %d", g_model, compared, in_ref);
    free(logp);
    free(dlogp);
    packed_batch_free(&b);
}

// ---------------------------------------------------------------- AdamW

// torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1. Returns the norm.
static double clip_grad_norm(float *g, size_t n, float max_norm) {
    double norm = sqrt(sumsq(g, n));
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) scale_inplace(g, (float)coef, n);
    return norm;
}

// ADAMW_STEPS optimizer steps on the current trainable buffer, checking the loss before each step, the pre-clip
// gradient norm, and the loss after the last step against <prefix>.losses / .grad_norms / .final_loss.
static void adamw_run(model *m, const fixture *f, const packed_batch *b, int lora, float lr, const char *prefix) {
    size_t n;
    float *p = model_trainable(m, &n), *g = model_trainable_grad(m, &n);
    float *mom = calloc(n, sizeof(float)), *var = calloc(n, sizeof(float));
    float *logp = calloc((size_t)b->n_tokens, sizeof(float)), *d = calloc((size_t)b->n_tokens, sizeof(float));
    float *w = lora ? lora_loss_weights(f, b) : NULL;
    char name[64];
    snprintf(name, sizeof name, "%s.losses", prefix);
    float *want_loss = ref_f32(f, name, NULL);
    snprintf(name, sizeof name, "%s.grad_norms", prefix);
    float *want_norm = ref_f32(f, name, NULL);
    char what_loss[64], what_norm[64], what_final[64];
    snprintf(what_loss, sizeof what_loss, "%s loss per step", prefix);
    snprintf(what_norm, sizeof what_norm, "%s grad norm per step (rel)", prefix);
    snprintf(what_final, sizeof what_final, "%s loss after step 5", prefix);
    for (int t = 1; t <= ADAMW_STEPS + 1 && want_loss && want_norm; t++) {
        model_zero_grad(m);
        double loss;
        if (lora) {
            model_forward(m, b, f->temperature, logp, NULL);
            loss = weighted_sum(w, logp, b->n_tokens);
            model_backward(m, b, w);
        } else {
            loss = full_loss_step(m, b, logp, d);
        }
        char step[24];
        snprintf(step, sizeof step, "step %d", t);
        if (t > ADAMW_STEPS) {
            snprintf(name, sizeof name, "%s.final_loss", prefix);
            expect(what_final, fabs(loss - ref_scalar(f, name)), TOL_LOGIT, NULL);
            break;
        }
        expect(what_loss, fabs(loss - want_loss[t - 1]), TOL_LOGIT, step);
        double norm = clip_grad_norm(g, n, f->hp[5]);
        expect(what_norm, fabs(norm - want_norm[t - 1]) / want_norm[t - 1], TOL_GRAD, step);
        adamw_update(p, g, mom, var, n, lr, f->hp[1], f->hp[2], f->hp[3], f->hp[4], t);
    }
    free(mom);
    free(var);
    free(logp);
    free(d);
    free(w);
    free(want_loss);
    free(want_norm);
}

static void test_adamw_full(model *m, const fixture *f) {
    model_set_train_mode(m, TRAIN_FULL);
    packed_batch b;
    all_tokens_batch(f, &b);
    adamw_run(m, f, &b, 0, f->hp[0], "adamw");
    packed_batch_free(&b);
}

static void test_adamw_lora(model *m, const fixture *f) {
    if (install_lora(m, f)) return;
    model_set_train_mode(m, TRAIN_LORA);
    packed_batch b;
    completion_batch(f, &b);
    adamw_run(m, f, &b, 1, f->hp[6], "lora_adamw");
    packed_batch_free(&b);
}

// ---------------------------------------------------------------- greedy decoding

static int is_eos(const model *m, int id) {
    for (int i = 0; i < m->cfg.n_eos; i++)
        if (m->cfg.eos_token_ids[i] == id) return 1;
    return 0;
}

static void test_greedy(model *m, const fixture *f) {
    int prompt[16], want[16];
    const st_tensor *tp = st_find(&f->ref, "greedy.prompt"), *tw = st_find(&f->ref, "greedy.ids");
    CHECK(tp && tw && tp->numel <= 16 && tw->numel <= 16, "%s: greedy.prompt / greedy.ids missing", g_model);
    if (!tp || !tw || tp->numel > 16 || tw->numel > 16) return;
    int np = (int)tp->numel, nw = (int)tw->numel;
    if (ref_i32(f, "greedy.prompt", prompt, np) || ref_i32(f, "greedy.ids", want, nw)) return;
    // The reference never stops; the engine stops at EOS, so only the part up to the first EOS is comparable.
    int expect_n = nw;
    for (int i = 0; i < nw; i++)
        if (is_eos(m, want[i])) {
            expect_n = i + 1;
            break;
        }

    tokenizer *tok = NULL;
    mg_err e;
    int rc = tokenizer_load(&tok, f->dir, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc) return;
    sampling_params sp;
    sampling_params_default(&sp);
    sp.temperature = 0.0f;
    sp.max_new_tokens = nw;
    sp.stop[0] = NULL;
    const int *prompts[1] = {prompt};
    uint64_t seq_id = 0;
    completion c;
    memset(&c, 0, sizeof c);
    rc = generate(m, tok, 1, prompts, &np, &seq_id, &sp, 0, &c, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc == 0) {
        // Error = number of ids that differ (or are missing / extra); must be 0.
        int differ = abs(c.n - expect_n);
        for (int i = 0; i < c.n && i < expect_n; i++) differ += c.ids[i] != want[i];
        char detail[64];
        snprintf(detail, sizeof detail, "(%d ids, expected %d)", c.n, expect_n);
        expect("greedy decode: ids that differ", differ, 0, detail);
        completion_free(&c);
    }
    tokenizer_free(tok);
}

// ---------------------------------------------------------------- driver

// Each group of checks gets a freshly loaded model, so no state (adapter, gradients, cache) leaks between them.
static void run_fixture(const char *name) {
    g_model = name;
    printf("%s\n", name);
    fixture f;
    if (fixture_open(&f, name)) {
        fixture_close(&f);
        return;
    }
    void (*const groups[])(model *, const fixture *) = {test_step_logits, test_forward_logp, test_lora_grads,
                                                         test_full_grads, test_adamw_full, test_adamw_lora,
                                                         test_greedy, test_shared_prompt_lora};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        model m;
        memset(&m, 0, sizeof m);
        if (load_model(&m, &f)) break;
        groups[i](&m, &f);
        model_free(&m);
    }
    print_measures();
    fixture_close(&f);
}

int main(void) {
    run_fixture("llama3-tiny");
    run_fixture("qwen2-tiny");
    return test_summary("test_model_parity");
}
