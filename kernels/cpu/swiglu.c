// SwiGLU gate of the Llama MLP: out = silu(gate) * up, silu(g) = g * sigmoid(g).
#include <math.h>

#include "kernels/ops.h"

void swiglu_forward(float *out, const float *gate, const float *up, int N, int F) {
    size_t n = (size_t)N * F;
    #pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// d silu(g) / dg = sig(g) * (1 + g * (1 - sig(g)))
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int N, int F) {
    size_t n = (size_t)N * F;
    #pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], sig = 1.0f / (1.0f + expf(-g));
        if (dgate) dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
        if (dup) dup[i] += dout[i] * g * sig;
    }
}
