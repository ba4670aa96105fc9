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

// The two gradients of out = silu(g) * u at one element, sig = sigmoid(g): d silu(g) / dg = sig (1 + g (1 - sig)).
static inline float dgate_of(float dout, float g, float u, float sig) {
    return dout * u * sig * (1.0f + g * (1.0f - sig));
}
static inline float dup_of(float dout, float g, float sig) { return dout * g * sig; }

// The training step always wants both gradients; the one-sided calls keep a loop of their own so that the common
// one has no branch to stop it vectorising.
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int N, int F) {
    size_t n = (size_t)N * F;
    if (dgate && dup) {
        #pragma omp parallel for simd
        for (size_t i = 0; i < n; i++) {
            float sig = sigmoid(gate[i]);
            dgate[i] += dgate_of(dout[i], gate[i], up[i], sig);
            dup[i] += dup_of(dout[i], gate[i], sig);
        }
    } else if (dgate) {
        #pragma omp parallel for simd
        for (size_t i = 0; i < n; i++) dgate[i] += dgate_of(dout[i], gate[i], up[i], sigmoid(gate[i]));
    } else if (dup) {
        #pragma omp parallel for simd
        for (size_t i = 0; i < n; i++) dup[i] += dup_of(dout[i], gate[i], sigmoid(gate[i]));
    }
}
