// The batch-invariant GEMM behind matmul_forward_invariant and lora_forward_invariant (kernels/ops.h), with its
// knobs exposed for the tests.
#pragma once
#include <stddef.h>

#include "kernels/ops.h"

// out (M, OC) with row stride ldo, from dots d = inp (M, K) row . W (OC, K) row in the fixed order:
//   accumulate = 0: out = d + bias (bias may be NULL)      accumulate = 1: out = fmaf(alpha, d, out)
// portable = 1 runs the plain-C form even where the AVX-512 one is compiled; both give identical bits.
void gemm_invariant(float *out, int ldo, const float *inp, const float *W, const float *bias, int M, int K, int OC,
                    float alpha, int accumulate, int portable);
// The same over several weight matrices sharing the input, in one pass of the threads.
void gemm_invariant_parts(const matmul_part *parts, int n_parts, const float *inp, int M, int K, float alpha,
                          int accumulate, int portable);
// out[j] = x (K) . row j (K) for n_rows rows stride floats apart, in the same fixed order, on the calling thread
// (attention's scores over a KV cache).
void dots_fixed_order(float *out, const float *x, const float *rows, int n_rows, size_t stride, int K);
// Which vector code this build runs: "AVX-512", "AVX2 + FMA" or "none (portable C only)".
const char *gemm_invariant_isa(void);
