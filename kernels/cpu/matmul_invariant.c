// Batch-invariant linear layers for inference (sampling, the KV-cache decode step, the LM head).
//
// A sampled completion must depend only on its own tokens, never on what else was in the batch. BLAS cannot promise
// that: it picks kernels and blockings by matrix shape, so a row's rounding changes with the row count. Here every
// output element is one dot product in the order of dot_fixed (kernels/cpu/dot_fixed.h):
//
//   dot(x, w) over K: 16 lanes; lane j accumulates fmaf(x[k], w[k], acc) for k = j, j + 16, j + 32, ... (positions
//   past K count as 0 * 0), then the lanes fold: j += j + 8 (j < 8), j += j + 4, j += j + 2, lane 0 + lane 1.
//
// Which rows share a tile, how many threads run, and whether the AVX-512, the AVX2 or the portable code runs cannot
// change a result, because fmaf is exactly rounded and the fold order is the same in all three. So invariance is
// structural, and the weights are read in place (nn.Linear layout, no packing): each call streams every weight row
// once per ROW_BLOCK rows of the batch, which is what the decode step (16-64 rows against megabytes of weights) needs.
#include <math.h>
#include <stddef.h>
#include <string.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/cpu/dot_fixed.h"
#include "kernels/cpu/matmul_invariant.h"
#include "kernels/ops.h"

enum { LANES = DOT_LANES, TM = 4, TN = 4, BLOCK_N = 16, ROW_BLOCK = 32 };

// ---- the portable form: the definition of the result ----

static void store_one(float *o, float d, const float *bias, float alpha, int accumulate) {
    *o = accumulate ? fmaf(alpha, d, *o) : bias ? d + *bias : d;
}

// out rows x[0..rows-1] against weight rows w[0..cols-1]; the caller's out/bias point at the tile's first column.
static void tile_portable(float *out, int ldo, const float *const *x, int rows, const float *const *w, int cols, int K,
                          const float *bias, float alpha, int accumulate) {
    for (int m = 0; m < rows; m++)
        for (int n = 0; n < cols; n++)
            store_one(out + (size_t)m * ldo + n, dot_fixed(x[m], w[n], K), bias ? bias + n : NULL, alpha,
                      accumulate);
}

// ---- AVX-512: the same arithmetic, 16 dot products in flight ----
#ifdef __AVX512F__
// Folds 16 accumulators at once. Each step adds lane j and lane j + half of the same accumulator (never two
// different ones) while packing two accumulators per vector; after four steps element 4 (a % 4) + a / 4 of the
// result holds accumulator a.
static __m512 fold16(const __m512 acc[16]) {
    __m512 s[8], u[4], v[2];
    for (int i = 0; i < 8; i++)  // j + 8: s[i] = [acc 2i lanes 0-7 | acc 2i+1 lanes 0-7]
        s[i] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * i], acc[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(acc[2 * i], acc[2 * i + 1], 0xEE));
    for (int i = 0; i < 4; i++)  // j + 4: 128-bit block b of u[i] = acc 4i + b, lanes 0-3
        u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], 0xDD));
    for (int i = 0; i < 2; i++)  // j + 2 within each block
        v[i] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_ps(v[0], v[1], _MM_SHUFFLE(2, 0, 2, 0)),  // lane 0 + lane 1
                         _mm512_shuffle_ps(v[0], v[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

static __mmask16 tail_mask(int n) { return (__mmask16)((1u << n) - 1); }

// The epilogue on up to 4 rows of up to 4 columns; q[m] holds row m's results.
static void store_rows4(float *out, int ldo, const __m128 q[TM], int rows, int cols, const float *bias, float alpha,
                        int accumulate) {
    __mmask8 mask = (__mmask8)tail_mask(cols);
    __m128 b = bias ? _mm_maskz_loadu_ps(mask, bias) : _mm_setzero_ps(), a = _mm_set1_ps(alpha);
    for (int m = 0; m < rows; m++) {
        float *o = out + (size_t)m * ldo;
        __m128 r = accumulate ? _mm_fmadd_ps(a, q[m], _mm_maskz_loadu_ps(mask, o)) : bias ? _mm_add_ps(q[m], b) : q[m];
        _mm_mask_storeu_ps(o, mask, r);
    }
}

// 4 input rows x 4 weight rows: per 16-wide chunk 8 loads feed 16 FMAs. prefetch, when not NULL, is the next
// 4 x K weight rows: the first row tile brings them in while it computes, because the decode step's weights come
// from L3 and the hardware prefetcher alone leaves the FMAs waiting on them.
static void tile4x4_avx512(float *out, int ldo, const float *const x[TM], int rows, const float *const w[TN], int cols,
                           int K, const float *bias, float alpha, int accumulate, const float *prefetch) {
    __m512 acc[TM * TN];  // acc[4 n + m], so that fold16 leaves row m's four results in 128-bit block m
    for (int a = 0; a < TM * TN; a++) acc[a] = _mm512_setzero_ps();
    // Masked loads only in the tail: in the main loop they would halve the FMA rate.
    int k = 0;
    for (; k + LANES <= K; k += LANES) {
        if (prefetch)
            for (int line = 0; line < TN; line++)
                _mm_prefetch((const char *)(prefetch + TN * k + LANES * line), _MM_HINT_T0);
        __m512 wv[TN];
        for (int n = 0; n < TN; n++) wv[n] = _mm512_loadu_ps(w[n] + k);
        for (int m = 0; m < TM; m++) {
            __m512 xv = _mm512_loadu_ps(x[m] + k);
            for (int n = 0; n < TN; n++) acc[TM * n + m] = _mm512_fmadd_ps(xv, wv[n], acc[TM * n + m]);
        }
    }
    if (k < K) {  // masked-off lanes load 0, so they run fmaf(0, 0, acc) like the portable form
        __mmask16 mask = tail_mask(K - k);
        __m512 wv[TN];
        for (int n = 0; n < TN; n++) wv[n] = _mm512_maskz_loadu_ps(mask, w[n] + k);
        for (int m = 0; m < TM; m++) {
            __m512 xv = _mm512_maskz_loadu_ps(mask, x[m] + k);
            for (int n = 0; n < TN; n++) acc[TM * n + m] = _mm512_fmadd_ps(xv, wv[n], acc[TM * n + m]);
        }
    }
    __m512 r = fold16(acc);
    __m128 q[TM] = {_mm512_extractf32x4_ps(r, 0), _mm512_extractf32x4_ps(r, 1), _mm512_extractf32x4_ps(r, 2),
                    _mm512_extractf32x4_ps(r, 3)};
    store_rows4(out, ldo, q, rows, cols, bias, alpha, accumulate);
}

// 1 input row x 16 weight rows, for a batch's last odd row (and batch-1 decoding): no duplicated rows to compute.
static void tile1x16_avx512(float *out, const float *x, const float *const w[BLOCK_N], int cols, int K,
                            const float *bias, float alpha, int accumulate) {
    __m512 acc[BLOCK_N];
    for (int a = 0; a < BLOCK_N; a++) acc[a] = _mm512_setzero_ps();
    int k = 0;
    for (; k + LANES <= K; k += LANES) {
        __m512 xv = _mm512_loadu_ps(x + k);
        for (int n = 0; n < BLOCK_N; n++) acc[n] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(w[n] + k), acc[n]);
    }
    if (k < K) {
        __mmask16 mask = tail_mask(K - k);
        __m512 xv = _mm512_maskz_loadu_ps(mask, x + k);
        for (int n = 0; n < BLOCK_N; n++) acc[n] = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(mask, w[n] + k), acc[n]);
    }
    // Output n sits at element 4 (n % 4) + n / 4 of the fold.
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512 r = _mm512_permutexvar_ps(order, fold16(acc));
    __mmask16 mask = tail_mask(cols);
    if (accumulate) r = _mm512_fmadd_ps(_mm512_set1_ps(alpha), r, _mm512_maskz_loadu_ps(mask, out));
    else if (bias) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask, bias));
    _mm512_mask_storeu_ps(out, mask, r);
}
#define HAVE_FAST_TILES 1
#define tile4x4_fast tile4x4_avx512
#define tile1x16_fast tile1x16_avx512
#elif defined(__AVX2__) && defined(__FMA__)
// ---- AVX2 + FMA (machines without AVX-512): the same arithmetic, a 16-lane accumulator as two ymm registers ----

// One accumulator's fold: lo + hi is j + 8, then j + 4 across the 128-bit halves, j + 2, lane 0 + lane 1.
static inline float fold_avx2(__m256 lo, __m256 hi) {
    __m256 s = _mm256_add_ps(lo, hi);
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// Elements k.. k+15 of p as two ymm, past n (< 16 left) zero: a masked load, as the AVX-512 tail.
static inline void load16_tail(__m256 *lo, __m256 *hi, const float *p, int n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    *lo = _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx));
    *hi = _mm256_maskload_ps(p + 8, _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), idx));
}

// r[nw m + n] = dot(x[m], w[n]) for NX x NW <= 4 accumulators (8 ymm) in flight; inlined with constant NX, NW.
// prefetch as in tile4x4_avx512: the next NW x K weight rows, a line per weight row per chunk.
static inline __attribute__((always_inline)) void dots_avx2(float *r, const float *const *x, int NX,
                                                             const float *const *w, int NW, int K,
                                                             const float *prefetch) {
    __m256 lo[4], hi[4];
    for (int a = 0; a < NX * NW; a++) lo[a] = hi[a] = _mm256_setzero_ps();
    int k = 0;
    for (; k + LANES <= K; k += LANES) {
        if (prefetch)
            for (int line = 0; line < NW; line++)
                _mm_prefetch((const char *)(prefetch + NW * k + LANES * line), _MM_HINT_T0);
        for (int m = 0; m < NX; m++) {
            __m256 xl = _mm256_loadu_ps(x[m] + k), xh = _mm256_loadu_ps(x[m] + k + 8);
            for (int n = 0; n < NW; n++) {
                lo[NW * m + n] = _mm256_fmadd_ps(xl, _mm256_loadu_ps(w[n] + k), lo[NW * m + n]);
                hi[NW * m + n] = _mm256_fmadd_ps(xh, _mm256_loadu_ps(w[n] + k + 8), hi[NW * m + n]);
            }
        }
    }
    if (k < K)
        for (int m = 0; m < NX; m++) {
            __m256 xl, xh, wl, wh;
            load16_tail(&xl, &xh, x[m] + k, K - k);
            for (int n = 0; n < NW; n++) {
                load16_tail(&wl, &wh, w[n] + k, K - k);
                lo[NW * m + n] = _mm256_fmadd_ps(xl, wl, lo[NW * m + n]);
                hi[NW * m + n] = _mm256_fmadd_ps(xh, wh, hi[NW * m + n]);
            }
        }
    for (int a = 0; a < NX * NW; a++) r[a] = fold_avx2(lo[a], hi[a]);
}

static void tile4x4_avx2(float *out, int ldo, const float *const x[TM], int rows, const float *const w[TN], int cols,
                         int K, const float *bias, float alpha, int accumulate, const float *prefetch) {
    // Row by row, 1 x 4: 10 loads feed 8 FMAs (2 x 2 would need 16 registers for accumulators and operands, and
    // gcc then loads the inputs twice).
    float r[TN];
    for (int m = 0; m < rows; m++) {
        dots_avx2(r, x + m, 1, w, TN, K, m == 0 ? prefetch : NULL);
        for (int n = 0; n < cols; n++)
            store_one(out + (size_t)m * ldo + n, r[n], bias ? bias + n : NULL, alpha, accumulate);
    }
}

static void tile1x16_avx2(float *out, const float *x, const float *const w[BLOCK_N], int cols, int K,
                          const float *bias, float alpha, int accumulate) {
    float r[4];
    for (int n = 0; n < BLOCK_N && n < cols; n += 4) {
        dots_avx2(r, &x, 1, w + n, 4, K, NULL);
        for (int j = 0; j < 4 && n + j < cols; j++)
            store_one(out + n + j, r[j], bias ? bias + n + j : NULL, alpha, accumulate);
    }
}
#define HAVE_FAST_TILES 1
#define tile4x4_fast tile4x4_avx2
#define tile1x16_fast tile1x16_avx2
#endif

// ---- the driver: tiles, edges, threads ----

// Weight rows n0.. n0+n-1; past OC the last row repeats (those results are never stored), so edge tiles run the
// same code as full ones. Same for input rows.
static void row_pointers(const float **p, const float *base, int first, int n, int count, int ld) {
    for (int i = 0; i < n; i++) p[i] = base + (size_t)(first + i < count ? first + i : count - 1) * ld;
}

static void run_block(const matmul_part *part, const float *inp, int K, int m_lo, int m_hi, int n0, float alpha,
                      int accumulate, int portable) {
#ifndef HAVE_FAST_TILES
    (void)portable;  // nothing but the portable form here
#endif
    const float *W = part->weight, *bias = part->bias;
    float *out = part->out;
    int OC = part->OC, ldo = part->ldo, n_hi = n0 + BLOCK_N < OC ? n0 + BLOCK_N : OC;
    // Rows in 4-row tiles, except a last single row, which runs alone (1 x 16) instead of as a 4-row duplicate.
    int m_tiles_end = (m_hi - m_lo) % TM == 1 ? m_hi - 1 : m_hi;
    for (int n = n0; n < n_hi; n += TN) {
        const float *w[TN];
        row_pointers(w, W, n, TN, OC, K);
        int cols = n_hi - n < TN ? n_hi - n : TN;
        for (int m = m_lo; m < m_tiles_end; m += TM) {
            const float *x[TM];
            row_pointers(x, inp, m, TM, m_tiles_end, K);
            int rows = m_tiles_end - m < TM ? m_tiles_end - m : TM;
            float *o = out + (size_t)m * ldo + n;
            const float *b = bias ? bias + n : NULL;
#ifdef HAVE_FAST_TILES
            if (!portable) {
                const float *next = m == m_lo && n + TN < OC ? W + (size_t)(n + TN) * K : NULL;
                tile4x4_fast(o, ldo, x, rows, w, cols, K, b, alpha, accumulate, next);
                continue;
            }
#endif
            tile_portable(o, ldo, x, rows, w, cols, K, b, alpha, accumulate);
        }
    }
    if (m_tiles_end == m_hi) return;
    const float *w[BLOCK_N], *x = inp + (size_t)(m_hi - 1) * K;
    row_pointers(w, W, n0, BLOCK_N, OC, K);
    float *o = out + (size_t)(m_hi - 1) * ldo + n0;
    const float *b = bias ? bias + n0 : NULL;
#ifdef HAVE_FAST_TILES
    if (!portable) {
        tile1x16_fast(o, x, w, n_hi - n0, K, b, alpha, accumulate);
        return;
    }
#endif
    tile_portable(o, ldo, &x, 1, w, n_hi - n0, K, b, alpha, accumulate);
}

const char *gemm_invariant_isa(void) {
#if defined(__AVX512F__)
    return "AVX-512";
#elif defined(HAVE_FAST_TILES)
    return "AVX2 + FMA";
#else
    return "none (portable C only)";
#endif
}

void dots_fixed_order(float *out, const float *x, const float *rows, int n_rows, size_t stride, int K) {
    for (int j0 = 0; j0 < n_rows; j0 += BLOCK_N) {
        const float *w[BLOCK_N];
        int n = n_rows - j0 < BLOCK_N ? n_rows - j0 : BLOCK_N;
        for (int j = 0; j < BLOCK_N; j++) w[j] = rows + (size_t)(j0 + (j < n ? j : n - 1)) * stride;
#ifdef HAVE_FAST_TILES
        tile1x16_fast(out + j0, x, w, n, K, NULL, 1.0f, 0);
#else
        tile_portable(out + j0, 0, &x, 1, w, n, K, NULL, 1.0f, 0);
#endif
    }
}

void gemm_invariant_parts(const matmul_part *parts, int n_parts, const float *inp, int M, int K, float alpha,
                          int accumulate, int portable) {
    if (M <= 0 || n_parts <= 0) return;
    // Work items are 16-column blocks of all parts in turn; each costs the same (M x K), so an even split of their
    // count balances the threads. Each output is written by one thread, so the split changes nothing.
    enum { MAX_PARTS = 8 };
    if (n_parts > MAX_PARTS) {  // more parts than one pass takes: run them in passes of MAX_PARTS
        gemm_invariant_parts(parts, MAX_PARTS, inp, M, K, alpha, accumulate, portable);
        gemm_invariant_parts(parts + MAX_PARTS, n_parts - MAX_PARTS, inp, M, K, alpha, accumulate, portable);
        return;
    }
    int first_block[MAX_PARTS + 1] = {0};
    size_t flops = 0;
    for (int p = 0; p < n_parts; p++) {
        first_block[p + 1] = first_block[p] + (parts[p].OC + BLOCK_N - 1) / BLOCK_N;
        flops += (size_t)M * K * parts[p].OC;
    }
    int n_blocks = first_block[n_parts];
    // Within a thread, blocks of ROW_BLOCK input rows stay in cache while its weight rows stream past them.
    #pragma omp parallel if (flops > 32768)
    {
        int nth = 1, th = 0;
#ifdef _OPENMP
        nth = omp_get_num_threads(), th = omp_get_thread_num();
#endif
        int b0 = (int)((long)n_blocks * th / nth), b1 = (int)((long)n_blocks * (th + 1) / nth);
        for (int mb = 0; mb < M; mb += ROW_BLOCK) {
            int p = 0;
            for (int blk = b0; blk < b1; blk++) {
                while (blk >= first_block[p + 1]) p++;
                run_block(&parts[p], inp, K, mb, mb + ROW_BLOCK < M ? mb + ROW_BLOCK : M,
                          (blk - first_block[p]) * BLOCK_N, alpha, accumulate, portable);
            }
        }
    }
}

void gemm_invariant(float *out, int ldo, const float *inp, const float *W, const float *bias, int M, int K, int OC,
                    float alpha, int accumulate, int portable) {
    if (OC <= 0) return;
    matmul_part part = {out, W, bias, OC, ldo};
    gemm_invariant_parts(&part, 1, inp, M, K, alpha, accumulate, portable);
}

void matmul_forward_invariant_parts(const matmul_part *parts, int n_parts, const float *inp, int N, int IC) {
    gemm_invariant_parts(parts, n_parts, inp, N, IC, 1.0f, 0, 0);
}

void matmul_forward_invariant(float *out, const float *inp, const float *weight, const float *bias, int N, int IC,
                              int OC) {
    gemm_invariant(out, OC, inp, weight, bias, N, IC, OC, 1.0f, 0, 0);
}

void lora_forward_invariant(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC,
                            int OC, int ldo, int R, float scale) {
    gemm_invariant(h, R, inp, A, NULL, N, IC, R, 1.0f, 0, 0);       // h (N, R) = inp @ A^T
    gemm_invariant(out, ldo, h, B, NULL, N, R, OC, scale, 1, 0);    // out (N, OC) = fmaf(scale, h @ B^T, out)
}
