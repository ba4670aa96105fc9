// The one order of operations of the CPU kernels' dot products (decode attention, the batch-invariant GEMM, the
// training attention's small sums). A plain `s += a[i] * b[i]` is one chain of dependent adds, and a `simd
// reduction` would leave the order to the compiler and to the pointers' alignment; here the order is the source's,
// the same for every call whatever the batch, and the lane loop maps onto vector registers.
#pragma once
#include <math.h>

enum { DOT_LANES = 16 };

// Folds DOT_LANES partial sums: lane l += lane l + 8, then + 4, + 2, + 1.
static inline float fold_lanes(float *acc) {
    for (int w = DOT_LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

// a . b (n): lane l accumulates fmaf(a[i], b[i], acc) for i = l, l + 16, ...; positions past n count as 0 * 0, which
// is what a masked vector load gives (kernels/cpu/matmul_invariant.c's AVX-512 tiles equal this bit for bit).
static inline float dot_fixed(const float *a, const float *b, int n) {
    float acc[DOT_LANES] = {0};
    int i = 0;
    for (; i + DOT_LANES <= n; i += DOT_LANES) {
        #pragma omp simd
        for (int l = 0; l < DOT_LANES; l++) acc[l] = fmaf(a[i + l], b[i + l], acc[l]);
    }
    if (i < n)
        for (int l = 0; l < DOT_LANES; l++)
            acc[l] = i + l < n ? fmaf(a[i + l], b[i + l], acc[l]) : fmaf(0.0f, 0.0f, acc[l]);
    return fold_lanes(acc);
}
