// CPU engine benchmark (a program, never a test): batched sampling, one LoRA training step, one full-parameter
// step, and the sgemm rate of this machine through the same cblas the engine links, so every result can be read
// against the physical floor. bench/run.sh runs it next to bench/bench_torch.py on the same weights.
//
//   bench_engine [--threads N] [--json FILE] [--model DIR] [--save DIR] [--dump FILE] [--only LIST]
//                [--batches 16,1,64] [--repeats R] [--quick] [--profile]   (--only ...,arc: the ARC shape)
//
// --threads sets both the OpenMP and the OpenBLAS thread counts. --model loads an HF folder instead of building the
// random ~15.7M-parameter Llama-3-shaped model. --save DIR writes that model (F32 safetensors + config.json) and
// exits, so PyTorch loads the same weights. --dump FILE writes last-position logits of a fixed prompt and the
// training batch's mean logp, then exits: run.sh compares dumps across OpenBLAS core types and against PyTorch.
// --only takes a comma list of sgemm, sample, lora, full, arc (the default is all but arc; arc is the ARC shape,
// a shared 1k prompt: see run_arc). --profile times each kernel of a LoRA step and of a
// batch-16 generate on its own (see profile_train). Times are medians over --repeats runs after one warm-up
// (the ARC shape: at most 3 runs, no warm-up).
// At start it selects OpenBLAS's kernels for this CPU as the migrate program does, re-executing itself once
// (kernels/cpu/blas_setup.h); MIGRATE_NO_REEXEC=1 measures OpenBLAS's own choice.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bench/bench_util.h"
#include "common/rng.h"
#include "kernels/cpu/blas_setup.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "model/sampler.h"

// ---- the workloads (shared with bench_torch.py through the command line and the JSON) ----
enum { PROMPT_LEN = 32, NEW_TOKENS = 64, TRAIN_SEQS = 16, LORA_RANK = 64 };
static const float LORA_ALPHA = 16.0f;

typedef struct {
    int threads, repeats, quick, profile;
    const char *json, *model_dir, *save_dir, *dump;
    int batches[8], n_batches;
    int do_sgemm, do_sample, do_lora, do_full, do_arc;
} options;

// The default benchmark model: Llama-3 shape (GQA, llama3 rope scaling, untied head), ~15.7M parameters.
static hf_config bench_config(void) {
    hf_config c;
    memset(&c, 0, sizeof c);
    c.arch = ARCH_LLAMA;
    snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.vocab_size = 8192;
    c.hidden_size = 384;
    c.intermediate_size = 1024;
    c.num_hidden_layers = 6;
    c.num_attention_heads = 6;
    c.num_key_value_heads = 2;
    c.head_dim = 64;
    c.max_position_embeddings = 131072;  // as Llama-3.2 (the KV cache is sized by use, not by this)
    c.rms_norm_eps = 1e-5f;
    c.rope_theta = 500000.0;
    c.rope_llama3 = 1;
    c.rope_factor = 32, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4;
    c.rope_original_max_position_embeddings = 8192;
    c.bos_token_id = -1;
    c.pad_token_id = -1;
    c.n_eos = 0;  // no EOS: every completion runs its full NEW_TOKENS, in both engines
    return c;
}

// ---- FLOP model (docs/benchmarks.md writes it out) ----
// Useful model FLOPs only: a multiply-add is 2 FLOPs; recomputation (the engine redoes the LM-head GEMM and the
// attention probabilities in the backward) and padding (the engine's 16-row decode tiles) are not counted.
typedef struct {
    double linear;  // 2 * (per-layer linear params) * L, per token through the trunk
    double lm;      // 2 * V * C, per token whose logits are computed
    double attn;    // 4 * Hq * D * L, per (query, key) pair
    double lora;    // 2 * R * (IC + OC) summed over adapted modules * L, per token
} flop_rates;

static flop_rates flop_rates_of(const hf_config *c, int lora_rank, unsigned targets) {
    flop_rates f = {0};
    int L = c->num_hidden_layers;
    for (int k = 0; k < LORA_N_MODULES; k++) {
        int Q = c->num_attention_heads * c->head_dim, KV = c->num_key_value_heads * c->head_dim;
        int C = c->hidden_size, F = c->intermediate_size;
        int ins[] = {C, C, C, Q, C, C, F}, outs[] = {Q, KV, KV, C, F, F, C};
        f.linear += 2.0 * ins[k] * outs[k] * L;
        if (targets & (1u << k)) f.lora += 2.0 * lora_rank * (ins[k] + outs[k]) * L;
    }
    f.lm = 2.0 * c->vocab_size * c->hidden_size;
    f.attn = 4.0 * c->num_attention_heads * c->head_dim * L;
    return f;
}

// Sampling FLOPs of `fed` tokens through the trunk (the last sampled token is never fed back), `pairs` (query, key)
// pairs of attention and `logits` LM-head rows (one per new token).
static double sample_flops_of(const hf_config *c, double fed, double pairs, double logits) {
    flop_rates f = flop_rates_of(c, 0, 0);
    return fed * f.linear + pairs * f.attn + logits * f.lm;
}

// Sampling n prompts of P tokens for G new tokens: the model sees P + G - 1 tokens per sequence and computes
// logits G times.
static double sample_flops(const hf_config *c, int n, int P, int G) {
    double fed = P + G - 1;
    return n * sample_flops_of(c, fed, fed * (fed + 1) / 2, G);
}

// One training step (forward + backward) over `tokens` tokens through the trunk, `pairs` (query, key) pairs of
// attention and `logits` scored positions. Backward costs, per part: frozen linears 1x forward (input gradient only),
// trained linears 2x (input + weight), attention 2x (dq, dk, dv, dp), LoRA 2x, LM head 1x frozen / 2x trained.
static double train_flops_of(const hf_config *c, double tokens, double pairs, double logits, int lora_rank,
                             unsigned targets, int full) {
    flop_rates f = flop_rates_of(c, full ? 0 : lora_rank, full ? 0 : targets);
    double fwd = tokens * (f.linear + f.lora) + pairs * f.attn + logits * f.lm;
    double bwd = tokens * (f.linear * (full ? 2 : 1) + 2 * f.lora) + 2 * pairs * f.attn + logits * f.lm * (full ? 2 : 1);
    return fwd + bwd;
}

// S sequences of T tokens with G scored each.
static double train_flops(const hf_config *c, int S, int T, int G, int lora_rank, unsigned targets, int full) {
    return S * train_flops_of(c, T, (double)T * (T + 1) / 2, G, lora_rank, targets, full);
}

// ---- results ----
static json_t *results;

static void report(const char *name, const char *unit_name, double units, const double *times, int n, double flops,
                   const char *note) {
    double sorted[64];
    memcpy(sorted, times, (size_t)n * sizeof(double));
    double med = median(sorted, n), best = sorted[0];
    printf("  %-28s %9.2f ms  %10.1f %-9s %8.1f GFLOP/s  (min %.2f ms, %d runs)%s%s\n", name, med * 1e3, units / med,
           unit_name, flops / med / 1e9, best * 1e3, n, note ? "  " : "", note ? note : "");
    json_t *r = json_object();
    json_object_set_new(r, "median_s", json_real(med));
    json_object_set_new(r, "min_s", json_real(best));
    json_object_set_new(r, "runs", json_integer(n));
    json_object_set_new(r, "units", json_real(units));
    json_object_set_new(r, "unit", json_string(unit_name));
    json_object_set_new(r, "per_s", json_real(units / med));
    json_object_set_new(r, "flops", json_real(flops));
    json_object_set_new(r, "gflops", json_real(flops / med / 1e9));
    json_object_set_new(results, name, r);
    fflush(stdout);
}

// ---- (c) sgemm ----
// C (M, N) = A (M, K) @ B^T with B stored (N, K): the layout every engine linear layer uses (NT), or B stored (K, N)
// (NN); INVARIANT is the engine's own batch-invariant GEMM (kernels/cpu/matmul_invariant.c) on the NT layout.
enum { GEMM_NN, GEMM_NT, GEMM_INVARIANT };

static void run_gemm(int kind, const float *A, const float *B, float *Cm, int M, int N, int K) {
    if (kind == GEMM_INVARIANT) matmul_forward_invariant(Cm, A, B, NULL, M, K, N);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, kind == GEMM_NT ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, K, B,
                     kind == GEMM_NT ? K : N, 0.0f, Cm, N);
}

static void bench_sgemm(const char *name, int M, int N, int K, int kind, double min_seconds) {
    // Aligned like the engine's weights and activations (the invariant GEMM loses about a quarter unaligned).
    float *A = alignedCallocCheck((size_t)M * K, sizeof(float)), *B = alignedCallocCheck((size_t)N * K, sizeof(float));
    float *Cm = alignedCallocCheck((size_t)M * N, sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = rng_uniform(1, 0, i) - 0.5f;
    for (size_t i = 0; i < (size_t)N * K; i++) B[i] = rng_uniform(1, 1, i) - 0.5f;
    run_gemm(kind, A, B, Cm, M, N, K);  // warm-up
    double t0 = now();
    int iters = 1;
    run_gemm(kind, A, B, Cm, M, N, K);
    double one = now() - t0;
    iters = one > 0 ? (int)(min_seconds / 5 / one) : 1000;
    if (iters < 1) iters = 1;
    double times[5];
    for (int r = 0; r < 5; r++) {
        t0 = now();
        for (int i = 0; i < iters; i++) run_gemm(kind, A, B, Cm, M, N, K);
        times[r] = (now() - t0) / iters;
    }
    char label[64];
    snprintf(label, sizeof label, "%s %s", kind == GEMM_INVARIANT ? "invariant" : "sgemm", name);
    char note[64];
    snprintf(note, sizeof note, "%dx%dx%d %s", M, N, K, kind == GEMM_NN ? "NN" : "NT");
    report(label, "calls/s", 1.0, times, 5, 2.0 * M * N * K, note);
    free(A);
    free(B);
    free(Cm);
}

// ---- the FMA peak: the arithmetic ceiling ----
// Each thread runs fused multiply-adds on registers alone, 12 independent chains (more than FMA latency times FMA
// ports on any x86 core), so the rate is what the cores' fp32 FMA units deliver at the clock they hold under this
// load. No fp32 GEMM, in the engine or in PyTorch, can run faster.
#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 fma_vec;
enum { FMA_LANES = 16 };
#define FMA_SET(x) _mm512_set1_ps(x)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define FMA_ADD(a, b) _mm512_add_ps(a, b)
#define FMA_SUM(a) _mm512_reduce_add_ps(a)
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 fma_vec;
enum { FMA_LANES = 8 };
#define FMA_SET(x) _mm256_set1_ps(x)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define FMA_ADD(a, b) _mm256_add_ps(a, b)
static float FMA_SUM(__m256 a) {
    float l[8], s = 0.0f;
    _mm256_storeu_ps(l, a);
    for (int i = 0; i < 8; i++) s += l[i];
    return s;
}
#else
typedef float fma_vec;
enum { FMA_LANES = 1 };
#define FMA_SET(x) (x)
#define FMA(a, b, c) fmaf(a, b, c)
#define FMA_ADD(a, b) ((a) + (b))
#define FMA_SUM(a) (a)
#endif

enum { FMA_CHAINS = 12 };

// FMA_CHAINS * FMA_LANES * iters fused multiply-adds on every thread; the sum keeps the compiler from dropping them.
static float fma_chains(long iters) {
    float sink = 0.0f;
    #pragma omp parallel reduction(+ : sink)
    {
        fma_vec x = FMA_SET(0.999999f), y = FMA_SET(1e-7f);
        fma_vec a0 = FMA_SET(0.f), a1 = FMA_SET(1.f), a2 = FMA_SET(2.f), a3 = FMA_SET(3.f), a4 = FMA_SET(4.f);
        fma_vec a5 = FMA_SET(5.f), a6 = FMA_SET(6.f), a7 = FMA_SET(7.f), a8 = FMA_SET(8.f), a9 = FMA_SET(9.f);
        fma_vec a10 = FMA_SET(10.f), a11 = FMA_SET(11.f);
        for (long i = 0; i < iters; i++) {
            a0 = FMA(a0, x, y), a1 = FMA(a1, x, y), a2 = FMA(a2, x, y), a3 = FMA(a3, x, y);
            a4 = FMA(a4, x, y), a5 = FMA(a5, x, y), a6 = FMA(a6, x, y), a7 = FMA(a7, x, y);
            a8 = FMA(a8, x, y), a9 = FMA(a9, x, y), a10 = FMA(a10, x, y), a11 = FMA(a11, x, y);
        }
        fma_vec s = FMA_ADD(FMA_ADD(FMA_ADD(a0, a1), FMA_ADD(a2, a3)), FMA_ADD(FMA_ADD(a4, a5), FMA_ADD(a6, a7)));
        sink += FMA_SUM(FMA_ADD(s, FMA_ADD(FMA_ADD(a8, a9), FMA_ADD(a10, a11))));
    }
    return sink;
}

static void bench_fma_peak(double min_seconds) {
    long iters = 1L << 20;  // about 2 ms: long enough that starting the threads does not count
    volatile float sink = fma_chains(iters);
    double t0 = now();
    sink = fma_chains(iters);
    double one = now() - t0;
    if (one > 0 && one < min_seconds / 5) iters = (long)(iters * (min_seconds / 5 / one));
    double times[5];
    for (int r = 0; r < 5; r++) {
        t0 = now();
        sink = fma_chains(iters);
        times[r] = now() - t0;
    }
    (void)sink;
    double flops = 2.0 * FMA_CHAINS * FMA_LANES * (double)iters * omp_get_max_threads();
    char note[64];
    snprintf(note, sizeof note, "%d threads, %d-lane FMAs on registers", omp_get_max_threads(), FMA_LANES);
    report("fma peak", "runs/s", 1.0, times, 5, flops, note);
}

static void run_sgemm(const model *m, int quick) {
    const hf_config *c = &m->cfg;
    int C = c->hidden_size, F = c->intermediate_size, V = c->vocab_size;
    int N = TRAIN_SEQS * (PROMPT_LEN + NEW_TOKENS);
    double t = quick ? 0.1 : 0.4;
    printf("sgemm (cblas_sgemm, fp32) and the engine's batch-invariant GEMM, against the fp32 FMA peak:\n");
    bench_fma_peak(t);
    bench_sgemm("square 2048", 2048, 2048, 2048, GEMM_NN, 4 * t);
    bench_sgemm("train q/o", N, C, C, GEMM_NT, t);
    bench_sgemm("train gate/up", N, F, C, GEMM_NT, t);
    bench_sgemm("train down", N, C, F, GEMM_NT, t);
    bench_sgemm("train lora A", N, LORA_RANK, C, GEMM_NT, t);
    bench_sgemm("lm head chunk", 64, V, C, GEMM_NT, t);
    bench_sgemm("decode 16 gate/up", 16, F, C, GEMM_NT, t);
    bench_sgemm("decode 16 down", 16, C, F, GEMM_NT, t);
    bench_sgemm("decode 1 gate/up", 1, F, C, GEMM_INVARIANT, t);
    bench_sgemm("decode 16 gate/up", 16, F, C, GEMM_INVARIANT, t);
    bench_sgemm("decode 16 down", 16, C, F, GEMM_INVARIANT, t);
    bench_sgemm("decode 64 gate/up", 64, F, C, GEMM_INVARIANT, t);
    bench_sgemm("lm head 16", 16, V, C, GEMM_INVARIANT, t);
    bench_sgemm("prefill 512 gate/up", 512, F, C, GEMM_INVARIANT, t);
}

// ---- (a) batched sampling ----
static void run_sample(model *m, int batch, int repeats) {
    const hf_config *c = &m->cfg;
    int **prompts = mallocCheck((size_t)batch * sizeof(int *));
    int *lens = mallocCheck((size_t)batch * sizeof(int));
    uint64_t *ids = mallocCheck((size_t)batch * sizeof(uint64_t));
    for (int i = 0; i < batch; i++) {
        prompts[i] = mallocCheck(PROMPT_LEN * sizeof(int));
        for (int t = 0; t < PROMPT_LEN; t++)
            prompts[i][t] = (int)(rng_uniform(7, (uint64_t)i, (uint64_t)t) * c->vocab_size);
        lens[i] = PROMPT_LEN;
        ids[i] = (uint64_t)i;
    }
    sampling_params p;
    sampling_params_default(&p);
    p.temperature = 1.0f;
    p.top_k = 0;
    p.max_new_tokens = NEW_TOKENS;
    p.seed = 1234;
    completion *out = mallocCheck((size_t)batch * sizeof(completion));
    double times[64];
    mg_err e;
    for (int r = -1; r < repeats; r++) {  // r = -1: warm-up
        double t0 = now();
        if (generate(m, NULL, batch, (const int *const *)prompts, lens, ids, &p, 0, out, &e)) mg_die(&e);
        double dt = now() - t0;
        for (int i = 0; i < batch; i++) {
            mgCheck(out[i].n == NEW_TOKENS, "a completion stopped early: the benchmark needs fixed-length output");
            completion_free(&out[i]);
        }
        if (r >= 0) times[r] = dt;
    }
    char label[64];
    snprintf(label, sizeof label, "sample batch %d", batch);
    report(label, "tok/s", (double)batch * NEW_TOKENS, times, repeats, sample_flops(c, batch, PROMPT_LEN, NEW_TOKENS),
           "new tokens, prefill included");
    for (int i = 0; i < batch; i++) free(prompts[i]);
    free(prompts);
    free(lens);
    free(ids);
    free(out);
}

// ---- (b) training steps ----
static void train_batch(const model *m, packed_batch *b) {
    int T = PROMPT_LEN + NEW_TOKENS, ids[PROMPT_LEN + NEW_TOKENS];
    packed_batch_init(b);
    for (int s = 0; s < TRAIN_SEQS; s++) {
        for (int t = 0; t < T; t++) ids[t] = (int)(rng_uniform(11, (uint64_t)s, (uint64_t)t) * m->cfg.vocab_size);
        packed_batch_add(b, ids, T, PROMPT_LEN - 1);  // scores ids[PROMPT_LEN .. T-1]: the completion
    }
}

// forward + backward of -mean(logp) + global-norm clip at 1 + AdamW, as one RL update step does it.
static void train_step(model *m, const packed_batch *b, float *logp, float *dlogp, float *adam_m, float *adam_v,
                       int step) {
    size_t n;
    float *grad = model_trainable_grad(m, &n);
    float *param = model_trainable(m, &n);
    model_zero_grad(m);
    model_forward(m, b, 1.0f, logp, NULL);
    model_backward(m, b, dlogp);
    double norm = sqrt(sumsq(grad, n));
    if (norm > 1.0) scale_inplace(grad, (float)(1.0 / (norm + 1e-6)), n);
    adamw_update(param, grad, adam_m, adam_v, n, 1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, step);
}

static void run_train(model *m, train_mode mode, int repeats) {
    packed_batch b;
    train_batch(m, &b);
    int N = b.n_tokens, scored = 0;
    for (int i = 0; i < N; i++) scored += b.targets[i] >= 0;
    float *logp = mallocCheck((size_t)N * sizeof(float)), *dlogp = mallocCheck((size_t)N * sizeof(float));
    for (int i = 0; i < N; i++) dlogp[i] = b.targets[i] >= 0 ? -1.0f / scored : 0.0f;
    model_set_train_mode(m, mode);
    size_t n;
    model_trainable(m, &n);
    float *adam_m = callocCheck(n, sizeof(float)), *adam_v = callocCheck(n, sizeof(float));
    double times[64];
    for (int r = -1; r < repeats; r++) {
        double t0 = now();
        train_step(m, &b, logp, dlogp, adam_m, adam_v, r + 2);
        if (r >= 0) times[r] = now() - t0;
    }
    int full = mode == TRAIN_FULL;
    double flops = train_flops(&m->cfg, TRAIN_SEQS, PROMPT_LEN + NEW_TOKENS, NEW_TOKENS, LORA_RANK,
                               LORA_Q | LORA_K | LORA_V | LORA_O, full);
    char note[96];
    snprintf(note, sizeof note, "%d seqs x %d tokens, %zu trainable", TRAIN_SEQS, PROMPT_LEN + NEW_TOKENS, n);
    report(full ? "train step full" : "train step lora", "tok/s", N, times, repeats, flops, note);
    model_set_train_mode(m, TRAIN_NONE);
    free(adam_m);
    free(adam_v);
    free(logp);
    free(dlogp);
    packed_batch_free(&b);
}

// ---- (d) the ARC shape: one long prompt shared by a group of samples ----
// One prompt of ARC_PROMPT random tokens, ARC_SAMPLES samples of exactly ARC_NEW new tokens (no EOS), as an ARC
// search's group looks with an 8B-class model (prompt 1k, completions 256). Sampling runs generate() with
// sampling.share_prefix off and on (rollout workers call it so, max_batch 0); the GRPO update is one LoRA step over
// the 16 sequences, packed as the learner packs a group in one shard (workers/learner.c shard_build) with
// training.share_prefix off (each sequence whole) and on (the prompt once, the members after it).
enum { ARC_PROMPT = 1024, ARC_NEW = 256, ARC_SAMPLES = 16 };

static void arc_prompt(const hf_config *c, int *ids) {  // ids (ARC_PROMPT)
    for (int t = 0; t < ARC_PROMPT; t++) ids[t] = (int)(rng_uniform(13, 0, (uint64_t)t) * c->vocab_size);
}

// Sampling FLOPs. Unshared: every sample feeds P + G - 1 tokens. Shared: one sample feeds them all; the others
// copy the first P - 1 prompt rows and feed the last prompt token and G - 1 sampled ones, positions P-1 .. P+G-2.
static double arc_sample_flops(const hf_config *c, int share) {
    double P = ARC_PROMPT, G = ARC_NEW, fed = P + G - 1, full = sample_flops_of(c, fed, fed * (fed + 1) / 2, G);
    if (!share) return ARC_SAMPLES * full;
    double pairs = G * P + G * (G - 1) / 2;  // sum over positions p = P-1 .. P+G-2 of (p + 1) keys
    return full + (ARC_SAMPLES - 1) * sample_flops_of(c, G, pairs, G);
}

// A 64-bit digest of the completions' ids, to check that sharing changes no token.
static uint64_t completions_digest(const completion *out, int n) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < out[i].n; t++) h = (h ^ (uint64_t)(unsigned)out[i].ids[t]) * 1099511628211ull;
    return h;
}

static uint64_t run_arc_sample(model *m, int share, int repeats) {
    const hf_config *c = &m->cfg;
    int *prompt = mallocCheck(ARC_PROMPT * sizeof(int)), lens[ARC_SAMPLES];
    const int *prompts[ARC_SAMPLES];
    uint64_t ids[ARC_SAMPLES], digest = 0;
    arc_prompt(c, prompt);
    for (int i = 0; i < ARC_SAMPLES; i++) prompts[i] = prompt, lens[i] = ARC_PROMPT, ids[i] = (uint64_t)i;
    sampling_params p;
    sampling_params_default(&p);
    p.temperature = 1.0f;
    p.top_k = 0;
    p.max_new_tokens = ARC_NEW;
    p.seed = 1234;
    p.share_prefix = share;
    completion out[ARC_SAMPLES];
    double times[64];
    mg_err e;
    for (int r = 0; r < repeats; r++) {  // no warm-up: first-call costs are far below 1% of a run here
        double t0 = now();
        if (generate(m, NULL, ARC_SAMPLES, prompts, lens, ids, &p, 0, out, &e)) mg_die(&e);
        double dt = now() - t0;
        for (int i = 0; i < ARC_SAMPLES; i++)
            mgCheck(out[i].n == ARC_NEW, "a completion stopped early: the benchmark needs fixed-length output");
        digest = completions_digest(out, ARC_SAMPLES);
        for (int i = 0; i < ARC_SAMPLES; i++) completion_free(&out[i]);
        times[r] = dt;
    }
    char note[96];
    snprintf(note, sizeof note, "%d x (%d + %d), new tokens", ARC_SAMPLES, ARC_PROMPT, ARC_NEW);
    report(share ? "arc sample shared" : "arc sample unshared", "tok/s", (double)ARC_SAMPLES * ARC_NEW, times,
           repeats, arc_sample_flops(c, share), note);
    free(prompt);
    return digest;
}

// The group as the learner's shard holds it: each member whole (prompt + completion, scored from the prompt's
// last token), or the prompt without its last token once as a prefix and each member as [last prompt token,
// completion] after it.
static void arc_batch(const model *m, int share, packed_batch *b) {
    int ids[ARC_PROMPT + ARC_NEW], P = ARC_PROMPT - 1;
    arc_prompt(&m->cfg, ids);
    packed_batch_init(b);
    int prefix = share ? packed_batch_add_prefix(b, ids, P) : -1;
    for (int s = 0; s < ARC_SAMPLES; s++) {
        for (int t = 0; t < ARC_NEW; t++)
            ids[ARC_PROMPT + t] = (int)(rng_uniform(17, (uint64_t)s, (uint64_t)t) * m->cfg.vocab_size);
        if (share) packed_batch_add_after(b, prefix, ids + P, ARC_PROMPT + ARC_NEW - P, 0);
        else packed_batch_add(b, ids, ARC_PROMPT + ARC_NEW, P);
    }
}

// Training FLOPs. Unshared: 16 sequences of P + G tokens. Shared: the P - 1 prefix tokens once, then 16 members
// of G + 1 tokens whose queries attend to the prefix's P - 1 keys and their own.
static double arc_train_flops(const hf_config *c, int share) {
    unsigned qkvo = LORA_Q | LORA_K | LORA_V | LORA_O;
    double P = ARC_PROMPT, G = ARC_NEW, S = ARC_SAMPLES;
    if (!share) return train_flops(c, ARC_SAMPLES, ARC_PROMPT + ARC_NEW, ARC_NEW, LORA_RANK, qkvo, 0);
    double pre = P - 1, n = G + 1;
    double tokens = pre + S * n, pairs = pre * (pre + 1) / 2 + S * (n * pre + n * (n + 1) / 2);
    return train_flops_of(c, tokens, pairs, S * G, LORA_RANK, qkvo, 0);
}

// One GRPO update: forward, loss = -mean over scored tokens of advantage x logp (advantages +1 and -1 in turn, a
// normalised group with half its members rewarded), backward, clip, AdamW. Returns the scored log-probs of the
// first step (for the shared/unshared comparison; caller frees).
static float *run_arc_train(model *m, int share, int repeats) {
    packed_batch b;
    arc_batch(m, share, &b);
    int N = b.n_tokens, scored = 0, np = b.n_prefixes;
    for (int i = 0; i < N; i++) scored += b.targets[i] >= 0;
    float *logp = mallocCheck((size_t)N * sizeof(float)), *dlogp = mallocCheck((size_t)N * sizeof(float));
    for (int s = np; s < b.n_seqs; s++) {
        float adv = (s - np) % 2 ? -1.0f : 1.0f;
        for (int i = b.seq_start[s]; i < b.seq_start[s + 1]; i++)
            dlogp[i] = b.targets[i] >= 0 ? -adv / scored : 0.0f;
    }
    for (int i = 0; np && i < b.seq_start[np]; i++) dlogp[i] = 0.0f;
    size_t n;
    model_trainable(m, &n);
    float *adam_m = callocCheck(n, sizeof(float)), *adam_v = callocCheck(n, sizeof(float));
    // The step changes the adapter: keep a copy so that both packings start from the same weights.
    float *param = model_trainable(m, &n), *start = mallocCheck(n * sizeof(float));
    memcpy(start, param, n * sizeof(float));
    float *first = mallocCheck((size_t)scored * sizeof(float));
    double times[64];
    for (int r = 0; r < repeats; r++) {  // no warm-up, as in run_arc_sample
        double t0 = now();
        train_step(m, &b, logp, dlogp, adam_m, adam_v, r + 1);
        times[r] = now() - t0;
        if (r == 0)
            for (int i = 0, k = 0; i < N; i++)
                if (b.targets[i] >= 0) first[k++] = logp[i];
    }
    memcpy(param, start, n * sizeof(float));
    lora_adapter_changed(m->lora);
    char note[96];
    snprintf(note, sizeof note, "%d x (%d + %d), %d tokens packed", ARC_SAMPLES, ARC_PROMPT, ARC_NEW, N);
    report(share ? "arc train lora shared" : "arc train lora unshared", "tok/s",
           (double)ARC_SAMPLES * (ARC_PROMPT + ARC_NEW), times, repeats, arc_train_flops(&m->cfg, share), note);
    free(adam_m), free(adam_v), free(logp), free(dlogp), free(start);
    packed_batch_free(&b);
    return first;
}

static void run_arc(model *m, int repeats) {
    printf("ARC shape: one %d-token prompt, %d samples of %d new tokens (temperature 1, top-k off, no EOS):\n",
           ARC_PROMPT, ARC_SAMPLES, ARC_NEW);
    if (m->lora) m->lora->enabled = 0;  // sampling from the base model, as bench_torch.py's generate does
    uint64_t d0 = run_arc_sample(m, 0, repeats), d1 = run_arc_sample(m, 1, repeats);
    printf("  completions with and without sharing: %s\n", d0 == d1 ? "identical" : "DIFFER");
    mgCheck(d0 == d1, "sampling.share_prefix changed the completions (the CPU engine is batch-invariant)");
    lora_config lc = {.rank = LORA_RANK, .alpha = LORA_ALPHA, .targets = LORA_Q | LORA_K | LORA_V | LORA_O};
    mg_err e;
    if (!m->lora && model_lora_init(m, &lc, 5, &e)) mg_die(&e);
    m->lora->enabled = 1;
    model_set_train_mode(m, TRAIN_LORA);
    float *a = run_arc_train(m, 0, repeats), *b = run_arc_train(m, 1, repeats);
    double diff = 0.0;
    for (int i = 0; i < ARC_SAMPLES * ARC_NEW; i++) diff = fmax(diff, fabs((double)a[i] - b[i]));
    printf("  scored log-probs, prompt packed per sequence vs once: max |diff| %.3g\n", diff);
    mgCheck(diff < 1e-3, "the shared packing changed the log-probs beyond fp32 rounding");
    json_t *r = json_object();
    json_object_set_new(r, "completions_identical", json_boolean(d0 == d1));
    json_object_set_new(r, "logp_max_abs_diff", json_real(diff));
    json_object_set_new(results, "arc checks", r);
    model_set_train_mode(m, TRAIN_NONE);
    free(a), free(b);
}

// ---- cross-checks: logits of a fixed prompt, and the training batch's mean logp ----
static void dump(model *m, const char *path) {
    const hf_config *c = &m->cfg;
    int prompt[PROMPT_LEN], slot[PROMPT_LEN];
    char want[PROMPT_LEN];
    for (int t = 0; t < PROMPT_LEN; t++)
        prompt[t] = (t * 37 + 11) % c->vocab_size, slot[t] = 0, want[t] = t + 1 == PROMPT_LEN;
    kv_cache kv;
    mg_err e;
    if (kv_cache_init(&kv, m, 1, PROMPT_LEN, &e)) mg_die(&e);
    float *logits = mallocCheck((size_t)c->vocab_size * sizeof(float));
    if (model_step(m, &kv, PROMPT_LEN, prompt, slot, want, logits, &e)) mg_die(&e);
    kv_cache_free(&kv);
    packed_batch b;
    train_batch(m, &b);
    float *logp = mallocCheck((size_t)b.n_tokens * sizeof(float));
    double total = model_forward(m, &b, 1.0f, logp, NULL);
    int scored = 0;
    for (int i = 0; i < b.n_tokens; i++) scored += b.targets[i] >= 0;
    FILE *f = fopenCheck(path, "w");
    fprintf(f, "{\"prompt\": [");
    for (int t = 0; t < PROMPT_LEN; t++) fprintf(f, "%s%d", t ? ", " : "", prompt[t]);
    fprintf(f, "],\n \"openblas_core\": \"%s\",\n \"mean_logp\": %.9g,\n \"logits\": [", openblas_get_corename(),
            total / scored);
    for (int v = 0; v < c->vocab_size; v++) fprintf(f, "%s%.9g", v ? ", " : "", logits[v]);
    fprintf(f, "]}\n");
    fclose(f);
    free(logits);
    free(logp);
    packed_batch_free(&b);
}

// ---- --profile: where the time of a step goes ----
// Times every kernel of one LoRA training step and one batch-16 decode step in isolation, at the benchmark's
// shapes, with the real weights and the real kernels (kernels/ops.h), in the order and counts model/forward.c and
// model/step.c call them. The sum of the rows against the measured step shows the cost of everything between the
// kernels (thread hand-offs between OpenMP and OpenBLAS, memsets, allocation).
typedef struct {
    const char *name;
    double ms;
} phase;

static phase phases[32];
static int n_phases;

static void phase_add(const char *name, double seconds) {
    for (int i = 0; i < n_phases; i++)
        if (!strcmp(phases[i].name, name)) {
            phases[i].ms += seconds * 1e3;
            return;
        }
    phases[n_phases++] = (phase){name, seconds * 1e3};
}

// Median time of 7 runs of the statement (after one untimed run), times `count` calls per step, added to phase
// `name`.
// stmt timed 7 times after one warm-up; setup runs untimed before each (what stmt consumes, such as the LM head's
// kept softmax).
#define TIME_OP_AFTER(name, count, setup, stmt)                                                                      \
    do {                                                                                                             \
        double t_[7];                                                                                                \
        setup;                                                                                                       \
        stmt;                                                                                                        \
        for (int r_ = 0; r_ < 7; r_++) {                                                                             \
            setup;                                                                                                   \
            double t0_ = now();                                                                                      \
            stmt;                                                                                                    \
            t_[r_] = now() - t0_;                                                                                    \
        }                                                                                                            \
        phase_add((name), (count) * median(t_, 7));                                                                  \
    } while (0)
#define TIME_OP(name, count, stmt) TIME_OP_AFTER(name, count, (void)0, stmt)

static float *random_buffer(size_t n, uint64_t stream) {
    float *x = mallocCheck(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = rng_uniform(3, stream, i) * 2.0f - 1.0f;
    return x;
}

static void print_phases(const char *title, double measured_ms) {
    double total = 0.0;
    for (int i = 0; i < n_phases; i++) total += phases[i].ms;
    printf("%s\n", title);
    json_t *o = json_object();
    for (int i = 0; i < n_phases; i++) {
        printf("  %-36s %9.2f ms  %5.1f%%\n", phases[i].name, phases[i].ms, 100.0 * phases[i].ms / measured_ms);
        json_object_set_new(o, phases[i].name, json_real(phases[i].ms));
    }
    printf("  %-36s %9.2f ms  %5.1f%%\n", "sum of kernels", total, 100.0 * total / measured_ms);
    printf("  %-36s %9.2f ms  %5.1f%%\n", "measured step (rest = between kernels)", measured_ms, 100.0);
    json_object_set_new(o, "sum of kernels", json_real(total));
    json_object_set_new(o, "measured step", json_real(measured_ms));
    json_object_set_new(results, title, o);
    n_phases = 0;
}

static double measured_ms(const char *name) {
    json_t *r = json_object_get(results, name);
    return r ? 1e3 * json_real_value(json_object_get(r, "median_s")) : NAN;
}

static void profile_train(model *m) {
    const hf_config *c = &m->cfg;
    int C = c->hidden_size, Hq = c->num_attention_heads, Hkv = c->num_key_value_heads, D = c->head_dim;
    int F = c->intermediate_size, V = c->vocab_size, L = c->num_hidden_layers, Q = Hq * D, KV = Hkv * D;
    int T = PROMPT_LEN + NEW_TOKENS, N = TRAIN_SEQS * T, R = LORA_RANK;
    int widest = F > Q ? (F > C ? F : C) : (Q > C ? Q : C);
    const layer_weights *w = &m->w.layers[0];
    const lora_layer *la = &m->lora->layers[0];
    float scale = m->lora->scale;
    packed_batch b;
    train_batch(m, &b);
    int scored = 0, *kv_start = mallocCheck((size_t)N * sizeof(int)), *kv_len = mallocCheck((size_t)N * sizeof(int));
    for (int i = 0; i < N; i++) kv_start[i] = i / T * T, kv_len[i] = b.pos[i] + 1, scored += b.targets[i] >= 0;
    size_t big = (size_t)N * widest, nq = (size_t)N * Q, nkv = (size_t)N * KV;
    float *x = random_buffer(big, 1), *y = random_buffer(big, 2), *z = random_buffer(big, 3);
    float *u = random_buffer(big, 4), *u2 = random_buffer(big, 5);
    float *q = random_buffer(nq, 6), *k = random_buffer(nkv, 7), *v = random_buffer(nkv, 8);
    float *dq = random_buffer(nq, 9), *dk = random_buffer(nkv, 10), *dv = random_buffer(nkv, 11);
    float *h = random_buffer((size_t)N * R, 12), *dh = random_buffer((size_t)N * R, 13);
    float *rstd = random_buffer((size_t)N, 14), *logp = mallocCheck((size_t)N * sizeof(float));
    float *dlogp = mallocCheck((size_t)N * sizeof(float));
    for (int i = 0; i < N; i++) dlogp[i] = b.targets[i] >= 0 ? -1.0f / scored : 0.0f;
    float *att_scratch = mallocCheck(attention_scratch_floats(T) * sizeof(float));
    float *lm_scratch = mallocCheck(logprob_scratch_floats(V) * sizeof(float));
    float *gA = callocCheck((size_t)R * widest, sizeof(float)), *gB = callocCheck((size_t)R * widest, sizeof(float));
    int ins[] = {C, C, C, Q}, outs[] = {Q, KV, KV, C};
    const float *Ws[] = {w->wq, w->wk, w->wv, w->wo};
    const float *eps_w = w->attn_norm, *lm = m->w.lm_head;

    // forward
    TIME_OP("linear fwd (sgemm)", L, for (int j = 0; j < 4; j++) matmul_forward(y, x, Ws[j], NULL, N, ins[j], outs[j]));
    TIME_OP("linear fwd (sgemm)", 2 * L, matmul_forward(y, x, w->wgate, NULL, N, C, F));  // gate and up
    TIME_OP("linear fwd (sgemm)", L, matmul_forward(y, x, w->wdown, NULL, N, F, C));
    TIME_OP("lora fwd (sgemm)", L,
            for (int j = 0; j < 4; j++)
                lora_forward(y, h, x, la->A[j], la->B[j], N, ins[j], outs[j], outs[j], R, scale));
    TIME_OP("attention fwd", L, attention_forward(y, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, att_scratch));
    TIME_OP("rope fwd+bwd", L,
            rope_forward(q, b.pos, m->inv_freq, N, Hq, D); rope_forward(k, b.pos, m->inv_freq, N, Hkv, D));
    TIME_OP("norm/swiglu/residual fwd", 2 * L + 1, rmsnorm_forward(y, rstd, x, eps_w, N, C, 1e-5f));
    TIME_OP("norm/swiglu/residual fwd", L, swiglu_forward(z, x, y, N, F));
    TIME_OP("norm/swiglu/residual fwd", 2 * L, residual_forward(z, x, y, (size_t)N * C));
    // The model keeps the forward's softmax for the backward (model/forward.c: all of it at this vocabulary).
    logprob_keep *keep = logprob_keep_new(N, V, (size_t)N * V * sizeof(double));
    TIME_OP("lm head + log-softmax fwd", 1,
            logprob_forward(logp, NULL, x, lm, b.targets, N, C, V, 1.0f, lm_scratch, keep));
    // backward (LoRA mode: frozen weights get no gradient, only the input gradient flows)
    TIME_OP_AFTER("lm head + log-softmax bwd", 1,
                  logprob_forward(logp, NULL, x, lm, b.targets, N, C, V, 1.0f, lm_scratch, keep),
                  logprob_backward(y, NULL, dlogp, x, lm, b.targets, N, C, V, 1.0f, lm_scratch, keep));
    logprob_keep_free(keep);
    TIME_OP("linear bwd dinp (sgemm)", L,
            for (int j = 0; j < 4; j++) matmul_backward(x, NULL, NULL, y, z, Ws[j], N, ins[j], outs[j]));
    TIME_OP("linear bwd dinp (sgemm)", 2 * L, matmul_backward(x, NULL, NULL, y, z, w->wgate, N, C, F));
    TIME_OP("linear bwd dinp (sgemm)", L, matmul_backward(x, NULL, NULL, y, z, w->wdown, N, F, C));
    TIME_OP("lora bwd (sgemm)", L,
            for (int j = 0; j < 4; j++)
                lora_backward(x, gA, gB, dh, y, z, h, la->A[j], la->B[j], N, ins[j], outs[j], R, scale));
    TIME_OP("attention bwd", L,
            attention_backward(dq, dk, dv, y, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, att_scratch));
    TIME_OP("rope fwd+bwd", L,
            rope_backward(dq, b.pos, m->inv_freq, N, Hq, D); rope_backward(dk, b.pos, m->inv_freq, N, Hkv, D));
    TIME_OP("norm/swiglu/residual bwd", 2 * L + 1, rmsnorm_backward(y, NULL, x, z, eps_w, rstd, N, C));
    TIME_OP("norm/swiglu/residual bwd", L, swiglu_backward(x, y, z, u, u2, N, F));
    // model_backward zeroes dact, dgate, dup (N, F), dx twice (N, C), datt, dq (N, Q), dk, dv (N, KV) per layer
    size_t zeroed = (size_t)N * (3 * F + 2 * C + 2 * Q + 2 * KV);
    float *zbuf = mallocCheck(zeroed * sizeof(float));
    TIME_OP("memset of gradient buffers", L, memset(zbuf, 0, zeroed * sizeof(float)));
    free(zbuf);
    size_t n = m->lora->n_params;
    float *g = random_buffer(n, 15), *pp = random_buffer(n, 16);
    float *am = callocCheck(n, sizeof(float)), *av = callocCheck(n, sizeof(float));
    TIME_OP("clip + AdamW", 1,
            sumsq(g, n); scale_inplace(g, 1.0f, n);
            adamw_update(pp, g, am, av, n, 1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, 2));
    print_phases("profile: train step lora", measured_ms("train step lora"));
    free(g), free(am), free(av), free(pp);
    free(x), free(y), free(z), free(u), free(u2), free(q), free(k), free(v), free(dq), free(dk), free(dv);
    free(h), free(dh), free(rstd), free(logp), free(dlogp), free(att_scratch), free(lm_scratch), free(gA), free(gB);
    free(kv_start), free(kv_len);
    packed_batch_free(&b);
}

// One decode step of batch 16 at the median cache length (prompt + half the completion), times the 63 decode
// steps of a batch-16 generate, plus the 512-token prefill step.
static void profile_sample(model *m) {
    const hf_config *c = &m->cfg;
    int C = c->hidden_size, Hq = c->num_attention_heads, Hkv = c->num_key_value_heads, D = c->head_dim;
    int F = c->intermediate_size, V = c->vocab_size, L = c->num_hidden_layers, Q = Hq * D, KV = Hkv * D;
    enum { B = 16, P = B * PROMPT_LEN };
    int maxlen = PROMPT_LEN + NEW_TOKENS, steps = NEW_TOKENS - 1;
    const layer_weights *w = &m->w.layers[0];
    size_t big = (size_t)P * (F > Q ? F : Q);
    if (big < (size_t)B * V) big = (size_t)B * V;
    float *x = random_buffer(big, 1), *y = random_buffer(big, 2), *z = random_buffer(big, 3);
    float *kc = random_buffer((size_t)B * maxlen * KV, 4), *vc = random_buffer((size_t)B * maxlen * KV, 5);
    float *att_scratch = mallocCheck(attention_scratch_floats(maxlen) * sizeof(float));
    float *scratch = mallocCheck(SAMPLE_SCRATCH(V) * sizeof(float));
    int kv_start[P], kv_len[P], pos[P];
    for (int i = 0; i < B; i++)
        kv_start[i] = i * maxlen, kv_len[i] = PROMPT_LEN + NEW_TOKENS / 2, pos[i] = kv_len[i] - 1;
    int ins[] = {C, C, C, Q, C, C, F}, outs[] = {Q, KV, KV, C, F, F, C};
    const float *Ws[] = {w->wq, w->wk, w->wv, w->wo, w->wgate, w->wup, w->wdown};
    const float *norm_w = w->attn_norm;
    const mg_sample_params sp = {1.0f, 0, 1.0f, 0.0f, 0};  // sampling_params_default's controls
    float lp;

    TIME_OP("decode: linear (invariant GEMM)", L * steps,
            for (int j = 0; j < 7; j++) matmul_forward_invariant(y, x, Ws[j], NULL, B, ins[j], outs[j]));
    TIME_OP("decode: attention over the cache", L * steps,
            attention_forward_pairwise(y, x, kc, vc, kv_start, kv_len, B, Hq, Hkv, D, att_scratch));
    TIME_OP("decode: norms/rope/swiglu/residual", L * steps,
            rmsnorm_forward(y, NULL, x, norm_w, B, C, 1e-5f); rmsnorm_forward(y, NULL, x, norm_w, B, C, 1e-5f);
            rope_forward(x, pos, m->inv_freq, B, Hq, D); rope_forward(y, pos, m->inv_freq, B, Hkv, D);
            swiglu_forward(z, x, y, B, F); add_inplace(z, x, (size_t)B * C); add_inplace(z, x, (size_t)B * C));
    TIME_OP("decode+prefill: lm head (invariant)", steps + 1,
            matmul_forward_invariant(z, x, m->w.lm_head, NULL, B, C, V));
    TIME_OP("decode+prefill: sample_token x16", steps + 1,
            for (int i = 0; i < B; i++) sample_token(z + (size_t)i * V, V, &sp, 0.5f, &lp, scratch));
    TIME_OP("prefill: linear (512 rows, invariant)", L,
            for (int j = 0; j < 7; j++) matmul_forward_invariant(y, x, Ws[j], NULL, P, ins[j], outs[j]));
    for (int i = 0; i < P; i++) kv_start[i] = i / PROMPT_LEN * maxlen, pos[i] = i % PROMPT_LEN, kv_len[i] = pos[i] + 1;
    TIME_OP("prefill: attention", L,
            attention_forward_pairwise(y, x, kc, vc, kv_start, kv_len, P, Hq, Hkv, D, att_scratch));
    print_phases("profile: sample batch 16", measured_ms("sample batch 16"));
    free(x), free(y), free(z), free(kc), free(vc), free(att_scratch), free(scratch);
}

static void usage(void) {
    fprintf(stderr, "usage: bench_engine [--threads N] [--json FILE] [--model DIR] [--save DIR] [--dump FILE]\n"
                    "                    [--only sgemm,sample,lora,full,arc] [--batches 16,1,64] [--repeats R]\n"
                    "                    [--quick] [--profile]\n");
    exit(2);
}

static options parse(int argc, char **argv) {
    options o = {.threads = 0, .repeats = 5, .do_sgemm = 1, .do_sample = 1, .do_lora = 1, .do_full = 1,
                 .batches = {16, 1, 64}, .n_batches = 3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--threads") && has) o.threads = atoi(argv[++i]);
        else if (!strcmp(a, "--json") && has) o.json = argv[++i];
        else if (!strcmp(a, "--model") && has) o.model_dir = argv[++i];
        else if (!strcmp(a, "--save") && has) o.save_dir = argv[++i];
        else if (!strcmp(a, "--dump") && has) o.dump = argv[++i];
        else if (!strcmp(a, "--repeats") && has) o.repeats = atoi(argv[++i]);
        else if (!strcmp(a, "--quick")) o.quick = 1;
        else if (!strcmp(a, "--profile")) o.profile = 1;
        else if (!strcmp(a, "--batches") && has) {
            o.n_batches = 0;
            for (char *tok = strtok(argv[++i], ","); tok && o.n_batches < 8; tok = strtok(NULL, ","))
                if ((o.batches[o.n_batches++] = atoi(tok)) < 1) usage();
        }
        else if (!strcmp(a, "--only") && has) {
            const char *list = argv[++i];
            o.do_sgemm = strstr(list, "sgemm") != NULL;
            o.do_sample = strstr(list, "sample") != NULL;
            o.do_lora = strstr(list, "lora") != NULL;
            o.do_full = strstr(list, "full") != NULL;
            o.do_arc = strstr(list, "arc") != NULL;
        } else usage();
    }
    if (o.repeats < 1 || o.repeats > 64) usage();
    return o;
}

int main(int argc, char **argv) {
    blas_reexec_for_cpu(argv);  // as the migrate program does (MIGRATE_NO_REEXEC=1 measures without it)
    options o = parse(argc, argv);
    if (o.threads > 0) {
        omp_set_num_threads(o.threads);
        openblas_set_num_threads(o.threads);
    }
    model m;
    mg_err e;
    if (o.model_dir) {
        if (model_load(&m, o.model_dir, &e)) mg_die(&e);
    } else {
        hf_config cfg = bench_config();
        model_init_random(&m, &cfg, 42);
    }
    if (o.save_dir) {
        if (model_save(&m, o.save_dir, 0, &e)) mg_die(&e);
        printf("wrote %s (%zu parameters)\n", o.save_dir, m.n_params);
        model_free(&m);
        return 0;
    }
    if (o.dump) {
        dump(&m, o.dump);
        model_free(&m);
        return 0;
    }
    const hf_config *c = &m.cfg;
    size_t embed = (size_t)c->vocab_size * c->hidden_size * (c->tie_word_embeddings ? 1 : 2);
    printf("model: %s V=%d C=%d L=%d Hq=%d Hkv=%d D=%d F=%d, %zu parameters (%zu outside embedding/head)\n",
           c->architecture, c->vocab_size, c->hidden_size, c->num_hidden_layers, c->num_attention_heads,
           c->num_key_value_heads, c->head_dim, c->intermediate_size, m.n_params, m.n_params - embed);
    printf("threads: omp %d, openblas %d; OpenBLAS: %s; core: %s\n", omp_get_max_threads(), openblas_get_num_threads(),
           openblas_get_config(), openblas_get_corename());

    results = json_object();
    int R = o.quick ? 2 : o.repeats, R_small = R > 3 ? 3 : R;
    if (o.do_sgemm) run_sgemm(&m, o.quick);
    if (o.do_sample) {
        printf("sampling (%d-token prompts, %d new tokens, temperature 1, top-k off):\n", PROMPT_LEN, NEW_TOKENS);
        for (int i = 0; i < o.n_batches; i++) run_sample(&m, o.batches[i], o.batches[i] == 16 ? R : R_small);
    }
    if (o.do_lora || o.do_full) printf("training step (forward + backward + clip + AdamW):\n");
    if (o.do_lora) {
        lora_config lc = {.rank = LORA_RANK, .alpha = LORA_ALPHA, .targets = LORA_Q | LORA_K | LORA_V | LORA_O};
        if (model_lora_init(&m, &lc, 5, &e)) mg_die(&e);
        run_train(&m, TRAIN_LORA, R);
    }
    if (o.profile) {
        if (o.do_sample) profile_sample(&m);
        if (o.do_lora) profile_train(&m);
    }
    if (o.do_arc) run_arc(&m, R_small);
    if (o.do_full) {
        if (m.lora) m.lora->enabled = 0;  // a plain full-parameter step, no adapter in the graph
        run_train(&m, TRAIN_FULL, R_small);
    }

    if (o.json) {
        json_t *root = json_object();
        json_object_set_new(root, "engine", json_string("migrate"));
        json_object_set_new(root, "threads", json_integer(omp_get_max_threads()));
        json_object_set_new(root, "openblas_config", json_string(openblas_get_config()));
        json_object_set_new(root, "openblas_core", json_string(openblas_get_corename()));
        json_object_set_new(root, "n_params", json_integer((json_int_t)m.n_params));
        json_object_set_new(root, "results", results);
        results = NULL;
        if (json_dump_file(root, o.json, JSON_INDENT(1) | JSON_REAL_PRECISION(8))) {
            fprintf(stderr, "bench_engine: cannot write %s\n", o.json);
            return 1;
        }
        json_decref(root);
    }
    json_decref(results);
    model_free(&m);
    return 0;
}
