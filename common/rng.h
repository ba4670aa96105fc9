// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). A draw is a pure function of
// (key, stream, counter): no hidden state advances, so the numbers a sample sees do not depend on batching,
// thread count or which rank drew them, and resuming needs only the counters the caller already has.
#pragma once
#include <stdint.h>

// Four 32-bit outputs for one 128-bit counter (stream high, counter low) under a 64-bit key.
void philox4x32(uint64_t key, uint64_t stream, uint64_t counter, uint32_t out[4]);

// A well-mixed 64-bit key from several integers, e.g. rng_mix3(seed, problem, iteration).
uint64_t rng_mix(uint64_t a, uint64_t b);
static inline uint64_t rng_mix3(uint64_t a, uint64_t b, uint64_t c) { return rng_mix(rng_mix(a, b), c); }

// Uniform in [0, 1) with 24 random bits (exactly representable floats).
float rng_uniform(uint64_t key, uint64_t stream, uint64_t counter);
// Standard normal via Box-Muller on one Philox block.
float rng_normal(uint64_t key, uint64_t stream, uint64_t counter);

// Draws n of the P items of pop without replacement, into pop[0..n) in draw order: a partial Fisher-Yates shuffle
// whose i-th swap uses Philox block (key, 0, i), so a seed draws the same problems on every machine. n <= P.
void rng_draw_prefix(uint64_t key, int *pop, int P, int n);
