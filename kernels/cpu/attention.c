// Causal grouped-query attention where each query token names its own key range [kv_start, kv_start + kv_len).
// One kernel serves training (keys are the packed batch itself; the range is "my sequence up to me") and decoding
// (keys are a KV cache slot). Probabilities are recomputed in the backward pass instead of stored: O(T) memory
// per token instead of O(T^2) per sequence, at the price of a second pass of dot products.
#include <math.h>
#include <omp.h>

#include "kernels/ops.h"

// Two rows per thread: the backward pass keeps probabilities and do.v side by side.
size_t attention_scratch_floats(int max_kv_len) { return 2 * (size_t)omp_get_max_threads() * (size_t)max_kv_len; }

// a . b over DOT_LANES independent partial sums, then a fixed pairwise fold. A plain `s += a[i] * b[i]` is one
// chain of dependent adds (the compiler may not reorder float sums); a `simd reduction` would leave the order to
// the compiler and to the pointers' alignment. Here the order is the source's, the same for every (query, key)
// pair whatever the batch, and the lane loop maps onto vector registers.
enum { DOT_LANES = 16 };

static inline float dot(const float *a, const float *b, int n) {
    float acc[DOT_LANES] = {0};
    int i = 0;
    for (; i + DOT_LANES <= n; i += DOT_LANES) {
        #pragma omp simd
        for (int l = 0; l < DOT_LANES; l++) acc[l] = fmaf(a[i + l], b[i + l], acc[l]);
    }
    for (int l = 0; i + l < n; l++) acc[l] = fmaf(a[i + l], b[i + l], acc[l]);
    for (int w = DOT_LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

// p (len) = softmax(q . k_j * scale) over the token's key range.
static void attention_probs(float *p, const float *qh, const float *k, int start, int len, int kv_stride, int D,
                            float scale) {
    float mx = -INFINITY;
    for (int j = 0; j < len; j++) {
        p[j] = dot(qh, k + (size_t)(start + j) * kv_stride, D) * scale;
        if (p[j] > mx) mx = p[j];
    }
    float sum = 0.0f;
    for (int j = 0; j < len; j++) {
        p[j] = expf(p[j] - mx);
        sum += p[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < len; j++) p[j] *= inv;
}

static int max_len(const int *kv_len, int N) {
    int m = 1;
    for (int i = 0; i < N; i++)
        if (kv_len[i] > m) m = kv_len[i];
    return m;
}

void attention_forward(float *out, const float *q, const float *k, const float *v, const int *kv_start,
                       const int *kv_len, int N, int Hq, int Hkv, int D, float *scratch) {
    int group = Hq / Hkv, kv_stride = Hkv * D, stride = max_len(kv_len, N);
    float scale = 1.0f / sqrtf((float)D);
    #pragma omp parallel for collapse(2)
    for (int i = 0; i < N; i++) {
        for (int h = 0; h < Hq; h++) {
            float *p = scratch + (size_t)omp_get_thread_num() * stride;
            const float *qh = q + ((size_t)i * Hq + h) * D;
            int hk = h / group, start = kv_start[i], len = kv_len[i];
            attention_probs(p, qh, k + (size_t)hk * D, start, len, kv_stride, D, scale);
            float *o = out + ((size_t)i * Hq + h) * D;
            for (int d = 0; d < D; d++) o[d] = 0.0f;
            for (int j = 0; j < len; j++) {
                const float *vj = v + (size_t)(start + j) * kv_stride + (size_t)hk * D;
                for (int d = 0; d < D; d++) o[d] += p[j] * vj[d];
            }
        }
    }
}

// With s = q.k * scale, p = softmax(s), o = sum p v:
//   dv_j += p_j do;  dp_j = do . v_j;  ds_j = p_j (dp_j - sum_k p_k dp_k);  dq += scale sum ds_j k_j;
//   dk_j += scale ds_j q.
// Threads split the KV heads: every dk/dv row of one KV head is written by one thread, so no two threads ever add
// into the same element and the result is deterministic.
void attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                        const float *v, const int *kv_start, const int *kv_len, int N, int Hq, int Hkv, int D,
                        float *scratch) {
    int group = Hq / Hkv, kv_stride = Hkv * D, stride = max_len(kv_len, N);
    float scale = 1.0f / sqrtf((float)D);
    #pragma omp parallel for
    for (int hk = 0; hk < Hkv; hk++) {
        float *p = scratch + (size_t)omp_get_thread_num() * 2 * stride;  // (len) probabilities
        float *dp = p + stride;                                            // (len) do . v_j
        for (int i = 0; i < N; i++) {
            int start = kv_start[i], len = kv_len[i];
            const float *kh = k + (size_t)start * kv_stride + (size_t)hk * D;
            const float *vh = v + (size_t)start * kv_stride + (size_t)hk * D;
            for (int h = hk * group; h < (hk + 1) * group; h++) {
                const float *qh = q + ((size_t)i * Hq + h) * D;
                const float *doh = dout + ((size_t)i * Hq + h) * D;
                attention_probs(p, qh, k + (size_t)hk * D, start, len, kv_stride, D, scale);
                float pdp = 0.0f;
                for (int j = 0; j < len; j++) {
                    dp[j] = dot(doh, vh + (size_t)j * kv_stride, D);
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
