// RMSNorm as Llama/Qwen2 define it: y = x / sqrt(mean(x^2) + eps) * weight. One block per row; out may alias inp
// (every thread reads its own elements before writing them, and all reads of the sum precede the barrier). The
// decode step has it write the next GEMM's bf16 operand directly, which saves that GEMM's cast.
#include "kernels/cuda/cuda_common.h"

enum { NORM_THREADS = 256, NORM_VEC_THREADS = 128, NORM_VEC = 8 };

// Elements 4 c .. 4 c + 3 (p 16-byte aligned for fp32).
static __device__ __forceinline__ void store4(float *p, int c, float4 o) { ((float4 *)p)[c] = o; }
static __device__ __forceinline__ void store4(__nv_bfloat16 *p, int c, float4 o) {
    store_as(p, 4 * c, o.x), store_as(p, 4 * c + 1, o.y);
    store_as(p, 4 * c + 2, o.z), store_as(p, 4 * c + 3, o.w);
}

// out (as T) and, unless NULL, out32 (fp32) get the same normed row.
template <typename T>
static __global__ void rmsnorm_fwd_kernel(T *out, float *out32, float *rstd, const float *inp, const float *weight,
                                          int C, float eps) {
    const float *x = inp + (size_t)blockIdx.x * C;
    T *y = out + (size_t)blockIdx.x * C;
    float *y32 = out32 ? out32 + (size_t)blockIdx.x * C : NULL;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) ss += x[c] * x[c];
    ss = block_sum(ss);
    float r = 1.0f / sqrtf(ss / C + eps);
    if (rstd && threadIdx.x == 0) rstd[blockIdx.x] = r;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float yc = x[c] * r * weight[c];
        store_as(y, c, yc);
        if (y32) y32[c] = yc;
    }
}

// Four consecutive floats from p + 4 c: one 16-byte load when p is 16-byte aligned (ALIGNED), else four.
template <bool ALIGNED> static __device__ __forceinline__ float4 load4(const float *p, int c) {
    if (ALIGNED) return ((const float4 *)p)[c];
    return make_float4(p[4 * c], p[4 * c + 1], p[4 * c + 2], p[4 * c + 3]);
}

// The same row by a block of NORM_VEC_THREADS, x read once in groups of 4 and kept in registers (C a multiple of 4,
// C / 4 <= NORM_VEC * NORM_VEC_THREADS): every load of a thread is issued before the first is used, and there is no
// second pass over x. Thread t owns group t, t + 128, ...: ss adds its own terms in that order, then block_sum's
// fixed order (deterministic). ALIGNED (16-byte aligned rows, weight and outputs) only changes how groups are
// loaded and stored, never the order of the sum: an unaligned row (an offset pointer, a buffer after an odd-sized
// one) gives the aligned row's bits, so a step's result does not depend on where its buffers start.
template <typename T, bool ALIGNED>
static __global__ void __launch_bounds__(NORM_VEC_THREADS)
    rmsnorm_fwd_vec_kernel(T *out, float *out32, float *rstd, const float *inp, const float *weight, int C,
                           float eps) {
    int C4 = C >> 2;
    const float *x = inp + (size_t)blockIdx.x * C;
    T *y = out + (size_t)blockIdx.x * C;
    float *y32 = out32 ? out32 + (size_t)blockIdx.x * C : NULL;
    float4 xr[NORM_VEC];
    float ss = 0.0f;
    MG_UNROLL
    for (int u = 0; u < NORM_VEC; u++) {
        int c = threadIdx.x + u * NORM_VEC_THREADS;
        if (c < C4) {
            xr[u] = load4<ALIGNED>(x, c);
            ss += xr[u].x * xr[u].x;
            ss += xr[u].y * xr[u].y;
            ss += xr[u].z * xr[u].z;
            ss += xr[u].w * xr[u].w;
        }
    }
    ss = block_sum(ss);  // its barriers also order every read of x before any write of an aliased out
    float r = 1.0f / sqrtf(ss / C + eps);
    if (rstd && threadIdx.x == 0) rstd[blockIdx.x] = r;
    MG_UNROLL
    for (int u = 0; u < NORM_VEC; u++) {
        int c = threadIdx.x + u * NORM_VEC_THREADS;
        if (c < C4) {
            float4 wv = load4<ALIGNED>(weight, c), o;
            o.x = xr[u].x * r * wv.x;
            o.y = xr[u].y * r * wv.y;
            o.z = xr[u].z * r * wv.z;
            o.w = xr[u].w * r * wv.w;
            if (ALIGNED) {
                store4(y, c, o);
                if (y32) ((float4 *)y32)[c] = o;
            } else {
                store_as(y, 4 * c, o.x), store_as(y, 4 * c + 1, o.y);
                store_as(y, 4 * c + 2, o.z), store_as(y, 4 * c + 3, o.w);
                if (y32) y32[4 * c] = o.x, y32[4 * c + 1] = o.y, y32[4 * c + 2] = o.z, y32[4 * c + 3] = o.w;
            }
        }
    }
}

// With g = dout * weight: dx += rstd * g - x * rstd^3 * mean(g * x).
static __global__ void rmsnorm_bwd_dx_kernel(float *dinp, const float *dout, const float *inp, const float *weight,
                                             const float *rstd, int C) {
    size_t off = (size_t)blockIdx.x * C;
    const float *x = inp + off, *d = dout + off;
    float *dx = dinp + off;
    float r = rstd[blockIdx.x], dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dot += d[c] * weight[c] * x[c];
    dot = block_sum(dot);
    float k = r * r * r * dot / C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dx[c] += r * d[c] * weight[c] - x[c] * k;
}

// dweight (C) += sum over rows of dout * inp * rstd: one thread per column, rows in order (deterministic).
static __global__ void rmsnorm_bwd_dw_kernel(float *dweight, const float *dout, const float *inp, const float *rstd,
                                             int N, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float acc = 0.0f;
    for (int i = 0; i < N; i++) acc += dout[(size_t)i * C + c] * inp[(size_t)i * C + c] * rstd[i];
    dweight[c] += acc;
}

// The grouped kernel wherever the shape allows it, with 16-byte accesses where the pointers allow them (out only
// when it is fp32); its sum's order depends on C alone. Other shapes: one block of 256 per row.
template <typename T>
static void rmsnorm_fwd_launch(T *out, float *out32, float *rstd, const float *inp, const float *weight, int N, int C,
                               float eps, int out_vec) {
    int grouped = C % 4 == 0 && C / 4 <= NORM_VEC * NORM_VEC_THREADS;
    int aligned = mg_aligned16(inp) && mg_aligned16(weight) && (!out_vec || mg_aligned16(out)) &&
                  (!out32 || mg_aligned16(out32)) && C % 4 == 0;  // every row of inp starts aligned too
    void (*vec)(T *, float *, float *, const float *, const float *, int, float) =
        aligned ? rmsnorm_fwd_vec_kernel<T, true> : rmsnorm_fwd_vec_kernel<T, false>;
    if (grouped)
        MG_LAUNCH(vec, N, NORM_VEC_THREADS, 0, out, out32, rstd, inp, weight, C, eps);
    else
        MG_LAUNCH(rmsnorm_fwd_kernel<T>, N, NORM_THREADS, 0, out, out32, rstd, inp, weight, C, eps);
}

extern "C" void rmsnorm_forward_cuda(float *out, float *rstd, const float *inp, const float *weight, int N, int C,
                                     float eps) {
    if (N > 0) rmsnorm_fwd_launch(out, (float *)NULL, rstd, inp, weight, N, C, eps, 1);
}

extern "C" void rmsnorm_forward_as_cuda(void *out, mg_dtype ot, float *out32, const float *inp, const float *weight,
                                        int N, int C, float eps) {
    if (N <= 0) return;
    if (ot == MG_BF16)
        rmsnorm_fwd_launch((__nv_bfloat16 *)out, out32, (float *)NULL, inp, weight, N, C, eps, 0);
    else
        rmsnorm_fwd_launch((float *)out, out32, (float *)NULL, inp, weight, N, C, eps, 1);
}

extern "C" void rmsnorm_backward_cuda(float *dinp, float *dweight, const float *dout, const float *inp,
                                      const float *weight, const float *rstd, int N, int C) {
    if (N <= 0) return;
    if (dinp) MG_LAUNCH(rmsnorm_bwd_dx_kernel, N, NORM_THREADS, 0, dinp, dout, inp, weight, rstd, C);
    if (dweight) MG_LAUNCH(rmsnorm_bwd_dw_kernel, (C + 127) / 128, 128, 0, dweight, dout, inp, rstd, N, C);
}
