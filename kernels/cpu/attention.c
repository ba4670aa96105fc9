// Causal grouped-query attention where each query token names its own key range [kv_start, kv_start + kv_len).
// Two paths. The pairwise code here takes one (query, head) at a time over its key range: it serves any ranges,
// and a token's result depends on nothing else in the call, which decoding needs (batch invariance). The causal
// blocks of a training batch (a sequence's tokens, each seeing its own sequence up to itself) go through GEMMs
// instead (attention_gemm.c). attention_forward / attention_backward send each token to one of them;
// attention_forward_pairwise is the pairwise code alone, for decoding. Probabilities are recomputed in the backward
// pass instead of stored (both paths).
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "common/error.h"
#include "kernels/cpu/attention_gemm.h"
#include "kernels/cpu/dot_fixed.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/matmul_invariant.h"
#include "kernels/ops.h"

// Two rows per thread: the backward pass keeps probabilities and do.v side by side.
size_t attention_scratch_floats(int max_kv_len) { return 2 * (size_t)omp_get_max_threads() * (size_t)max_kv_len; }

// p (len) = softmax(q . k_j * scale) over the token's key range. The scores are dot_fixed's arithmetic, 16 keys at a
// time (dots_fixed_order), and the exp is the vectorisable one: libm's expf kept this loop scalar.
static void attention_probs(float *p, const float *qh, const float *k, int start, int len, int kv_stride, int D,
                            float scale) {
    dots_fixed_order(p, qh, k + (size_t)start * kv_stride, len, (size_t)kv_stride, D);
    float mx = -INFINITY;
    for (int j = 0; j < len; j++) {
        p[j] *= scale;
        mx = p[j] > mx ? p[j] : mx;
    }
    #pragma omp simd
    for (int j = 0; j < len; j++) p[j] = exp_nonpos(p[j] - mx);
    float sum = 0.0f;  // in order: a vector sum would make the order the compiler's
    for (int j = 0; j < len; j++) sum += p[j];
    float inv = 1.0f / sum;
    for (int j = 0; j < len; j++) p[j] *= inv;
}

// The widest float vector this build has, for weighted_sum: VW lanes (1 when neither AVX-512 nor AVX2).
#if defined(__AVX512F__)
typedef __m512 vfloat;
enum { VW = 16 };
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(x) _mm512_set1_ps(x)
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, a) _mm512_storeu_ps(p, a)
#define V_MULADD(acc, a, b) _mm512_add_ps(acc, _mm512_mul_ps(a, b))
#elif defined(__AVX2__)
typedef __m256 vfloat;
enum { VW = 8 };
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(x) _mm256_set1_ps(x)
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, a) _mm256_storeu_ps(p, a)
#define V_MULADD(acc, a, b) _mm256_add_ps(acc, _mm256_mul_ps(a, b))
#else
typedef float vfloat;
enum { VW = 1 };
#define V_ZERO() 0.0f
#define V_SET1(x) (x)
#define V_LOAD(p) (*(p))
#define V_STORE(p, a) (*(p) = (a))
#define V_MULADD(acc, a, b) ((acc) + (a) * (b))
#endif

// o (D) = sum_j p[j] v_j, each element summed in key order from 0: the same bits as o[d] += p[j] * v_j[d]
// (a multiply, then an add). The sums live in registers, 2 VW dimensions at a time (two independent chains, so
// the adds' latency overlaps): accumulating into o itself made every key wait for the store of the key before it,
// which was most of the decode attention's time.
static void weighted_sum(float *o, const float *p, const float *v, int len, int kv_stride, int D) {
    int d0 = 0;
    for (; d0 + 2 * VW <= D; d0 += 2 * VW) {
        vfloat a0 = V_ZERO(), a1 = V_ZERO();
        for (int j = 0; j < len; j++) {
            const float *vj = v + (size_t)j * kv_stride + d0;
            vfloat pj = V_SET1(p[j]);
            a0 = V_MULADD(a0, pj, V_LOAD(vj));
            a1 = V_MULADD(a1, pj, V_LOAD(vj + VW));
        }
        V_STORE(o + d0, a0);
        V_STORE(o + d0 + VW, a1);
    }
    for (; d0 < D; d0++) {
        float acc = 0.0f;
        for (int j = 0; j < len; j++) acc += p[j] * v[(size_t)j * kv_stride + d0];
        o[d0] = acc;
    }
}

static int max_len(const int *kv_len, int N) {
    int m = 1;
    for (int i = 0; i < N; i++)
        if (kv_len[i] > m) m = kv_len[i];
    return m;
}

// The pairwise forward over the tokens with skip[i] == 0 (all when skip is NULL).
static void forward_pairwise(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                             const int *kv_len, int N, int Hq, int Hkv, int D, float *scratch,
                             const unsigned char *skip) {
    int group = Hq / Hkv, kv_stride = Hkv * D, stride = max_len(kv_len, N);
    float scale = 1.0f / sqrtf((float)D);
    #pragma omp parallel for collapse(2)
    for (int i = 0; i < N; i++) {
        for (int h = 0; h < Hq; h++) {
            if (skip && skip[i]) continue;
            float *p = scratch + (size_t)omp_get_thread_num() * stride;
            const float *qh = q + ((size_t)i * Hq + h) * D;
            int hk = h / group, start = kv_start[i], len = kv_len[i];
            attention_probs(p, qh, k + (size_t)hk * D, start, len, kv_stride, D, scale);
            weighted_sum(out + ((size_t)i * Hq + h) * D, p, v + (size_t)start * kv_stride + (size_t)hk * D, len,
                         kv_stride, D);
        }
    }
}

// With s = q.k * scale, p = softmax(s), o = sum p v:
//   dv_j += p_j do;  dp_j = do . v_j;  ds_j = p_j (dp_j - sum_k p_k dp_k);  dq += scale sum ds_j k_j;
//   dk_j += scale ds_j q.
// Threads split the KV heads: every dk/dv row of one KV head is written by one thread, so no two threads ever add
// into the same element and the result is deterministic. skip as in forward_pairwise.
static void backward_pairwise(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                              const float *v, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                              float *scratch, const unsigned char *skip) {
    int group = Hq / Hkv, kv_stride = Hkv * D, stride = max_len(kv_len, N);
    float scale = 1.0f / sqrtf((float)D);
    #pragma omp parallel for
    for (int hk = 0; hk < Hkv; hk++) {
        float *p = scratch + (size_t)omp_get_thread_num() * 2 * stride;  // (len) probabilities
        float *dp = p + stride;                                            // (len) do . v_j
        for (int i = 0; i < N; i++) {
            if (skip && skip[i]) continue;
            int start = kv_start[i], len = kv_len[i];
            const float *kh = k + (size_t)start * kv_stride + (size_t)hk * D;
            const float *vh = v + (size_t)start * kv_stride + (size_t)hk * D;
            for (int h = hk * group; h < (hk + 1) * group; h++) {
                const float *qh = q + ((size_t)i * Hq + h) * D;
                const float *doh = dout + ((size_t)i * Hq + h) * D;
                attention_probs(p, qh, k + (size_t)hk * D, start, len, kv_stride, D, scale);
                float pdp = 0.0f;
                for (int j = 0; j < len; j++) {
                    dp[j] = dot_fixed(doh, vh + (size_t)j * kv_stride, D);
                    pdp += p[j] * dp[j];
                }
                float *dqh = dq ? dq + ((size_t)i * Hq + h) * D : NULL;
                for (int j = 0; j < len; j++) {
                    const float *kj = kh + (size_t)j * kv_stride;
                    float ds = p[j] * (dp[j] - pdp) * scale;
                    if (dv) {
                        float *dvj = dv + (size_t)(start + j) * kv_stride + (size_t)hk * D;
                        for (int d = 0; d < D; d++) dvj[d] += p[j] * doh[d];
                    }
                    if (dqh)
                        for (int d = 0; d < D; d++) dqh[d] += ds * kj[d];
                    if (dk) {
                        float *dkj = dk + (size_t)(start + j) * kv_stride + (size_t)hk * D;
                        for (int d = 0; d < D; d++) dkj[d] += ds * qh[d];
                    }
                }
            }
        }
    }
}

void attention_forward_pairwise(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                                const int *kv_len, int N, int Hq, int Hkv, int D, float *scratch) {
    forward_pairwise(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch, NULL);
}

void attention_backward_pairwise(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                 const float *v, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv,
                                 int D, float *scratch) {
    backward_pairwise(dq, dk, dv, dout, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch, NULL);
}

// The call's causal blocks (attention_gemm.h): the blocks (room for N), the in_block mask (N) and how many tokens
// the blocks hold. A call without blocks (decoding, odd ranges) leaves everything to the pairwise code.
typedef struct {
    attention_block *blocks;
    unsigned char *in_block;
    int n, tokens;
} block_split;

static block_split split_blocks(const int *kv_start, const int *kv_len, int N, int offset_keys) {
    size_t n = N > 0 ? (size_t)N : 1;
    block_split b = {mallocCheck(n * sizeof(attention_block)), mallocCheck(n), 0, 0};
    b.n = attention_find_blocks(b.blocks, b.in_block, kv_start, kv_len, N, offset_keys);
    for (int i = 0; i < b.n; i++) b.tokens += b.blocks[i].end - b.blocks[i].start;
    return b;
}

static void forward_split(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                          const int *kv_len, int N, int Hq, int Hkv, int D, float *scratch, int offset_keys) {
    block_split b = split_blocks(kv_start, kv_len, N, offset_keys);
    attention_forward_blocks(out, q, k, v, b.blocks, b.n, Hq, Hkv, D);
    if (b.tokens < N) forward_pairwise(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch, b.n ? b.in_block : NULL);
    free(b.blocks);
    free(b.in_block);
}

// The blocks first, then the other tokens: both add into dk and dv (a pairwise token's range may cover rows of a
// block), always in this order, so the sums do not depend on scheduling.
static void backward_split(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                           float *scratch, int offset_keys) {
    block_split b = split_blocks(kv_start, kv_len, N, offset_keys);
    attention_backward_blocks(dq, dk, dv, dout, q, k, v, b.blocks, b.n, Hq, Hkv, D);
    if (b.tokens < N)
        backward_pairwise(dq, dk, dv, dout, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch,
                          b.n ? b.in_block : NULL);
    free(b.blocks);
    free(b.in_block);
}

void attention_forward(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                       const int *kv_len, int N, int Hq, int Hkv, int D, float *scratch) {
    forward_split(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch, 0);
}

void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                        const float *v, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                        float *scratch) {
    backward_split(dq, dk, dv, dout, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch, 0);
}

void attention_forward_train(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                             const int *kv_len, int N, int Hq, int Hkv, int D, float *scratch) {
    forward_split(out, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch, 1);
}

void attention_backward_train(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                              const float *v, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                              float *scratch) {
    backward_split(dq, dk, dv, dout, q, k, v, kv_start, kv_len, N, Hq, Hkv, D, scratch, 1);
}
