#include "testing.h"

#include <math.h>
#include <stdlib.h>

int g_tests_passed = 0, g_tests_failed = 0;

float max_abs_diff(const float *a, const float *b, long n, long *where) {
    float worst = 0.0f;
    long at = 0;
    for (long i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (d > worst || isnan(d)) {
            worst = isnan(d) ? INFINITY : d;
            at = i;
        }
    }
    if (where) *where = at;
    return worst;
}

float max_rel_diff(const float *a, const float *b, long n, float floor) {
    float scale = floor;
    for (long i = 0; i < n; i++)
        if (fabsf(b[i]) > scale) scale = fabsf(b[i]);
    return max_abs_diff(a, b, n, NULL) / scale;
}

int test_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, g_tests_passed, g_tests_failed);
    return g_tests_failed ? 1 : 0;
}

float *rand_uniform_array(uint64_t *state, long n, float scale) {
    float *a = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!a) {
        fprintf(stderr, "out of memory in a test\n");
        exit(1);
    }
    for (long i = 0; i < n; i++) {
        uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        a[i] = (float)((2.0 * ((double)(z >> 11) * 0x1.0p-53) - 1.0) * scale);
    }
    return a;
}
