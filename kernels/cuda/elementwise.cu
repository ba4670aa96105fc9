// Elementwise ops and small helpers: SwiGLU, residual adds, scaling, the gradient norm, bf16 casts, row
// gathers/scatters, weight upload and random fill. Grid-stride loops, 256 threads per block.
#include "common/philox.h"
#include "kernels/cuda/cuda_common.h"

enum { EW_THREADS = 256 };

#define GRID_STRIDE(i, n)                                                                                          \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)


// ---- SwiGLU: out = silu(gate) * up, silu(g) = g * sigmoid(g) ----
static __global__ void swiglu_fwd_kernel(float *out, const float *gate, const float *up, size_t n) {
    GRID_STRIDE(i, n) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// d silu(g) / dg = sig(g) * (1 + g * (1 - sig(g)))
static __global__ void swiglu_bwd_kernel(float *dgate, float *dup, const float *dout, const float *gate,
                                         const float *up, size_t n) {
    GRID_STRIDE(i, n) {
        float g = gate[i], sig = 1.0f / (1.0f + expf(-g));
        if (dgate) dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
        if (dup) dup[i] += dout[i] * g * sig;
    }
}

// Over gate|up rows gu (N, 2F), the fused GEMM's output; the same arithmetic as swiglu_fwd_kernel. out as T and,
// unless NULL, out32 in fp32.
template <typename T>
static __global__ void swiglu_parts_kernel(T *out, float *out32, const float *gu, int F, size_t n) {
    GRID_STRIDE(i, n) {
        const float *row = gu + i / F * 2 * F;
        float g = row[i % F], y = g / (1.0f + expf(-g)) * row[F + i % F];
        store_as(out, i, y);
        if (out32) out32[i] = y;
    }
}

extern "C" void swiglu_forward_parts_cuda(void *out, mg_dtype ot, float *out32, const float *gu, int N, int F) {
    size_t n = (size_t)N * F;
    if (!n) return;
    if (ot == MG_BF16)
        MG_LAUNCH(swiglu_parts_kernel<__nv_bfloat16>, mg_blocks(n, EW_THREADS), EW_THREADS, 0, (__nv_bfloat16 *)out,
                  out32, gu, F, n);
    else MG_LAUNCH(swiglu_parts_kernel<float>, mg_blocks(n, EW_THREADS), EW_THREADS, 0, (float *)out, out32, gu, F, n);
}

extern "C" void swiglu_forward_cuda(float *out, const float *gate, const float *up, int N, int F) {
    size_t n = (size_t)N * F;
    if (n) MG_LAUNCH(swiglu_fwd_kernel, mg_blocks(n, EW_THREADS), EW_THREADS, 0, out, gate, up, n);
}

extern "C" void swiglu_backward_cuda(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                     int N, int F) {
    size_t n = (size_t)N * F;
    if (n && (dgate || dup))
        MG_LAUNCH(swiglu_bwd_kernel, mg_blocks(n, EW_THREADS), EW_THREADS, 0, dgate, dup, dout, gate, up, n);
}

// ---- adds and scaling ----
static __global__ void residual_kernel(float *out, const float *a, const float *b, size_t n) {
    GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}
static __global__ void add_kernel(float *acc, const float *x, size_t n) {
    GRID_STRIDE(i, n) acc[i] += x[i];
}
static __global__ void scale_kernel(float *x, float s, size_t n) {
    GRID_STRIDE(i, n) x[i] *= s;
}

extern "C" void residual_forward_cuda(float *out, const float *a, const float *b, size_t n) {
    if (n) MG_LAUNCH(residual_kernel, mg_blocks(n, EW_THREADS), EW_THREADS, 0, out, a, b, n);
}
extern "C" void add_inplace_cuda(float *acc, const float *x, size_t n) {
    if (n) MG_LAUNCH(add_kernel, mg_blocks(n, EW_THREADS), EW_THREADS, 0, acc, x, n);
}
extern "C" void scale_inplace_cuda(float *x, float s, size_t n) {
    if (n) MG_LAUNCH(scale_kernel, mg_blocks(n, EW_THREADS), EW_THREADS, 0, x, s, n);
}

// ---- sum of squares in double, in a fixed order: SUMSQ_BLOCKS partials (each a fixed strided subset), then one
// block adds them in order. The grid does not depend on the device, so the result is reproducible. ----
enum { SUMSQ_BLOCKS = 256 };

static __global__ void sumsq_partial_kernel(double *part, const float *g, size_t n) {
    double acc = 0.0;
    GRID_STRIDE(i, n) acc += (double)g[i] * g[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) part[blockIdx.x] = acc;
}
static __global__ void sumsq_final_kernel(double *out, const double *part, int nparts) {
    double acc = 0.0;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) acc += part[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) *out = acc;
}

extern "C" double sumsq_cuda(const float *g, size_t n) {
    double *part = (double *)cuda_scratch(SCR_SUMSQ, (SUMSQ_BLOCKS + 1) * sizeof(double)), result = 0.0;
    if (!n) return 0.0;
    MG_LAUNCH(sumsq_partial_kernel, SUMSQ_BLOCKS, EW_THREADS, 0, part, g, n);
    MG_LAUNCH(sumsq_final_kernel, 1, EW_THREADS, 0, part + SUMSQ_BLOCKS, part, (int)SUMSQ_BLOCKS);
    cuda_d2h(&result, part + SUMSQ_BLOCKS, sizeof result);
    return result;
}

// ---- the exact (fixed-point) gradient sum's pieces: max is order-free, integer adds are exact ----
static __global__ void absmax_partial_kernel(double *part, const float *g, size_t n) {
    float m = 0.0f;
    GRID_STRIDE(i, n) m = fmaxf(m, fabsf(g[i]));
    m = block_max(m);
    if (threadIdx.x == 0) part[blockIdx.x] = m;
}
static __global__ void absmax_final_kernel(double *out, const double *part, int nparts) {
    float m = 0.0f;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) m = fmaxf(m, (float)part[i]);
    m = block_max(m);
    if (threadIdx.x == 0) *out = m;
}

extern "C" double absmax_cuda(const float *g, size_t n) {
    double *part = (double *)cuda_scratch(SCR_SUMSQ, (SUMSQ_BLOCKS + 1) * sizeof(double)), result = 0.0;
    if (!n) return 0.0;
    MG_LAUNCH(absmax_partial_kernel, SUMSQ_BLOCKS, EW_THREADS, 0, part, g, n);
    MG_LAUNCH(absmax_final_kernel, 1, EW_THREADS, 0, part + SUMSQ_BLOCKS, part, (int)SUMSQ_BLOCKS);
    cuda_d2h(&result, part + SUMSQ_BLOCKS, sizeof result);
    return result;
}

static __global__ void fixed_accumulate_kernel(int64_t *acc, const float *g, size_t n, double scale) {
    GRID_STRIDE(i, n) acc[i] += (int64_t)llrint((double)g[i] * scale);
}
static __global__ void fixed_to_float_kernel(float *out, const int64_t *acc, size_t n, double scale) {
    GRID_STRIDE(i, n) out[i] = (float)((double)acc[i] / scale);
}

extern "C" void fixed_accumulate_cuda(int64_t *acc, const float *g, size_t n, double scale) {
    if (n) MG_LAUNCH(fixed_accumulate_kernel, mg_blocks(n, EW_THREADS), EW_THREADS, 0, acc, g, n, scale);
}
extern "C" void fixed_to_float_cuda(float *out, const int64_t *acc, size_t n, double scale) {
    if (n) MG_LAUNCH(fixed_to_float_kernel, mg_blocks(n, EW_THREADS), EW_THREADS, 0, out, acc, n, scale);
}

// ---- bf16 casts ----
static __global__ void cast_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n) {
    GRID_STRIDE(i, n) dst[i] = __float2bfloat16_rn(src[i]);
}

const void *mg_gemm_operand(const float *x, size_t n, mg_dtype ab, int slot) {
    if (ab == MG_F32) return x;
    __nv_bfloat16 *dst = (__nv_bfloat16 *)cuda_scratch(slot, n * sizeof(__nv_bfloat16));
    if (n) MG_LAUNCH(cast_bf16_kernel, mg_blocks(n, EW_THREADS), EW_THREADS, 0, dst, x, n);
    return dst;
}

// Host fp32 -> device wt, through a staging buffer of at most 64M floats at a time.
extern "C" void cuda_upload_weights(void *dst, mg_dtype wt, const float *src, size_t n) {
    if (wt == MG_F32) {
        cuda_h2d(dst, src, n * sizeof(float));
        return;
    }
    const size_t chunk = (size_t)64 << 20;
    float *stage = (float *)cuda_scratch(SCR_UPLOAD, (n < chunk ? n : chunk) * sizeof(float));
    for (size_t off = 0; off < n; off += chunk) {
        size_t m = n - off < chunk ? n - off : chunk;
        cuda_h2d(stage, src + off, m * sizeof(float));
        MG_LAUNCH(cast_bf16_kernel, mg_blocks(m, EW_THREADS), EW_THREADS, 0, (__nv_bfloat16 *)dst + off, stage, m);
    }
}

// ---- random fill (benchmark weights): normal(0, std) by Box-Muller on one Philox block per element ----

template <typename T>
static __global__ void fill_kernel(T *dst, size_t n, float std, float value, uint64_t seed, uint64_t stream) {
    GRID_STRIDE(i, n) {
        float x = value;
        if (std > 0.0f) {
            uint32_t r[4];
            mg_philox4x32(seed, stream, i, r);
            float u1 = ((float)(r[0] >> 8) + 1.0f) * (1.0f / 16777217.0f), u2 = (float)(r[1] >> 8) * (1.0f / 16777216.0f);
            x = std * sqrtf(-2.0f * logf(u1)) * cosf(6.28318530718f * u2);
        }
        store_as(dst, i, x);
    }
}

extern "C" void cuda_fill(void *dst, mg_dtype wt, size_t n, float std, float value, uint64_t seed, uint64_t stream) {
    if (!n) return;
    if (wt == MG_BF16)
        MG_LAUNCH(fill_kernel<__nv_bfloat16>, mg_blocks(n, EW_THREADS), EW_THREADS, 0, (__nv_bfloat16 *)dst, n, std,
                  value, seed, stream);
    else
        MG_LAUNCH(fill_kernel<float>, mg_blocks(n, EW_THREADS), EW_THREADS, 0, (float *)dst, n, std, value, seed, stream);
}

// ---- row gathers and scatters: one block per row ----
static __global__ void gather_rows_kernel(float *dst, const float *src, const int *rows, int width) {
    const float *s = src + (size_t)rows[blockIdx.x] * width;
    float *d = dst + (size_t)blockIdx.x * width;
    for (int c = threadIdx.x; c < width; c += blockDim.x) d[c] = s[c];
}
static __global__ void scatter_rows_kernel(float *dst, const float *src, const int *rows, int width) {
    const float *s = src + (size_t)blockIdx.x * width;
    float *d = dst + (size_t)rows[blockIdx.x] * width;
    for (int c = threadIdx.x; c < width; c += blockDim.x) d[c] = s[c];
}

extern "C" void gather_rows_cuda(float *dst, const float *src, const int *rows, int n, int width) {
    if (n > 0) MG_LAUNCH(gather_rows_kernel, n, 128, 0, dst, src, rows, width);
}
extern "C" void scatter_rows_cuda(float *dst, const float *src, const int *rows, int n, int width) {
    if (n > 0) MG_LAUNCH(scatter_rows_kernel, n, 128, 0, dst, src, rows, width);
}
