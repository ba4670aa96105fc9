// The transformer's layer ops. Each op is a forward/backward pair; the CPU reference lives in kernels/cpu/,
// the CUDA twin in kernels/cuda/ with the same names (prefixed by the backend's dispatch, not here).
//
// Conventions (shared by every op):
//  * Row-major fp32. N is a count of tokens in a *packed* batch: the tokens of several sequences laid end to end,
//    no padding. C = hidden size, H = heads, D = head dim, F = MLP width, V = vocab, R = LoRA rank.
//  * Forward functions overwrite their outputs unless the comment says "+=".
//  * Backward functions ACCUMULATE (+=) into every gradient they are given; a NULL gradient pointer means
//    "not needed" and is skipped (frozen weights never get a gradient buffer).
#pragma once
#include <stddef.h>
#include <stdint.h>

// ---- embedding ----
// out (N, C) = wte[tokens[i]]
void encoder_forward(float *out, const int *tokens, const float *wte, int N, int C);
// dwte (V, C) += scatter of dout (N, C)
void encoder_backward(float *dwte, const float *dout, const int *tokens, int N, int C);

// ---- RMSNorm: out = inp * rstd * weight, rstd = 1/sqrt(mean(inp^2) + eps) ----
// out (N, C), rstd (N) saved for backward, inp (N, C), weight (C)
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps);
// dinp (N, C) +=, dweight (C) +=
void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                      const float *rstd, int N, int C);

// ---- linear layer (HF nn.Linear layout: weight is (OC, IC)) ----
// out (N, OC) = inp (N, IC) @ weight^T + bias (OC, may be NULL)
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int IC, int OC);
// dinp (N, IC) +=, dweight (OC, IC) +=, dbias (OC) +=
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int N, int IC, int OC);

// Batch-invariant forms for inference. BLAS libraries pick kernels by matrix size (OpenBLAS: a GEMV path for
// one row, other blockings for other row counts), so a row's result can change with the number of rows beside it.
// These compute every output element as one dot product in an order fixed in kernels/cpu/matmul_invariant.c: a
// sampled completion then depends only on its own tokens, never on what else was in the batch.
// out (N, OC) = inp (N, IC) @ weight^T + bias
void matmul_forward_invariant(float *out, const float *inp, const float *weight, const float *bias, int N, int IC,
                              int OC);
// Several products of one input in one pass (q|k|v, gate|up): part j's out (N, OC_j), row stride ldo_j,
// = inp @ weight_j^T + bias_j, each value exactly what matmul_forward_invariant gives for that part alone.
typedef struct {
    float *out;
    const float *weight, *bias;  // (OC, IC), (OC) or NULL
    int OC, ldo;
} matmul_part;
void matmul_forward_invariant_parts(const matmul_part *parts, int n_parts, const float *inp, int N, int IC);
// out (N, OC), row stride ldo, += scale * (inp @ A^T) @ B^T (each element one fmaf onto out); h (N, R) is scratch
void lora_forward_invariant(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC,
                            int OC, int ldo, int R, float scale);

// ---- LoRA adapter on a linear layer: out += scale * (inp @ A^T) @ B^T, scale = alpha / R ----
// h (N, R) = inp @ A^T is saved for backward; A (R, IC), B (OC, R); out (N, OC) +=, row stride ldo >= OC (an
// adapter adding into its module's columns of a fused q|k|v or gate|up output; ldo = OC otherwise)
void lora_forward(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC, int OC,
                  int ldo, int R, float scale);
// dinp (N, IC) +=, dA (R, IC) +=, dB (OC, R) +=; dh (N, R) is scratch the caller provides
void lora_backward(float *dinp, float *dA, float *dB, float *dh, const float *dout, const float *inp,
                   const float *h, const float *A, const float *B, int N, int IC, int OC, int R, float scale);

// ---- rotary position embedding, HF "rotate_half" convention (pairs i and i + D/2) ----
// inv_freq (D/2): per-pair frequency (already including llama3 scaling). x (N, H, D) rotated in place by the
// angle pos[i] * inv_freq[j].
void rope_forward(float *x, const int *pos, const float *inv_freq, int N, int H, int D);
// dx (N, H, D) in place: applies the inverse rotation (rotation is orthogonal, so this is the exact backward)
void rope_backward(float *dx, const int *pos, const float *inv_freq, int N, int H, int D);

// ---- causal grouped-query attention over explicit key ranges ----
// q (N, Hq, D). k, v are row arrays (rows, Hkv, D): for training they are the packed batch's own keys
// (rows = N); for decoding they are a KV cache. Token i attends to rows kv_start[i] .. kv_start[i]+kv_len[i]-1,
// which is how causality and sequence boundaries are expressed. Query head h uses kv head h / (Hq / Hkv).
// out (N, Hq, D). Softmax scale is 1/sqrt(D). scratch: at least max(kv_len) floats per thread,
// see attention_scratch_floats().
// Tokens of a causal block, i0 .. i1 with kv_start[i] = i0 and kv_len[i] = i - i0 + 1 (each sequence of a packed
// training batch: its keys are its own rows), run as GEMMs per (block, KV head); all other tokens one (query,
// head) at a time. The two round differently, so these are NOT batch-invariant: a KV-cache prefill into rows
// 0.. at token 0 looks like a block. Decoding uses attention_forward_pairwise.
void attention_forward(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                       const int *kv_len, int N, int Hq, int Hkv, int D, float *scratch);
// dq (N, Hq, D) +=, dk, dv (rows, Hkv, D) +=. Recomputes the probabilities (nothing saved from forward).
void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                        const float *v, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                        float *scratch);
// The training engine's: the same, and a run of tokens whose keys lie elsewhere (a shared prompt's member over its
// expanded keys, model/engine.c: kv_start constant, kv_len rising by one from pre + 1) is a block too, run as GEMMs
// over its pre + length keys (kernels/cpu/attention_gemm.h), when its key rows come after the previous block's.
void attention_forward_train(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                             const int *kv_len, int N, int Hq, int Hkv, int D, float *scratch);
void attention_backward_train(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                              const float *v, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                              float *scratch);
// The same ops one (query, head) at a time for every token, whatever its range: a token's result depends on its
// own query and key range only, bit for bit (batch-invariant, for inference: the decode step). The backward is the
// reference the GEMM path is tested against.
void attention_forward_pairwise(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                                const int *kv_len, int N, int Hq, int Hkv, int D, float *scratch);
void attention_backward_pairwise(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                 const float *v, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv,
                                 int D, float *scratch);
size_t attention_scratch_floats(int max_kv_len);

// ---- SwiGLU MLP activation: out = silu(gate) * up ----
// gate, up, out (N, F)
void swiglu_forward(float *out, const float *gate, const float *up, int N, int F);
// dgate, dup (N, F) +=
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int N, int F);

// ---- elementwise ----
void residual_forward(float *out, const float *a, const float *b, size_t n);  // out = a + b
void add_inplace(float *acc, const float *x, size_t n);                       // acc += x

// ---- LM head + log-softmax gathered at targets, chunked so (N, V) logits never exist at once ----
// x (N, C) final hidden states, wlm (V, C). For tokens with targets[i] >= 0:
//   logp[i] = log_softmax(x[i] @ wlm^T * inv_temp)[targets[i]], entropy[i] = entropy of that distribution.
// Tokens with targets[i] < 0 get logp = entropy = 0. entropy may be NULL.
// scratch: logprob_scratch_floats(V) floats.
// keep (may be NULL): room where the forward leaves its softmax for the backward (below).
typedef struct logprob_keep logprob_keep;
void logprob_forward(float *logp, float *entropy, const float *x, const float *wlm, const int *targets, int N, int C,
                     int V, float inv_temp, float *scratch, logprob_keep *keep);
// Given dL/dlogp (N) (0 where targets < 0): dx (N, C) +=, dwlm (V, C) += (may be NULL). Same x, targets, inv_temp
// and keep as the forward before it.
void logprob_backward(float *dx, float *dwlm, const float *dlogp, const float *x, const float *wlm, const int *targets,
                      int N, int C, int V, float inv_temp, float *scratch, logprob_keep *keep);
size_t logprob_scratch_floats(int V);
// The backward's head GEMM and softmax are the forward's again. A keep holds them for the first `rows` scored
// tokens (whole chunks), so the backward starts from there instead: the same values bit for bit, a third of the LM
// head's FLOPs saved. The backward consumes it (a second backward recomputes). NULL from logprob_keep_new when not
// even one chunk fits in max_bytes.
logprob_keep *logprob_keep_new(int max_tokens, int V, size_t max_bytes);
void logprob_keep_free(logprob_keep *keep);
// Full logits, for inference: logits (N, V) = x @ wlm^T (no temperature).
void logits_forward(float *logits, const float *x, const float *wlm, int N, int C, int V);

// ---- optimizer ----
// PyTorch AdamW (decoupled weight decay), step t >= 1.
void adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int t);
// Returns sum of squares of g (double accumulation, deterministic order).
double sumsq(const float *g, size_t n);
void scale_inplace(float *x, float s, size_t n);

// ---- the learners' exact gradient sum: int64 fixed point at one scale, exact in any order ----
// max |x[i]| in double; +inf when an element is infinite or NaN
double absmax(const float *x, size_t n);
void fixed_accumulate(int64_t *acc, const float *x, size_t n, double scale);  // acc += llrint(x * scale)
void fixed_to_float(float *x, const int64_t *acc, size_t n, double scale);    // x = (float)(acc / scale)

// ---- sampling ----
// Sampling controls (model/sampler.h's sampling_params without the generation limits).
typedef struct {
    float temperature;  // 0 = greedy
    int top_k;          // 0 = off
    float top_p;        // 1 = off
    float min_p;        // 0 = off
    uint64_t seed;
} mg_sample_params;
// Picks the next token from logits (V) given the uniform draw u in [0,1): filters in transformers' order (top-k,
// top-p, min-p), then an inverse-CDF draw over the kept tokens in id order. Writes the temperature log-prob of the
// chosen token (before filters) to *logp. scratch holds SAMPLE_SCRATCH(V) floats.
#define SAMPLE_SCRATCH(V) (4 * (size_t)(V))
int sample_token(const float *logits, int V, const mg_sample_params *p, float u, float *logp, float *scratch);
