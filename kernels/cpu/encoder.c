// Token embedding lookup.
#include <string.h>

#include "kernels/ops.h"

void encoder_forward(float *out, const int *tokens, const float *wte, int N, int C) {
    #pragma omp parallel for
    for (int i = 0; i < N; i++) memcpy(out + (size_t)i * C, wte + (size_t)tokens[i] * C, (size_t)C * sizeof(float));
}

// Serial on purpose: two positions may hold the same token, and a fixed order keeps the sum deterministic.
void encoder_backward(float *dwte, const float *dout, const int *tokens, int N, int C) {
    if (!dwte) return;
    for (int i = 0; i < N; i++) {
        float *row = dwte + (size_t)tokens[i] * C;
        const float *d = dout + (size_t)i * C;
        for (int c = 0; c < C; c++) row[c] += d[c];
    }
}
