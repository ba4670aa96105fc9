// Causal self-attention blocks of a packed training batch as GEMMs (cblas_sgemm). The pairwise code of
// attention.c spends two dot products and three axpys of length D per (query, key) pair; here one work item is a
// (block, KV head) pair, the G query heads of that KV head are stacked into one matrix (K and V are then operands
// once per group), and every product is a GEMM of (G x query rows) by keys by D:
//   forward:  S = Q K^T * scale, causal mask, row softmax -> P;  O = P V
//   backward: P again (the forward saves nothing);  dP = dO V^T;  dS = P * (dP - rowsum(P * dP)) * scale;
//             dQ += dS K;  dK += dS^T Q;  dV += P^T dO
// rowsum(P * dP) equals rowsum(dO * O), without O (not an argument of the backward).
//
// Query rows go in chunks of ROWS: a chunk needs the keys up to its own last row only, so most of the masked upper
// triangle is never computed, and S/P take (G x ROWS) x block length per thread, not block length squared.
//
// Determinism: every output row belongs to one (block, KV head) item, written by one thread; dK and dV gather the
// chunks in chunk order and the heads inside one GEMM's fixed reduction. cblas_sgemm is called inside the OpenMP
// region, where the OpenMP build of OpenBLAS runs single-threaded (it checks omp_in_parallel()): no second team
// per thread, and the same kernels whatever the thread count. A team of one thread is not "in parallel", but then
// omp_get_max_threads(), which OpenBLAS follows, is 1 as well.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "common/error.h"
#include "kernels/cpu/attention_gemm.h"
#include "kernels/cpu/dot_fixed.h"
#include "kernels/cpu/fast_exp.h"

enum { ROWS = 64, LANES = DOT_LANES };

int attention_find_blocks(attention_block *blocks, unsigned char *in_block, const int *kv_start, const int *kv_len,
                          int N, int offset_keys) {
    int nb = 0;
    long keys_end = 0;  // the last block's key rows end here
    for (int i = 0; i < N;) {
        // A block opens on a token that sees only itself, or (offset_keys) on any token whose keys begin after the
        // previous block's.
        int opens = offset_keys ? kv_len[i] >= 1 && kv_start[i] >= keys_end : kv_start[i] == i && kv_len[i] == 1;
        if (!opens) {
            in_block[i++] = 0;
            continue;
        }
        int end = i + 1, ks = kv_start[i], pre = kv_len[i] - 1;
        while (end < N && kv_start[end] == ks && kv_len[end] == pre + end - i + 1) end++;
        blocks[nb++] = (attention_block){i, end, ks, pre};
        memset(in_block + i, 1, (size_t)(end - i));
        keys_end = (long)ks + pre + (end - i);
        i = end;
    }
    return nb;
}

typedef struct {
    int Hq, Hkv, D, G;  // G = Hq / Hkv query heads per KV head
    float scale;        // 1 / sqrt(D), as the pairwise code
    size_t cap_rows;    // G x min(ROWS, longest block): rows of the stacked matrices
    size_t cap_keys;    // most keys of a block (pre + its length)
} shape;

// Per-thread scratch: S or P and dS (cap_rows, cap_keys) each, then three (cap_rows, D) stacks.
static size_t item_floats(const shape *s) { return 2 * s->cap_rows * s->cap_keys + 3 * s->cap_rows * (size_t)s->D; }

// Stacks the G query heads of KV head hk for tokens t0 .. t0+T-1: dst (G, T, D) from src (N, Hq, D).
static void gather_heads(float *dst, const float *src, int t0, int T, int hk, const shape *s) {
    for (int g = 0; g < s->G; g++)
        for (int t = 0; t < T; t++)
            memcpy(dst + ((size_t)g * T + t) * s->D, src + ((size_t)(t0 + t) * s->Hq + hk * s->G + g) * s->D,
                   (size_t)s->D * sizeof(float));
}

// The inverse: dst (N, Hq, D) = src (G, T, D), or += when add.
static void scatter_heads(float *dst, const float *src, int t0, int T, int hk, const shape *s, int add) {
    for (int g = 0; g < s->G; g++)
        for (int t = 0; t < T; t++) {
            float *d = dst + ((size_t)(t0 + t) * s->Hq + hk * s->G + g) * s->D;
            const float *x = src + ((size_t)g * T + t) * s->D;
            if (add)
                for (int e = 0; e < s->D; e++) d[e] += x[e];
            else
                memcpy(d, x, (size_t)s->D * sizeof(float));
        }
}

// max of a (n >= 1) over lanes like dot_fixed (kernels/cpu/dot_fixed.h): a scalar max is one chain of dependent
// instructions, the slowest part of the softmax. (Any order gives the same max; the lanes are for speed.)
static float max_lanes(const float *a, int n) {
    float acc[LANES];
    for (int l = 0; l < LANES; l++) acc[l] = a[0];
    int i = 0;
    for (; i + LANES <= n; i += LANES) {
        #pragma omp simd
        for (int l = 0; l < LANES; l++) acc[l] = a[i + l] > acc[l] ? a[i + l] : acc[l];
    }
    for (int l = 0; i + l < n; l++) acc[l] = a[i + l] > acc[l] ? a[i + l] : acc[l];
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] = acc[l + w] > acc[l] ? acc[l + w] : acc[l];
    return acc[0];
}

static float sum_lanes(const float *a, int n) {
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES) {
        #pragma omp simd
        for (int l = 0; l < LANES; l++) acc[l] += a[i + l];
    }
    for (int l = 0; i + l < n; l++) acc[l] += a[i + l];
    return fold_lanes(acc);
}

// S (G*T, nk) -> P in place. Row (g, t) sees keys 0 .. r0+t (r0: the first row's keys before its own), the rest
// is set to 0.
// exp_nonpos (max-subtracted arguments are <= 0) vectorises where expf does not; it is within 2 ulp of expf.
static void causal_softmax(float *S, int G, int T, int nk, int r0) {
    for (int r = 0; r < G * T; r++) {
        float *row = S + (size_t)r * nk;
        int valid = r0 + r % T + 1;
        float mx = max_lanes(row, valid);
        #pragma omp simd
        for (int j = 0; j < valid; j++) row[j] = exp_nonpos(row[j] - mx);
        float inv = 1.0f / sum_lanes(row, valid);
        #pragma omp simd
        for (int j = 0; j < valid; j++) row[j] *= inv;
        for (int j = valid; j < nk; j++) row[j] = 0.0f;
    }
}

// One (block, KV head) item of the forward.
static void forward_item(float *out, const float *q, const float *k, const float *v, attention_block b, int hk,
                         const shape *s, float *buf) {
    int L = b.end - b.start, G = s->G, D = s->D, ld = s->Hkv * D;
    const float *kb = k + ((size_t)b.kstart * s->Hkv + hk) * D;  // (pre + L, D), row stride ld
    const float *vb = v + ((size_t)b.kstart * s->Hkv + hk) * D;
    float *P = buf, *Qs = buf + 2 * s->cap_rows * s->cap_keys, *Os = Qs + s->cap_rows * D;
    for (int r0 = 0; r0 < L; r0 += ROWS) {
        int T = L - r0 < ROWS ? L - r0 : ROWS, nk = b.pre + r0 + T, GT = G * T;
        gather_heads(Qs, q, b.start + r0, T, hk, s);                                                   // (GT, D)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, GT, nk, D, s->scale, Qs, D, kb, ld, 0.0f, P, nk);
        causal_softmax(P, G, T, nk, b.pre + r0);                                                       // (GT, nk)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, GT, D, nk, 1.0f, P, nk, vb, ld, 0.0f, Os, D);
        scatter_heads(out, Os, b.start + r0, T, hk, s, 0);
    }
}

// One (block, KV head) item of the backward; dq, dk, dv may each be NULL.
static void backward_item(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                          const float *v, attention_block b, int hk, const shape *s, float *buf) {
    int L = b.end - b.start, G = s->G, D = s->D, ld = s->Hkv * D;
    size_t at = ((size_t)b.kstart * s->Hkv + hk) * D;  // key row 0 of this KV head in k, v, dk, dv
    const float *kb = k + at, *vb = v + at;
    float *P = buf, *dS = buf + s->cap_rows * s->cap_keys, *Qs = dS + s->cap_rows * s->cap_keys;
    float *dOs = Qs + s->cap_rows * D, *dQs = dOs + s->cap_rows * D;
    for (int r0 = 0; r0 < L; r0 += ROWS) {
        int T = L - r0 < ROWS ? L - r0 : ROWS, nk = b.pre + r0 + T, GT = G * T;
        gather_heads(Qs, q, b.start + r0, T, hk, s);     // (GT, D)
        gather_heads(dOs, dout, b.start + r0, T, hk, s);  // (GT, D)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, GT, nk, D, s->scale, Qs, D, kb, ld, 0.0f, P, nk);
        causal_softmax(P, G, T, nk, b.pre + r0);  // (GT, nk)
        if (dq || dk) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, GT, nk, D, 1.0f, dOs, D, vb, ld, 0.0f, dS, nk);
            for (int r = 0; r < GT; r++) {  // dP -> dS in place; masked keys have P = 0, so dS = 0 there
                float *p = P + (size_t)r * nk, *ds = dS + (size_t)r * nk;
                int valid = b.pre + r0 + r % T + 1;
                float pdp = dot_fixed(p, ds, valid);
                #pragma omp simd
                for (int j = 0; j < valid; j++) ds[j] = p[j] * (ds[j] - pdp) * s->scale;
                for (int j = valid; j < nk; j++) ds[j] = 0.0f;
            }
            if (dq) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, GT, D, nk, 1.0f, dS, nk, kb, ld, 0.0f, dQs, D);
                scatter_heads(dq, dQs, b.start + r0, T, hk, s, 1);
            }
            if (dk)  // (nk, D) += dS^T Qs: the sum over the G heads is the GEMM's own reduction
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, D, GT, 1.0f, dS, nk, Qs, D, 1.0f, dk + at, ld);
        }
        if (dv)  // (nk, D) += P^T dOs
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, D, GT, 1.0f, P, nk, dOs, D, 1.0f, dv + at, ld);
    }
}

static shape make_shape(const attention_block *blocks, int nblocks, int Hq, int Hkv, int D) {
    int longest = 1, most_keys = 1;
    for (int i = 0; i < nblocks; i++) {
        int L = blocks[i].end - blocks[i].start;
        if (L > longest) longest = L;
        if (blocks[i].pre + L > most_keys) most_keys = blocks[i].pre + L;
    }
    shape s = {Hq, Hkv, D, Hq / Hkv, 1.0f / sqrtf((float)D), 0, (size_t)most_keys};
    s.cap_rows = (size_t)s.G * (size_t)(longest < ROWS ? longest : ROWS);
    return s;
}

// Scratch is allocated per call, not taken from the op's `scratch` argument: that contract is sized by max(kv_len)
// alone (attention_scratch_floats), while these buffers also scale with the heads per group and D, and the decode
// callers (the decode step sizes its workspace by the cache length) would carry them for nothing. One allocation per
// call (12 per training step here) costs nothing next to the call's GEMMs.
void attention_forward_blocks(float *out, const float *q, const float *k, const float *v,
                              const attention_block *blocks, int nblocks, int Hq, int Hkv, int D) {
    if (nblocks <= 0) return;
    shape s = make_shape(blocks, nblocks, Hq, Hkv, D);
    size_t per = item_floats(&s);
    float *buf = mallocCheck((size_t)omp_get_max_threads() * per * sizeof(float));
    #pragma omp parallel for schedule(dynamic)
    for (int w = 0; w < nblocks * Hkv; w++)
        forward_item(out, q, k, v, blocks[w / Hkv], w % Hkv, &s, buf + (size_t)omp_get_thread_num() * per);
    free(buf);
}

void attention_backward_blocks(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                               const float *v, const attention_block *blocks, int nblocks, int Hq, int Hkv, int D) {
    if (nblocks <= 0 || (!dq && !dk && !dv)) return;
    shape s = make_shape(blocks, nblocks, Hq, Hkv, D);
    size_t per = item_floats(&s);
    float *buf = mallocCheck((size_t)omp_get_max_threads() * per * sizeof(float));
    #pragma omp parallel for schedule(dynamic)
    for (int w = 0; w < nblocks * Hkv; w++) {
        float *mine = buf + (size_t)omp_get_thread_num() * per;
        backward_item(dq, dk, dv, dout, q, k, v, blocks[w / Hkv], w % Hkv, &s, mine);
    }
    free(buf);
}
