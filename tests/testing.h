// Minimal test harness: CHECK records a failure with file:line and keeps going; test_summary() prints the
// "N passed, N failed" closing line and returns the process exit code.
#pragma once
#include <stdint.h>
#include <stdio.h>

extern int g_tests_passed, g_tests_failed;

#define CHECK(cond, ...)                                                                                          \
    do {                                                                                                          \
        if (cond) {                                                                                               \
            g_tests_passed++;                                                                                     \
        } else {                                                                                                  \
            g_tests_failed++;                                                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                       \
            fprintf(stderr, __VA_ARGS__);                                                                         \
            fputc('\n', stderr);                                                                                  \
        }                                                                                                         \
    } while (0)

// Largest |a - b| over n elements; also returns the index of the worst element.
float max_abs_diff(const float *a, const float *b, long n, long *where);
// max |a-b| / max(max|b|, floor): relative error measured against the reference's scale.
float max_rel_diff(const float *a, const float *b, long n, float floor);
int test_summary(const char *name);
// n floats uniform in [-scale, scale) from a splitmix64 stream whose state advances: deterministic test inputs.
float *rand_uniform_array(uint64_t *state, long n, float scale);
