// Decode attention (attention_forward_pairwise) against its definition written out here, bit for bit: scores are
// dot_fixed products times 1/sqrt(D), the softmax subtracts the max, exponentiates with exp_nonpos and sums in key
// order, and each output element sums p_j v_j in key order from 0 with a separate multiply and add. The vector
// code (AVX-512 or AVX2) must give exactly these bits, so a sampled completion does not depend on which code ran.
// CMake builds the test twice: against the library (AVX-512 here), and as test_attention_decode_avx2 with its own
// copies of attention.c and matmul_invariant.c compiled with -mno-avx512f.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernels/cpu/dot_fixed.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/matmul_invariant.h"
#include "kernels/ops.h"
#include "testing.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

// out (Hq, D) for one query token against keys/values rows [start, start + len) of a (rows, Hkv, D) cache.
static void reference(float *out, const float *q, const float *k, const float *v, int start, int len, int Hq, int Hkv,
                      int D) {
    int group = Hq / Hkv, stride = Hkv * D;
    float scale = 1.0f / sqrtf((float)D), *p = callocCheck((size_t)len, sizeof(float));
    for (int h = 0; h < Hq; h++) {
        const float *qh = q + (size_t)h * D;
        int hk = h / group;
        float mx = -INFINITY, sum = 0.0f;
        for (int j = 0; j < len; j++) {
            p[j] = dot_fixed(qh, k + (size_t)(start + j) * stride + (size_t)hk * D, D) * scale;
            mx = p[j] > mx ? p[j] : mx;
        }
        for (int j = 0; j < len; j++) p[j] = exp_nonpos(p[j] - mx);
        for (int j = 0; j < len; j++) sum += p[j];
        float inv = 1.0f / sum;
        for (int j = 0; j < len; j++) p[j] *= inv;
        for (int d = 0; d < D; d++) {
            float acc = 0.0f;
            for (int j = 0; j < len; j++) {
                float t = p[j] * v[(size_t)(start + j) * stride + (size_t)hk * D + d];
                acc += t;
            }
            out[(size_t)h * D + d] = acc;
        }
    }
    free(p);
}

int main(void) {
    printf("decode attention against its definition (GEMM vector code: %s)\n", gemm_invariant_isa());
    // D around the vector widths (16, 32) with and without a tail; GQA groups of 1, 3 and 4; key ranges of one key
    // up to several 16-key blocks with a partial last one.
    static const int Ds[] = {16, 40, 64, 80, 128};
    static const int groups[][2] = {{2, 2}, {6, 2}, {8, 2}};
    static const int lens[] = {1, 5, 16, 33, 97};
    long compared = 0, mismatches = 0;
    for (int di = 0; di < 5; di++)
        for (int gi = 0; gi < 3; gi++) {
            int D = Ds[di], Hq = groups[gi][0], Hkv = groups[gi][1], N = 5, rows = 120;
            float *q = rand_uniform_array(&g_rng, (long)N * Hq * D, 2.0f);
            float *k = rand_uniform_array(&g_rng, (long)rows * Hkv * D, 2.0f);
            float *v = rand_uniform_array(&g_rng, (long)rows * Hkv * D, 1.0f);
            float *out = callocCheck((size_t)N * Hq * D, sizeof(float));
            float *ref = callocCheck((size_t)Hq * D, sizeof(float));
            float *scratch = callocCheck(attention_scratch_floats(rows), sizeof(float));
            int kv_start[5], kv_len[5];
            for (int i = 0; i < N; i++) kv_start[i] = 3 * i, kv_len[i] = lens[i];
            attention_forward_pairwise(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch);
            for (int i = 0; i < N; i++) {
                reference(ref, q + (size_t)i * Hq * D, k, v, kv_start[i], kv_len[i], Hq, Hkv, D);
                for (int e = 0; e < Hq * D; e++) mismatches += memcmp(&ref[e], &out[(size_t)i * Hq * D + e], 4) != 0;
                compared += Hq * D;
            }
            free(q), free(k), free(v), free(out), free(ref), free(scratch);
        }
    CHECK(mismatches == 0, "decode attention differs from its definition in %ld of %ld outputs", mismatches, compared);
    printf("  %ld outputs compared, %ld differ\n", compared, mismatches);
    return test_summary("test_attention_decode");
}
