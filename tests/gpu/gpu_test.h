// The start every program of tests/gpu/ shares. Without a device it prints "no CUDA device" and gives 77, which ctest
// counts as skipped (SKIP_RETURN_CODE); a device that cannot be set up is one line naming it and 1; otherwise the
// device is set up, named on stdout, and the result is 0.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/rng.h"
#include "kernels/cuda/ops_cuda.h"
#include "testing.h"

static inline int gpu_test_start(const char *prog, const char *note) {
    if (cuda_device_count() == 0) {
        printf("no CUDA device\n");
        return 77;
    }
    char err[256];
    if (cuda_init(0, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }
    printf("device: %s%s\n", cuda_device_name(), note);
    return 0;
}

// Ends a capture begun with cuda_graph_begin, replays the graph once and waits for it: 1 when it ran, 0 when the
// capture failed (a failed check naming `what`: the captured calls copied back or waited).
static inline int replay_capture(const char *what) {
    void *graph = cuda_graph_end();
    CHECK(graph != NULL, "%s: capturing failed", what);
    if (!graph) return 0;
    cuda_graph_launch(graph);
    cuda_sync();
    cuda_graph_free(graph);
    return 1;
}

// Test data: n host floats uniform in [-scale, scale), a new stream of the counter-based generator per call.
static uint64_t g_gpu_test_seed = 1;
static inline float *hrand(size_t n, float scale) {
    float *a = mallocCheck(n * sizeof(float));
    uint64_t s = g_gpu_test_seed++;
    for (size_t i = 0; i < n; i++) a[i] = scale * (2.0f * rng_uniform(s, 0, i) - 1.0f);
    return a;
}
static inline float *hzeros(size_t n) { return callocCheck(n, sizeof(float)); }
static inline float *hcopy(const float *a, size_t n) {
    float *b = mallocCheck(n * sizeof(float));
    memcpy(b, a, n * sizeof(float));
    return b;
}
// The parity tests' error measure: max|got - want| / max(max|want|, 1e-6).
static inline float rel(const float *got, const float *want, size_t n) {
    return max_rel_diff(got, want, (long)n, 1e-6f);
}
// Device copies of host arrays and back (the caller frees with cuda_free / free).
static inline float *dputf(const float *h, size_t n) {
    float *d = cuda_malloc(n * sizeof(float));
    cuda_h2d(d, h, n * sizeof(float));
    return d;
}
static inline int *dputi(const int *h, size_t n) {
    int *d = cuda_malloc(n * sizeof(int));
    cuda_h2d(d, h, n * sizeof(int));
    return d;
}
static inline float *dget(const float *d, size_t n) {
    float *h = mallocCheck(n * sizeof(float));
    cuda_d2h(h, d, n * sizeof(float));
    return h;
}
