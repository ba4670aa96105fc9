#include "common/rng.h"

#include <math.h>

#include "common/philox.h"

// The Philox core lives in common/philox.h, which the CUDA sampler compiles for the device as well.
void philox4x32(uint64_t key, uint64_t stream, uint64_t counter, uint32_t out[4]) {
    mg_philox4x32(key, stream, counter, out);
}

// splitmix64 finaliser over a combination: cheap, and good enough to separate keys.
uint64_t rng_mix(uint64_t a, uint64_t b) {
    uint64_t z = a ^ (b + 0x9E3779B97F4A7C15ull + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float rng_uniform(uint64_t key, uint64_t stream, uint64_t counter) { return mg_philox_uniform(key, stream, counter); }

float rng_normal(uint64_t key, uint64_t stream, uint64_t counter) {
    uint32_t r[4];
    philox4x32(key, stream, counter, r);
    double u1 = ((double)(r[0] >> 8) + 1.0) / 16777217.0;  // (0, 1]: log is finite
    double u2 = (double)(r[1] >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void rng_draw_prefix(uint64_t key, int *pop, int P, int n) {
    for (int i = 0; i < n; i++) {
        uint32_t r[4];
        philox4x32(key, 0, (uint64_t)i, r);
        int j = i + (int)(((uint64_t)r[0] * (uint64_t)(P - i)) >> 32);
        int t = pop[i];
        pop[i] = pop[j], pop[j] = t;
    }
}
