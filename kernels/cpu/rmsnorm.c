// RMSNorm as Llama/Qwen2 define it: y = x / sqrt(mean(x^2) + eps) * weight (no mean subtraction, no bias).
#include <math.h>

#include "kernels/ops.h"

void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps) {
    #pragma omp parallel for
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *y = out + (size_t)i * C;
        float ss = 0.0f;
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / C + eps);
        if (rstd) rstd[i] = r;
        for (int c = 0; c < C; c++) y[c] = x[c] * r * weight[c];
    }
}

// With g = dout * weight: dx = rstd * g - x * rstd^3 * mean(g * x).
void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                      const float *rstd, int N, int C) {
    if (dinp) {
        #pragma omp parallel for
        for (int i = 0; i < N; i++) {
            const float *x = inp + (size_t)i * C, *d = dout + (size_t)i * C;
            float *dx = dinp + (size_t)i * C;
            float r = rstd[i], dot = 0.0f;
            for (int c = 0; c < C; c++) dot += d[c] * weight[c] * x[c];
            float k = r * r * r * dot / C;
            for (int c = 0; c < C; c++) dx[c] += r * d[c] * weight[c] - x[c] * k;
        }
    }
    if (dweight) {
        // Columns are independent, so parallelise over them; each sums its rows in a fixed order.
        #pragma omp parallel for
        for (int c = 0; c < C; c++) {
            float acc = 0.0f;
            for (int i = 0; i < N; i++) acc += dout[(size_t)i * C + c] * inp[(size_t)i * C + c] * rstd[i];
            dweight[c] += acc;
        }
    }
}
