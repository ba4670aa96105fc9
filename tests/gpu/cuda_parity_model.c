// The whole-model half of test_cuda_parity (tests/gpu/test_cuda_parity.c has the ops, the tolerances and main):
// the backend-table engine on the CPU table and on the GPU in fp32 and bf16 against the CPU model on one fixture:
// log-probs, LoRA gradients, AdamW steps, KV-cache steps, greedy and sampled generation, CUDA graphs, and decoding
// with a partial adapter and with the adapter off.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "gpu/cuda_parity.h"
#include "gpu/gpu_test.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/ops.h"
#include "model/engine.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/sampler.h"
#include "testing.h"

static int g_quick;

// bf16 (weights, GEMM operands and the KV cache) against the fp32 CPU model: step logits within this fraction of the
// largest |logit| (test_cuda_parity.c's bound)
#define BF16_LOGITS 1e-2f

typedef struct {
    packed_batch b;
    float *dlogp;  // (N) loss weights at scored positions
} train_batch;

static void make_batch(train_batch *t, int V) {
    static const int lens[3] = {9, 17, 12}, prompts[3] = {4, 6, 5};
    packed_batch_init(&t->b);
    for (int s = 0; s < 3; s++) {
        int ids[17];
        for (int i = 0; i < lens[s]; i++) ids[i] = (int)(rng_uniform(77, (uint64_t)s, (uint64_t)i) * V);
        packed_batch_add(&t->b, ids, lens[s], prompts[s] - 1);
    }
    t->dlogp = hzeros((size_t)t->b.n_tokens);
    for (int i = 0; i < t->b.n_tokens; i++) t->dlogp[i] = t->b.targets[i] >= 0 ? rng_normal(5, 0, (uint64_t)i) : 0.0f;
}

// CPU references of one fixture: logp/entropy at T = 0.7, LoRA gradients, last-token logits of a prefill + 3
// decode steps, greedy and sampled completions, and the adapter after two AdamW steps.
typedef struct {
    float *logp, *entropy, *grads, *logits, *adapter_after;
    completion greedy[3], sampled[3];
    float grad_norm[2];
} reference;

static const int STEP_TOKENS[4] = {3, 11, 5, 2};  // fed after the prompt, one per decode step

static void prompts_of(const train_batch *t, const int *ids[3], int lens[3]) {
    for (int s = 0; s < 3; s++) ids[s] = t->b.tokens + t->b.seq_start[s], lens[s] = 4 + s;
}

static sampling_params greedy_params(void) {
    sampling_params p;
    sampling_params_default(&p);
    p.temperature = 0.0f;
    p.max_new_tokens = 12;
    return p;
}
static sampling_params sampled_params(void) {
    sampling_params p;
    sampling_params_default(&p);
    p.temperature = 1.0f, p.top_k = 50, p.top_p = 0.9f, p.max_new_tokens = 16, p.seed = 99;
    return p;
}

// Feeds the prompt of sequence 0 (5 tokens) to slot 0 and the prompt of sequence 1 (7 tokens) to slot 1 in one
// step, then 3 decode steps of both; logits (8, V) of the wanted rows: 2 per step.
static void run_steps_cpu(model *m, const train_batch *t, float *logits) {
    kv_cache kv;
    mg_err e;
    int V = m->cfg.vocab_size;
    CHECK(kv_cache_init(&kv, m, 2, 32, &e) == 0, "%s", e.msg);
    int tok[12], slot[12];
    char want[12];
    int n = 0;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 5 + 2 * s; i++, n++)
            tok[n] = t->b.tokens[t->b.seq_start[s] + i], slot[n] = s, want[n] = i == 4 + 2 * s;
    CHECK(model_step(m, &kv, n, tok, slot, want, logits, &e) == 0, "%s", e.msg);
    for (int step = 0; step < 3; step++) {
        int dt[2] = {STEP_TOKENS[step], STEP_TOKENS[step + 1]}, ds[2] = {0, 1};
        CHECK(model_step(m, &kv, 2, dt, ds, NULL, logits + (size_t)(step + 1) * 2 * V, &e) == 0, "%s", e.msg);
    }
    kv_cache_free(&kv);
}

// run_steps_cpu's steps on an engine whose cache of 2 slots x 32 tokens is ready (all slots empty).
static void feed_steps(engine *en, const train_batch *t, float *logits) {
    mg_err e;
    int V = en->cfg.vocab_size;
    int tok[12], slot[12];
    char want[12];
    int n = 0;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 5 + 2 * s; i++, n++)
            tok[n] = t->b.tokens[t->b.seq_start[s] + i], slot[n] = s, want[n] = i == 4 + 2 * s;
    CHECK(engine_step(en, n, tok, slot, want, NULL, NULL, NULL, NULL, NULL, &e) == 2, "%s", e.msg);
    engine_logits(en, logits, 2);
    for (int step = 0; step < 3; step++) {
        int dt[2] = {STEP_TOKENS[step], STEP_TOKENS[step + 1]}, ds[2] = {0, 1};
        CHECK(engine_step(en, 2, dt, ds, NULL, NULL, NULL, NULL, NULL, NULL, &e) == 2, "%s", e.msg);
        engine_logits(en, logits + (size_t)(step + 1) * 2 * V, 2);
    }
}

static void run_steps_engine(engine *en, const train_batch *t, float *logits) {
    mg_err e;
    CHECK(engine_kv_init(en, 2, 32, &e) == 0, "%s", e.msg);
    feed_steps(en, t, logits);
}

// The engine's own cache (after run_steps_engine: 2 slots x 32 tokens) is of the weights' dtype, and its bytes say
// so: L x 2 x 32 x KV values in each of k and v (returns those bytes). Then, bf16: the same steps into an fp32 cache
// on the device (engine_kv_attach) give other logits (the bf16 cache rounds), within the bf16 bound; *cache_err:
// that difference.
static size_t check_cache_dtype(const char *label, engine *en, const train_batch *t, const float *logits,
                              float *cache_err) {
    mg_dtype dt;
    const hf_config *c = &en->cfg;
    size_t values = (size_t)c->num_hidden_layers * 2 * 32 * c->num_key_value_heads * c->head_dim;
    size_t bytes = engine_kv_bytes(en, &dt), want = 2 * values * mg_dtype_size(en->wt);
    CHECK(dt == en->wt && bytes == want, "%s: the KV cache is %s, %zu bytes; want %s, %zu bytes", label,
          dt == MG_BF16 ? "bf16" : "fp32", bytes, en->wt == MG_BF16 ? "bf16" : "fp32", want);
    *cache_err = 0.0f;
    if (en->wt != MG_BF16) return bytes;
    size_t n = (size_t)8 * c->vocab_size;
    float *f32 = hzeros(n);
    void *k, *v;
    int len[2] = {0, 0};
    mg_err e;
    CHECK(engine_kv_tensors(en->be, c, MG_F32, 2, 32, &k, &v, &e) == 0, "%s", e.msg);
    engine_kv_attach(en, k, v, len, 2, 32);
    feed_steps(en, t, f32);
    *cache_err = rel(logits, f32, n);
    CHECK(*cache_err > 0.0f && *cache_err <= BF16_LOGITS, "%s: bf16 cache against an fp32 cache: step logits rel %g",
          label, *cache_err);
    engine_kv_free(en);  // lets go of the borrowed cache (the next engine_kv_init makes the engine's own)
    en->be->free(k), en->be->free(v);
    free(f32);
    return bytes;
}

static void gen_cpu(model *m, const train_batch *t, const sampling_params *p, completion *out) {
    const int *ids[3];
    int lens[3];
    uint64_t seq[3] = {11, 12, 13};
    mg_err e;
    prompts_of(t, ids, lens);
    CHECK(generate(m, NULL, 3, ids, lens, seq, p, 2, out, &e) == 0, "%s", e.msg);
}

static void gen_engine(engine *en, const train_batch *t, const sampling_params *p, completion *out) {
    const int *ids[3];
    int lens[3];
    uint64_t seq[3] = {11, 12, 13};
    mg_err e;
    prompts_of(t, ids, lens);
    CHECK(engine_generate(en, NULL, 3, ids, lens, seq, p, 2, out, &e) == 0, "%s", e.msg);
}

static void reference_of(model *m, const train_batch *t, reference *r) {
    int N = t->b.n_tokens, V = m->cfg.vocab_size;
    size_t n = m->lora->n_params;
    r->logp = hzeros(N), r->entropy = hzeros(N), r->grads = hzeros(n), r->logits = hzeros((size_t)8 * V);
    model_set_train_mode(m, TRAIN_LORA);
    model_zero_grad(m);
    model_forward(m, &t->b, 0.7f, r->logp, r->entropy);
    model_backward(m, &t->b, t->dlogp);
    memcpy(r->grads, m->lora->grads, n * sizeof(float));
    run_steps_cpu(m, t, r->logits);
    sampling_params g = greedy_params(), s = sampled_params();
    gen_cpu(m, t, &g, r->greedy);
    gen_cpu(m, t, &s, r->sampled);
    // two AdamW steps on a copy of the adapter (restored afterwards)
    float *keep = hcopy(m->lora->params, n);
    adamw_state o;
    adamw_init(&o, n);
    o.lr = 1e-2f;
    for (int k = 0; k < 2; k++) {
        model_zero_grad(m);
        float *lp = hzeros(N);
        model_forward(m, &t->b, 0.7f, lp, NULL);
        model_backward(m, &t->b, t->dlogp);
        r->grad_norm[k] = optimizer_step(m, &o);
        free(lp);
    }
    r->adapter_after = hcopy(m->lora->params, n);
    memcpy(m->lora->params, keep, n * sizeof(float));
    lora_adapter_changed(m->lora);
    adamw_free(&o);
    free(keep);
}

static void reference_free(reference *r) {
    free(r->logp), free(r->entropy), free(r->grads), free(r->logits), free(r->adapter_after);
    for (int i = 0; i < 3; i++) completion_free(&r->greedy[i]), completion_free(&r->sampled[i]);
}

static int same_ids(const completion *a, const completion *b, int n) {
    for (int i = 0; i < n; i++)
        if (a[i].n != b[i].n || memcmp(a[i].ids, b[i].ids, (size_t)a[i].n * sizeof(int))) return 0;
    return 1;
}

static float max_logp_diff(const completion *a, const completion *b, int n) {
    float worst = 0.0f;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < a[i].n && k < b[i].n; k++)
            if (fabsf(a[i].logp[k] - b[i].logp[k]) > worst) worst = fabsf(a[i].logp[k] - b[i].logp[k]);
    return worst;
}

// ---- bf16 decoding (bf16 weights and a bf16 KV cache) against the CPU's fp32 tokens ----
// The step logits of bf16 are held to 1e-2 of the largest |logit| (BF16_LOGITS); a token can then differ where the
// CPU itself nearly ties. A completion must equal the CPU's, or equal it up to a first difference at such a point
// (after it the two continue from different text, so nothing later is compared):
//  * greedy: the CPU's logits of its token and of the device's differ by at most 2 x BF16_LOGITS x the row's max
//    |logit| (each of the two may be off by the bound);
//  * sampled: with d = BF16_LOGITS x max |logit|, the CPU's logits with the device's token raised by d and its own
//    lowered by d (which also moves the top-k / top-p boundaries): how far the draw u (rng_uniform(seed, seq_id,
//    position), as generate takes it) must move to pick the device's token, in units of max |logit|, at most
//    2 x BF16_SAMPLE_TIE. To first order an error of d in the other logits moves the inverse CDF by 2d (temperature
//    1), i.e. 2 x BF16_LOGITS; the top-p renormalisation and positions past the 8 rows the step check bounds add to
//    it: one llama3-tiny completion (full adapter) needs 0.027 at its 10th token, hence twice that allowance.
//  Before the first difference the tokens' log-probs are within 5e-2 (the bf16 logp bound).
#define BF16_SAMPLE_TIE (2.0f * BF16_LOGITS)

// The CPU model's next-token logits (V) after prompt (plen) + the first k ids of gen.
static void cpu_next_logits(model *m, const int *prompt, int plen, const int *gen, int k, float *logits) {
    int n = plen + k;
    int *tok = mallocCheck((size_t)n * sizeof(int)), *slot = callocCheck((size_t)n, sizeof(int));
    char *want = callocCheck((size_t)n, 1);
    memcpy(tok, prompt, (size_t)plen * sizeof(int));
    memcpy(tok + plen, gen, (size_t)k * sizeof(int));
    want[n - 1] = 1;
    kv_cache kv;
    mg_err e;
    CHECK(kv_cache_init(&kv, m, 1, n, &e) == 0, "%s", e.msg);
    CHECK(model_step(m, &kv, n, tok, slot, want, logits, &e) == 0, "%s", e.msg);
    kv_cache_free(&kv);
    free(tok), free(slot), free(want);
}

// Checks bf16 completions g against the CPU's ref (see above); p: the sampling they used (temperature 0 or 1).
// Returns the number of completions that differ; *gap: the largest relative logit gap (greedy) or draw distance
// (sampled) at a difference. Log-probs of the tokens before the first difference within 5e-2 (the bf16 logp bound).
static int bf16_decode_check(const char *label, model *m, const train_batch *t, const completion *g,
                             const completion *ref, const sampling_params *p, float *gap) {
    const int *prompts[3];
    int lens[3], V = m->cfg.vocab_size, differ = 0;
    uint64_t seq[3] = {11, 12, 13};  // gen_cpu's and gen_engine's
    prompts_of(t, prompts, lens);
    float *L = hzeros((size_t)V), *scratch = hzeros(SAMPLE_SCRATCH(V));
    mg_sample_params sp = {p->temperature, p->top_k, p->top_p, p->min_p, p->seed};
    *gap = 0.0f;
    for (int i = 0; i < 3; i++) {
        int k = 0;
        while (k < g[i].n && k < ref[i].n && g[i].ids[k] == ref[i].ids[k]) k++;
        for (int j = 0; j < k; j++)
            CHECK(fabsf(g[i].logp[j] - ref[i].logp[j]) <= 5e-2f, "%s: completion %d token %d: logp %g, cpu %g", label,
                  i, j, g[i].logp[j], ref[i].logp[j]);
        if (k == g[i].n && k == ref[i].n) continue;
        differ++;
        if (k == g[i].n || k == ref[i].n) {  // one ended (EOS is kept in ids) while the other went on: never a tie
            CHECK(0, "%s: completion %d has %d tokens, the cpu's %d, equal up to there", label, i, g[i].n, ref[i].n);
            continue;
        }
        cpu_next_logits(m, prompts[i], lens[i], ref[i].ids, k, L);
        float amax = 0.0f, bound = 2.0f * BF16_LOGITS;
        for (int v = 0; v < V; v++) amax = fmaxf(amax, fabsf(L[v]));
        float d = 1.0f;  // greedy: the logit gap / max |logit|; sampled: how far the draw must move (1: never)
        if (p->temperature == 0.0f) {
            d = (L[ref[i].ids[k]] - L[g[i].ids[k]]) / amax;
        } else {
            float u = rng_uniform(p->seed, seq[i], (uint64_t)k), lp;
            L[g[i].ids[k]] += BF16_LOGITS * amax, L[ref[i].ids[k]] -= BF16_LOGITS * amax;
            if (sample_token(L, V, &sp, u, &lp, scratch) == g[i].ids[k]) d = 0.0f;
            for (float s = 1e-5f; s <= 1.0f && d == 1.0f; s += fmaxf(1e-5f, 0.01f * s))
                if ((u - s >= 0.0f && sample_token(L, V, &sp, u - s, &lp, scratch) == g[i].ids[k]) ||
                    (u + s < 1.0f && sample_token(L, V, &sp, u + s, &lp, scratch) == g[i].ids[k]))
                    d = s / amax;
        }
        *gap = fmaxf(*gap, d);
        if (p->temperature != 0.0f) bound = 2.0f * BF16_SAMPLE_TIE;
        CHECK(d <= bound, "%s: completion %d differs from the cpu's at token %d (%d, cpu %d) where the cpu does not "
              "nearly tie (%s %g of max |logit|, bound %g)", label, i, k, g[i].ids[k], ref[i].ids[k],
              p->temperature == 0.0f ? "logit gap" : "draw distance", d, bound);
    }
    free(L), free(scratch);
    return differ;
}

#ifdef MG_CUDA_EMULATE
// Kernels launched per decode step of 2 tokens (emulated launches and GEMMs, graphs off): the whole step with
// sampling, and the layers alone (a step that wants no logits is the embedding, one launch, and the layers).
static void count_launches(const char *label, engine *en) {
    mg_err e;
    CHECK(engine_kv_init(en, 2, 8, &e) == 0, "%s", e.msg);
    int tok[2] = {3, 5}, slot[2] = {0, 1}, ids[2];
    char none[2] = {0, 0};
    mg_sample_params sp = {1.0f, 0, 1.0f, 0.0f, 1};
    uint64_t seq[2] = {1, 2}, cnt[2] = {0, 0};
    float lp[2];
    CHECK(engine_step(en, 2, tok, slot, NULL, &sp, seq, cnt, ids, lp, &e) == 2, "%s", e.msg);  // sizes scratch
    unsigned long a = cuda_emu_launches();
    CHECK(engine_step(en, 2, tok, slot, NULL, &sp, seq, cnt, ids, lp, &e) == 2, "%s", e.msg);
    unsigned long b = cuda_emu_launches();
    CHECK(engine_step(en, 2, tok, slot, none, NULL, NULL, NULL, NULL, NULL, &e) == 0, "%s", e.msg);
    unsigned long c = cuda_emu_launches();
    printf("  %-30s kernels per decode step: %lu (per layer %.1f, %d layers)\n", label, b - a,
           (double)(c - b - 1) / en->cfg.num_hidden_layers, en->cfg.num_hidden_layers);
}
#endif

// One engine against the reference. exact: bit-identical expected (the CPU table).
static void check_engine(const char *label, const mg_backend *be, mg_dtype wt, model *m, const train_batch *t,
                         const reference *r, int exact) {
    engine en;
    mg_err e;
    if (engine_create(&en, m, be, wt, &e)) {
        CHECK(0, "%s: %s", label, e.msg);
        return;
    }
    int N = t->b.n_tokens, V = m->cfg.vocab_size, bf = wt == MG_BF16;
    size_t n = en.lora_n;
    float *logp = hzeros(N), *ent = hzeros(N), *grads = hzeros(n), *logits = hzeros((size_t)8 * V);
    engine_zero_grad(&en);
    engine_forward(&en, &t->b, 0.7f, logp, ent);
    engine_backward(&en, &t->b, t->dlogp);
    engine_lora_download_grads(&en, grads);
    run_steps_engine(&en, t, logits);
    float e_cache;
    size_t cache_bytes = check_cache_dtype(label, &en, t, logits, &e_cache);
    float e_logp = max_abs_diff(logp, r->logp, N, NULL), e_ent = max_abs_diff(ent, r->entropy, N, NULL);
    float e_grad = rel(grads, r->grads, n), e_logit = rel(logits, r->logits, (size_t)8 * V);
    printf("  %-22s logp abs %.3g  entropy abs %.3g  LoRA grads rel %.3g  step logits rel %.3g\n", label, e_logp,
           e_ent, e_grad, e_logit);
    if (bf)
        printf("  %-22s KV cache bf16 (%zu bytes); its own share of the step logits' error: rel %.3g against an fp32 "
               "cache\n", label, cache_bytes, e_cache);
    if (exact) {
        CHECK(e_logp == 0 && e_ent == 0 && e_grad == 0 && e_logit == 0, "%s: not bit-identical to the CPU engine", label);
    } else {
        CHECK(e_logit <= (bf ? BF16_LOGITS : 1e-4f), "%s: step logits rel err %g", label, e_logit);
        CHECK(e_logp <= (bf ? 5e-2f : 1e-4f), "%s: logp abs err %g", label, e_logp);
        CHECK(e_grad <= (bf ? 2e-2f : 1e-3f), "%s: LoRA gradient rel err %g", label, e_grad);
    }
    completion g[3], s[3];
    sampling_params gp = greedy_params(), sp = sampled_params();
    gen_engine(&en, t, &gp, g);
    if (bf) {  // near-ties may go the other way (bf16_decode_check), and the graphs must replay the eager tokens
        float gap_g, gap_s;
        int dg = bf16_decode_check(label, m, t, g, r->greedy, &gp, &gap_g);
        gen_engine(&en, t, &sp, s);
        int ds = bf16_decode_check(label, m, t, s, r->sampled, &sp, &gap_s);
        printf("  %-22s greedy: %d of 3 completions differ (largest logit gap there %.3g of max |logit|), sampled: %d "
               "of 3 (largest draw distance %.3g of max |logit|)\n", label, dg, gap_g, ds, gap_s);
        completion gg[3];
        en.use_graphs = 1;
        gen_engine(&en, t, &gp, gg);
        en.use_graphs = 0;
        int ok = same_ids(gg, g, 3);
        printf("  %-22s with CUDA graphs: greedy ids %s the eager ones\n", label, ok ? "equal" : "DIFFER from");
        CHECK(ok, "%s: decoding with CUDA graphs differs from eager decoding", label);
        for (int i = 0; i < 3; i++) completion_free(&gg[i]), completion_free(&s[i]);
    } else {
        CHECK(same_ids(g, r->greedy, 3), "%s: greedy decoding differs from the CPU engine", label);
        printf("  %-22s greedy ids %s (3 prompts x 12 tokens, batch 2)", label,
               same_ids(g, r->greedy, 3) ? "equal" : "DIFFER");
    }
    if (!bf) {
        gen_engine(&en, t, &sp, s);
        int ok = same_ids(s, r->sampled, 3);
        float lpd = max_logp_diff(s, r->sampled, 3);
        printf(", sampled ids %s, logp err %.3g", ok ? "equal" : "DIFFER", lpd);
        CHECK(ok, "%s: sampled tokens differ from the CPU engine (fp32)", label);
        CHECK(exact ? lpd == 0.0f : lpd <= 1e-4f, "%s: sampled log-probs differ by %g", label, lpd);
        for (int i = 0; i < 3; i++) completion_free(&s[i]);
    }
    if (!bf) printf("\n");
    for (int i = 0; i < 3; i++) completion_free(&g[i]);
    if (!exact && !bf) {  // decode steps replayed as CUDA graphs: the same tokens (captured on each shape's second step)
        en.use_graphs = 1;
        gen_engine(&en, t, &sp, g);
        int ok = same_ids(g, r->sampled, 3);
        printf("  %-22s with CUDA graphs: sampled ids %s\n", label, ok ? "equal" : "DIFFER");
        CHECK(ok, "%s: decoding with CUDA graphs differs", label);
        for (int i = 0; i < 3; i++) completion_free(&g[i]);
        en.use_graphs = 0;
    }
#ifdef MG_CUDA_EMULATE
    if (!exact) count_launches(label, &en);
#endif
    // two optimizer steps from the same adapter
    float norms[2], *after = hzeros(n);
    for (int k = 0; k < 2; k++) {
        float *lp = hzeros(N);
        engine_zero_grad(&en);
        engine_forward(&en, &t->b, 0.7f, lp, NULL);
        engine_backward(&en, &t->b, t->dlogp);
        norms[k] = engine_optimizer_step(&en, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0f);
        free(lp);
    }
    engine_lora_download(&en, after);
    float e_ad = rel(after, r->adapter_after, n), e_norm = 0.0f;
    for (int k = 0; k < 2; k++) {
        float d = fabsf(norms[k] - r->grad_norm[k]) / r->grad_norm[k];
        e_norm = d > e_norm ? d : e_norm;
    }
    printf("  %-22s 2 AdamW steps: grad norms %.6g %.6g (cpu %.6g %.6g) rel %.3g, adapter rel %.3g\n", label,
           norms[0], norms[1], r->grad_norm[0], r->grad_norm[1], e_norm, e_ad);
    // Adam divides by sqrt(v): an element whose gradient is at noise level moves by about lr whatever its sign, so
    // the adapter after the steps amplifies gradient noise (bf16: ~0.14 relative, fp32: ~1e-5). fp32 is held to
    // 1e-3; bf16 to the gradient norms (the AdamW kernel itself is checked in fp32 above).
    if (exact) CHECK(e_ad == 0 && e_norm == 0, "%s: optimizer steps not bit-identical", label);
    else if (!bf)
        CHECK(e_ad <= 1e-3f && e_norm <= 1e-4f, "%s: after AdamW: adapter rel %g, norm rel %g", label, e_ad, e_norm);
    else CHECK(e_norm <= 2e-2f, "%s: gradient norms differ by %g (relative)", label, e_norm);
    free(logp), free(ent), free(grads), free(logits), free(after);
    engine_free(&en);
}

// engine_wrap by hand, beside the model's own wrapped engine (model_forward & co): bit-identical, the gradients land
// in the model's own adapter gradient buffer, and switching the model's adapter off switches the engine's off.
static void check_wrap(model *m, const train_batch *t, const reference *r) {
    engine en;
    mg_err e;
    if (engine_wrap(&en, m, &e)) {
        CHECK(0, "engine_wrap: %s", e.msg);
        return;
    }
    int N = t->b.n_tokens, V = m->cfg.vocab_size;
    float *logp = hzeros(N), *ent = hzeros(N), *logits = hzeros((size_t)8 * V), *base = hzeros(N), *ref = hzeros(N);
    model_zero_grad(m);
    engine_forward(&en, &t->b, 0.7f, logp, ent);
    engine_backward(&en, &t->b, t->dlogp);
    run_steps_engine(&en, t, logits);
    int same = !memcmp(logp, r->logp, N * sizeof(float)) && !memcmp(ent, r->entropy, N * sizeof(float)) &&
               !memcmp(m->lora->grads, r->grads, m->lora->n_params * sizeof(float)) &&
               !memcmp(logits, r->logits, (size_t)8 * V * sizeof(float));
    m->lora->enabled = 0;  // the KL reference: the base model through the same engine
    engine_forward(&en, &t->b, 0.7f, base, NULL);
    model_forward(m, &t->b, 0.7f, ref, NULL);
    m->lora->enabled = 1;
    int same_base = !memcmp(base, ref, N * sizeof(float)) && memcmp(base, logp, N * sizeof(float));
    printf("  %-22s forward, LoRA grads (in the model's buffer), steps %s; adapter off %s\n", "engine_wrap (no copy)",
           same ? "bit-identical" : "DIFFER", same_base ? "= base model" : "WRONG");
    CHECK(same, "engine_wrap: results differ from the CPU engine");
    CHECK(same_base, "engine_wrap: the model's lora->enabled = 0 is not the base model");
    model_zero_grad(m);
    free(logp), free(ent), free(logits), free(base), free(ref);
    engine_free(&en);
}

// Decoding with other adapters than check_engine's (all 7 modules): a module without one lets the decode step take
// its fused paths (residual add in the GEMM, norm and SwiGLU writing the GEMM operand, q/k/v biases in the RoPE
// kernel). Step logits, greedy and (fp32) sampled tokens against the CPU engine: the CPU table bit for bit.
static void check_decode(const char *adapter, model *m, const train_batch *t) {
    int V = m->cfg.vocab_size;
    float *ref = hzeros((size_t)8 * V), *logits = hzeros((size_t)8 * V);
    completion rg[3], rs[3], g[3];
    sampling_params gp = greedy_params(), sp = sampled_params();
    run_steps_cpu(m, t, ref);
    gen_cpu(m, t, &gp, rg);
    gen_cpu(m, t, &sp, rs);
    struct {
        const char *name;
        const mg_backend *be;
        mg_dtype wt;
    } runs[3] = {{"cpu table", &mg_backend_cpu, MG_F32}, {"cuda fp32", mg_backend_cuda(), MG_F32},
                 {"cuda bf16", mg_backend_cuda(), MG_BF16}};
    for (int k = 0; k < 3; k++) {
        engine en;
        mg_err e;
        char label[48];
        snprintf(label, sizeof label, "%s, adapter %s", runs[k].name, adapter);
        if (engine_create(&en, m, runs[k].be, runs[k].wt, &e)) {
            CHECK(0, "%s: %s", label, e.msg);
            continue;
        }
        int exact = k == 0, bf = runs[k].wt == MG_BF16, ok = 1;
        run_steps_engine(&en, t, logits);
        float err = rel(logits, ref, (size_t)8 * V);
        CHECK(exact ? err == 0.0f : err <= (bf ? BF16_LOGITS : 1e-4f), "%s: step logits rel err %g", label, err);
        if (bf) {  // near-ties may go the other way (bf16_decode_check); graphs replay the eager tokens
            completion eager[3];
            float gap[2];
            int differ[2];
            for (int sampled = 0; sampled < 2; sampled++) {
                const sampling_params *p = sampled ? &sp : &gp;
                gen_engine(&en, t, p, eager);
                differ[sampled] = bf16_decode_check(label, m, t, eager, sampled ? rs : rg, p, &gap[sampled]);
                en.use_graphs = 1;
                gen_engine(&en, t, p, g);
                en.use_graphs = 0;
                int same = same_ids(g, eager, 3);
                CHECK(same, "%s: %s ids with graphs differ from eager ones", label, sampled ? "sampled" : "greedy");
                ok &= same;
                for (int i = 0; i < 3; i++) completion_free(&g[i]), completion_free(&eager[i]);
            }
            printf("  %-30s step logits rel %.3g, completions differing from the cpu's at a near-tie: greedy %d of 3 "
                   "(gap %.3g), sampled %d of 3 (draw %.3g); with graphs the eager ids: %s\n", label, err, differ[0],
                   gap[0], differ[1], gap[1], ok ? "yes" : "NO");
        }
        for (int graphs = 0; !bf && graphs <= !exact; graphs++) {
            en.use_graphs = graphs;
            for (int sampled = 0; sampled <= !bf; sampled++) {
                gen_engine(&en, t, sampled ? &sp : &gp, g);
                int same = same_ids(g, sampled ? rs : rg, 3);
                CHECK(same, "%s: %s ids differ%s", label, sampled ? "sampled" : "greedy", graphs ? " (graphs)" : "");
                ok &= same;
                for (int i = 0; i < 3; i++) completion_free(&g[i]);
            }
        }
        en.use_graphs = 0;
        if (!bf)
            printf("  %-30s step logits rel %.3g, greedy and sampled ids %s%s\n", label, err, ok ? "equal" : "DIFFER",
                   exact ? "" : " (also with graphs)");
#ifdef MG_CUDA_EMULATE
        if (!exact) count_launches(label, &en);
#endif
        engine_free(&en);
    }
    for (int i = 0; i < 3; i++) completion_free(&rg[i]), completion_free(&rs[i]);
    free(ref), free(logits);
}

// A captured decode step holds its adapter's buffers and scale: making the adapter again (the device engine does when
// the model's adapter changes shape; here a new alpha, same rank and targets, so the step buffers and the scratch stay)
// must drop the captured graphs. Step logits with graphs against eager steps after the adapter was made again; a
// graph kept from before replays the old scale (and freed buffers).
static void check_graphs_new_adapter(model *m, const train_batch *t) {
    const char *label = "cuda fp32, graphs";
    engine en;
    mg_err e;
    if (engine_create(&en, m, mg_backend_cuda(), MG_F32, &e)) {
        CHECK(0, "%s: %s", label, e.msg);
        return;
    }
    size_t n = (size_t)8 * m->cfg.vocab_size;
    float *before = hzeros(n), *graphs = hzeros(n), *eager = hzeros(n);
    en.use_graphs = 1;
    run_steps_engine(&en, t, before);  // its 2-token decode step: eager, captured, replayed
    lora_config lc = en.lora;
    lc.alpha *= 2.0f;
    CHECK(engine_lora_create(&en, &lc, 0.0f, 0, &e) != 0 && strstr(e.msg, "already has an adapter"),
          "%s: a second adapter without dropping the first must be refused, not leak it", label);
    engine_lora_drop(&en);
    CHECK(engine_lora_create(&en, &lc, 0.0f, 0, &e) == 0, "%s: %s", label, e.msg);
    engine_lora_upload(&en, m->lora->params);
    run_steps_engine(&en, t, graphs);
    en.use_graphs = 0;
    run_steps_engine(&en, t, eager);
    float err = rel(graphs, eager, n), moved = rel(before, eager, n);
    printf("  %-22s adapter made again (alpha x2): step logits with graphs vs eager rel %.3g (old adapter's: %.3g)\n",
           label, err, moved);
    CHECK(err <= 1e-6f, "%s: a decode graph of the dropped adapter was replayed (rel %g)", label, err);
    CHECK(moved > 1e-3f, "%s: the new alpha does not move the logits (rel %g): the check cannot see a stale graph",
          label, moved);
    free(before), free(graphs), free(eager);
    engine_free(&en);
}

void cuda_parity_model(const char *dir, int quick) {
    g_quick = quick;
    model m;
    mg_err e;
    if (model_load(&m, dir, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    printf("model %s\n", dir);
    lora_config lc = {8, 16.0f, (1u << LORA_N_MODULES) - 1};
    CHECK(model_lora_init(&m, &lc, 3, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < m.lora->n_params; i++)  // B = 0 at init would leave A without gradient
        if (m.lora->params[i] == 0.0f) m.lora->params[i] = 0.02f * rng_normal(4, 0, i);
    lora_adapter_changed(m.lora);
    train_batch t;
    make_batch(&t, m.cfg.vocab_size);
    reference r;
    reference_of(&m, &t, &r);
    check_engine("engine on cpu table", &mg_backend_cpu, MG_F32, &m, &t, &r, 1);
    check_wrap(&m, &t, &r);
    check_engine("cuda fp32", mg_backend_cuda(), MG_F32, &m, &t, &r, 0);
    check_engine("cuda bf16", mg_backend_cuda(), MG_BF16, &m, &t, &r, 0);
    check_graphs_new_adapter(&m, &t);
    reference_free(&r);
    lora_config part = {8, 16.0f, LORA_V | LORA_DOWN};
    CHECK(model_lora_init(&m, &part, 5, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < m.lora->n_params; i++)
        if (m.lora->params[i] == 0.0f) m.lora->params[i] = 0.02f * rng_normal(6, 0, i);
    lora_adapter_changed(m.lora);
    check_decode("v+down", &m, &t);
    m.lora->enabled = 0;
    check_decode("off", &m, &t);
    packed_batch_free(&t.b);
    free(t.dlogp);
    model_free(&m);
}

