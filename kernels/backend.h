// A compute backend as a table of function pointers: the op set of kernels/ops.h plus the memory operations the
// model loop needs (allocate, zero, copy in and out). The model logic is written once against this table
// (model/engine.c) and runs on the CPU (mg_backend_cpu: the ops of kernels/cpu/) or on a GPU
// (mg_backend_cuda(): the ops of kernels/cuda/). kernels/README.md explains why a table rather than macros or
// link-time substitution.
//
// Contract, for every entry:
//  * Same semantics and shapes as the op of the same name in kernels/ops.h (forwards overwrite, backwards +=,
//    NULL gradient = not needed). Pointers (float *, int *) point into THIS backend's memory (device memory for
//    CUDA); only the memory entries cross between host and backend.
//  * Large weight matrices are typed: `const void *W, mg_dtype wt` (fp32 or bf16). Vectors (norm weights,
//    biases, inv_freq) and everything trainable (LoRA A/B, their gradients, optimizer moments) are fp32.
//  * Scratch is the backend's business (the CPU table and the CUDA ops keep grow-on-demand buffers), so the model
//    loop never sizes per-backend scratch.
//  * batch_invariant (inference) asks for results that do not depend on the other rows of the batch: the CPU
//    table then uses the fixed-tile GEMMs of kernels/ops.h; the CUDA backend ignores it (cuBLAS picks kernels by
//    shape; see docs/cuda.md).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kernels/ops.h"

typedef enum { MG_F32 = 0, MG_BF16 = 1 } mg_dtype;

#define MG_COLL_ID_BYTES 128  // a device collective's unique id (NCCL_UNIQUE_ID_BYTES)

static inline size_t mg_dtype_size(mg_dtype t) { return t == MG_BF16 ? 2 : 4; }


typedef struct mg_backend {
    const char *name;  // "cpu" or "cuda"
    // ---- memory ----
    void *(*alloc)(size_t bytes);  // never NULL (checked inside)
    // NULL when the memory is not there, for large buffers whose failure the caller reports as its own one-line
    // error (a KV cache) or makes room for (model/engine_internal.h: engine_phase_alloc). Optional: where it is
    // NULL, alloc.
    void *(*try_alloc)(size_t bytes);
    void (*free)(void *p);
    void (*zero)(void *p, size_t bytes);
    void (*upload)(void *dst, const void *host_src, size_t bytes);
    void (*download)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);  // within the backend
    // n fp32 host values -> backend memory as wt (bf16: round to nearest even)
    void (*upload_weights)(void *dst, mg_dtype wt, const float *host_src, size_t n);
    void (*sync)(void);  // waits for queued work (no-op on the CPU)
    // n values of wt: normal(0, std) keyed on (seed, stream, index) when std > 0, else `value` (benchmark weights)
    void (*fill)(void *dst, mg_dtype wt, size_t n, float std, float value, uint64_t seed, uint64_t stream);

    // ---- ops (kernels/ops.h semantics) ----
    void (*encoder_forward)(float *out, const int *tokens, const void *wte, mg_dtype wt, int N, int C);
    void (*encoder_backward)(float *dwte, const float *dout, const int *tokens, int N, int C);
    void (*rmsnorm_forward)(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps);
    void (*rmsnorm_backward)(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                             const float *rstd, int N, int C);
    void (*matmul_forward)(float *out, const float *inp, const void *W, mg_dtype wt, const float *bias, int N,
                           int IC, int OC, int batch_invariant);
    // dweight only for fp32 weights (full-parameter training keeps fp32 master weights)
    void (*matmul_backward)(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const void *W, mg_dtype wt, int N, int IC, int OC);
    // out (N, ldo): ldo >= OC is its row stride, so an adapter can add into its module's columns of a
    // matmul_forward_parts output (ldo = OC: ops.h's lora_forward)
    void (*lora_forward)(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC,
                         int OC, int ldo, int R, float scale, int batch_invariant);
    void (*lora_backward)(float *dinp, float *dA, float *dB, float *dh, const float *dout, const float *inp,
                          const float *h, const float *A, const float *B, int N, int IC, int OC, int R, float scale);
    void (*rope_forward)(float *x, const int *pos, const float *inv_freq, int N, int H, int D);
    void (*rope_backward)(float *dx, const int *pos, const float *inv_freq, int N, int H, int D);
    // Decoding and prefill against a KV cache (engine_step). out (N, Hq, D) as ot: fp32 or o_proj's GEMM operand,
    // and in fp32 into out32 too unless it is NULL (o_proj's adapter reads it). k, v: the cache, of type kt (fp32;
    // bf16 on a GPU whose weights are bf16, read into fp32 arithmetic; the CPU takes fp32 only). max_kv_len: an
    // upper bound of kv_len[] (the CPU sizes its scratch by it).
    void (*attention_forward)(void *out, mg_dtype ot, float *out32, const float *q, const void *k, const void *v,
                              mg_dtype kt, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                              int max_kv_len);
    // fp32 out for a packed training batch (neighbouring queries share keys): a GPU tiles it differently. at: the
    // precision of attention's products, the engine's weight dtype (bf16: bf16 operands on tensor cores, fp32
    // accumulation; the CPU computes in fp32 whatever it says). kv_start_host, kv_len_host: the same layout in host
    // memory (the caller built it), the one exception to backend pointers: a GPU sizes its products from it
    // instead of waiting for a copy back.
    void (*attention_forward_train)(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                                    const int *kv_len, const int *kv_start_host, const int *kv_len_host, int N,
                                    int Hq, int Hkv, int D, int max_kv_len, mg_dtype at);
    void (*attention_backward)(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                               const float *v, const int *kv_start, const int *kv_len, const int *kv_start_host,
                               const int *kv_len_host, int N, int Hq, int Hkv, int D, int max_kv_len, mg_dtype at);
    void (*swiglu_forward)(float *out, const float *gate, const float *up, int N, int F);
    void (*swiglu_backward)(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int N,
                            int F);
    void (*residual_forward)(float *out, const float *a, const float *b, size_t n);
    void (*add_inplace)(float *acc, const float *x, size_t n);
    void (*scale_inplace)(float *x, float s, size_t n);
    double (*sumsq)(const float *g, size_t n);
    // targets_host: the same targets in host memory (the caller has them; like kv_start_host above): a GPU counts
    // the scored rows from it instead of waiting for a copy back. The CPU ignores it. keep: NULL, or what
    // logprob_keep_new made, one per caller: the forward leaves its softmax there and the backward after it starts
    // from that instead of recomputing the head (ops.h's logprob_keep; a GPU has none and recomputes).
    void (*logprob_forward)(float *logp, float *entropy, const float *x, const void *wlm, mg_dtype wt,
                            const int *targets, const int *targets_host, int N, int C, int V, float inv_temp,
                            void *keep);
    void (*logprob_backward)(float *dx, float *dwlm, const float *dlogp, const float *x, const void *wlm, mg_dtype wt,
                             const int *targets, const int *targets_host, int N, int C, int V, float inv_temp,
                             void *keep);
    // Room for up to max_tokens rows of a V-wide head's softmax (the backend bounds its size), or NULL.
    void *(*logprob_keep_new)(int max_tokens, int V);
    void (*logprob_keep_free)(void *keep);
    void (*adamw_update)(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                         float beta2, float eps, float weight_decay, int t);
    // ---- inference helpers ----
    // dst[r] = src[rows[r]] and dst[rows[r]] = src[r], rows of `width` floats (KV-cache writes, wanted rows)
    void (*gather_rows)(float *dst, const float *src, const int *rows, int n, int width);
    void (*scatter_rows)(float *dst, const float *src, const int *rows, int n, int width);
    // One token per row of logits (n, V): ids[r], logp[r] (log-prob at the temperature, before filters) with the
    // uniform draw rng_uniform(seed, seq_ids[r], counters[r]) — the CPU sampler's draw, bit for bit.
    void (*sample)(int *ids, float *logp, const float *logits, int n, int V, const mg_sample_params *p,
                   const uint64_t *seq_ids, const uint64_t *counters);
    // ---- the decode step's fused ops (engine_step): fewer, larger kernels on a GPU; on the CPU the arithmetic of
    //      the unfused ops they replace, so the CPU engine's results do not change ----
    // n_parts linear layers of one input, their outputs side by side in each row of out (N, sum of parts[j]): q|k|v,
    // gate|up. W[j] (parts[j], IC) of dtype wt, b[j] (parts[j]) or NULL. inp (N, IC) is fp32 (it = MG_F32) or
    // already in wt (it = wt: its producer wrote the GEMM operand). A GPU runs one GEMM when the W[j] lie one
    // after another in memory (the engine's layout); the CPU one per part, as its BLAS picks kernels by shape.
    void (*matmul_forward_parts)(float *out, const void *inp, mg_dtype it, const void *const *W,
                                 const float *const *b, const int *parts, int n_parts, mg_dtype wt, int N, int IC,
                                 int batch_invariant);
    // rmsnorm_forward (rstd not kept) writing out (N, C) as ot: fp32, or the next GEMM's operand (no cast there);
    // and in fp32 into out32 too unless it is NULL (an adapter on that GEMM reads it)
    void (*rmsnorm_forward_as)(void *out, mg_dtype ot, float *out32, const float *inp, const float *weight, int N,
                               int C, float eps);
    // out (N, OC) += inp (N, IC) @ W^T: o_proj and down_proj adding into the residual stream (inp as above)
    void (*matmul_forward_acc)(float *out, const void *inp, mg_dtype it, const void *W, mg_dtype wt, int N, int IC,
                               int OC, int batch_invariant);
    // After the q|k|v product qkv (N, Q + 2 KV), Q = Hq D, KV = Hkv D, of a KV-cache step: t = qkv + b (b[0..2]:
    // the q, k, v biases, or NULL); q (N, Hq, D) = RoPE(t's q columns), and at cache row cache_row[i]:
    // kc = RoPE(t's k columns), vc = t's v columns (kc, vc (rows, KV) of type ct, as attention_forward's kt: bf16
    // values are the fp32 results rounded to nearest even). RoPE as rope_forward.
    void (*qkv_rope_cache)(float *q, void *kc, void *vc, mg_dtype ct, const float *qkv, const float *const *b,
                           const int *pos, const int *cache_row, const float *inv_freq, int N, int Hq, int Hkv, int D);
    // SwiGLU of gate|up rows gu (N, 2F) (matmul_forward_parts' output): out (N, F) as ot, and out32 as above
    void (*swiglu_forward_parts)(void *out, mg_dtype ot, float *out32, const float *gu, int N, int F);
    // ---- optional (NULL where unsupported): capture the queued work of a decode step and replay it ----
    int (*graph_begin)(void);   // 0: capture could not start
    void *(*graph_end)(void);   // NULL: capture failed (the work was not run)
    void (*graph_launch)(void *graph);
    void (*graph_free)(void *graph);
    unsigned long (*graph_epoch)(void);  // changes when memory a captured graph uses may have moved
    void (*release)(void);  // frees the backend's scratch buffers
    // ---- the learners' exact gradient sum (workers/learner.c): int64 fixed point, the same bits on every backend ----
    // max |x[i]| as a double; a value that is not <= DBL_MAX (inf, or NaN) when some element is not finite
    double (*absmax)(const float *x, size_t n);
    void (*fixed_accumulate)(int64_t *acc, const float *x, size_t n, double scale);  // acc += llrint(x * scale)
    void (*fixed_to_float)(float *x, const int64_t *acc, size_t n, double scale);    // x = (float)(acc / scale)
    // ---- optional (NULL where there is none): collectives among the devices of several processes (NCCL), which
    //      workers/comm.c sets up for the learners. In place, on backend memory; exact in any order ----
    int (*coll_unique_id)(unsigned char id[MG_COLL_ID_BYTES], mg_err *e);  // one process makes it, all join with it
    void *(*coll_join)(const unsigned char id[MG_COLL_ID_BYTES], int nranks, int rank, mg_err *e);
    int (*coll_max_f64)(void *coll, double *x, size_t n, mg_err *e);
    int (*coll_sum_i64)(void *coll, int64_t *x, size_t n, mg_err *e);
    void (*coll_free)(void *coll);
} mg_backend;

// The CPU reference ops behind the table (fp32 weights only). Defined in kernels/cpu/backend_cpu.c.
extern const mg_backend mg_backend_cpu;
// The CUDA ops (kernels/cuda/backend_cuda.c); the device must be set up first (mg_backend_cuda_open, or cuda_init
// of kernels/cuda/ops_cuda.h).
const mg_backend *mg_backend_cuda(void);
// Sets up the GPU for this process and returns the CUDA table: `device` when >= 0, else the process's local rank
// (Open MPI, Slurm) modulo the visible GPUs. NULL with a one-line error (no device, too old).
const mg_backend *mg_backend_cuda_open(int device, mg_err *e);

// ---- backends by name (engine.backend) ----
// The library below the program builds without CUDA, so the program that links a backend in registers it here
// (tools/migrate.c does for the CUDA table when built with it); "cpu" is always there.
typedef const mg_backend *(*mg_backend_opener)(int device, mg_err *e);
void mg_backend_register(const mg_backend *table, mg_backend_opener open);
// The table called name as it is (its device not set up: for what it has, e.g. coll_join), or NULL when this
// program was built without it.
const mg_backend *mg_backend_find(const char *name);
// The backend called name, set up on `device` (-1: the local rank's); NULL with a one-line error when this
// program was built without it or the device is unusable.
const mg_backend *mg_backend_open(const char *name, int device, mg_err *e);
