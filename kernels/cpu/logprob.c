// LM head fused with log-softmax at the target ids. The (N, V) logits of a training batch never exist at once:
// rows are processed CHUNK at a time (V = 128k for Llama-3, so a full matrix would be gigabytes), and only rows
// that have a target are computed at all (prompt positions cost nothing here).
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernels/ops.h"

enum { CHUNK = 64 };

size_t logprob_scratch_floats(int V) { return (size_t)CHUNK * V; }

void logits_forward(float *logits, const float *x, const float *wlm, int N, int C, int V) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, C, 1.0f, x, C, wlm, C, 0.0f, logits, V);
}

// Gathers up to CHUNK scored rows starting at *cursor into xs; returns how many, their row indices in rows.
static int gather_rows(float *xs, int *rows, const float *x, const int *targets, int N, int C, int *cursor) {
    int n = 0;
    while (*cursor < N && n < CHUNK) {
        int i = (*cursor)++;
        if (targets[i] < 0) continue;
        rows[n] = i;
        memcpy(xs + (size_t)n * C, x + (size_t)i * C, (size_t)C * sizeof(float));
        n++;
    }
    return n;
}

// z (V) -> log-sum-exp of z * inv_temp, and the entropy of softmax(z * inv_temp). Turns z into z * inv_temp.
static double logsumexp_scaled(float *z, int V, float inv_temp, double *entropy) {
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) {
        z[v] *= inv_temp;
        if (z[v] > mx) mx = z[v];
    }
    double sum = 0.0, wsum = 0.0;
    for (int v = 0; v < V; v++) {
        double e = exp((double)(z[v] - mx));
        sum += e;
        wsum += e * (z[v] - mx);
    }
    double lse = mx + log(sum);
    if (entropy) *entropy = (mx + log(sum)) - (mx + wsum / sum);  // H = lse - E[z]
    return lse;
}

void logprob_forward(float *logp, float *entropy, const float *x, const float *wlm, const int *targets, int N, int C,
                     int V, float inv_temp, float *scratch) {
    float *xs = mallocCheck((size_t)CHUNK * C * sizeof(float));
    int rows[CHUNK], cursor = 0, n;
    for (int i = 0; i < N; i++) {
        logp[i] = 0.0f;
        if (entropy) entropy[i] = 0.0f;
    }
    while ((n = gather_rows(xs, rows, x, targets, N, C, &cursor)) > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, V, C, 1.0f, xs, C, wlm, C, 0.0f, scratch, V);
        #pragma omp parallel for
        for (int r = 0; r < n; r++) {
            float *z = scratch + (size_t)r * V;
            double ent;
            double lse = logsumexp_scaled(z, V, inv_temp, entropy ? &ent : NULL);
            int i = rows[r];
            logp[i] = (float)(z[targets[i]] - lse);
            if (entropy) entropy[i] = (float)ent;
        }
    }
    free(xs);
}

// d logp_i / d z_v = inv_temp * (1[v = target] - softmax_v). With g = dlogp_i * that:
// dx_i += g @ wlm, dwlm += g^T x_i.
void logprob_backward(float *dx, float *dwlm, const float *dlogp, const float *x, const float *wlm, const int *targets,
                      int N, int C, int V, float inv_temp, float *scratch) {
    float *xs = mallocCheck((size_t)CHUNK * C * sizeof(float));
    float *dxs = mallocCheck((size_t)CHUNK * C * sizeof(float));
    int rows[CHUNK], cursor = 0, n;
    while ((n = gather_rows(xs, rows, x, targets, N, C, &cursor)) > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, V, C, 1.0f, xs, C, wlm, C, 0.0f, scratch, V);
        #pragma omp parallel for
        for (int r = 0; r < n; r++) {
            float *z = scratch + (size_t)r * V;
            double lse = logsumexp_scaled(z, V, inv_temp, NULL);
            int i = rows[r];
            float g = dlogp[i] * inv_temp;
            for (int v = 0; v < V; v++) z[v] = -g * (float)exp((double)z[v] - lse);
            z[targets[i]] += g;
        }
        if (dx) {
            // dxs (n, C) = dlogits (n, V) @ wlm (V, C)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, C, V, 1.0f, scratch, V, wlm, C, 0.0f, dxs, C);
            for (int r = 0; r < n; r++) {
                float *d = dx + (size_t)rows[r] * C;
                for (int c = 0; c < C; c++) d[c] += dxs[(size_t)r * C + c];
            }
        }
        // dwlm (V, C) += dlogits^T (V, n) @ xs (n, C)
        if (dwlm) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, n, 1.0f, scratch, V, xs, C, 1.0f, dwlm, C);
    }
    free(xs);
    free(dxs);
}
