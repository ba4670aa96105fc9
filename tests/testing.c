#include "testing.h"

#include <math.h>

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
