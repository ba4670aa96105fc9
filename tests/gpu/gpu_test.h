// The start every program of tests/gpu/ shares. Without a device it prints "no CUDA device" and gives 77, which ctest
// counts as skipped (SKIP_RETURN_CODE); a device that cannot be set up is one line naming it and 1; otherwise the
// device is set up, named on stdout, and the result is 0.
#pragma once
#include <stdio.h>

#include "kernels/cuda/ops_cuda.h"

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
