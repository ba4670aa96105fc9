// exp(x) for x <= 0, vectorisable: softmaxes over a vocabulary (the LM head's log-softmax, the sampler) spend their
// time here, and libm's expf does not vectorise without -ffast-math. x = k ln2 + r with |r| <= ln2 / 2, then
// 2^k * p(r) with a degree-6 Taylor polynomial: relative error <= 2.3e-7 (2 float ulp), exp(0) = 1 exactly. x below
// -87 is clamped there, where exp is 1.6e-38: nothing next to a max-subtracted softmax's 1. NaN stays NaN.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float exp_nonpos(float x) {
    x = x < -87.0f ? -87.0f : x;
    // Adding 1.5 * 2^23 rounds x / ln2 to the integer k, which then sits in the low mantissa bits of kb.
    float kb = x * 1.44269504f + 12582912.0f, k = kb - 12582912.0f;
    float r = fmaf(k, -0.693145752f, x);  // ln2 in two parts, so r is exact
    r = fmaf(k, -1.42860677e-6f, r);
    float p = 1.0f / 720;
    p = fmaf(p, r, 1.0f / 120);
    p = fmaf(p, r, 1.0f / 24);
    p = fmaf(p, r, 1.0f / 6);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    // 2^k (k in [-126, 0]) built from kb's bits: integer ops only, so it vectorises, and a NaN x (which reaches
    // the result through p) meets no undefined float-to-int conversion.
    uint32_t kbits, bits;
    memcpy(&kbits, &kb, sizeof kbits);
    bits = (kbits - 0x4B400000u + 127u) << 23;
    float two_k;
    memcpy(&two_k, &bits, sizeof two_k);
    return p * two_k;
}
