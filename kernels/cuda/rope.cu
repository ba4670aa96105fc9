// Rotary position embedding, HF "rotate_half" layout (dimension j pairs with j + D/2). The angle is
// float(pos) * inv_freq[j] in fp32 with the accurate cosf/sinf (never the fast intrinsics: angles reach 1e5 at long
// positions), as transformers and the CPU op compute it. inv_freq already holds the llama3 scaling. Also the decode
// step's kernel after the q|k|v GEMM: bias, RoPE of q and k, and the KV-cache writes in one launch.
#include "kernels/cuda/cuda_common.h"

// The rotation of one pair, shared by both kernels so that the decode step's q and k equal rope_forward's bit for
// bit (fp32 parity compares sampled tokens for equality).
static __device__ __forceinline__ void rope_pair(float *y1, float *y2, float x1, float x2, int pos, float inv_freq,
                                                 float sign) {
    float angle = (float)pos * inv_freq;
    float c = cosf(angle), s = sign * sinf(angle);
    *y1 = x1 * c - x2 * s;
    *y2 = x2 * c + x1 * s;
}

// One thread per (token, head, pair): a decode step has few tokens, and a thread per (token, pair) looping over the
// heads left most of the GPU idle (11 us per call on an H200 for 64 tokens x 32 heads; the angle is cheap to redo).
static __global__ void rope_kernel(float *x, const int *pos, const float *inv_freq, int N, int H, int D, float sign) {
    int half = D / 2;
    size_t n = (size_t)N * H * half;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n; idx += (size_t)gridDim.x * blockDim.x) {
        size_t row_at = idx / half;  // token * H + head
        int i = (int)(row_at / H), j = (int)(idx % half);
        float *row = x + row_at * D;
        rope_pair(&row[j], &row[j + half], row[j], row[j + half], pos[i], inv_freq[j], sign);
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

// One thread per (token, item); a token's items are its q and k pairs (heads 0..Hq-1 are q, Hq.. are k: in a
// q|k|v row, head h of either starts at column h * D) and then its KV v values. Replaces a bias launch, two RoPE
// launches and two cache scatters per layer with the same arithmetic: t = qkv + bias, then rope_pair. The cache is
// CT: fp32, or bf16 (each value rounded to nearest even once it is computed in fp32; q stays fp32).
template <typename CT>
static __global__ void qkv_rope_cache_kernel(float *q, CT *kc, CT *vc, const float *qkv, const float *bq,
                                             const float *bk, const float *bv, const int *pos, const int *cache_row,
                                             const float *inv_freq, int N, int Hq, int Hkv, int D) {
    int half = D / 2, Q = Hq * D, KV = Hkv * D, pairs = (Hq + Hkv) * half, per = pairs + KV;
    size_t n = (size_t)N * per;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n; idx += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(idx / per), r = (int)(idx % per);
        const float *t = qkv + (size_t)i * (Q + 2 * KV);
        CT *krow = kc + (size_t)cache_row[i] * KV, *vrow = vc + (size_t)cache_row[i] * KV;
        if (r < pairs) {
            int h = r / half, j = r % half, col = h * D + j;
            const float *b = h < Hq ? bq : bk;
            int bc = h < Hq ? col : col - Q;
            float x1 = t[col], x2 = t[col + half], y1, y2;
            if (b) x1 += b[bc], x2 += b[bc + half];
            rope_pair(&y1, &y2, x1, x2, pos[i], inv_freq[j], 1.0f);
            if (h < Hq) {
                q[(size_t)i * Q + col] = y1, q[(size_t)i * Q + col + half] = y2;
            } else {
                store_as(krow, col - Q, y1), store_as(krow, col - Q + half, y2);
            }
        } else {
            int c = r - pairs;
            float x = t[Q + KV + c];
            if (bv) x += bv[c];
            store_as(vrow, c, x);
        }
    }
}

template <typename CT>
static void qkv_rope_cache_launch(float *q, CT *kc, CT *vc, const float *qkv, const float *const *b, const int *pos,
                                  const int *cache_row, const float *inv_freq, int N, int Hq, int Hkv, int D) {
    size_t n = (size_t)N * ((Hq + Hkv) * (D / 2) + Hkv * D);
    if (n)
        MG_LAUNCH(qkv_rope_cache_kernel<CT>, mg_blocks(n, 256), 256, 0, q, kc, vc, qkv, b ? b[0] : NULL,
                  b ? b[1] : NULL, b ? b[2] : NULL, pos, cache_row, inv_freq, N, Hq, Hkv, D);
}

extern "C" void qkv_rope_cache_cuda(float *q, void *kc, void *vc, mg_dtype ct, const float *qkv,
                                    const float *const *b, const int *pos, const int *cache_row,
                                    const float *inv_freq, int N, int Hq, int Hkv, int D) {
    if (ct == MG_BF16)
        qkv_rope_cache_launch(q, (__nv_bfloat16 *)kc, (__nv_bfloat16 *)vc, qkv, b, pos, cache_row, inv_freq, N, Hq,
                              Hkv, D);
    else qkv_rope_cache_launch(q, (float *)kc, (float *)vc, qkv, b, pos, cache_row, inv_freq, N, Hq, Hkv, D);
}
