// Rotary position embedding, HF "rotate_half" layout (dimension j pairs with j + D/2). The angle is
// float(pos) * inv_freq[j] in fp32 with the accurate cosf/sinf (never the fast intrinsics: angles reach 1e5 at long
// positions), as transformers and the CPU op compute it. inv_freq already holds the llama3 scaling.
#include "kernels/cuda/cuda_common.h"

// One thread per (token, pair); it rotates that pair in every head.
static __global__ void rope_kernel(float *x, const int *pos, const float *inv_freq, int N, int H, int D, float sign) {
    int half = D / 2;
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)N * half) return;
    int i = (int)(idx / half), j = (int)(idx % half);
    float angle = (float)pos[i] * inv_freq[j];
    float c = cosf(angle), s = sign * sinf(angle);
    for (int h = 0; h < H; h++) {
        float *row = x + ((size_t)i * H + h) * D;
        float x1 = row[j], x2 = row[j + half];
        row[j] = x1 * c - x2 * s;
        row[j + half] = x2 * c + x1 * s;
    }
}

extern "C" void rope_forward_cuda(float *x, const int *pos, const float *inv_freq, int N, int H, int D) {
    size_t n = (size_t)N * (D / 2);
    if (n) MG_LAUNCH(rope_kernel, (unsigned)((n + 127) / 128), 128, 0, x, pos, inv_freq, N, H, D, 1.0f);
}

// The inverse rotation (a rotation's transpose) is the exact backward.
extern "C" void rope_backward_cuda(float *dx, const int *pos, const float *inv_freq, int N, int H, int D) {
    size_t n = (size_t)N * (D / 2);
    if (n) MG_LAUNCH(rope_kernel, (unsigned)((n + 127) / 128), 128, 0, dx, pos, inv_freq, N, H, D, -1.0f);
}
