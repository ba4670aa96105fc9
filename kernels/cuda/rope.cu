// Rotary position embedding, HF "rotate_half" layout (dimension j pairs with j + D/2). The angle is
// float(pos) * inv_freq[j] in fp32 with the accurate cosf/sinf (never the fast intrinsics: angles reach 1e5 at long
// positions), as transformers and the CPU op compute it. inv_freq already holds the llama3 scaling.
#include "kernels/cuda/cuda_common.h"

// One thread per (token, head, pair): a decode step has few tokens, and a thread per (token, pair) looping over the
// heads left most of the GPU idle (11 us per call on an H200 for 64 tokens x 32 heads; the angle is cheap to redo).
static __global__ void rope_kernel(float *x, const int *pos, const float *inv_freq, int N, int H, int D, float sign) {
    int half = D / 2;
    size_t n = (size_t)N * H * half;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n; idx += (size_t)gridDim.x * blockDim.x) {
        size_t row_at = idx / half;  // token * H + head
        int i = (int)(row_at / H), j = (int)(idx % half);
        float angle = (float)pos[i] * inv_freq[j];
        float c = cosf(angle), s = sign * sinf(angle);
        float *row = x + row_at * D;
        float x1 = row[j], x2 = row[j + half];
        row[j] = x1 * c - x2 * s;
        row[j + half] = x2 * c + x1 * s;
    }
}

static void rope_launch(float *x, const int *pos, const float *inv_freq, int N, int H, int D, float sign) {
    size_t n = (size_t)N * H * (D / 2);
    if (n) MG_LAUNCH(rope_kernel, mg_blocks(n, 256), 256, 0, x, pos, inv_freq, N, H, D, sign);
}

extern "C" void rope_forward_cuda(float *x, const int *pos, const float *inv_freq, int N, int H, int D) {
    rope_launch(x, pos, inv_freq, N, H, D, 1.0f);
}

// The inverse rotation (a rotation's transpose) is the exact backward.
extern "C" void rope_backward_cuda(float *dx, const int *pos, const float *inv_freq, int N, int H, int D) {
    rope_launch(dx, pos, inv_freq, N, H, D, -1.0f);
}
