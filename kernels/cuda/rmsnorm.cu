// RMSNorm as Llama/Qwen2 define it: y = x / sqrt(mean(x^2) + eps) * weight. One block per row; out may alias inp
// (every thread reads its own elements before writing them, and all reads of the sum precede the barrier). The
// decode step has it write the next GEMM's bf16 operand directly, which saves that GEMM's cast.
#include "kernels/cuda/cuda_common.h"

enum { NORM_THREADS = 256 };

static __device__ __forceinline__ void store(float *p, int i, float x) { p[i] = x; }
static __device__ __forceinline__ void store(__nv_bfloat16 *p, int i, float x) { p[i] = __float2bfloat16_rn(x); }

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
        store(y, c, yc);
        if (y32) y32[c] = yc;
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

extern "C" void rmsnorm_forward_cuda(float *out, float *rstd, const float *inp, const float *weight, int N, int C,
                                     float eps) {
    if (N > 0)
        MG_LAUNCH(rmsnorm_fwd_kernel<float>, N, NORM_THREADS, 0, out, (float *)NULL, rstd, inp, weight, C, eps);
}

extern "C" void rmsnorm_forward_as_cuda(void *out, mg_dtype ot, float *out32, const float *inp, const float *weight,
                                        int N, int C, float eps) {
    if (N <= 0) return;
    if (ot == MG_BF16)
        MG_LAUNCH(rmsnorm_fwd_kernel<__nv_bfloat16>, N, NORM_THREADS, 0, (__nv_bfloat16 *)out, out32, (float *)NULL,
                  inp, weight, C, eps);
    else
        MG_LAUNCH(rmsnorm_fwd_kernel<float>, N, NORM_THREADS, 0, (float *)out, out32, (float *)NULL, inp, weight, C,
                  eps);
}

extern "C" void rmsnorm_backward_cuda(float *dinp, float *dweight, const float *dout, const float *inp,
                                      const float *weight, const float *rstd, int N, int C) {
    if (N <= 0) return;
    if (dinp) MG_LAUNCH(rmsnorm_bwd_dx_kernel, N, NORM_THREADS, 0, dinp, dout, inp, weight, rstd, C);
    if (dweight) MG_LAUNCH(rmsnorm_bwd_dw_kernel, (C + 127) / 128, 128, 0, dweight, dout, inp, rstd, N, C);
}
