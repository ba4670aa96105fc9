// The learners' exact gradient sum on the CPU (kernels/ops.h): every term is rounded to int64 at one scale, so
// integer sums give the same bits in any order and on any number of ranks. The CUDA twins (absmax_cuda,
// fixed_accumulate_cuda, fixed_to_float_cuda) give the same values element for element.
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "kernels/ops.h"

double absmax(const float *x, size_t n) {
    double amax = 0;
    for (size_t i = 0; i < n; i++) {
        double g = fabs((double)x[i]);
        amax = g <= DBL_MAX ? fmax(amax, g) : INFINITY;  // NaN too: fmax alone would pass over it
    }
    return amax;
}

void fixed_accumulate(int64_t *acc, const float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) acc[i] += (int64_t)llrint((double)x[i] * scale);
}

void fixed_to_float(float *x, const int64_t *acc, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((double)acc[i] / scale);
}
