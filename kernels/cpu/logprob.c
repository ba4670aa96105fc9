// LM head fused with log-softmax at the target ids. The (N, V) logits of a training batch never exist at once:
// rows are processed a chunk at a time (V = 128k for Llama-3, so a full matrix would be gigabytes), and only rows
// that have a target are computed at all (prompt positions cost nothing here).
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/ops.h"

// Rows per chunk: as many as 32 MB of logits hold, between 64 and 512. Small vocabularies get tall GEMMs, which
// BLAS runs near its peak (64 x 8192 x 384 ran at 157-167 GFLOP/s here, 512 rows at over 200); Llama-3's 128k
// vocabulary keeps 64 rows (32 MB).
enum { CHUNK_MIN = 64, CHUNK_MAX = 512 };
static int chunk_rows(int V) {
    long rows = (8L << 20) / (V > 0 ? V : 1);
    return rows < CHUNK_MIN ? CHUNK_MIN : rows > CHUNK_MAX ? CHUNK_MAX : (int)rows;
}

size_t logprob_scratch_floats(int V) { return (size_t)chunk_rows(V) * V; }

struct logprob_keep {
    float *e;     // (rows, V): exp(z - max z) of the scored tokens in order, as the forward left them
    double *sum;  // (rows): their sums
    int rows, V;  // capacity: whole chunks
    int filled;   // rows the last forward left; 0 once a backward has used them
};

logprob_keep *logprob_keep_new(int max_tokens, int V, size_t max_bytes) {
    int chunk = chunk_rows(V);
    size_t per_row = (size_t)V * sizeof(float) + sizeof(double);
    size_t chunks = max_bytes / per_row / (size_t)chunk, need = ((size_t)max_tokens + chunk - 1) / chunk;
    if (chunks > need) chunks = need;
    if (chunks == 0) return NULL;
    logprob_keep *k = callocCheck(1, sizeof *k);
    k->rows = (int)chunks * chunk;
    k->V = V;
    k->e = alignedCallocCheck((size_t)k->rows * V, sizeof(float));
    k->sum = mallocCheck((size_t)k->rows * sizeof(double));
    return k;
}

void logprob_keep_free(logprob_keep *k) {
    if (!k) return;
    free(k->e);
    free(k->sum);
    free(k);
}

// The keep's rows for the chunk of n scored rows starting at scored row `at` when they lie within its first
// `limit` rows (the forward: its capacity; the backward: what the forward filled), else NULL. A keep holds a
// prefix of whole chunks.
static float *kept_rows(const logprob_keep *keep, int at, int n, int V, int limit) {
    return keep && keep->V == V && at + n <= limit ? keep->e + (size_t)at * V : NULL;
}

void logits_forward(float *logits, const float *x, const float *wlm, int N, int C, int V) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, C, 1.0f, x, C, wlm, C, 0.0f, logits, V);
}

// Gathers up to chunk scored rows starting at *cursor into xs; returns how many, their row indices in rows.
static int gather_rows(float *xs, int *rows, int chunk, const float *x, const int *targets, int N, int C,
                       int *cursor) {
    int n = 0;
    while (*cursor < N && n < chunk) {
        int i = (*cursor)++;
        if (targets[i] < 0) continue;
        rows[n] = i;
        memcpy(xs + (size_t)n * C, x + (size_t)i * C, (size_t)C * sizeof(float));
        n++;
    }
    return n;
}

// Sums run over LANES independent partial sums (double, so 128k terms lose nothing that matters) folded in a fixed
// order: the lane loop vectorises and the result does not depend on the compiler's choices.
enum { LANES = 16 };

// z (V) *= inv_temp; returns max(z).
static float scale_max(float *z, int V, float inv_temp) {
    float mx[LANES];
    for (int l = 0; l < LANES; l++) mx[l] = -INFINITY;
    int v = 0;
    for (; v + LANES <= V; v += LANES) {
        #pragma omp simd
        for (int l = 0; l < LANES; l++) {
            float x = z[v + l] * inv_temp;
            z[v + l] = x;
            mx[l] = x > mx[l] ? x : mx[l];
        }
    }
    for (int l = 0; v + l < V; l++) {
        float x = z[v + l] *= inv_temp;
        mx[l] = x > mx[l] ? x : mx[l];
    }
    for (int l = 1; l < LANES; l++) mx[0] = mx[l] > mx[0] ? mx[l] : mx[0];
    return mx[0];
}

// z (V) -> e = exp(z - mx), in place. Returns sum(e); *wsum = sum(e * (z - mx)) when wsum is not NULL.
static double exp_sum(float *z, int V, float mx, double *wsum) {
    double s[LANES] = {0}, w[LANES] = {0};
    int v = 0;
    for (; v + LANES <= V; v += LANES) {
        #pragma omp simd
        for (int l = 0; l < LANES; l++) {
            float d = z[v + l] - mx, e = exp_nonpos(d);
            z[v + l] = e;
            s[l] += e;
            w[l] += (double)e * d;
        }
    }
    for (int l = 0; v + l < V; l++) {
        float d = z[v + l] - mx, e = exp_nonpos(d);
        z[v + l] = e;
        s[l] += e;
        w[l] += (double)e * d;
    }
    for (int h = LANES / 2; h > 0; h /= 2)
        for (int l = 0; l < h; l++) s[l] += s[l + h], w[l] += w[l + h];
    if (wsum) *wsum = w[0];
    return s[0];
}

void logprob_forward(float *logp, float *entropy, const float *x, const float *wlm, const int *targets, int N, int C,
                     int V, float inv_temp, float *scratch, logprob_keep *keep) {
    int chunk = chunk_rows(V), rows[CHUNK_MAX], cursor = 0, n, at = 0;
    float *xs = mallocCheck((size_t)chunk * C * sizeof(float));
    for (int i = 0; i < N; i++) {
        logp[i] = 0.0f;
        if (entropy) entropy[i] = 0.0f;
    }
    if (keep) keep->filled = 0;
    while ((n = gather_rows(xs, rows, chunk, x, targets, N, C, &cursor)) > 0) {
        float *kept = kept_rows(keep, at, n, V, keep ? keep->rows : 0), *zs = kept ? kept : scratch;
        double *sums = kept ? keep->sum + at : NULL;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, V, C, 1.0f, xs, C, wlm, C, 0.0f, zs, V);
        #pragma omp parallel for
        for (int r = 0; r < n; r++) {
            float *z = zs + (size_t)r * V;
            int i = rows[r];
            float mx = scale_max(z, V, inv_temp), zt = z[targets[i]];
            double wsum, sum = exp_sum(z, V, mx, &wsum);
            double lse = mx + log(sum);
            logp[i] = (float)(zt - lse);
            if (entropy) entropy[i] = (float)(log(sum) - wsum / sum);  // H = lse - E[z]
            if (sums) sums[r] = sum;
        }
        if (sums) keep->filled = at + n;
        at += n;
    }
    free(xs);
}

// d logp_i / d z_v = inv_temp * (1[v = target] - softmax_v). With g = dlogp_i * that:
// dx_i += g @ wlm, dwlm += g^T x_i.
void logprob_backward(float *dx, float *dwlm, const float *dlogp, const float *x, const float *wlm, const int *targets,
                      int N, int C, int V, float inv_temp, float *scratch, logprob_keep *keep) {
    int chunk = chunk_rows(V), rows[CHUNK_MAX], cursor = 0, n, at = 0;
    float *xs = mallocCheck((size_t)chunk * C * sizeof(float));
    float *dxs = mallocCheck((size_t)chunk * C * sizeof(float));
    while ((n = gather_rows(xs, rows, chunk, x, targets, N, C, &cursor)) > 0) {
        // z = e (exp(z - max)) and its sum: from the forward when it kept them, else computed again
        float *kept = kept_rows(keep, at, n, V, keep ? keep->filled : 0), *zs = kept ? kept : scratch;
        const double *sums = kept ? keep->sum + at : NULL;
        if (!sums) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, V, C, 1.0f, xs, C, wlm, C, 0.0f, zs, V);
        #pragma omp parallel for
        for (int r = 0; r < n; r++) {
            float *z = zs + (size_t)r * V;
            int i = rows[r];
            double sum = sums ? sums[r] : exp_sum(z, V, scale_max(z, V, inv_temp), NULL);
            float g = dlogp[i] * inv_temp, a = (float)(-g / sum);  // softmax = e / sum
            #pragma omp simd
            for (int v = 0; v < V; v++) z[v] *= a;
            z[targets[i]] += g;
        }
        if (dx) {
            // dxs (n, C) = dlogits (n, V) @ wlm (V, C)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, C, V, 1.0f, zs, V, wlm, C, 0.0f, dxs, C);
            for (int r = 0; r < n; r++) {
                float *d = dx + (size_t)rows[r] * C;
                for (int c = 0; c < C; c++) d[c] += dxs[(size_t)r * C + c];
            }
        }
        // dwlm (V, C) += dlogits^T (V, n) @ xs (n, C)
        if (dwlm) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, n, 1.0f, zs, V, xs, C, 1.0f, dwlm, C);
        at += n;
    }
    if (keep) keep->filled = 0;  // overwritten with dlogits above
    free(xs);
    free(dxs);
}
