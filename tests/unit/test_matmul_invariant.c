// The batch-invariant GEMM's vector code (kernels/cpu/matmul_invariant.c) against its portable definition, bit for
// bit. CMake builds this test twice: against the library as compiled for this machine (AVX-512 here), and as
// test_matmul_invariant_avx2 with its own copy of matmul_invariant.c compiled with -mno-avx512f, so that the AVX2
// code is checked too on a machine that would never run it otherwise.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernels/cpu/dot_fixed.h"
#include "kernels/cpu/matmul_invariant.h"
#include "kernels/ops.h"
#include "testing.h"

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static float *rand_array(long n, float scale) { return rand_uniform_array(&g_rng, n, scale); }

int main(void) {
    printf("batch-invariant GEMM, vector code: %s\n", gemm_invariant_isa());
    long mismatches = 0, compared = 0;
    // The fast path against the definition, bit for bit: K below, at and past one 16-lane chunk, with and without a
    // tail; row and column counts around the 4x4 tile; both epilogues; values of mixed magnitude so rounding bites.
    static const int Ks[] = {1, 7, 16, 17, 31, 64, 100, 384};
    static const int Ms[] = {1, 3, 4, 5, 16, 33};
    static const int OCs[] = {1, 4, 6, 64, 130};
    for (int ki = 0; ki < 8; ki++)
        for (int mi = 0; mi < 6; mi++)
            for (int oi = 0; oi < 5; oi++) {
                int K = Ks[ki], M = Ms[mi], O = OCs[oi];
                float *x = rand_array((long)M * K, 3.0f), *W = rand_array((long)O * K, 1.0f);
                float *b = rand_array(O, 1.0f), *fast = rand_array((long)M * O, 1.0f);
                float *slow = callocCheck((size_t)M * O, sizeof(float));
                for (int mode = 0; mode < 2; mode++) {  // 0: = dot + bias, 1: = fmaf(alpha, dot, out)
                    memcpy(slow, fast, sizeof(float) * M * O);
                    gemm_invariant(fast, O, x, W, b, M, K, O, 0.37f, mode, 0);
                    gemm_invariant(slow, O, x, W, b, M, K, O, 0.37f, mode, 1);
                    for (long i = 0; i < (long)M * O; i++) mismatches += memcmp(fast + i, slow + i, sizeof(float)) != 0;
                    compared += (long)M * O;
                }
                free(x), free(W), free(b), free(fast), free(slow);
            }
    // Attention's scores: dots_fixed_order over strided rows equals dot_fixed row by row.
    for (int ki = 0; ki < 2; ki++)
        for (int n_rows = 1; n_rows <= 40; n_rows += 13) {
            int K = ki ? 64 : 7, stride = K + 3;
            float *x = rand_array(K, 1.0f), *rows = rand_array((long)n_rows * stride, 1.0f);
            float *d = rand_array(n_rows, 1e3f);
            dots_fixed_order(d, x, rows, n_rows, (size_t)stride, K);
            for (int j = 0; j < n_rows; j++) {
                float want = dot_fixed(x, rows + (size_t)j * stride, K);
                mismatches += memcmp(&want, d + j, sizeof want) != 0;
            }
            compared += n_rows;
            free(x), free(rows), free(d);
        }
    printf("  %-44s %ld of %ld\n", "fast path != portable definition", mismatches, compared);
    CHECK(mismatches == 0, "the batch-invariant GEMM's fast path differs from its portable form in %ld outputs",
          mismatches);
    return test_summary("test_matmul_invariant");
}
