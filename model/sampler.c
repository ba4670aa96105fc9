// Sampling one token from a row of logits, stop strings, and generate(): batched generation with continuous
// batching, the engine's loop (engine_generate in model/engine_decode.c, with model/gen_batch.h's bookkeeping). Up
// to max_batch sequences live in KV-cache slots; each step prefills newly admitted prompts and decodes one token
// for every live sequence together. The uniform draw for the t-th generated token of sequence seq_id is
// rng_uniform(seed, seq_id, t): nothing else feeds the choice.
#include "model/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/fast_exp.h"
#include "model/accel.h"
#include "model/engine.h"

void sampling_params_default(sampling_params *p) {
    memset(p, 0, sizeof *p);
    p->temperature = 1.0f;
    p->top_p = 1.0f;
    p->max_new_tokens = 64;
}

void completion_free(completion *c) {
    free(c->ids);
    free(c->logp);
    free(c->text);
    memset(c, 0, sizeof *c);
}

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

int sample_token(const float *logits, int V, const sampling_params *p, float u, float *logp, float *scratch) {
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

void stop_scan_init(stop_scan *s, const sampling_params *p) {
    memset(s, 0, sizeof *s);
    for (int k = 0; k < SAMPLER_MAX_STOPS && p->stop[k]; k++) {
        size_t len = strlen(p->stop[k]);
        if (len > s->keep + 1) s->keep = len - 1;
    }
    s->carry = mallocCheck(s->keep + 1);
}

void stop_scan_free(stop_scan *s) {
    free(s->carry);
    memset(s, 0, sizeof *s);
}

// The earliest stop string in text (NULL if none). Empty stop strings never match.
static char *first_stop(const sampling_params *p, char *text) {
    char *first = NULL;
    for (int k = 0; k < SAMPLER_MAX_STOPS && p->stop[k]; k++) {
        char *hit = p->stop[k][0] ? strstr(text, p->stop[k]) : NULL;
        if (hit && (!first || hit < first)) first = hit;
    }
    return first;
}

// Whether text (len > 0 bytes of tokenizer_decode output, so valid UTF-8) ends on a character that bytes still to
// come cannot change. The decoder only ever extends a sequence with continuation bytes (10xxxxxx), so after a
// complete character it starts afresh; a trailing U+FFFD may be a cut character that the next token completes.
static int ends_final(const char *text, size_t len) {
    size_t i = len - 1;
    while (i > 0 && ((unsigned char)text[i] & 0xC0) == 0x80) i--;
    return !(len - i == 3 && !memcmp(text + i, "\xEF\xBF\xBD", 3));
}

// Whether the bytes of ids (m) contain a NUL, given that their decoded text has strlen len > 0. strlen cannot
// see past a NUL, but decoding the ids twice over can: without a NUL the second copy adds at least one character
// (it begins with the same bytes, and the decoder can absorb into a cut character only continuation bytes, never
// the whole copy), while with one, both decodes stop at the same NUL.
static int has_nul(const tokenizer *tok, const int *ids, int m, size_t len) {
    int *twice = mallocCheck(2 * (size_t)m * sizeof(int));
    memcpy(twice, ids, (size_t)m * sizeof(int));
    memcpy(twice + m, ids, (size_t)m * sizeof(int));
    char *text = tokenizer_decode(tok, twice, 2 * m, 1);
    int nul = strlen(text) == len;
    free(text);
    free(twice);
    return nul;
}

int stop_scan_step(stop_scan *s, const tokenizer *tok, const sampling_params *p, const int *ids, int n, char **text) {
    if (!tok || !p->stop[0] || s->dead) return 0;
    // A stop string in the text of ids[0..n) that was not in the text of ids[0..n-1) ends past the final text,
    // so it starts at most keep bytes before its end: the window carry + tail holds it.
    char *tail = tokenizer_decode(tok, ids + s->from, n - s->from, 1);
    size_t nt = strlen(tail), nw = s->n_carry + nt;
    char *window = mallocCheck(nw + 1);
    memcpy(window, s->carry, s->n_carry);
    memcpy(window + s->n_carry, tail, nt + 1);
    int hit = first_stop(p, window) != NULL;
    if (hit) {
        // Cut exactly where a search of the whole text would (the window is part of it, so there is a stop in it).
        char *all = tokenizer_decode(tok, ids, n, 1), *cut = first_stop(p, all);
        mgCheck(cut != NULL, "the stop-string window is not part of the decoded completion");
        *cut = '\0';
        *text = all;
    } else if (nt > 0) {
        if (has_nul(tok, ids + s->from, n - s->from, nt)) {
            s->dead = 1;
        } else if (ends_final(tail, nt)) {
            s->from = n;
            s->n_carry = nw < s->keep ? nw : s->keep;
            memcpy(s->carry, window + nw - s->n_carry, s->n_carry);
        }
    }
    free(window);
    free(tail);
    return hit;
}

int generate(model *m, const tokenizer *tok, int n, const int *const *prompts, const int *prompt_lens,
             const uint64_t *seq_ids, const sampling_params *p, int max_batch, completion *out, mg_err *e) {
    if (m->accel) return m->accel->ops->generate(m->accel, m, tok, n, prompts, prompt_lens, seq_ids, p, max_batch, out, e);
    if (!m->params) return mg_fail(e, "generate: this model holds no host weights (loaded as its shape only)");
    engine *en = model_engine(m);
    int rc = engine_generate(en, tok, n, prompts, prompt_lens, seq_ids, p, max_batch, out, e);
    // The cache goes with the call, so that it and the training step's activations are never held at once (host
    // memory: on an 8B model, 64 slots of 1k tokens are 17 GB).
    engine_kv_free(en);
    return rc;
}
