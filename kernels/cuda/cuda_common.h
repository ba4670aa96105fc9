// Shared by the CUDA sources (kernels/cuda/*.cu): error checks, the launch macro, block reductions, bf16 loads,
// and the runtime pieces the ops share (stream, scratch buffers, the GEMM wrapper). Compiled by nvcc, or by a
// host C++ compiler with -DMG_CUDA_EMULATE (kernels/cuda/emulate.h), so kernels use only what both provide:
// launch through MG_LAUNCH, dynamic shared memory through MG_DYN_SMEM, shuffles with the full mask.
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/ops_cuda.h"

#ifdef MG_CUDA_EMULATE
#include "kernels/cuda/emulate.h"
#else
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#endif

// ---- errors: one line naming the call, file:line, then a hint (common/error.h style) ----
[[noreturn]] void mg_cuda_check_failed(int err, const char *expr, const char *file, int line);
[[noreturn]] void mg_cuda_fatal(const char *what, const char *file, int line, const char *hint);
#define cudaCheck(call)                                                                                            \
    do {                                                                                                           \
        cudaError_t err_ = (call);                                                                                 \
        if (err_ != cudaSuccess) mg_cuda_check_failed((int)err_, #call, __FILE__, __LINE__);                       \
    } while (0)
// A broken precondition of an op (a shape the kernels do not support): a bug in the caller.
#define cudaRequire(cond, hint)                                                                                    \
    do {                                                                                                           \
        if (!(cond)) mg_cuda_fatal(#cond, __FILE__, __LINE__, (hint));                                             \
    } while (0)

// ---- launches ----
#ifdef MG_CUDA_EMULATE
#define MG_LAUNCH(kernel, grid, block, smem, ...)                                                                  \
    do {                                                                                                           \
        emu_check_args(#kernel, __VA_ARGS__);                                                                      \
        emu_launch_kernel(dim3(grid), dim3(block), (size_t)(smem), #kernel, kernel, __VA_ARGS__);                  \
    } while (0)
#define MG_DYN_SMEM(type, name) type *name = (type *)emu_dyn_smem()
#else
cudaStream_t cuda_stream(void);
#define MG_LAUNCH(kernel, grid, block, smem, ...)                                                                  \
    do {                                                                                                           \
        kernel<<<(grid), (block), (smem), cuda_stream()>>>(__VA_ARGS__);                                           \
        cudaCheck(cudaGetLastError());                                                                             \
    } while (0)
#define MG_DYN_SMEM(type, name)                                                                                    \
    extern __shared__ float mg_dyn_smem_[];                                                                        \
    type *name = (type *)mg_dyn_smem_
#endif

// Full unrolling of a loop with a constant trip count (keeps small per-thread arrays in registers).
#ifdef MG_CUDA_EMULATE
#define MG_UNROLL
#else
#define MG_UNROLL _Pragma("unroll")
#endif

// Allows a kernel more than the default 48 KB of dynamic shared memory (no-op in emulation).
#ifdef MG_CUDA_EMULATE
#define MG_ALLOW_SMEM(kernel, bytes) ((void)(bytes))
#else
#define MG_ALLOW_SMEM(kernel, bytes)                                                                               \
    do {                                                                                                           \
        if ((bytes) > 48 * 1024)                                                                                   \
            cudaCheck(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)(bytes)));    \
    } while (0)
#endif

static inline unsigned mg_blocks(size_t n, unsigned threads) {
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 65535u * 64u ? 65535u * 64u : b);  // grid-stride loops cover the rest
}

// ---- runtime shared by the ops (kernels/cuda/runtime.cu, or emulate.cpp) ----
// Scratch buffers by slot, grown on demand and kept (a slot's old contents are lost when it grows).
enum {
    SCR_CAST_A = 0,  // bf16 copies of GEMM inputs
    SCR_CAST_B,
    SCR_LOGITS,      // logprob: (chunk, V) logits, then their gradient
    SCR_LOGITS_BF16,
    SCR_ROWS,        // logprob: scored row indices
    SCR_XS,          // logprob: gathered rows of x, and dx rows
    SCR_DXS,
    SCR_SUMSQ,
    SCR_SAMPLE_PROB,  // sampler (ranked): probabilities, ids, sorted copies, per-row info
    SCR_SAMPLE_SORTED,
    SCR_SAMPLE_INFO,
    SCR_SORT_TEMP,
    SCR_UPLOAD,
    SCR_ATTN_TRAIN,   // attention backward (training): lse/delta and key ranges
    SCR_ATTN_GEMM,    // attention as GEMMs (training): scores, probabilities, packed operands of one chunk
    SCR_COUNT
};
void *cuda_scratch(int slot, size_t bytes);
// Column-major GEMM as cuBLAS defines it: C (m, n) = alpha op(A) op(B) + beta C, fp32 accumulation, fp32 C.
// A and B must have the same dtype (bf16 x bf16 -> fp32 on tensor cores, or true fp32).
void mg_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const void *A, int lda, const void *B,
             int ldb, mg_dtype ab, float beta, float *C, int ldc);
// `batch` such GEMMs in one call (cublasGemmStridedBatchedEx): product b reads A + b * stride_a, B + b * stride_b
// (elements of type ab) and writes C + b * stride_c; the C matrices must not overlap.
void mg_gemm_strided_batched(int trans_a, int trans_b, int m, int n, int k, float alpha, const void *A, int lda,
                             long long stride_a, const void *B, int ldb, long long stride_b, mg_dtype ab, float beta,
                             float *C, int ldc, long long stride_c, int batch);
// Segmented descending sort of n rows of V (key, id) pairs, stable (equal keys keep ascending ids).
void mg_sort_rows_desc(const float *keys_in, float *keys_out, const int *ids_in, int *ids_out, int n, int V);
// x (n floats) as a GEMM operand of type ab: x itself for fp32, a bf16 copy in scratch `slot` for bf16.
const void *mg_gemm_operand(const float *x, size_t n, mg_dtype ab, int slot);

// ---- device helpers ----
#ifdef MG_CUDA_EMULATE
struct alignas(16) float4 {  // CUDA's vector type, for 16-byte loads of fp32 rows
    float x, y, z, w;
};
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
#endif
// Whether p may be read as float4 (16-byte aligned).
static inline int mg_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

// p[i] = x as T: fp32, or bf16 rounded to nearest even (a GEMM operand written by its producer).
static __device__ __forceinline__ void store_as(float *p, size_t i, float x) { p[i] = x; }
static __device__ __forceinline__ void store_as(__nv_bfloat16 *p, size_t i, float x) { p[i] = __float2bfloat16_rn(x); }

static __device__ __forceinline__ float to_f32(float x) { return x; }
static __device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> static __device__ __forceinline__ T warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
static __device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide reductions: blockDim.x a multiple of 32 (<= 1024); every thread gets the result; fixed order, so the
// result is deterministic. Each may be called repeatedly in one kernel (the leading barrier guards the buffer).
template <typename T> static __device__ inline T block_sum(T v) {
    __shared__ T part[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    T s = lane < nw ? part[lane] : (T)0;
    return warp_sum(s);
}

static __device__ inline float block_max(float v) {
    __shared__ float part[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    float s = lane < nw ? part[lane] : -INFINITY;
    return warp_max(s);
}

// Minimum / maximum of an int over the block.
static __device__ inline int block_min_int(int v) {
    __shared__ int part[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v = min(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    int s = lane < nw ? part[lane] : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1) s = min(s, __shfl_xor_sync(0xffffffffu, s, o));
    return s;
}
static __device__ inline int block_max_int(int v) { return -block_min_int(-v); }

// (value, index) maximum, ties to the lower index: the first maximum, as a sequential scan finds it.
static __device__ __forceinline__ void argmax_merge(float &v, int &i, float ov, int oi) {
    if (ov > v || (ov == v && oi < i)) v = ov, i = oi;
}
static __device__ inline void block_argmax(float &v, int &i) {
    __shared__ float pv[32];
    __shared__ int pi[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1)
        argmax_merge(v, i, __shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, i, o));
    __syncthreads();
    if (lane == 0) pv[w] = v, pi[w] = i;
    __syncthreads();
    v = lane < nw ? pv[lane] : -INFINITY;
    i = lane < nw ? pi[lane] : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1)
        argmax_merge(v, i, __shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, i, o));
}

// Exclusive prefix sum over the threads of the block in thread order; *total gets the sum of all.
template <typename T> static __device__ inline T block_exclusive_scan(T v, T *total) {
    __shared__ T part[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    T incl = v;  // inclusive scan within the warp (Hillis-Steele)
    for (int o = 1; o < 32; o <<= 1) {
        T up = __shfl_sync(0xffffffffu, incl, (lane - o) & 31);
        if (lane >= o) incl += up;
    }
    __syncthreads();
    if (lane == 31) part[w] = incl;
    __syncthreads();
    T excl = __shfl_sync(0xffffffffu, incl, (lane - 1) & 31);
    if (lane == 0) excl = 0;
    T before = 0, all = 0;
    for (int k = 0; k < nw; k++) {  // nw <= 32 partial sums, read in order by every thread
        if (k < w) before += part[k];
        all += part[k];
    }
    *total = all;
    return before + excl;
}
