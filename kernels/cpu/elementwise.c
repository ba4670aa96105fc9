// Small vector helpers shared by the model and the optimizer.
#include "kernels/ops.h"

void residual_forward(float *out, const float *a, const float *b, size_t n) {
    #pragma omp parallel for
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void add_inplace(float *acc, const float *x, size_t n) {
    #pragma omp parallel for
    for (size_t i = 0; i < n; i++) acc[i] += x[i];
}

void scale_inplace(float *x, float s, size_t n) {
    #pragma omp parallel for
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

// Partial sums over fixed 4096-element blocks, added in block order: the result does not depend on the number
// of threads, which keeps gradient clipping (and so training) reproducible across machines.
double sumsq(const float *g, size_t n) {
    enum { BLOCK = 4096 };
    size_t nb = (n + BLOCK - 1) / BLOCK;
    double total = 0.0;
    #pragma omp parallel for ordered schedule(static)
    for (size_t b = 0; b < nb; b++) {
        size_t end = (b + 1) * BLOCK < n ? (b + 1) * BLOCK : n;
        double acc = 0.0;
        for (size_t i = b * BLOCK; i < end; i++) acc += (double)g[i] * g[i];
        #pragma omp ordered
        total += acc;
    }
    return total;
}
