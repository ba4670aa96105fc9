// The CUDA twins of kernels/ops.h, callable from C. Same names with a _cuda suffix, same semantics and shapes
// (see kernels/ops.h and kernels/backend.h for the contract). All float/int pointers are DEVICE pointers.
// Weights are typed (`const void *W, mg_dtype wt`): bf16 GEMMs run on tensor cores with fp32 accumulation and an
// fp32 result; fp32 weights run as true fp32 GEMMs (no TF32), which is what the parity tests call "fp32 mode".
// Activations, LoRA weights and gradients, and optimizer state are fp32.
//
// Every call runs on one stream (cuda_stream()); calls return before the GPU is done unless they return a value
// computed on the device (sumsq_cuda) or copy to the host. Errors in CUDA or cuBLAS end the program with
// file:line and a hint (cudaCheck/cublasCheck in kernels/cuda/cuda_common.h): they are bugs or exhausted
// resources, never bad user input.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- device, stream, memory ----
int cuda_device_count(void);  // 0 without a usable device or driver (never fails)
// Selects the device, creates the stream and the cuBLAS handle. Returns -1 (message in err, one line) on failure.
int cuda_init(int device, char *err, size_t errlen);
// One line for `migrate version`: the CUDA runtime and architectures built for, and the driver and GPUs found (or
// why none can be used). Returns the number of visible GPUs. Not in the emulated build.
int cuda_describe(char *buf, size_t len);
void cuda_shutdown(void);
const char *cuda_device_name(void);  // "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" or "emulated"
void *cuda_malloc(size_t bytes);
void *cuda_try_malloc(size_t bytes);  // NULL when the memory is not there (nothing printed, nothing ends)
void cuda_free(void *p);
void cuda_zero(void *p, size_t bytes);
void cuda_h2d(void *dst, const void *src, size_t bytes);  // synchronous for the host buffer
void cuda_d2h(void *dst, const void *src, size_t bytes);  // waits for the stream
void cuda_d2d(void *dst, const void *src, size_t bytes);
void cuda_sync(void);
void *cuda_stream_handle(void);  // the cudaStream_t every op runs on (NULL in emulation), for NCCL
// n fp32 host values -> dst as wt
void cuda_upload_weights(void *dst, mg_dtype wt, const float *src, size_t n);
// Fills dst (n values of wt) on the device: normal(0, std) from Philox(seed, stream) when std > 0, else `value`.
void cuda_fill(void *dst, mg_dtype wt, size_t n, float std, float value, uint64_t seed, uint64_t stream);
// Device-to-device copy bandwidth in GB/s (bytes read + written over time), for the benchmarks' floor.
double cuda_copy_bandwidth_gbs(size_t bytes, int repeats);
// bf16 x bf16 -> fp32 GEMM rate in TFLOP/s (n x n x n, the GEMM the engine's layers run), for the benchmarks' MFU.
// 0 in emulation, as the copy bandwidth.
double cuda_gemm_tflops(int n, int repeats);
// Free and total device memory in bytes (cudaMemGetInfo); both 0 in emulation (unknown).
void cuda_mem_info(size_t *free_bytes, size_t *total_bytes);
// Brackets the work a profiler started with `ncu --profile-from-start off` sees (bench_cuda --profile).
void cuda_profile_range(int on);
// Uniforms drawn ON THE DEVICE with the sampler's generator: out[i] = rng_uniform(key, stream, counter0 + i).
void cuda_philox_uniforms(float *out_host, uint64_t key, uint64_t stream, uint64_t counter0, int n);

#ifdef MG_CUDA_EMULATE
// Kernels launched and GEMMs issued so far (emulation only; a cuBLAS GEMM or CUB sort counts as one, a graph
// replay as none): the launches of a decode step, printed by the parity test and bench_cuda_emu.
unsigned long cuda_emu_launches(void);
#endif

// ---- CUDA graphs (decode steps): capture the stream's work, replay it. Returns 0 when unsupported. ----
int cuda_graph_begin(void);
void *cuda_graph_end(void);  // the executable graph, or NULL if capture failed
void cuda_graph_launch(void *graph);
void cuda_graph_free(void *graph);
// Changes whenever a scratch buffer is reallocated: a graph captured before points at freed memory then.
unsigned long cuda_scratch_epoch(void);

// ---- ops ----
void encoder_forward_cuda(float *out, const int *tokens, const void *wte, mg_dtype wt, int N, int C);
void encoder_backward_cuda(float *dwte, const float *dout, const int *tokens, int N, int C);
void rmsnorm_forward_cuda(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps);
void rmsnorm_backward_cuda(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                           const float *rstd, int N, int C);
void matmul_forward_cuda(float *out, const float *inp, const void *W, mg_dtype wt, const float *bias, int N, int IC,
                         int OC);
void matmul_backward_cuda(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                          const void *W, mg_dtype wt, int N, int IC, int OC);
void lora_forward_cuda(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC, int OC,
                       int R, float scale);
// The same into out (N, ldo), ldo >= OC: an adapter adding into its module's columns of a fused q|k|v or gate|up
// output (matmul_forward_parts_cuda).
void lora_forward_ld_cuda(float *out, int ldo, float *h, const float *inp, const float *A, const float *B, int N,
                          int IC, int OC, int R, float scale);
void lora_backward_cuda(float *dinp, float *dA, float *dB, float *dh, const float *dout, const float *inp,
                        const float *h, const float *A, const float *B, int N, int IC, int OC, int R, float scale);
// The decode step's fused ops (kernels/backend.h has their contract): n_parts linear layers of one input in one GEMM
// when the W[j] are contiguous (inp fp32, it = MG_F32, or already in wt); RMSNorm writing the GEMM's operand; a
// GEMM accumulating into the residual stream; bias + RoPE + KV-cache writes after q|k|v (a cache of ct: fp32, or
// bf16); SwiGLU over gate|up rows writing fp32 or the next GEMM's bf16 operand.
void matmul_forward_parts_cuda(float *out, const void *inp, mg_dtype it, const void *const *W, const float *const *b,
                               const int *parts, int n_parts, mg_dtype wt, int N, int IC);
// RMSNorm into out (N, C) as ot (rstd not kept): the next GEMM's bf16 operand, or fp32; also fp32 into out32 unless
// NULL
void rmsnorm_forward_as_cuda(void *out, mg_dtype ot, float *out32, const float *inp, const float *weight, int N, int C,
                             float eps);
// out (N, OC) += inp @ W^T (cuBLAS beta = 1): a residual add folded into the GEMM
void matmul_forward_acc_cuda(float *out, const void *inp, mg_dtype it, const void *W, mg_dtype wt, int N, int IC,
                             int OC);
void qkv_rope_cache_cuda(float *q, void *kc, void *vc, mg_dtype ct, const float *qkv, const float *const *b,
                         const int *pos, const int *cache_row, const float *inv_freq, int N, int Hq, int Hkv, int D);
void swiglu_forward_parts_cuda(void *out, mg_dtype ot, float *out32, const float *gu, int N, int F);
void rope_forward_cuda(float *x, const int *pos, const float *inv_freq, int N, int H, int D);
void rope_backward_cuda(float *dx, const int *pos, const float *inv_freq, int N, int H, int D);
// D <= 256. Prefill, training and decode alike: token i attends to rows kv_start[i] .. + kv_len[i] - 1. One block
// per (query, KV head): the layout for decoding, one query per cache slot.
void attention_forward_cuda(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                            const int *kv_len, int N, int Hq, int Hkv, int D);
// The same with out as ot (o_proj's bf16 operand in the decode step) and, unless NULL, fp32 into out32 too; k and
// v as kt (the KV cache's type: fp32, or bf16 read into fp32 arithmetic).
void attention_forward_as_cuda(void *out, mg_dtype ot, float *out32, const float *q, const void *k, const void *v,
                               mg_dtype kt, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D);
// The same result, tiled by 32 queries x 32 keys (attention_train.cu): the layout for training, where neighbouring
// queries share their keys (a packed causal batch); slow when they do not (decoding).
void attention_forward_tiled_cuda(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                                  const int *kv_len, int N, int Hq, int Hkv, int D);
// Tiled (attention_train.cu) for training layouts, with no float atomics: deterministic. Query ranges whose starts
// or ends decrease go to a query-major kernel whose dk/dv atomics make the last bits depend on the order of adds.
// kv_start_host, kv_len_host: the layout's host copy (HOST arrays), which picks the kernel and sizes it: no wait.
void attention_backward_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                             const float *v, const int *kv_start, const int *kv_len, const int *kv_start_host,
                             const int *kv_len_host, int N, int Hq, int Hkv, int D);
// Training (the table's attention_forward_train / attention_backward): a packed causal batch as batched GEMMs
// (attention_gemm.cu), operands of type `at` (bf16: tensor cores, fp32 accumulation; fp32: true fp32); any other
// layout through the tiled kernels above. Deterministic (no float atomics) on both paths' training layouts.
// kv_start_host, kv_len_host: the layout's host copy (HOST arrays), from which the GEMMs are planned: no wait.
void attention_forward_train_cuda(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                                  const int *kv_len, const int *kv_start_host, const int *kv_len_host, int N, int Hq,
                                  int Hkv, int D, mg_dtype at);
void attention_backward_train_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                   const float *v, const int *kv_start, const int *kv_len, const int *kv_start_host,
                                   const int *kv_len_host, int N, int Hq, int Hkv, int D, mg_dtype at);
void swiglu_forward_cuda(float *out, const float *gate, const float *up, int N, int F);
void swiglu_backward_cuda(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int N,
                          int F);
void residual_forward_cuda(float *out, const float *a, const float *b, size_t n);
void add_inplace_cuda(float *acc, const float *x, size_t n);
void scale_inplace_cuda(float *x, float s, size_t n);
double sumsq_cuda(const float *g, size_t n);  // fixed-order double accumulation; waits for the result
// The exact gradient sum of workers/learner.c on the device: max |g| (waits for it), then g scaled by a power of two
// and rounded to int64 (added into acc), all-reduced as integers (comm_nccl_allreduce_i64), converted back.
double absmax_cuda(const float *g, size_t n);
void fixed_accumulate_cuda(int64_t *acc, const float *g, size_t n, double scale);  // acc += llrint(g * scale)
void fixed_to_float_cuda(float *out, const int64_t *acc, size_t n, double scale);  // out = acc / scale
// targets: device ints (N); targets_host: the same in HOST memory, which sizes the chunk loop (no wait). Rows are
// processed in chunks (logits of a chunk only ever exist at once).
void logprob_forward_cuda(float *logp, float *entropy, const float *x, const void *wlm, mg_dtype wt,
                          const int *targets, const int *targets_host, int N, int C, int V, float inv_temp);
void logprob_backward_cuda(float *dx, float *dwlm, const float *dlogp, const float *x, const void *wlm, mg_dtype wt,
                           const int *targets, const int *targets_host, int N, int C, int V, float inv_temp);
void logits_forward_cuda(float *logits, const float *x, const void *wlm, mg_dtype wt, int N, int C, int V);
void adamw_update_cuda(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                       float beta2, float eps, float weight_decay, int t);
void gather_rows_cuda(float *dst, const float *src, const int *rows, int n, int width);
void scatter_rows_cuda(float *dst, const float *src, const int *rows, int n, int width);
// seq_ids, counters: device arrays (n). The same algorithm as model/sampler.c's sample_token, on the device.
void sample_tokens_cuda(int *ids, float *logp, const float *logits, int n, int V, const mg_sample_params *p,
                        const uint64_t *seq_ids, const uint64_t *counters);

#ifdef __cplusplus
}
#endif
