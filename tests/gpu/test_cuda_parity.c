// CUDA backend against the CPU engine: every op on random inputs, then whole models on the tiny fixtures.
//
//   test_cuda_parity [--quick]       (from the repository root; exits 77 with "no CUDA device" without a GPU)
//
// This file has the ops; the whole models are tests/gpu/cuda_parity_model.c.
//
// Built twice from this file: test_cuda_parity links the real kernels (label gpu: tests/gpu/run.sh on a GPU
// machine), test_cuda_parity_emu links the same kernels compiled for the host CPU (kernels/cuda/emulate.h; label
// unit, so CI runs every kernel). --quick runs smaller shapes (compute-sanitizer's pass).
//
// Tolerances, measured as max|gpu - cpu| / max(max|cpu|, floor) unless said otherwise:
//  * fp32 paths: 2e-5 for ops (fp32 sums in another order, FMA contraction: ~1e-6 seen), 1e-4 for whole-model
//    logits and log-probs, 1e-3 for LoRA gradients (two layers of both); elementwise copies and casts exact.
//  * bf16 paths (weights and GEMM operands rounded to bf16, fp32 accumulation): ops 1e-2 against the CPU op on the
//    same bf16-rounded weights; whole models against the fp32 CPU model: logits 1e-2, LoRA gradients 2e-2 (the
//    issue's bounds), greedy decoding must give the same tokens. A kernel writing a GEMM's bf16 operand (the decode
//    step's norms, attention, SwiGLU): 4e-3 against the CPU op's result rounded to bf16 (one rounding step, where
//    the fp32 values differ in their last bits).
//  * The bf16 KV cache (bf16 weights): attention on it 2e-5 against the CPU op on the cache's bf16 values, 1e-2
//    against the fp32 cache's result; the cache writes are the fp32 rows rounded, bit for bit. Whole models: the
//    cache is bf16 (its bytes), moves the step logits (against the same steps into an fp32 cache) within 1e-2, and
//    bf16 decoding may part from the CPU's tokens only at a near-tie (cuda_parity_model.c: bf16_decode_check);
//    CUDA graphs replay the eager tokens.
//  * Sampling: the same token ids as the CPU sampler with the same Philox draws (fp32), log-probs within 1e-4.
//  * The Philox draws on the device are bit-identical to rng_uniform on the host.
//  * model_forward / model_backward / model_step / generate are the engine (model/engine.c) over the model's own
//    buffers (engine_wrap). An engine of its own on the CPU table (engine_create: weights and adapter copied in,
//    its own optimizer) must give the same bits, and so must an engine wrapped by hand: the copies, the adapter
//    layout and the optimizer are checked apart from the kernels. Decoding also runs with an adapter on v and
//    down_proj only and with the adapter off: the fused decode step's other paths.
//  * The emulated build prints the kernels and GEMMs a decode step issues (cuda_emu_launches).
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

// ---- helpers (hrand, hzeros, hcopy, rel, dputf, dputi, dget: gpu/gpu_test.h) ----
static void *dput(const void *h, size_t bytes) {
    void *d = cuda_malloc(bytes);
    cuda_h2d(d, h, bytes);
    return d;
}
// Device copy of fp32 host weights as bf16.
static void *dput_bf16(const float *h, size_t n) {
    void *d = cuda_malloc(n * 2);
    cuda_upload_weights(d, MG_BF16, h, n);
    return d;
}
static float bf16r(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}
static float *hround(const float *a, size_t n) {
    float *b = mallocCheck(n * sizeof(float));
    for (size_t i = 0; i < n; i++) b[i] = bf16r(a[i]);
    return b;
}

// Compares device result d (n) with host reference want; prints the worst error.
static void expect(const char *what, const float *d, const float *want, size_t n, float tol) {
    float *got = dget(d, n);
    float err = rel(got, want, n);
    printf("  %-44s rel err %.3g (tol %.0e)\n", what, err, tol);
    CHECK(err <= tol, "%s: relative error %g above %g", what, err, tol);
    free(got);
}

// bf16 device values (n) as floats on the host.
static float *dget_bf16(const void *d, size_t n) {
    uint16_t *b = mallocCheck(n * 2);
    float *f = mallocCheck(n * sizeof(float));
    cuda_d2h(b, d, n * 2);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)b[i] << 16;
        memcpy(&f[i], &u, sizeof u);
    }
    free(b);
    return f;
}

static void expect_host(const char *what, const float *got, const float *want, size_t n, float tol) {
    float err = rel(got, want, n);
    printf("  %-44s rel err %.3g (tol %.0e)\n", what, err, tol);
    CHECK(err <= tol, "%s: relative error %g above %g", what, err, tol);
}

// ---- ops ----
static void test_rng(void) {
    enum { n = 4096 };
    static float dev[n];
    const uint64_t keys[][3] = {{0, 0, 0}, {42, 7, 1000}, {0xDEADBEEFCAFEF00Dull, 1ull << 40, (1ull << 33) + 5}};
    int bad = 0;
    for (int t = 0; t < 3; t++) {
        cuda_philox_uniforms(dev, keys[t][0], keys[t][1], keys[t][2], n);
        for (int i = 0; i < n; i++) {
            float h = rng_uniform(keys[t][0], keys[t][1], keys[t][2] + (uint64_t)i);
            if (memcmp(&h, &dev[i], sizeof h)) bad++;
        }
    }
    printf("  Philox uniforms, device vs host: %d of %d differ\n", bad, 3 * n);
    CHECK(bad == 0, "%d device Philox draws differ from rng_uniform", bad);
}

static void test_encoder(void) {
    int N = 37, C = 96, V = 50;
    float *wte = hrand((size_t)V * C, 1.0f), *ref = hzeros((size_t)N * C), *ref16 = hzeros((size_t)N * C);
    int *tok = mallocCheck(N * sizeof(int));
    for (int i = 0; i < N; i++) tok[i] = (i * 7) % V;  // repeats: the backward must add them
    float *wr = hround(wte, (size_t)V * C);
    encoder_forward(ref, tok, wte, N, C);
    encoder_forward(ref16, tok, wr, N, C);
    int *dtok = dputi(tok, N);
    float *out = cuda_malloc((size_t)N * C * 4), *dw = dputf(wte, (size_t)V * C);
    void *dw16 = dput_bf16(wte, (size_t)V * C);
    encoder_forward_cuda(out, dtok, dw, MG_F32, N, C);
    expect("encoder_forward fp32", out, ref, (size_t)N * C, 0.0f);
    encoder_forward_cuda(out, dtok, dw16, MG_BF16, N, C);
    expect("encoder_forward bf16 (= rounded table)", out, ref16, (size_t)N * C, 0.0f);
    float *dout = hrand((size_t)N * C, 1.0f), *dwte = hrand((size_t)V * C, 0.1f);
    float *ddwte = dputf(dwte, (size_t)V * C), *ddout = dputf(dout, (size_t)N * C);
    encoder_backward(dwte, dout, tok, N, C);
    encoder_backward_cuda(ddwte, ddout, dtok, N, C);
    expect("encoder_backward (+=, repeated tokens)", ddwte, dwte, (size_t)V * C, 2e-6f);
    free(wte), free(ref), free(ref16), free(tok), free(wr), free(dout), free(dwte);
    cuda_free(dtok), cuda_free(out), cuda_free(dw), cuda_free(dw16), cuda_free(ddwte), cuda_free(ddout);
}

static void test_rmsnorm(void) {
    int N = 19, C = g_quick ? 200 : 1000;
    size_t n = (size_t)N * C;
    float *x = hrand(n, 2.0f), *w = hrand(C, 1.0f), *out = hzeros(n), *rstd = hzeros(N);
    rmsnorm_forward(out, rstd, x, w, N, C, 1e-5f);
    float *dx = dputf(x, n), *dwt = dputf(w, C), *dout = cuda_malloc(n * 4), *drstd = cuda_malloc(N * 4);
    rmsnorm_forward_cuda(dout, drstd, dx, dwt, N, C, 1e-5f);
    expect("rmsnorm_forward", dout, out, n, 2e-5f);
    expect("rmsnorm_forward rstd", drstd, rstd, N, 2e-5f);
    float *g = hrand(n, 1.0f), *dinp = hrand(n, 0.5f), *dweight = hrand(C, 0.5f);
    float *dg = dputf(g, n), *ddinp = dputf(dinp, n), *ddw = dputf(dweight, C);
    rmsnorm_backward(dinp, dweight, g, x, w, rstd, N, C);
    rmsnorm_backward_cuda(ddinp, ddw, dg, dx, dwt, drstd, N, C);
    expect("rmsnorm_backward dinp (+=)", ddinp, dinp, n, 2e-5f);
    expect("rmsnorm_backward dweight (+=)", ddw, dweight, C, 2e-5f);
    // writing the next GEMM's operand (the decode step), from a fresh copy of x
    float *dx2 = dputf(x, n), *got16, *want16 = hround(out, n);
    void *d16 = cuda_malloc(n * 2);
    rmsnorm_forward_as_cuda(dout, MG_F32, NULL, dx2, dwt, N, C, 1e-5f);
    expect("rmsnorm_forward_as fp32", dout, out, n, 2e-5f);
    cuda_fill(dout, MG_F32, n, 0.0f, NAN, 0, 0);  // poisoned: the fp32 copy must be written again
    rmsnorm_forward_as_cuda(d16, MG_BF16, dout, dx2, dwt, N, C, 1e-5f);
    got16 = dget_bf16(d16, n);
    expect_host("rmsnorm_forward_as bf16 (= rounded)", got16, want16, n, 4e-3f);
    expect("rmsnorm_forward_as bf16, its fp32 copy", dout, out, n, 2e-5f);
    free(got16), free(want16);
    cuda_free(dx2), cuda_free(d16);
    // Rows that start off a 16-byte boundary (a buffer after an odd-sized one) take 4-byte accesses but must sum in
    // the same order: the same bits as the aligned rows, so a step does not depend on where its buffers start.
    float *dbuf = cuda_malloc((n + 1) * 4), *dbuf_out = cuda_malloc((n + 1) * 4), *drstd1 = cuda_malloc(N * 4);
    cuda_h2d(dbuf + 1, x, n * 4);
    rmsnorm_forward_cuda(dbuf_out + 1, drstd1, dbuf + 1, dwt, N, C, 1e-5f);
    float *a = dget(dout, n), *u = dget(dbuf_out + 1, n), *ra = dget(drstd, N), *ru = dget(drstd1, N);
    rmsnorm_forward_cuda(dout, drstd, dx, dwt, N, C, 1e-5f);
    free(a), a = dget(dout, n), free(ra), ra = dget(drstd, N);
    CHECK(!memcmp(a, u, n * 4) && !memcmp(ra, ru, N * 4), "rmsnorm_forward: unaligned rows give other bits");
    free(a), free(u), free(ra), free(ru);
    cuda_free(dbuf), cuda_free(dbuf_out), cuda_free(drstd1);
    rmsnorm_forward_cuda(dx, NULL, dx, dwt, N, C, 1e-5f);  // in place
    expect("rmsnorm_forward in place", dx, out, n, 2e-5f);
    free(x), free(w), free(out), free(rstd), free(g), free(dinp), free(dweight);
    cuda_free(dx), cuda_free(dwt), cuda_free(dout), cuda_free(drstd), cuda_free(dg), cuda_free(ddinp), cuda_free(ddw);
}

static void test_matmul(void) {
    int N = g_quick ? 21 : 77, IC = 96, OC = 80;
    size_t ni = (size_t)N * IC, no = (size_t)N * OC, nw = (size_t)OC * IC;
    float *x = hrand(ni, 1.0f), *W = hrand(nw, 0.1f), *b = hrand(OC, 0.5f), *ref = hzeros(no);
    float *dx = dputf(x, ni), *dW = dputf(W, nw), *db = dputf(b, OC), *dout = cuda_malloc(no * 4);
    matmul_forward(ref, x, W, b, N, IC, OC);
    matmul_forward_cuda(dout, dx, dW, MG_F32, db, N, IC, OC);
    expect("matmul_forward fp32 (+bias)", dout, ref, no, 2e-5f);
    // bf16: the reference uses the same rounded weights, so only the activations' rounding remains
    float *Wr = hround(W, nw), *ref16 = hzeros(no);
    void *dW16 = dput_bf16(W, nw);
    matmul_forward(ref16, x, Wr, b, N, IC, OC);
    matmul_forward_cuda(dout, dx, dW16, MG_BF16, db, N, IC, OC);
    expect("matmul_forward bf16 (+bias)", dout, ref16, no, 1e-2f);
    float *g = hrand(no, 1.0f), *dinp = hrand(ni, 0.5f), *dweight = hrand(nw, 0.5f), *dbias = hrand(OC, 0.5f);
    float *dinp16 = hcopy(dinp, ni);
    float *dg = dputf(g, no), *ddinp = dputf(dinp, ni), *ddw = dputf(dweight, nw), *ddb = dputf(dbias, OC);
    float *ddinp16 = dputf(dinp, ni);
    matmul_backward(dinp, dweight, dbias, g, x, W, N, IC, OC);
    matmul_backward_cuda(ddinp, ddw, ddb, dg, dx, dW, MG_F32, N, IC, OC);
    expect("matmul_backward dinp fp32 (+=)", ddinp, dinp, ni, 2e-5f);
    expect("matmul_backward dweight fp32 (+=)", ddw, dweight, nw, 2e-5f);
    expect("matmul_backward dbias (+=)", ddb, dbias, OC, 2e-5f);
    matmul_backward(dinp16, NULL, NULL, g, x, Wr, N, IC, OC);
    matmul_backward_cuda(ddinp16, NULL, NULL, dg, dx, dW16, MG_BF16, N, IC, OC);
    expect("matmul_backward dinp bf16 (+=)", ddinp16, dinp16, ni, 1e-2f);
    free(x), free(W), free(b), free(ref), free(Wr), free(ref16), free(g), free(dinp), free(dweight), free(dbias);
    free(dinp16);
    cuda_free(dx), cuda_free(dW), cuda_free(db), cuda_free(dout), cuda_free(dW16), cuda_free(dg), cuda_free(ddinp);
    cuda_free(ddw), cuda_free(ddb), cuda_free(ddinp16);
}

static void test_lora(void) {
    int N = g_quick ? 13 : 45, IC = 64, OC = 48, R = 8;
    float scale = 2.0f;
    size_t ni = (size_t)N * IC, no = (size_t)N * OC;
    float *x = hrand(ni, 1.0f), *A = hrand((size_t)R * IC, 0.2f), *B = hrand((size_t)OC * R, 0.2f);
    float *out = hrand(no, 1.0f), *h = hzeros((size_t)N * R);
    float *dx = dputf(x, ni), *dA = dputf(A, (size_t)R * IC), *dB = dputf(B, (size_t)OC * R), *dout = dputf(out, no);
    float *dh = cuda_malloc((size_t)N * R * 4);
    lora_forward(out, h, x, A, B, N, IC, OC, OC, R, scale);
    lora_forward_cuda(dout, dh, dx, dA, dB, N, IC, OC, R, scale);
    expect("lora_forward out (+=)", dout, out, no, 2e-5f);
    expect("lora_forward h", dh, h, (size_t)N * R, 2e-5f);
    float *g = hrand(no, 1.0f), *dinp = hrand(ni, 0.5f), *gA = hrand((size_t)R * IC, 0.5f);
    float *gB = hrand((size_t)OC * R, 0.5f), *scr = hzeros((size_t)N * R);
    float *dg = dputf(g, no), *ddinp = dputf(dinp, ni), *dgA = dputf(gA, (size_t)R * IC), *dgB = dputf(gB, (size_t)OC * R);
    float *dscr = cuda_malloc((size_t)N * R * 4);
    lora_backward(dinp, gA, gB, scr, g, x, h, A, B, N, IC, OC, R, scale);
    lora_backward_cuda(ddinp, dgA, dgB, dscr, dg, dx, dh, dA, dB, N, IC, OC, R, scale);
    expect("lora_backward dinp (+=)", ddinp, dinp, ni, 2e-5f);
    expect("lora_backward dA (+=)", dgA, gA, (size_t)R * IC, 2e-5f);
    expect("lora_backward dB (+=)", dgB, gB, (size_t)OC * R, 2e-5f);
    free(x), free(A), free(B), free(out), free(h), free(g), free(dinp), free(gA), free(gB), free(scr);
    cuda_free(dx), cuda_free(dA), cuda_free(dB), cuda_free(dout), cuda_free(dh), cuda_free(dg), cuda_free(ddinp);
    cuda_free(dgA), cuda_free(dgB), cuda_free(dscr);
}

// llama3-scaled frequencies as the fixtures have them, from the model code itself.
static void llama3_inv_freq(float *inv, int D) {
    hf_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 4, c.hidden_size = 4, c.intermediate_size = 4, c.num_hidden_layers = 1;
    c.num_attention_heads = c.num_key_value_heads = 1, c.head_dim = D, c.max_position_embeddings = 131072;
    c.rms_norm_eps = 1e-5f, c.rope_theta = 500000.0, c.rope_llama3 = 1, c.rope_factor = 32;
    c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4, c.rope_original_max_position_embeddings = 8192;
    c.tie_word_embeddings = 1, c.bos_token_id = c.pad_token_id = -1;
    model m;
    model_init_random(&m, &c, 1);
    memcpy(inv, m.inv_freq, (size_t)D / 2 * sizeof(float));
    model_free(&m);
}

static void test_rope(void) {
    int N = 23, H = 3, D = 64;
    size_t n = (size_t)N * H * D;
    float inv[32], *x = hrand(n, 1.0f);
    llama3_inv_freq(inv, D);
    int pos[23];
    for (int i = 0; i < N; i++) pos[i] = i < 12 ? i : 1000 * i + 7 * i * i;  // up to ~125k: large angles
    float *dx = dputf(x, n), *dinv = dputf(inv, 32);
    int *dpos = dputi(pos, N);
    rope_forward(x, pos, inv, N, H, D);
    rope_forward_cuda(dx, dpos, dinv, N, H, D);
    expect("rope_forward (llama3 inv_freq, pos to 1e5)", dx, x, n, 2e-5f);
    rope_backward(x, pos, inv, N, H, D);
    rope_backward_cuda(dx, dpos, dinv, N, H, D);
    expect("rope_backward", dx, x, n, 2e-5f);
    free(x);
    cuda_free(dx), cuda_free(dinv), cuda_free(dpos);
}

// Keys and values from a bf16 KV cache (the decode step's with bf16 weights): against the CPU op on the cache's
// bf16 values, with loads of 4 values (8-byte aligned rows) and, the cache 2 bytes off that alignment, of one value
// at a time; and how far that is from the fp32 cache's result (out).
static void attention_bf16_cache(const char *name, const float *q, const float *k, const float *v, const float *out,
                                 const float *dq, const int *ds, const int *dl, int N, int rows, const int *kv_start,
                                 const int *kv_len, int Hq, int Hkv, int D, float *scr) {
    size_t nq = (size_t)N * Hq * D, nk = (size_t)rows * Hkv * D;
    float *kr = hround(k, nk), *vr = hround(v, nk), *want = hzeros(nq);
    attention_forward(want, q, kr, vr, kv_start, kv_len, N, Hq, Hkv, D, scr);
    char *dk16 = cuda_malloc((nk + 1) * 2), *dv16 = cuda_malloc((nk + 1) * 2);
    float *dout = cuda_malloc(nq * 4);
    char label[96];
    for (int off = 0; off < 2; off++) {
        cuda_upload_weights(dk16 + 2 * off, MG_BF16, k, nk);
        cuda_upload_weights(dv16 + 2 * off, MG_BF16, v, nk);
        cuda_fill(dout, MG_F32, nq, 0.0f, NAN, 0, 0);
        attention_forward_as_cuda(dout, MG_F32, NULL, dq, dk16 + 2 * off, dv16 + 2 * off, MG_BF16, ds, dl, N, Hq, Hkv,
                                  D);
        snprintf(label, sizeof label, "attention_forward bf16 cache%s %s", off ? " (unaligned)" : "", name);
        expect(label, dout, want, nq, 2e-5f);
    }
    float *got = dget(dout, nq), err = rel(got, out, nq);
    printf("  %-44s rel err %.3g against the fp32 cache (tol 1e-02)\n", "  bf16 cache", err);
    CHECK(err <= 1e-2f, "attention_forward bf16 cache %s: %g from the fp32 cache's result", name, err);
    free(kr), free(vr), free(want), free(got);
    cuda_free(dk16), cuda_free(dv16), cuda_free(dout);
}

// Attention in two layouts: packed training (three causal sequences; keys = the batch) and decoding against a
// cache (queries of several slots at various positions; keys = cache rows).
static void attention_case(const char *name, int N, int rows, const int *kv_start, const int *kv_len, int Hq, int Hkv,
                           int D) {
    size_t nq = (size_t)N * Hq * D, nk = (size_t)rows * Hkv * D;
    int maxlen = 1;
    for (int i = 0; i < N; i++) maxlen = kv_len[i] > maxlen ? kv_len[i] : maxlen;
    float *q = hrand(nq, 1.0f), *k = hrand(nk, 1.0f), *v = hrand(nk, 1.0f), *out = hzeros(nq);
    float *scr = mallocCheck(attention_scratch_floats(maxlen) * sizeof(float));
    float *dq = dputf(q, nq), *dk = dputf(k, nk), *dv = dputf(v, nk), *dout = cuda_malloc(nq * 4);
    int *ds = dputi(kv_start, N), *dl = dputi(kv_len, N);
    char label[96];
    attention_forward(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scr);
    attention_forward_cuda(dout, dq, dk, dv, ds, dl, N, Hq, Hkv, D);
    snprintf(label, sizeof label, "attention_forward %s", name);
    expect(label, dout, out, nq, 2e-5f);
    cuda_fill(dout, MG_F32, nq, 0.0f, NAN, 0, 0);  // poisoned: every output must be written again
    attention_forward_tiled_cuda(dout, dq, dk, dv, ds, dl, N, Hq, Hkv, D);
    snprintf(label, sizeof label, "attention_forward (tiled) %s", name);
    expect(label, dout, out, nq, 2e-5f);
    // as o_proj's bf16 operand (the decode step), with the fp32 values beside
    void *d16 = cuda_malloc(nq * 2);
    float *outr = hround(out, nq), *got16;
    cuda_fill(dout, MG_F32, nq, 0.0f, NAN, 0, 0);
    attention_forward_as_cuda(d16, MG_BF16, dout, dq, dk, dv, MG_F32, ds, dl, N, Hq, Hkv, D);
    got16 = dget_bf16(d16, nq);
    snprintf(label, sizeof label, "attention_forward bf16 out %s", name);
    expect_host(label, got16, outr, nq, 4e-3f);
    snprintf(label, sizeof label, "attention_forward bf16 out, fp32 copy %s", name);
    expect(label, dout, out, nq, 2e-5f);
    free(outr), free(got16);
    cuda_free(d16);
    attention_bf16_cache(name, q, k, v, out, dq, ds, dl, N, rows, kv_start, kv_len, Hq, Hkv, D, scr);
    float *g = hrand(nq, 1.0f), *gq = hrand(nq, 0.3f), *gk = hrand(nk, 0.3f), *gv = hrand(nk, 0.3f);
    float *dg = dputf(g, nq), *dgq = dputf(gq, nq), *dgk = dputf(gk, nk), *dgv = dputf(gv, nk);
    attention_backward(gq, gk, gv, g, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scr);
    attention_backward_cuda(dgq, dgk, dgv, dg, dq, dk, dv, ds, dl, kv_start, kv_len, N, Hq, Hkv, D);
    snprintf(label, sizeof label, "attention_backward dq %s", name);
    expect(label, dgq, gq, nq, 2e-5f);
    snprintf(label, sizeof label, "attention_backward dk %s", name);
    expect(label, dgk, gk, nk, 2e-5f);
    snprintf(label, sizeof label, "attention_backward dv %s", name);
    expect(label, dgv, gv, nk, 2e-5f);
    free(q), free(k), free(v), free(out), free(scr), free(g), free(gq), free(gk), free(gv);
    cuda_free(dq), cuda_free(dk), cuda_free(dv), cuda_free(dout), cuda_free(ds), cuda_free(dl), cuda_free(dg);
    cuda_free(dgq), cuda_free(dgk), cuda_free(dgv);
}

static void test_attention(void) {
    // packed training batch: sequences of 9, 40, 12 tokens (40 > one 32-key tile)
    int lens[3] = {9, 40, 12}, N = 61, starts[61], kl[61], at = 0;
    for (int s = 0; s < 3; s++)
        for (int p = 0; p < lens[s]; p++, at++) starts[at] = at - p, kl[at] = p + 1;
    attention_case("packed GQA 4/2 D16", N, N, starts, kl, 4, 2, 16);
    attention_case("packed GQA 8/2 D64", N, N, starts, kl, 8, 2, 64);
    if (!g_quick) attention_case("packed MHA 2/2 D128", N, N, starts, kl, 2, 2, 128);
    // decode: 5 slots of 70 cache rows, one query each at various lengths (incl. 1 and a full 70)
    int ds[5], dl[5] = {1, 33, 70, 5, 64};
    for (int i = 0; i < 5; i++) ds[i] = i * 70;
    attention_case("decode 14/2 D64 (Qwen2.5-0.5B heads)", 5, 350, ds, dl, 14, 2, 64);
    // slots in falling order: query ranges that are not monotone (the query-major backward takes these)
    int rs[5], rl[5] = {64, 5, 70, 33, 1};
    for (int i = 0; i < 5; i++) rs[i] = (4 - i) * 70;
    attention_case("decode, slots in falling order", 5, 350, rs, rl, 4, 2, 16);
}

static void test_elementwise(void) {
    int N = 17, F = 300;
    size_t n = (size_t)N * F;
    float *g = hrand(n, 4.0f), *u = hrand(n, 2.0f), *out = hzeros(n);
    float *dgt = dputf(g, n), *du = dputf(u, n), *dout = cuda_malloc(n * 4);
    swiglu_forward(out, g, u, N, F);
    swiglu_forward_cuda(dout, dgt, du, N, F);
    expect("swiglu_forward", dout, out, n, 2e-6f);
    float *d = hrand(n, 1.0f), *dg = hrand(n, 0.5f), *dup = hrand(n, 0.5f);
    float *dd = dputf(d, n), *ddg = dputf(dg, n), *ddup = dputf(dup, n);
    swiglu_backward(dg, dup, d, g, u, N, F);
    swiglu_backward_cuda(ddg, ddup, dd, dgt, du, N, F);
    expect("swiglu_backward dgate (+=)", ddg, dg, n, 2e-6f);
    expect("swiglu_backward dup (+=)", ddup, dup, n, 2e-6f);
    residual_forward(out, g, u, n);
    residual_forward_cuda(dout, dgt, du, n);
    expect("residual_forward", dout, out, n, 0.0f);
    add_inplace(out, d, n);
    add_inplace_cuda(dout, dd, n);
    expect("add_inplace", dout, out, n, 0.0f);
    scale_inplace(out, 0.37f, n);
    scale_inplace_cuda(dout, 0.37f, n);
    expect("scale_inplace", dout, out, n, 0.0f);
    size_t big = g_quick ? 100003 : 1000003;
    float *x = hrand(big, 3.0f), *dx = dputf(x, big);
    double want = sumsq(x, big), got = sumsq_cuda(dx, big);
    printf("  %-44s rel err %.3g (tol 1e-12)\n", "sumsq (double)", fabs(got - want) / want);
    CHECK(fabs(got - want) <= 1e-12 * want, "sumsq %.17g vs %.17g", got, want);
    // the exact gradient sum's pieces (workers/learner.c): max |g|, int64 fixed point and back, all exact
    double amax = 0.0, gmax = absmax_cuda(dx, big);
    for (size_t i = 0; i < big; i++) amax = fmax(amax, fabs((double)x[i]));
    int ex = 0;
    frexp(amax * 3, &ex);
    double scale = ldexp(1.0, 62 - ex);
    int64_t *acc = callocCheck(big, sizeof(int64_t)), *dacc = cuda_malloc(big * sizeof(int64_t));
    cuda_zero(dacc, big * sizeof(int64_t));
    for (int k = 0; k < 3; k++) {  // three "shards": x, x, x
        fixed_accumulate_cuda(dacc, dx, big, scale);
        for (size_t i = 0; i < big; i++) acc[i] += (int64_t)llrint((double)x[i] * scale);
    }
    int64_t *back64 = mallocCheck(big * sizeof(int64_t));
    cuda_d2h(back64, dacc, big * sizeof(int64_t));
    float *fx = mallocCheck(big * sizeof(float)), *dfx = cuda_malloc(big * sizeof(float));
    for (size_t i = 0; i < big; i++) fx[i] = (float)((double)acc[i] / scale);
    fixed_to_float_cuda(dfx, dacc, big, scale);
    int fixed_ok = gmax == amax && !memcmp(acc, back64, big * sizeof(int64_t));
    printf("  %-44s %s\n", "absmax, fixed-point sum and back", fixed_ok ? "exact" : "DIFFER");
    CHECK(fixed_ok, "absmax %.17g vs %.17g, or the int64 sums differ", gmax, amax);
    expect("fixed_to_float", dfx, fx, big, 0.0f);
    free(acc), free(back64), free(fx);
    cuda_free(dacc), cuda_free(dfx);
    // row gathers/scatters (KV-cache writes)
    int rows[4] = {5, 0, 16, 9};
    int *drows = dputi(rows, 4);
    float *gath = hzeros((size_t)4 * F), *dgath = cuda_malloc((size_t)4 * F * 4);
    for (int r = 0; r < 4; r++) memcpy(gath + (size_t)r * F, g + (size_t)rows[r] * F, (size_t)F * 4);
    gather_rows_cuda(dgath, dgt, drows, 4, F);
    expect("gather_rows", dgath, gath, (size_t)4 * F, 0.0f);
    scatter_rows_cuda(dout, dgath, drows, 4, F);
    float *back = dget(dout, n);
    int bad = 0;
    for (int r = 0; r < 4; r++) bad += memcmp(back + (size_t)rows[r] * F, gath + (size_t)r * F, (size_t)F * 4) != 0;
    CHECK(bad == 0, "scatter_rows: %d rows differ", bad);
    free(g), free(u), free(out), free(d), free(dg), free(dup), free(x), free(gath), free(back);
    cuda_free(dgt), cuda_free(du), cuda_free(dout), cuda_free(dd), cuda_free(ddg), cuda_free(ddup), cuda_free(dx);
    cuda_free(drows), cuda_free(dgath);
}

// The decode step's fused ops against the unfused CPU ops they stand for: q|k|v in one product (weights in one
// allocation, and apart), an adapter into its columns, bias + RoPE + cache writes, SwiGLU over gate|up rows.
static void test_fused(void) {
    int N = g_quick ? 6 : 19, IC = 64, Hq = 4, Hkv = 2, D = 16, Q = Hq * D, KV = Hkv * D, OC = Q + 2 * KV, R = 4;
    int parts[3] = {Q, KV, KV}, at[3] = {0, Q, Q + KV};
    size_t no = (size_t)N * OC, ni = (size_t)N * IC;
    float *x = hrand(ni, 1.0f), *W = hrand((size_t)OC * IC, 0.1f), *b = hrand(OC, 0.5f), *ref = hzeros(no);
    float *Wr = hround(W, (size_t)OC * IC), *ref16 = hzeros(no), *part = hzeros((size_t)N * Q);
    for (int k = 0; k < 2; k++)  // reference: one matmul_forward per part, its columns of ref
        for (int j = 0; j < 3; j++) {
            matmul_forward(part, x, (k ? Wr : W) + (size_t)at[j] * IC, b + at[j], N, IC, parts[j]);
            for (int i = 0; i < N; i++)
                memcpy((k ? ref16 : ref) + (size_t)i * OC + at[j], part + (size_t)i * parts[j], parts[j] * 4);
        }
    float *dx = dputf(x, ni), *dW = dputf(W, (size_t)OC * IC), *db = dputf(b, OC), *dout = cuda_malloc(no * 4);
    float *dWs[3], *dbs[3];
    void *dW16 = dput_bf16(W, (size_t)OC * IC), *dx16 = dput_bf16(x, ni);
    const void *Wj[3], *Wsep[3], *W16[3];
    const float *bj[3], *bsep[3];
    for (int j = 0; j < 3; j++) {
        Wj[j] = dW + (size_t)at[j] * IC, bj[j] = db + at[j], W16[j] = (char *)dW16 + (size_t)at[j] * IC * 2;
        Wsep[j] = dWs[j] = dputf(W + (size_t)at[j] * IC, (size_t)parts[j] * IC);
        bsep[j] = dbs[j] = dputf(b + at[j], parts[j]);
    }
    matmul_forward_parts_cuda(dout, dx, MG_F32, Wj, bj, parts, 3, MG_F32, N, IC);
    expect("matmul_forward_parts q|k|v fp32 (+bias)", dout, ref, no, 2e-5f);
    matmul_forward_parts_cuda(dout, dx, MG_F32, Wsep, bsep, parts, 3, MG_F32, N, IC);
    expect("matmul_forward_parts, parts apart", dout, ref, no, 2e-5f);
    matmul_forward_parts_cuda(dout, dx, MG_F32, W16, bj, parts, 3, MG_BF16, N, IC);
    expect("matmul_forward_parts bf16 (+bias)", dout, ref16, no, 1e-2f);
    matmul_forward_parts_cuda(dout, dx16, MG_BF16, W16, bj, parts, 3, MG_BF16, N, IC);
    expect("matmul_forward_parts bf16, bf16 operand", dout, ref16, no, 1e-2f);
    // the residual add inside the GEMM: out += x @ Wq^T, against matmul_forward then add_inplace
    float *res = hrand((size_t)N * Q, 1.0f), *res16 = hcopy(res, (size_t)N * Q), *dres = dputf(res, (size_t)N * Q);
    float *dres16 = dputf(res, (size_t)N * Q);
    matmul_forward(part, x, W, NULL, N, IC, Q);
    add_inplace(res, part, (size_t)N * Q);
    matmul_forward(part, x, Wr, NULL, N, IC, Q);
    add_inplace(res16, part, (size_t)N * Q);
    matmul_forward_acc_cuda(dres, dx, MG_F32, dW, MG_F32, N, IC, Q);
    expect("matmul_forward_acc fp32 (+= into out)", dres, res, (size_t)N * Q, 2e-5f);
    matmul_forward_acc_cuda(dres16, dx16, MG_BF16, dW16, MG_BF16, N, IC, Q);
    expect("matmul_forward_acc bf16, bf16 operand", dres16, res16, (size_t)N * Q, 1e-2f);
    free(res), free(res16);
    cuda_free(dres), cuda_free(dres16);
    // an adapter on k into its columns (ldo = OC), against lora_forward on the dense columns
    float *A = hrand((size_t)R * IC, 0.2f), *B = hrand((size_t)KV * R, 0.2f), *h = hzeros((size_t)N * R);
    float *dA = dputf(A, (size_t)R * IC), *dB = dputf(B, (size_t)KV * R), *dh = cuda_malloc((size_t)N * R * 4);
    float *dense = hzeros((size_t)N * KV);
    for (int i = 0; i < N; i++) memcpy(dense + (size_t)i * KV, ref + (size_t)i * OC + Q, KV * 4);
    lora_forward(dense, h, x, A, B, N, IC, KV, KV, R, 2.0f);
    for (int i = 0; i < N; i++) memcpy(ref + (size_t)i * OC + Q, dense + (size_t)i * KV, KV * 4);
    matmul_forward_parts_cuda(dout, dx, MG_F32, Wj, bj, parts, 3, MG_F32, N, IC);
    lora_forward_ld_cuda(dout + Q, OC, dh, dx, dA, dB, N, IC, KV, R, 2.0f);
    expect("lora_forward into k's columns (ldo)", dout, ref, no, 2e-5f);

    // bias + RoPE + cache rows: the reference is model_step's sequence
    int rows = 3 * N, *pos = mallocCheck(N * sizeof(int)), *crow = mallocCheck(N * sizeof(int));
    float inv[8];
    llama3_inv_freq(inv, D);
    for (int i = 0; i < N; i++) pos[i] = i * 9973 % 120000, crow[i] = (i * 7 + 2) % rows;
    float *qkv = hrand(no, 1.0f), *q = hzeros((size_t)N * Q), *kc = hrand((size_t)rows * KV, 1.0f);
    float *vc = hrand((size_t)rows * KV, 1.0f), *t = hzeros(no);
    float *dqkv = dputf(qkv, no), *dq = cuda_malloc((size_t)N * Q * 4), *dinv = dputf(inv, D / 2);
    float *dkc = dputf(kc, (size_t)rows * KV), *dvc = dputf(vc, (size_t)rows * KV);
    int *dpos = dputi(pos, N), *dcrow = dputi(crow, N);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        for (size_t i = 0; i < no; i++) t[i] = qkv[i] + (with_bias ? b[i % OC] : 0.0f);
        for (int i = 0; i < N; i++) {
            memcpy(q + (size_t)i * Q, t + (size_t)i * OC, Q * 4);
            rope_forward(t + (size_t)i * OC + Q, pos + i, inv, 1, Hkv, D);
            memcpy(kc + (size_t)crow[i] * KV, t + (size_t)i * OC + Q, KV * 4);
            memcpy(vc + (size_t)crow[i] * KV, t + (size_t)i * OC + Q + KV, KV * 4);
        }
        rope_forward(q, pos, inv, N, Hq, D);
        qkv_rope_cache_cuda(dq, dkc, dvc, MG_F32, dqkv, with_bias ? bj : NULL, dpos, dcrow, dinv, N, Hq, Hkv, D);
        expect(with_bias ? "qkv_rope_cache q (+bias)" : "qkv_rope_cache q (pos to 1e5)", dq, q, (size_t)N * Q, 2e-5f);
        expect(with_bias ? "qkv_rope_cache k cache (+bias)" : "qkv_rope_cache k cache", dkc, kc, (size_t)rows * KV,
               2e-5f);
        expect(with_bias ? "qkv_rope_cache v cache (+bias)" : "qkv_rope_cache v cache", dvc, vc, (size_t)rows * KV,
               0.0f);
    }
    // RoPE in the fused kernel is rope_forward_cuda's arithmetic, bit for bit
    float *dq2 = cuda_malloc((size_t)N * Q * 4);  // qkv's q columns, rotated by rope_forward_cuda
    for (int i = 0; i < N; i++) cuda_d2d(dq2 + (size_t)i * Q, dqkv + (size_t)i * OC, Q * 4);
    rope_forward_cuda(dq2, dpos, dinv, N, Hq, D);
    qkv_rope_cache_cuda(dq, dkc, dvc, MG_F32, dqkv, NULL, dpos, dcrow, dinv, N, Hq, Hkv, D);
    float *g1 = dget(dq, (size_t)N * Q), *g2 = dget(dq2, (size_t)N * Q);
    int same = !memcmp(g1, g2, (size_t)N * Q * 4);
    printf("  %-44s %s\n", "qkv_rope_cache q = rope_forward_cuda", same ? "bit-identical" : "DIFFER");
    CHECK(same, "qkv_rope_cache's RoPE differs from rope_forward_cuda");
    // into a bf16 cache: the same q, and the fp32 cache's rows rounded to nearest even (its other rows untouched)
    {
        size_t nc = (size_t)rows * KV;
        void *dkc16 = dput_bf16(kc, nc), *dvc16 = dput_bf16(vc, nc);  // the old rows: kc, vc as bf16
        float *k32 = dget(dkc, nc), *v32 = dget(dvc, nc);              // after the call above, with the same rows
        float *wk = hround(kc, nc), *wv = hround(vc, nc);
        for (int i = 0; i < N; i++)
            for (int c = 0; c < KV; c++) {
                size_t at = (size_t)crow[i] * KV + c;
                wk[at] = bf16r(k32[at]), wv[at] = bf16r(v32[at]);
            }
        cuda_fill(dq, MG_F32, (size_t)N * Q, 0.0f, NAN, 0, 0);
        qkv_rope_cache_cuda(dq, dkc16, dvc16, MG_BF16, dqkv, NULL, dpos, dcrow, dinv, N, Hq, Hkv, D);
        float *g3 = dget(dq, (size_t)N * Q), *gk = dget_bf16(dkc16, nc), *gv = dget_bf16(dvc16, nc);
        int same_q = !memcmp(g3, g1, (size_t)N * Q * 4), same_k = !memcmp(gk, wk, nc * 4);
        int same_v = !memcmp(gv, wv, nc * 4);
        printf("  %-44s q %s, k %s, v %s\n", "qkv_rope_cache into a bf16 cache", same_q ? "= fp32 q" : "DIFFER",
               same_k ? "= fp32 k rounded" : "DIFFER", same_v ? "= fp32 v rounded" : "DIFFER");
        CHECK(same_q && same_k && same_v, "qkv_rope_cache into a bf16 cache: not the fp32 results rounded");
        free(k32), free(v32), free(wk), free(wv), free(g3), free(gk), free(gv);
        cuda_free(dkc16), cuda_free(dvc16);
    }

    // SwiGLU over gate|up rows, fp32 and as the bf16 operand of the down GEMM
    int F = 72;
    float *gu = hrand((size_t)N * 2 * F, 4.0f), *sw = hzeros((size_t)N * F), *dgu = dputf(gu, (size_t)N * 2 * F);
    float *dsw = cuda_malloc((size_t)N * F * 4);
    for (int i = 0; i < N; i++) swiglu_forward(sw + (size_t)i * F, gu + (size_t)i * 2 * F, gu + (size_t)i * 2 * F + F, 1, F);
    void *dsw16 = cuda_malloc((size_t)N * F * 2);
    swiglu_forward_parts_cuda(dsw, MG_F32, NULL, dgu, N, F);
    expect("swiglu_forward_parts fp32", dsw, sw, (size_t)N * F, 2e-6f);
    cuda_fill(dsw, MG_F32, (size_t)N * F, 0.0f, NAN, 0, 0);
    swiglu_forward_parts_cuda(dsw16, MG_BF16, dsw, dgu, N, F);
    float *sw16 = dget_bf16(dsw16, (size_t)N * F), *swr = hround(sw, (size_t)N * F);
    expect_host("swiglu_forward_parts bf16 (= rounded)", sw16, swr, (size_t)N * F, 4e-3f);
    expect("swiglu_forward_parts bf16, its fp32 copy", dsw, sw, (size_t)N * F, 2e-6f);
    cuda_free(dsw16);

    free(x), free(W), free(b), free(ref), free(Wr), free(ref16), free(part), free(A), free(B), free(h), free(dense);
    free(pos), free(crow), free(qkv), free(q), free(kc), free(vc), free(t), free(g1), free(g2), free(gu), free(sw);
    free(sw16), free(swr);
    for (int j = 0; j < 3; j++) cuda_free(dWs[j]), cuda_free(dbs[j]);
    cuda_free(dx), cuda_free(dW), cuda_free(db), cuda_free(dout), cuda_free(dW16), cuda_free(dx16), cuda_free(dA);
    cuda_free(dB), cuda_free(dh), cuda_free(dqkv), cuda_free(dq), cuda_free(dinv), cuda_free(dkc), cuda_free(dvc);
    cuda_free(dpos), cuda_free(dcrow), cuda_free(dq2), cuda_free(dgu), cuda_free(dsw);
}

// logprob's forward (logp, entropy) and backward (dx; dwlm with an fp32 head) run eagerly (which also sizes the
// scratch: a capture may not allocate), then captured as a CUDA graph and replayed: a copy back or a stream wait
// inside either fails the capture (emulation: the program stops), and the replay must give the eager run's bits.
static void logprob_capture(const char *what, const float *gx, const void *gw, mg_dtype wt, const int *gtg,
                            const int *tg, const float *gdlp, int N, int C, int V, float it) {
    size_t n[4] = {(size_t)N, (size_t)N, (size_t)N * C, wt == MG_F32 ? (size_t)V * C : 0};
    float *res[2][4] = {{NULL}};  // logp, entropy, dx, dwlm of the eager run and the replay
    int replayed = 0;
    for (int rep = 0; rep < 2; rep++) {
        for (int t = 0; t < 4; t++)
            if (n[t]) res[rep][t] = cuda_malloc(n[t] * 4), cuda_zero(res[rep][t], n[t] * 4);
        if (rep && !cuda_graph_begin()) break;
        float **r = res[rep];
        logprob_forward_cuda(r[0], r[1], gx, gw, wt, gtg, tg, N, C, V, it);
        logprob_backward_cuda(r[2], r[3], gdlp, gx, gw, wt, gtg, tg, N, C, V, it);
        if (!rep) continue;
        if (!(replayed = replay_capture(what))) break;
    }
    int same = replayed;
    for (int t = 0; t < 4 && replayed; t++) {
        if (!n[t]) continue;
        float *a = dget(res[0][t], n[t]), *b = dget(res[1][t], n[t]);
        same &= !memcmp(a, b, n[t] * sizeof(float));
        free(a), free(b);
    }
    printf("  %-44s %s\n", what, !replayed ? "no graphs here: not checked" : same ? "replay = eager bits" : "DIFFER");
    CHECK(!replayed || same, "%s: the captured logprob gives other results than the eager one", what);
    for (int rep = 0; rep < 2; rep++)
        for (int t = 0; t < 4; t++) cuda_free(res[rep][t]);
}

static void test_logprob(void) {
    // N above the CUDA op's 256-row chunk (when not quick); every 4th position unscored, as prompt tokens are
    int N = g_quick ? 40 : 300, C = 64, V = g_quick ? 300 : 700;
    float it = 1.0f / 0.7f;
    size_t nx = (size_t)N * C, nw = (size_t)V * C;
    float *x = hrand(nx, 1.0f), *w = hrand(nw, 0.3f);
    int *tg = mallocCheck(N * sizeof(int));
    for (int i = 0; i < N; i++) tg[i] = i % 4 == 0 ? -1 : (i * 31) % V;
    float *scr = mallocCheck(logprob_scratch_floats(V) * sizeof(float));
    float *lp = hzeros(N), *ent = hzeros(N), *dlp = hrand(N, 1.0f);
    for (int i = 0; i < N; i++)
        if (tg[i] < 0) dlp[i] = 0.0f;
    float *ddx = NULL, *dx = hrand(nx, 0.2f), *dw = hrand(nw, 0.2f);
    float *gx = dputf(x, nx), *gw = dputf(w, nw), *glp = cuda_malloc(N * 4), *gent = cuda_malloc(N * 4);
    int *gtg = dputi(tg, N);
    float *gdlp = dputf(dlp, N), *gdx = dputf(dx, nx), *gdw = dputf(dw, nw);
    logprob_forward(lp, ent, x, w, tg, N, C, V, it, scr, NULL);
    logprob_forward_cuda(glp, gent, gx, gw, MG_F32, gtg, tg, N, C, V, it);
    expect("logprob_forward logp fp32", glp, lp, N, 2e-5f);
    expect("logprob_forward entropy fp32", gent, ent, N, 2e-5f);
    logprob_backward(dx, dw, dlp, x, w, tg, N, C, V, it, scr, NULL);
    logprob_backward_cuda(gdx, gdw, gdlp, gx, gw, MG_F32, gtg, tg, N, C, V, it);
    expect("logprob_backward dx fp32 (+=)", gdx, dx, nx, 2e-5f);
    expect("logprob_backward dwlm fp32 (+=)", gdw, dw, nw, 2e-5f);
    // bf16 head against the CPU op on the rounded head
    float *wr = hround(w, nw), *dx16 = hrand(nx, 0.2f);
    void *gw16 = dput_bf16(w, nw);
    float *gdx16 = dputf(dx16, nx);
    logprob_forward(lp, ent, x, wr, tg, N, C, V, it, scr, NULL);
    logprob_forward_cuda(glp, NULL, gx, gw16, MG_BF16, gtg, tg, N, C, V, it);
    expect("logprob_forward logp bf16", glp, lp, N, 1e-2f);
    logprob_backward(dx16, NULL, dlp, x, wr, tg, N, C, V, it, scr, NULL);
    logprob_backward_cuda(gdx16, NULL, gdlp, gx, gw16, MG_BF16, gtg, tg, N, C, V, it);
    expect("logprob_backward dx bf16 (+=)", gdx16, dx16, nx, 1e-2f);
    // full logits
    float *logits = hzeros((size_t)N * V), *glog = cuda_malloc((size_t)N * V * 4);
    logits_forward(logits, x, w, N, C, V);
    logits_forward_cuda(glog, gx, gw, MG_F32, N, C, V);
    expect("logits_forward fp32", glog, logits, (size_t)N * V, 2e-5f);
    // The scored rows are counted from the host's targets: forward and backward wait for nothing.
    logprob_capture("logprob fwd + bwd fp32, as a CUDA graph", gx, gw, MG_F32, gtg, tg, gdlp, N, C, V, it);
    logprob_capture("logprob fwd + bwd bf16, as a CUDA graph", gx, gw16, MG_BF16, gtg, tg, gdlp, N, C, V, it);
    (void)ddx;
    free(x), free(w), free(tg), free(scr), free(lp), free(ent), free(dlp), free(dx), free(dw), free(wr), free(dx16);
    free(logits);
    cuda_free(gx), cuda_free(gw), cuda_free(glp), cuda_free(gent), cuda_free(gtg), cuda_free(gdlp), cuda_free(gdx);
    cuda_free(gdw), cuda_free(gw16), cuda_free(gdx16), cuda_free(glog);
}

static void test_adamw(void) {
    size_t n = 5003;
    float *p = hrand(n, 1.0f), *m = hzeros(n), *v = hzeros(n);
    float *dp = dputf(p, n), *dm = dputf(m, n), *dv = dputf(v, n);
    for (int t = 1; t <= 3; t++) {
        float *g = hrand(n, 1.0f), *dg = dputf(g, n);
        adamw_update(p, g, m, v, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, t);
        adamw_update_cuda(dp, dg, dm, dv, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, t);
        free(g);
        cuda_free(dg);
    }
    expect("adamw_update params (3 steps)", dp, p, n, 2e-6f);
    expect("adamw_update exp_avg_sq", dv, v, n, 2e-6f);
    free(p), free(m), free(v);
    cuda_free(dp), cuda_free(dm), cuda_free(dv);
}

// Rows of random logits through the device sampler and the CPU's sample_token with the same draws.
// The first n_cases settings below; a vocabulary above 4096 spans several of the plain sampler's chunks.
static void test_sampling(int V, size_t n_cases) {
    int rows = g_quick ? 8 : 24;
    size_t nl = (size_t)rows * V;
    float *logits = hrand(nl, 6.0f);
    for (int r = 0; r < rows; r++) {  // ties at the maximum (first index wins) and exact duplicates elsewhere
        logits[(size_t)r * V + 100] = logits[(size_t)r * V + 900] = logits[(size_t)r * V + V - 1] = 7.0f;
        logits[(size_t)r * V + 5] = logits[(size_t)r * V + 6];
    }
    uint64_t *seq = mallocCheck(rows * sizeof(uint64_t)), *cnt = mallocCheck(rows * sizeof(uint64_t));
    for (int r = 0; r < rows; r++) seq[r] = 1000 + (uint64_t)r, cnt[r] = (uint64_t)r * 3;
    float *dl = dputf(logits, nl);
    uint64_t *dseq = dput(seq, rows * sizeof(uint64_t)), *dcnt = dput(cnt, rows * sizeof(uint64_t));
    int *dids = cuda_malloc(rows * sizeof(int)), *ids = mallocCheck(rows * sizeof(int));
    float *dlogp = cuda_malloc(rows * 4), *lp = mallocCheck(rows * 4), *scr = mallocCheck(SAMPLE_SCRATCH(V) * 4);
    const mg_sample_params cases[] = {
        {0.0f, 0, 1.0f, 0.0f, 7},    // greedy
        {1.0f, 0, 1.0f, 0.0f, 7},    // plain
        {0.7f, 0, 1.0f, 0.05f, 8},   // min_p
        {1.0f, 40, 1.0f, 0.0f, 9},   // top-k
        {1.3f, 0, 0.8f, 0.0f, 10},   // top-p
        {1.0f, 50, 0.9f, 0.02f, 11}, // all filters
        {1.0f, 1, 1.0f, 0.0f, 12},   // top-k 1 = greedy by ranking
        {1.0f, 0, 0.0f, 0.0f, 13},   // top-p 0: the top token only
    };
    for (size_t c = 0; c < n_cases && c < sizeof cases / sizeof *cases; c++) {
        const mg_sample_params *sp = &cases[c];
        sample_tokens_cuda(dids, dlogp, dl, rows, V, sp, dseq, dcnt);
        cuda_d2h(ids, dids, rows * sizeof(int));
        cuda_d2h(lp, dlogp, rows * 4);
        int same = 0;
        float worst = 0.0f;
        for (int r = 0; r < rows; r++) {
            float l;
            int id = sample_token(logits + (size_t)r * V, V, sp, rng_uniform(sp->seed, seq[r], cnt[r]), &l, scr);
            same += id == ids[r];
            if (id == ids[r] && fabsf(l - lp[r]) > worst) worst = fabsf(l - lp[r]);
        }
        printf("  sample V=%d T=%.1f top_k=%d top_p=%.1f min_p=%.2f: %d/%d ids equal, logp err %.3g\n", V,
               sp->temperature, sp->top_k, sp->top_p, sp->min_p, same, rows, worst);
        CHECK(same == rows, "sampling case %zu: %d of %d ids differ from the CPU sampler", c, rows - same, rows);
        CHECK(worst <= 1e-4f, "sampling case %zu: logp differs by %g", c, worst);
    }
    free(logits), free(seq), free(cnt), free(ids), free(lp), free(scr);
    cuda_free(dl), cuda_free(dseq), cuda_free(dcnt), cuda_free(dids), cuda_free(dlogp);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) g_quick = 1;
        else {
            fprintf(stderr, "usage: test_cuda_parity [--quick]\n");
            return 2;
        }
    }
    int rc = gpu_test_start("test_cuda_parity", g_quick ? " (quick)" : "");
    if (rc) return rc;
    printf("ops\n");
    test_rng();
    test_encoder();
    test_rmsnorm();
    test_matmul();
    test_lora();
    test_rope();
    test_attention();
    test_elementwise();
    test_fused();
    test_logprob();
    test_adamw();
    test_sampling(1000, 8);
    test_sampling(9000, 3);  // greedy, plain, min_p: three chunks, the last partial
    cuda_parity_model("tests/parity/fixtures/llama3-tiny", g_quick);
    cuda_parity_model("tests/parity/fixtures/qwen2-tiny", g_quick);
    // sliding windows of 6 tokens: the engine's key ranges no longer share a start, so the training attention
    // takes the tiled kernels (the GEMM path needs a packed causal layout) and decoding reads the cache's last rows
    cuda_parity_model("tests/parity/fixtures/mistral-window-tiny", g_quick);
    cuda_parity_model("tests/parity/fixtures/qwen2-window-tiny", g_quick);
    mg_backend_cpu.release();
    cuda_shutdown();
    return test_summary("test_cuda_parity");
}
