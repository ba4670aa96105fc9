// LM head fused with log-softmax at the target ids, as kernels/cpu/logprob.c: only rows with a target are computed,
// CHUNK of them at a time, so (N, V) logits never exist at once (V = 128k-152k for Llama-3 / Qwen2.5).
// Per chunk: gather the scored rows of x, one GEMM for their logits, one block per row for the softmax.
#include "kernels/cuda/cuda_common.h"

enum { CHUNK = 256, SM_THREADS = 512, SCAN_THREADS = 1024 };

// rows = indices i with targets[i] >= 0, in order. One block: each thread takes a contiguous run of indices, so an
// exclusive scan of the per-thread counts gives every thread its output offset.
static __global__ void __launch_bounds__(1024) scored_rows_kernel(int *rows, const int *targets, int N) {
    int per = (N + blockDim.x - 1) / blockDim.x, lo = threadIdx.x * per, hi = min(N, lo + per);
    int cnt = 0;
    for (int i = lo; i < hi; i++) cnt += targets[i] >= 0;
    int total, at = block_exclusive_scan(cnt, &total);
    for (int i = lo; i < hi; i++)
        if (targets[i] >= 0) rows[at++] = i;
}

// Gathers x rows rows[r] (r < n) into xs (n, C) as fp32 and, for bf16 heads, xb.
static __global__ void gather_x_kernel(float *xs, __nv_bfloat16 *xb, const float *x, const int *rows, int C) {
    const float *src = x + (size_t)rows[blockIdx.x] * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float val = src[c];
        xs[(size_t)blockIdx.x * C + c] = val;
        if (xb) xb[(size_t)blockIdx.x * C + c] = __float2bfloat16_rn(val);
    }
}

// Row r of z (logits of scored row i = rows[r]): logp[i] = z_t * it - lse, entropy[i] = lse - E[z * it].
static __global__ void logsoftmax_kernel(float *logp, float *entropy, const float *z, const int *rows,
                                         const int *targets, int V, float inv_temp) {
    const float *zr = z + (size_t)blockIdx.x * V;
    int i = rows[blockIdx.x];
    float mx = -INFINITY;
    for (int v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, zr[v] * inv_temp);
    mx = block_max(mx);
    double s = 0.0, ws = 0.0;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float d = zr[v] * inv_temp - mx, e = expf(d);
        s += e;
        ws += (double)e * d;
    }
    s = block_sum(s);
    ws = block_sum(ws);
    if (threadIdx.x == 0) {
        float zt = zr[targets[i]] * inv_temp;
        logp[i] = (float)(zt - (mx + log(s)));
        if (entropy) entropy[i] = (float)(log(s) - ws / s);
    }
}

// In place: z -> dlogits = g * (onehot(target) - softmax(z * it)), g = dlogp[i] * it.
static __global__ void dlogits_kernel(float *z, const int *rows, const int *targets, const float *dlogp, int V,
                                      float inv_temp) {
    float *zr = z + (size_t)blockIdx.x * V;
    int i = rows[blockIdx.x], t = targets[i];
    float mx = -INFINITY;
    for (int v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, zr[v] * inv_temp);
    mx = block_max(mx);
    double s = 0.0;
    for (int v = threadIdx.x; v < V; v += blockDim.x) s += expf(zr[v] * inv_temp - mx);
    s = block_sum(s);
    float g = dlogp[i] * inv_temp, a = (float)(-g / s);
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float d = expf(zr[v] * inv_temp - mx) * a;
        zr[v] = v == t ? d + g : d;
    }
}

static __global__ void cast_rows_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

// dx[rows[r]] += dxs[r]
static __global__ void scatter_add_kernel(float *dx, const float *dxs, const int *rows, int C) {
    float *d = dx + (size_t)rows[blockIdx.x] * C;
    const float *s = dxs + (size_t)blockIdx.x * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) d[c] += s[c];
}

// Scored rows on the device; their count (the chunk loop's bound) from the caller's host copy of the targets: a
// copy back of the device's count would make every call wait for the stream.
static int scored_rows(int **rows, const int *targets, const int *targets_host, int N) {
    *rows = (int *)cuda_scratch(SCR_ROWS, (size_t)N * sizeof(int));
    MG_LAUNCH(scored_rows_kernel, 1, SCAN_THREADS, 0, *rows, targets, N);
    int count = 0;
    for (int i = 0; i < N; i++) count += targets_host[i] >= 0;
    return count;
}

// The logits z (n, V) of rows[0..n): gathers x rows into xs (fp32) and runs the head GEMM.
static float *chunk_logits(float **xs_out, const float *x, const void *wlm, mg_dtype wt, const int *rows, int n,
                           int C, int V) {
    float *xs = (float *)cuda_scratch(SCR_XS, (size_t)CHUNK * C * sizeof(float));
    __nv_bfloat16 *xb = wt == MG_BF16 ? (__nv_bfloat16 *)cuda_scratch(SCR_CAST_A, (size_t)CHUNK * C * 2) : NULL;
    float *z = (float *)cuda_scratch(SCR_LOGITS, (size_t)CHUNK * V * sizeof(float));
    MG_LAUNCH(gather_x_kernel, n, 128, 0, xs, xb, x, rows, C);
    // z^T (V, n) = wlm[col-major (C, V)]^T @ xs^T (C, n)
    mg_gemm(1, 0, V, n, C, 1.0f, wlm, C, wt == MG_BF16 ? (const void *)xb : (const void *)xs, C, wt, 0.0f, z, V);
    *xs_out = xs;
    return z;
}

extern "C" void logprob_forward_cuda(float *logp, float *entropy, const float *x, const void *wlm, mg_dtype wt,
                                     const int *targets, const int *targets_host, int N, int C, int V,
                                     float inv_temp) {
    if (N <= 0) return;
    cuda_zero(logp, (size_t)N * sizeof(float));
    if (entropy) cuda_zero(entropy, (size_t)N * sizeof(float));
    int *rows, count = scored_rows(&rows, targets, targets_host, N);
    for (int r0 = 0; r0 < count; r0 += CHUNK) {
        int n = min(CHUNK, count - r0);
        float *xs, *z = chunk_logits(&xs, x, wlm, wt, rows + r0, n, C, V);
        MG_LAUNCH(logsoftmax_kernel, n, SM_THREADS, 0, logp, entropy, z, rows + r0, targets, V, inv_temp);
    }
}

extern "C" void logprob_backward_cuda(float *dx, float *dwlm, const float *dlogp, const float *x, const void *wlm,
                                      mg_dtype wt, const int *targets, const int *targets_host, int N, int C, int V,
                                      float inv_temp) {
    if (N <= 0 || (!dx && !dwlm)) return;
    cudaRequire(!dwlm || wt == MG_F32, "LM-head gradients need fp32 weights (full-parameter training)");
    int *rows, count = scored_rows(&rows, targets, targets_host, N);
    float *dxs = (float *)cuda_scratch(SCR_DXS, (size_t)CHUNK * C * sizeof(float));
    for (int r0 = 0; r0 < count; r0 += CHUNK) {
        int n = min(CHUNK, count - r0);
        float *xs, *z = chunk_logits(&xs, x, wlm, wt, rows + r0, n, C, V);
        MG_LAUNCH(dlogits_kernel, n, SM_THREADS, 0, z, rows + r0, targets, dlogp, V, inv_temp);
        if (dx) {
            // dxs^T (C, n) = wlm[col-major (C, V)] @ dz^T (V, n)
            const void *dz = z;
            if (wt == MG_BF16) {
                __nv_bfloat16 *zb = (__nv_bfloat16 *)cuda_scratch(SCR_LOGITS_BF16, (size_t)CHUNK * V * 2);
                MG_LAUNCH(cast_rows_bf16_kernel, mg_blocks((size_t)n * V, 256), 256, 0, zb, z, (size_t)n * V);
                dz = zb;
            }
            mg_gemm(0, 0, C, n, V, 1.0f, wlm, C, dz, V, wt, 0.0f, dxs, C);
            MG_LAUNCH(scatter_add_kernel, n, 128, 0, dx, dxs, rows + r0, C);
        }
        // dwlm (V, C) += dz^T @ xs  <=>  dwlm^T (C, V) += xs^T (C, n) @ dz (n, V)
        if (dwlm) mg_gemm(0, 1, C, V, n, 1.0f, xs, C, z, V, MG_F32, 1.0f, dwlm, C);
    }
}

extern "C" void logits_forward_cuda(float *logits, const float *x, const void *wlm, mg_dtype wt, int N, int C, int V) {
    if (N <= 0) return;
    const void *xo = mg_gemm_operand(x, (size_t)N * C, wt, SCR_CAST_A);
    // logits^T (V, N) = wlm[col-major (C, V)]^T @ x^T (C, N)
    mg_gemm(1, 0, V, N, C, 1.0f, wlm, C, xo, C, wt, 0.0f, logits, V);
}
