// sample_token: one token from a row of logits with a given uniform draw, the CPU reference of the backend's
// `sample` entry (its CUDA twin is kernels/cuda/sample.cu, which matches it token for token).
#include <math.h>
#include <stdlib.h>

#include "kernels/cpu/fast_exp.h"
#include "kernels/ops.h"

static int cmp_prob_desc(const void *a, const void *b) {
    float x = ((const float *)a)[0], y = ((const float *)b)[0];
    if (x != y) return x < y ? 1 : -1;
    int i = (int)((const float *)a)[1], j = (int)((const float *)b)[1];
    return i - j;  // ties: lower id first, so the order is total and deterministic
}

// scratch: at least SAMPLE_SCRATCH(V) floats: probabilities (V), (prob, id) pairs (2V), kept mask (V).
// The passes over V below run on LANES independent lanes, which vectorise; sums are kept per lane in double and
// folded in a fixed order, so results do not depend on the compiler's choices.
enum { LANES = 16 };

static double fold(double *part) {
    for (int h = LANES / 2; h > 0; h /= 2)
        for (int l = 0; l < h; l++) part[l] += part[l + h];
    return part[0];
}

// max(x) over V entries; NaN entries are skipped (-inf if all are NaN).
static float max_of(const float *x, int V) {
    float m[LANES];
    for (int l = 0; l < LANES; l++) m[l] = -INFINITY;
    int v = 0;
    for (; v + LANES <= V; v += LANES) {
        #pragma omp simd
        for (int l = 0; l < LANES; l++) m[l] = x[v + l] > m[l] ? x[v + l] : m[l];
    }
    for (int l = 0; v + l < V; l++) m[l] = x[v + l] > m[l] ? x[v + l] : m[l];
    for (int l = 1; l < LANES; l++) m[0] = m[l] > m[0] ? m[l] : m[0];
    return m[0];
}

// prob (V) = exp((logits - mx) / T); returns sum(prob).
static double exp_scaled(float *prob, const float *logits, int V, float mx, float T) {
    double part[LANES] = {0};
    int v = 0;
    for (; v + LANES <= V; v += LANES) {
        #pragma omp simd
        for (int l = 0; l < LANES; l++) part[l] += (prob[v + l] = exp_nonpos((logits[v + l] - mx) / T));
    }
    for (int l = 0; v + l < V; l++) part[l] += (prob[v + l] = exp_nonpos((logits[v + l] - mx) / T));
    return fold(part);
}

// Zeroes the entries of kept (V) below keep_from; returns the sum of what is left.
static double drop_below(float *kept, int V, float keep_from) {
    double part[LANES] = {0};
    int v = 0;
    for (; v + LANES <= V; v += LANES) {
        #pragma omp simd
        for (int l = 0; l < LANES; l++) part[l] += (kept[v + l] = kept[v + l] < keep_from ? 0.0f : kept[v + l]);
    }
    for (int l = 0; v + l < V; l++) part[l] += (kept[v + l] = kept[v + l] < keep_from ? 0.0f : kept[v + l]);
    return fold(part);
}

int sample_token(const float *logits, int V, const mg_sample_params *p, float u, float *logp, float *scratch) {
    float T = p->temperature > 0.0f ? p->temperature : 1.0f;
    float *prob = scratch;  // (V)
    float mx = max_of(logits, V);
    int argmax = 0;  // the first maximum
    while (argmax < V && !(logits[argmax] == mx)) argmax++;
    if (argmax == V) argmax = 0;  // all NaN
    float lse = (float)log(exp_scaled(prob, logits, V, mx, T));  // log-sum-exp of (logits - mx) / T
    if (p->temperature <= 0.0f) {
        *logp = -lse;  // the argmax's own term is exp(0)
        return argmax;
    }
    // Filters in transformers' order: top-k, top-p, min-p. prob is unnormalised (max entry = 1).
    float keep_from = 0.0f;  // keep tokens with prob >= keep_from (plus the ranking cut below)
    int n_cand = V;
    float *cand = scratch + V;  // (V, 2) pairs (prob, id), sorted descending when a ranking filter is on
    int ranked = p->top_k > 0 || p->top_p < 1.0f;
    if (ranked) {
        // Tokens below 1e-9 of the top probability cannot matter for top-k/top-p at float precision; skipping
        // them keeps the sort small for 128k vocabularies.
        n_cand = 0;
        for (int v = 0; v < V; v++)
            if (prob[v] >= 1e-9f) cand[2 * n_cand] = prob[v], cand[2 * n_cand + 1] = (float)v, n_cand++;
        qsort(cand, (size_t)n_cand, 2 * sizeof(float), cmp_prob_desc);
        if (p->top_k > 0 && p->top_k < n_cand) n_cand = p->top_k;
        if (p->top_p < 1.0f) {
            double kept_total = 0.0, acc = 0.0;
            for (int i = 0; i < n_cand; i++) kept_total += cand[2 * i];
            int n = 0;
            while (n < n_cand && acc < p->top_p * kept_total) acc += cand[2 * n++];
            n_cand = n > 0 ? n : 1;
        }
    }
    if (p->min_p > 0.0f) keep_from = p->min_p;  // relative to the max, which is 1 here
    // Inverse-CDF draw over the kept tokens in id order (a fixed order keeps it reproducible).
    float *kept = prob;  // (V) probabilities of the kept tokens, 0 elsewhere: all of prob unless ranked
    if (ranked) {
        kept = scratch + 3 * (size_t)V;
        for (int v = 0; v < V; v++) kept[v] = 0.0f;
        for (int i = 0; i < n_cand; i++) kept[(int)cand[2 * i + 1]] = cand[2 * i];
    }
    double total = drop_below(kept, V, keep_from);
    double target = u * total, acc = 0.0;
    int choice = argmax;
    for (int v = 0; v < V; v++) {
        if (kept[v] <= 0.0f) continue;
        acc += kept[v];
        choice = v;
        if (acc > target) break;
    }
    *logp = (logits[choice] - mx) / T - lse;
    return choice;
}
