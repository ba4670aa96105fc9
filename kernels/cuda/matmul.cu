// Linear layers and LoRA adapters through cuBLAS. cuBLAS is column-major: it reads a row-major (R, C) array as
// its (C, R) transpose. So out (N, OC) = inp @ W^T is computed as out^T (OC, N) = op(W) @ inp^T with op = transpose
// of what cuBLAS sees; every call below names the column-major product it computes. bf16 weights: the activation
// operand is cast to bf16 (scratch), the product accumulates in fp32 on tensor cores and lands in fp32. fp32
// weights: a true fp32 GEMM (CUBLAS_COMPUTE_32F, no TF32).
#include "kernels/cuda/cuda_common.h"

// out (N, ld) columns 0..OC-1 += bias (OC)
static __global__ void add_bias_kernel(float *out, const float *bias, int N, int OC, int ld) {
    size_t n = (size_t)N * OC;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i / OC * ld + i % OC] += bias[i % OC];
}

static void add_bias(float *out, const float *bias, int N, int OC, int ld) {
    MG_LAUNCH(add_bias_kernel, mg_blocks((size_t)N * OC, 256), 256, 0, out, bias, N, OC, ld);
}

// dbias (OC) += column sums of dout (N, OC): one thread per column, rows in order.
static __global__ void bias_grad_kernel(float *dbias, const float *dout, int N, int OC) {
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= OC) return;
    float acc = 0.0f;
    for (int i = 0; i < N; i++) acc += dout[(size_t)i * OC + o];
    dbias[o] += acc;
}

extern "C" void matmul_forward_cuda(float *out, const float *inp, const void *W, mg_dtype wt, const float *bias, int N,
                                    int IC, int OC) {
    if (N <= 0) return;
    const void *x = mg_gemm_operand(inp, (size_t)N * IC, wt, SCR_CAST_A);
    // out^T (OC, N) = W^T[col-major (IC, OC)]^T (OC, IC) @ inp^T (IC, N)
    mg_gemm(1, 0, OC, N, IC, 1.0f, W, IC, x, IC, wt, 0.0f, out, OC);
    if (bias) add_bias(out, bias, N, OC, OC);
}

// The activation operand of a GEMM with weights of type wt: inp as it is when its producer already wrote it in wt,
// else a bf16 copy in scratch (fp32 inp, bf16 weights).
static const void *operand(const void *inp, mg_dtype it, size_t n, mg_dtype wt) {
    cudaRequire(it == wt || it == MG_F32, "a GEMM operand is fp32 or of the weights' type");
    return it == wt ? inp : mg_gemm_operand((const float *)inp, n, wt, SCR_CAST_A);
}

// Parts one after another in memory (W[j] right after W[j-1]'s rows, likewise the biases) make one matrix.
template <typename T> static int contiguous(const T *const *p, const int *parts, int n_parts, size_t row_bytes) {
    for (int j = 1; j < n_parts; j++)
        if (!p[j] || (const char *)p[j] != (const char *)p[j - 1] + parts[j - 1] * row_bytes) return 0;
    return p[0] != NULL;
}

extern "C" void matmul_forward_parts_cuda(float *out, const void *inp, mg_dtype it, const void *const *W,
                                          const float *const *b, const int *parts, int n_parts, mg_dtype wt, int N,
                                          int IC) {
    if (N <= 0) return;
    int OC = 0;
    for (int j = 0; j < n_parts; j++) OC += parts[j];
    const void *x = operand(inp, it, (size_t)N * IC, wt);
    if (contiguous(W, parts, n_parts, (size_t)IC * mg_dtype_size(wt))) {
        // out^T (OC, N) = [W_0; W_1; ...] (OC, IC) @ inp^T (IC, N): one GEMM reads every part's weights
        mg_gemm(1, 0, OC, N, IC, 1.0f, W[0], IC, x, IC, wt, 0.0f, out, OC);
    } else {  // each part into its columns: out^T rows off.. with leading dimension OC
        for (int j = 0, off = 0; j < n_parts; off += parts[j++])
            mg_gemm(1, 0, parts[j], N, IC, 1.0f, W[j], IC, x, IC, wt, 0.0f, out + off, OC);
    }
    if (!b) return;
    if (contiguous(b, parts, n_parts, sizeof(float))) {
        add_bias(out, b[0], N, OC, OC);
    } else {
        for (int j = 0, off = 0; j < n_parts; off += parts[j++])
            if (b[j]) add_bias(out + off, b[j], N, parts[j], OC);
    }
}

extern "C" void matmul_forward_acc_cuda(float *out, const void *inp, mg_dtype it, const void *W, mg_dtype wt, int N,
                                        int IC, int OC) {
    if (N <= 0) return;
    const void *x = operand(inp, it, (size_t)N * IC, wt);
    // out^T (OC, N) = W^T[col-major (IC, OC)]^T (OC, IC) @ inp^T (IC, N) + out^T
    mg_gemm(1, 0, OC, N, IC, 1.0f, W, IC, x, IC, wt, 1.0f, out, OC);
}

extern "C" void matmul_backward_cuda(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                     const void *W, mg_dtype wt, int N, int IC, int OC) {
    if (N <= 0) return;
    if (dinp) {
        // dinp^T (IC, N) += W[col-major (IC, OC)] @ dout^T (OC, N)
        const void *d = mg_gemm_operand(dout, (size_t)N * OC, wt, SCR_CAST_B);
        mg_gemm(0, 0, IC, N, OC, 1.0f, W, IC, d, OC, wt, 1.0f, dinp, IC);
    }
    if (dweight) {
        cudaRequire(wt == MG_F32, "weight gradients need fp32 weights (full-parameter training keeps fp32 masters)");
        // dW^T (IC, OC) += inp^T (IC, N) @ dout^T^T (N, OC)
        mg_gemm(0, 1, IC, OC, N, 1.0f, inp, IC, dout, OC, MG_F32, 1.0f, dweight, IC);
    }
    if (dbias) MG_LAUNCH(bias_grad_kernel, (OC + 127) / 128, 128, 0, dbias, dout, N, OC);
}

// LoRA in fp32 (A (R, IC), B (OC, R), h (N, R)): out += scale * (inp @ A^T) @ B^T.
extern "C" void lora_forward_ld_cuda(float *out, int ldo, float *h, const float *inp, const float *A, const float *B,
                                     int N, int IC, int OC, int R, float scale) {
    if (N <= 0) return;
    // h^T (R, N) = A^T[col-major (IC, R)]^T @ inp^T (IC, N)
    mg_gemm(1, 0, R, N, IC, 1.0f, A, IC, inp, IC, MG_F32, 0.0f, h, R);
    // out^T (OC, N) += scale * B[col-major (R, OC)]^T @ h^T (R, N), out^T's columns ldo apart
    mg_gemm(1, 0, OC, N, R, scale, B, R, h, R, MG_F32, 1.0f, out, ldo);
}

extern "C" void lora_forward_cuda(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC,
                                  int OC, int R, float scale) {
    lora_forward_ld_cuda(out, OC, h, inp, A, B, N, IC, OC, R, scale);
}

extern "C" void lora_backward_cuda(float *dinp, float *dA, float *dB, float *dh, const float *dout, const float *inp,
                                   const float *h, const float *A, const float *B, int N, int IC, int OC, int R,
                                   float scale) {
    if (N <= 0) return;
    // dB (OC, R) += scale dout^T @ h  <=>  dB^T (R, OC) += scale h^T (R, N) @ dout^T^T (N, OC)
    if (dB) mg_gemm(0, 1, R, OC, N, scale, h, R, dout, OC, MG_F32, 1.0f, dB, R);
    if (!dA && !dinp) return;
    // dh (N, R) = scale dout @ B  <=>  dh^T (R, N) = scale B[col-major (R, OC)] @ dout^T (OC, N)
    mg_gemm(0, 0, R, N, OC, scale, B, R, dout, OC, MG_F32, 0.0f, dh, R);
    // dA (R, IC) += dh^T @ inp  <=>  dA^T (IC, R) += inp^T (IC, N) @ dh^T^T (N, R)
    if (dA) mg_gemm(0, 1, IC, R, N, 1.0f, inp, IC, dh, R, MG_F32, 1.0f, dA, IC);
    // dinp (N, IC) += dh @ A  <=>  dinp^T (IC, N) += A[col-major (IC, R)] @ dh^T (R, N)
    if (dinp) mg_gemm(0, 0, IC, N, R, 1.0f, A, IC, dh, R, MG_F32, 1.0f, dinp, IC);
}
