// Linear layers and LoRA adapters through BLAS. Weights use nn.Linear's (OC, IC) layout, so the forward is
// inp @ W^T and no weight is ever transposed in memory.
#include <cblas.h>

#include "kernels/ops.h"

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int IC, int OC) {
    // out (N, OC) = inp (N, IC) @ weight^T (IC, OC)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, weight, IC, 0.0f, out, OC);
    if (bias) {
        #pragma omp parallel for
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OC; o++) out[(size_t)i * OC + o] += bias[o];
    }
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int N, int IC, int OC) {
    // dinp (N, IC) += dout (N, OC) @ weight (OC, IC)
    if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, weight, IC, 1.0f, dinp, IC);
    // dweight (OC, IC) += dout^T (OC, N) @ inp (N, IC)
    if (dweight) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
    if (dbias) {
        #pragma omp parallel for
        for (int o = 0; o < OC; o++) {
            float acc = 0.0f;
            for (int i = 0; i < N; i++) acc += dout[(size_t)i * OC + o];
            dbias[o] += acc;
        }
    }
}

void lora_forward(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC, int OC,
                  int ldo, int R, float scale) {
    // h (N, R) = inp (N, IC) @ A^T (IC, R)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, R, IC, 1.0f, inp, IC, A, IC, 0.0f, h, R);
    // out (N, OC; stride ldo) += scale * h (N, R) @ B^T (R, OC)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, R, scale, h, R, B, R, 1.0f, out, ldo);
}

void lora_backward(float *dinp, float *dA, float *dB, float *dh, const float *dout, const float *inp,
                   const float *h, const float *A, const float *B, int N, int IC, int OC, int R, float scale) {
    // dB (OC, R) += scale * dout^T (OC, N) @ h (N, R)
    if (dB) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, R, N, scale, dout, OC, h, R, 1.0f, dB, R);
    if (!dA && !dinp) return;
    // dh (N, R) = scale * dout (N, OC) @ B (OC, R)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, R, OC, scale, dout, OC, B, R, 0.0f, dh, R);
    // dA (R, IC) += dh^T (R, N) @ inp (N, IC)
    if (dA) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, R, IC, N, 1.0f, dh, R, inp, IC, 1.0f, dA, IC);
    // dinp (N, IC) += dh (N, R) @ A (R, IC)
    if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, R, 1.0f, dh, R, A, IC, 1.0f, dinp, IC);
}
