// Attention of a packed causal training batch as batched GEMMs on the tensor cores (attention_gemm.cu): the path
// attention_forward_train_cuda and attention_backward_train_cuda (ops_cuda.h) take first. The layout (kv_start,
// kv_len) is HOST arrays everywhere here: the GEMMs' shapes depend on it and the kernels get it by value, so nothing
// waits for the device. Every other pointer is a device pointer; `at` is the GEMM operands' type (MG_BF16: bf16
// operands, fp32 accumulation and results; MG_F32: true fp32).
#pragma once
#include <stddef.h>

#include "kernels/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

// out (N, Hq, D) = attention (ops.h semantics) and returns 1; returns 0, having changed nothing, when the layout is
// not one the GEMMs take (attention_gemm_plan). Queues work only (capturable in a CUDA graph).
int attention_forward_gemm_cuda(float *out, const float *q, const float *k, const float *v, const int *kv_start_host,
                                const int *kv_len_host, int N, int Hq, int Hkv, int D, mg_dtype at);
// dq, dk, dv += the gradients (NULL: not wanted) and returns 1; 0 as above.
int attention_backward_gemm_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                 const float *v, const int *kv_start_host, const int *kv_len_host, int N, int Hq,
                                 int Hkv, int D, mg_dtype at);

// What the GEMM path does with a layout (host arrays kv_start, kv_len): counted, nothing run, no device needed.
typedef struct {
    int taken;                       // 1: the GEMMs take it; 0: the tiled kernels do
    int runs;                        // sequences: runs of queries with one kv_start and kv_len growing by one
    int units;                       // chunks (one batched GEMM each per product)
    size_t scratch_bytes;            // the largest chunk's scratch (SCR_ATTN_GEMM)
    double flops_fwd, flops_bwd;     // GEMM FLOPs (2 m n k per product, padding included)
    int launches_fwd, launches_bwd;  // kernels + cuBLAS calls (the backward with dq, dk and dv)
} attention_gemm_plan_info;
void attention_gemm_plan(attention_gemm_plan_info *info, const int *kv_start, const int *kv_len, int N, int Hq,
                         int Hkv, int D, mg_dtype at);

// Bytes one chunk's scratch may take (0: the default, 256 MiB). Tests set it small to exercise the splits.
void attention_gemm_set_budget(size_t bytes);

#ifdef __cplusplus
}
#endif
