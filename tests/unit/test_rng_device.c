// The Philox core the CUDA sampler runs (common/philox.h) against (1) Random123's known-answer vectors for
// Philox4x32-10, (2) an independent copy of the generator as common/rng.c wrote it before the core moved into
// the shared header (so the refactor kept every draw bit for bit), and (3) rng_uniform / philox4x32 as the CPU
// sampler calls them. The GPU run (tests/gpu/test_cuda_parity.c) then compares the device's draws with these.
#include <stdint.h>
#include <string.h>

#include "common/philox.h"
#include "common/rng.h"
#include "testing.h"

// The generator exactly as common/rng.c had it (mulhilo through a helper, uniform from r[0] >> 8).
static void ref_mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

static void ref_philox(uint64_t key, uint64_t stream, uint64_t counter, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        ref_mulhilo(0xD2511F53u, c0, &hi0, &lo0);
        ref_mulhilo(0xCD9E8D57u, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

static float ref_uniform(uint64_t key, uint64_t stream, uint64_t counter) {
    uint32_t r[4];
    ref_philox(key, stream, counter, r);
    return (float)(r[0] >> 8) * (1.0f / 16777216.0f);
}

// Random123 kat_vectors, "philox4x32 10": counter words ctr[0..3], key words key[0..1], expected output.
// Our counter layout: ctr[0..1] = counter (low, high), ctr[2..3] = stream (low, high); key = key[1]:key[0].
static void check_kat(void) {
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
        {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu,
         0xa20bc7c6u, 0x6d5451fdu},
        {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu,
         0x5001e420u, 0x24126ea1u},
    };
    for (int t = 0; t < 3; t++) {
        const uint32_t *v = kat[t];
        uint64_t counter = (uint64_t)v[1] << 32 | v[0], stream = (uint64_t)v[3] << 32 | v[2];
        uint64_t key = (uint64_t)v[5] << 32 | v[4];
        uint32_t got[4];
        mg_philox4x32(key, stream, counter, got);
        CHECK(memcmp(got, v + 6, sizeof got) == 0, "KAT %d: got %08x %08x %08x %08x", t, got[0], got[1], got[2],
              got[3]);
    }
}

int main(void) {
    check_kat();
    // Keys, streams and counters as the sampler forms them: small ids, large mixed keys, counters past 2^32.
    int mismatches = 0, n = 0;
    for (int a = 0; a < 64; a++) {
        uint64_t key = a < 8 ? (uint64_t)a : rng_mix3((uint64_t)a, 17, 3), stream = (uint64_t)a * 977u + (a > 40 ? 1ull << 40 : 0);
        for (int c = 0; c < 256; c++, n++) {
            uint64_t counter = c < 200 ? (uint64_t)c : ((uint64_t)c << 33) + 5;
            uint32_t want[4], got_hdr[4], got_api[4];
            ref_philox(key, stream, counter, want);
            mg_philox4x32(key, stream, counter, got_hdr);
            philox4x32(key, stream, counter, got_api);
            float u_ref = ref_uniform(key, stream, counter);
            float u_hdr = mg_philox_uniform(key, stream, counter), u_api = rng_uniform(key, stream, counter);
            if (memcmp(want, got_hdr, sizeof want) || memcmp(want, got_api, sizeof want) ||
                memcmp(&u_ref, &u_hdr, sizeof u_ref) || memcmp(&u_ref, &u_api, sizeof u_ref))
                mismatches++;
        }
    }
    CHECK(mismatches == 0, "%d of %d draws differ from the reference generator", mismatches, n);
    // The uniform is 24-bit: strictly below 1 and a multiple of 2^-24.
    int bad = 0;
    for (uint64_t c = 0; c < 4096; c++) {
        float u = mg_philox_uniform(99, 7, c);
        double scaled = (double)u * 16777216.0;
        if (!(u >= 0.0f && u < 1.0f) || scaled != (double)(uint32_t)scaled) bad++;
    }
    CHECK(bad == 0, "%d uniforms outside [0,1) or not on the 2^-24 grid", bad);
    return test_summary("test_rng_device");
}
