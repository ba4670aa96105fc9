// The CPU reference ops (kernels/cpu/, model/sampler.c) behind the backend table. fp32 weights only. Scratch the
// ops need (attention, LM head, sampler) lives in buffers grown on demand, one set per calling thread.
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/rng.h"
#include "kernels/backend.h"
#include "kernels/ops.h"
#ifdef _OPENMP
#include <omp.h>
#endif

enum { SCR_ATTENTION, SCR_LOGPROB, SCR_SAMPLER, SCR_STAGE, SCR_SLOTS };  // SCR_STAGE: the fused ops' staging

static _Thread_local struct {
    float *p;
    size_t n;
} g_scratch[SCR_SLOTS];

static float *scratch(int slot, size_t n) {
    if (n > g_scratch[slot].n) {
        free(g_scratch[slot].p);
        g_scratch[slot].p = mallocCheck(n * sizeof(float));
        g_scratch[slot].n = n;
    }
    return g_scratch[slot].p;
}

// The calling thread's scratch.
static void cpu_release(void) {
    for (int i = 0; i < SCR_SLOTS; i++) {
        free(g_scratch[i].p);
        g_scratch[i].p = NULL;
        g_scratch[i].n = 0;
    }
}

static void need_f32(mg_dtype wt) { mgCheck(wt == MG_F32, "the CPU backend takes fp32 weights only"); }
static void need_f32_cache(mg_dtype ct) { mgCheck(ct == MG_F32, "the CPU backend keeps its KV cache in fp32"); }

// 64-byte aligned, like the weights: the GEMMs and attention read whole cache lines of activations and the cache.
static void *cpu_alloc(size_t bytes) { return alignedMallocCheck(bytes); }
static void cpu_free(void *p) { free(p); }
static void cpu_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
static void cpu_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }
static void cpu_upload_weights(void *dst, mg_dtype wt, const float *src, size_t n) {
    need_f32(wt);
    memcpy(dst, src, n * sizeof(float));
}
static void cpu_sync(void) {}
static void cpu_fill(void *dst, mg_dtype wt, size_t n, float std, float value, uint64_t seed, uint64_t stream) {
    need_f32(wt);
    float *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = std > 0.0f ? std * rng_normal(seed, stream, i) : value;
}

static void cpu_encoder_forward(float *out, const int *tokens, const void *wte, mg_dtype wt, int N, int C) {
    need_f32(wt);
    encoder_forward(out, tokens, wte, N, C);
}

static void cpu_matmul_forward(float *out, const float *inp, const void *W, mg_dtype wt, const float *bias, int N,
                               int IC, int OC, int batch_invariant) {
    need_f32(wt);
    if (batch_invariant) matmul_forward_invariant(out, inp, W, bias, N, IC, OC);
    else matmul_forward(out, inp, W, bias, N, IC, OC);
}

static void cpu_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                const void *W, mg_dtype wt, int N, int IC, int OC) {
    need_f32(wt);
    matmul_backward(dinp, dweight, dbias, dout, inp, W, N, IC, OC);
}

static void cpu_lora_forward(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC,
                             int OC, int ldo, int R, float scale, int batch_invariant) {
    if (batch_invariant) lora_forward_invariant(out, h, inp, A, B, N, IC, OC, ldo, R, scale);
    else lora_forward(out, h, inp, A, B, N, IC, OC, ldo, R, scale);
}

// One pass of the batch-invariant GEMM over all parts, each value what its own product gives. Only the decode step
// calls it, and always batch-invariant (an unfused layer's BLAS product could round differently from one over
// the joined matrix, so there is no other form to offer).
static void cpu_matmul_forward_parts(float *out, const void *inp, mg_dtype it, const void *const *W,
                                     const float *const *b, const int *parts, int n_parts, mg_dtype wt, int N, int IC,
                                     int batch_invariant) {
    need_f32(it);
    need_f32(wt);
    mgCheck(batch_invariant, "the CPU table's matmul_forward_parts is batch-invariant only (the decode step's op)");
    int OC = 0;
    for (int j = 0; j < n_parts; j++) OC += parts[j];
    matmul_part *mp = mallocCheck((size_t)n_parts * sizeof *mp);
    for (int j = 0, off = 0; j < n_parts; off += parts[j++])
        mp[j] = (matmul_part){out + off, W[j], b ? b[j] : NULL, parts[j], OC};
    matmul_forward_invariant_parts(mp, n_parts, inp, N, IC);
    free(mp);
}

static void cpu_rmsnorm_forward_as(void *out, mg_dtype ot, float *out32, const float *inp, const float *weight, int N,
                                   int C, float eps) {
    need_f32(ot);
    rmsnorm_forward(out, NULL, inp, weight, N, C, eps);
    if (out32 && out32 != out) memcpy(out32, out, (size_t)N * C * sizeof(float));
}

// The product, then the add: the unfused linear layer and residual add.
static void cpu_matmul_forward_acc(float *out, const void *inp, mg_dtype it, const void *W, mg_dtype wt, int N, int IC,
                                   int OC, int batch_invariant) {
    need_f32(it);
    float *tmp = scratch(SCR_STAGE, (size_t)N * OC);
    cpu_matmul_forward(tmp, inp, W, wt, NULL, N, IC, OC, batch_invariant);
    add_inplace(out, tmp, (size_t)N * OC);
}

// The unfused sequence: the bias added to the product, rope_forward over all rows at once (one parallel region,
// not one per row), then the cache rows written.
static void cpu_qkv_rope_cache(float *q, void *kcache, void *vcache, mg_dtype ct, const float *qkv,
                               const float *const *b, const int *pos, const int *cache_row, const float *inv_freq,
                               int N, int Hq, int Hkv, int D) {
    need_f32_cache(ct);
    float *kc = kcache, *vc = vcache;
    int Q = Hq * D, KV = Hkv * D, W = Q + 2 * KV;
    float *k = scratch(SCR_STAGE, (size_t)N * KV);
    for (int i = 0; i < N; i++) {
        const float *t = qkv + (size_t)i * W;
        float *dst[3] = {q + (size_t)i * Q, k + (size_t)i * KV, vc + (size_t)cache_row[i] * KV};
        int width[3] = {Q, KV, KV}, off[3] = {0, Q, Q + KV};
        for (int p = 0; p < 3; p++) {
            memcpy(dst[p], t + off[p], (size_t)width[p] * sizeof(float));
            if (b && b[p])
                for (int c = 0; c < width[p]; c++) dst[p][c] += b[p][c];
        }
    }
    rope_forward(q, pos, inv_freq, N, Hq, D);
    rope_forward(k, pos, inv_freq, N, Hkv, D);
    for (int i = 0; i < N; i++) memcpy(kc + (size_t)cache_row[i] * KV, k + (size_t)i * KV, (size_t)KV * sizeof(float));
}

// The gate and up halves of each row apart, then one swiglu_forward over all rows (in place over the gates).
static void cpu_swiglu_forward_parts(void *out, mg_dtype ot, float *out32, const float *gu, int N, int F) {
    need_f32(ot);
    float *gate = out, *up = scratch(SCR_STAGE, (size_t)N * F);
    for (int i = 0; i < N; i++) {
        memcpy(gate + (size_t)i * F, gu + (size_t)i * 2 * F, (size_t)F * sizeof(float));
        memcpy(up + (size_t)i * F, gu + (size_t)i * 2 * F + F, (size_t)F * sizeof(float));
    }
    swiglu_forward(gate, gate, up, N, F);
    if (out32 && out32 != out) memcpy(out32, out, (size_t)N * F * sizeof(float));
}

// fp32 only: the precision `at` of the GPU's products does not apply to the CPU reference, and kv_start already is
// the host's layout.
static void cpu_attention_forward_train(float *out, const float *q, const float *k, const float *v,
                                        const int *kv_start, const int *kv_len, const int *kv_start_host,
                                        const int *kv_len_host, int N, int Hq, int Hkv, int D, int max_kv_len,
                                        mg_dtype at) {
    (void)kv_start_host, (void)kv_len_host, (void)at;
    attention_forward_train(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D,
                            scratch(SCR_ATTENTION, attention_scratch_floats(max_kv_len)));
}

// fp32 only: out is the fp32 result, and out32 (an adapter's copy) the same values. Decoding: the batch-invariant
// pairwise form (a prefill into slot 0 would otherwise look like a training block and take the GEMMs, and a token's
// result must not depend on its slot or on what else is in the batch).
static void cpu_attention_forward(void *out, mg_dtype ot, float *out32, const float *q, const void *k, const void *v,
                                  mg_dtype kt, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                                  int max_kv_len) {
    need_f32(ot);
    need_f32_cache(kt);
    attention_forward_pairwise(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D,
                               scratch(SCR_ATTENTION, attention_scratch_floats(max_kv_len)));
    if (out32 && out32 != out) memcpy(out32, out, (size_t)N * Hq * D * sizeof(float));
}

static void cpu_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                   const float *v, const int *kv_start, const int *kv_len, const int *kv_start_host,
                                   const int *kv_len_host, int N, int Hq, int Hkv, int D, int max_kv_len,
                                   mg_dtype at) {
    (void)kv_start_host, (void)kv_len_host, (void)at;
    attention_backward_train(dq, dk, dv, dout, q, k, v, kv_start, kv_len, N, Hq, Hkv, D,
                             scratch(SCR_ATTENTION, attention_scratch_floats(max_kv_len)));
}

// At most this much memory keeps the LM head's softmax for the backward, per engine (all 1024 scored tokens of the
// benchmark's step at V = 8192 take 32 MB; at Llama-3's V = 128k, 256 MB holds the first 448 and the rest are
// computed again).
#define LM_KEEP_BYTES ((size_t)256 << 20)

static void *cpu_logprob_keep_new(int max_tokens, int V) { return logprob_keep_new(max_tokens, V, LM_KEEP_BYTES); }
static void cpu_logprob_keep_free(void *keep) { logprob_keep_free(keep); }

static void cpu_logprob_forward(float *logp, float *entropy, const float *x, const void *wlm, mg_dtype wt,
                                const int *targets, const int *targets_host, int N, int C, int V, float inv_temp,
                                void *keep) {
    (void)targets_host;
    need_f32(wt);
    float *scr = scratch(SCR_LOGPROB, logprob_scratch_floats(V));
    logprob_forward(logp, entropy, x, wlm, targets, N, C, V, inv_temp, scr, keep);
}

static void cpu_logprob_backward(float *dx, float *dwlm, const float *dlogp, const float *x, const void *wlm,
                                 mg_dtype wt, const int *targets, const int *targets_host, int N, int C, int V,
                                 float inv_temp, void *keep) {
    (void)targets_host;
    need_f32(wt);
    float *scr = scratch(SCR_LOGPROB, logprob_scratch_floats(V));
    logprob_backward(dx, dwlm, dlogp, x, wlm, targets, N, C, V, inv_temp, scr, keep);
}

static void cpu_gather_rows(float *dst, const float *src, const int *rows, int n, int width) {
    for (int r = 0; r < n; r++)
        memcpy(dst + (size_t)r * width, src + (size_t)rows[r] * width, (size_t)width * sizeof(float));
}

static void cpu_scatter_rows(float *dst, const float *src, const int *rows, int n, int width) {
    for (int r = 0; r < n; r++)
        memcpy(dst + (size_t)rows[r] * width, src + (size_t)r * width, (size_t)width * sizeof(float));
}

// sample_token with the CPU sampler's own draw for each row. Rows draw in parallel, each from its own
// counter-based uniform, so the threads change nothing.
static void cpu_sample(int *ids, float *logp, const float *logits, int n, int V, const mg_sample_params *p,
                       const uint64_t *seq_ids, const uint64_t *counters) {
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    float *s = scratch(SCR_SAMPLER, (size_t)threads * SAMPLE_SCRATCH(V));
#pragma omp parallel for schedule(static) if (n > 1)
    for (int r = 0; r < n; r++) {
        int th = 0;
#ifdef _OPENMP
        th = omp_get_thread_num();
#endif
        float *mine = s + (size_t)th * SAMPLE_SCRATCH(V);
        ids[r] = sample_token(logits + (size_t)r * V, V, p, rng_uniform(p->seed, seq_ids[r], counters[r]), &logp[r],
                              mine);
    }
}

const mg_backend mg_backend_cpu = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .try_alloc = aligned_try_alloc,
    .free = cpu_free,
    .zero = cpu_zero,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .upload_weights = cpu_upload_weights,
    .sync = cpu_sync,
    .fill = cpu_fill,
    .encoder_forward = cpu_encoder_forward,
    .encoder_backward = encoder_backward,
    .rmsnorm_forward = rmsnorm_forward,
    .rmsnorm_backward = rmsnorm_backward,
    .matmul_forward = cpu_matmul_forward,
    .matmul_backward = cpu_matmul_backward,
    .lora_forward = cpu_lora_forward,
    .lora_backward = lora_backward,
    .rope_forward = rope_forward,
    .rope_backward = rope_backward,
    .attention_forward = cpu_attention_forward,
    .attention_forward_train = cpu_attention_forward_train,
    .attention_backward = cpu_attention_backward,
    .swiglu_forward = swiglu_forward,
    .swiglu_backward = swiglu_backward,
    .residual_forward = residual_forward,
    .add_inplace = add_inplace,
    .scale_inplace = scale_inplace,
    .sumsq = sumsq,
    .logprob_forward = cpu_logprob_forward,
    .logprob_backward = cpu_logprob_backward,
    .logprob_keep_new = cpu_logprob_keep_new,
    .logprob_keep_free = cpu_logprob_keep_free,
    .adamw_update = adamw_update,
    .gather_rows = cpu_gather_rows,
    .scatter_rows = cpu_scatter_rows,
    .sample = cpu_sample,
    .matmul_forward_parts = cpu_matmul_forward_parts,
    .rmsnorm_forward_as = cpu_rmsnorm_forward_as,
    .matmul_forward_acc = cpu_matmul_forward_acc,
    .qkv_rope_cache = cpu_qkv_rope_cache,
    .swiglu_forward_parts = cpu_swiglu_forward_parts,
    .release = cpu_release,
    .absmax = absmax,
    .fixed_accumulate = fixed_accumulate,
    .fixed_to_float = fixed_to_float,
};
