// Philox4x32-10 core, shared by the CPU (common/rng.c) and the CUDA kernels (kernels/cuda/sample.cu) so that a
// token sampled on the GPU uses the very same uniform draw as on the CPU. Header-only, C and CUDA C++: MG_HD marks
// the functions __host__ __device__ under nvcc and plain static inline elsewhere. Integer arithmetic only, so host
// and device results are identical bit for bit; the one float step (24 bits times 2^-24) is exact.
#pragma once
#include <stdint.h>

#if defined(__CUDACC__)
#define MG_HD static inline __host__ __device__
#else
#define MG_HD static inline
#endif

// Constants from the Philox paper (Random123).
#define MG_PHILOX_M0 0xD2511F53u
#define MG_PHILOX_M1 0xCD9E8D57u
#define MG_PHILOX_W0 0x9E3779B9u
#define MG_PHILOX_W1 0xBB67AE85u

// Four 32-bit outputs for the 128-bit counter (stream high, counter low) under a 64-bit key.
MG_HD void mg_philox4x32(uint64_t key, uint64_t stream, uint64_t counter, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)MG_PHILOX_M0 * c0, p1 = (uint64_t)MG_PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += MG_PHILOX_W0;
        k1 += MG_PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

// Uniform in [0, 1) with 24 random bits: every value is an exactly representable float.
MG_HD float mg_philox_uniform(uint64_t key, uint64_t stream, uint64_t counter) {
    uint32_t r[4];
    mg_philox4x32(key, stream, counter, r);
    return (float)(r[0] >> 8) * (1.0f / 16777216.0f);
}
