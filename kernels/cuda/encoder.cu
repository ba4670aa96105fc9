// Token embedding lookup, bf16 or fp32 table, fp32 rows out.
#include "kernels/cuda/cuda_common.h"

// out (N, C) = wte[tokens[i]]: one block per token.
template <typename T> static __global__ void encoder_fwd_kernel(float *out, const int *tokens, const T *wte, int C) {
    const T *row = wte + (size_t)tokens[blockIdx.x] * C;
    float *o = out + (size_t)blockIdx.x * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = to_f32(row[c]);
}

// dwte (V, C) += scatter of dout: positions that share a token add into one row, hence atomics.
static __global__ void encoder_bwd_kernel(float *dwte, const float *dout, const int *tokens, int C) {
    float *row = dwte + (size_t)tokens[blockIdx.x] * C;
    const float *d = dout + (size_t)blockIdx.x * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) atomicAdd(&row[c], d[c]);
}

extern "C" void encoder_forward_cuda(float *out, const int *tokens, const void *wte, mg_dtype wt, int N, int C) {
    if (N <= 0) return;
    if (wt == MG_BF16) MG_LAUNCH(encoder_fwd_kernel<__nv_bfloat16>, N, 128, 0, out, tokens, (const __nv_bfloat16 *)wte, C);
    else MG_LAUNCH(encoder_fwd_kernel<float>, N, 128, 0, out, tokens, (const float *)wte, C);
}

extern "C" void encoder_backward_cuda(float *dwte, const float *dout, const int *tokens, int N, int C) {
    if (dwte && N > 0) MG_LAUNCH(encoder_bwd_kernel, N, 128, 0, dwte, dout, tokens, C);
}
