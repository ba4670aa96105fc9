// SwiGLU gate of the Llama MLP: out = silu(gate) * up, silu(g) = g * sigmoid(g).
#include <math.h>

#include "kernels/cpu/fast_exp.h"
#include "kernels/ops.h"

// sigmoid(g) from exp(-|g|) <= 1, so that the vectorisable exp_nonpos covers every g: libm's expf does not
// vectorise, and it was most of the MLP's elementwise time. Relative error a few float ulp.
static inline float sigmoid(float g) {
    float e = exp_nonpos(-fabsf(g)), inv = 1.0f / (1.0f + e);
    return g >= 0.0f ? inv : e * inv;
}

void swiglu_forward(float *out, const float *gate, const float *up, int N, int F) {
    size_t n = (size_t)N * F;
    #pragma omp parallel for simd
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g * sigmoid(g) * up[i];
    }
}

// d silu(g) / dg = sig(g) * (1 + g * (1 - sig(g))). The training step always wants both gradients; the one-sided
// calls keep a loop of their own so that the common one has no branch to stop it vectorising.
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int N, int F) {
    size_t n = (size_t)N * F;
    if (dgate && dup) {
        #pragma omp parallel for simd
        for (size_t i = 0; i < n; i++) {
            float g = gate[i], sig = sigmoid(g);
            dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
            dup[i] += dout[i] * g * sig;
        }
    } else if (dgate) {
        #pragma omp parallel for simd
        for (size_t i = 0; i < n; i++) {
            float g = gate[i], sig = sigmoid(g);
            dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
        }
    } else if (dup) {
        #pragma omp parallel for simd
        for (size_t i = 0; i < n; i++) dup[i] += dout[i] * gate[i] * sigmoid(gate[i]);
    }
}
