// Sampling one token from a row of logits, stop strings, and generate(): batched generation with continuous
// batching, the engine's loop (engine_generate in model/engine_decode.c, with model/gen_batch.h's bookkeeping). Up
// to max_batch sequences live in KV-cache slots; each step prefills newly admitted prompts and decodes one token
// for every live sequence together. The uniform draw for the t-th generated token of sequence seq_id is
// rng_uniform(seed, seq_id, t): nothing else feeds the choice.
#include "model/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/engine.h"

void sampling_params_default(sampling_params *p) {
    memset(p, 0, sizeof *p);
    p->temperature = 1.0f;
    p->top_p = 1.0f;
    p->max_new_tokens = 64;
    p->share_prefix = 1;
}

void completion_free(completion *c) {
    free(c->ids);
    free(c->logp);
    free(c->text);
    memset(c, 0, sizeof *c);
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
    int on_device = m->eng && !m->eng->borrowed;
    if (!m->params && !on_device)
        return mg_fail(e, "generate: this model holds no host weights (loaded as its shape only)");
    engine *en = model_engine(m);
    int rc = engine_generate(en, tok, n, prompts, prompt_lens, seq_ids, p, max_batch, out, e);
    // On the CPU the cache goes with the call, so that it and the training step's activations are never held at
    // once (host memory: on an 8B model, 64 slots of 1k tokens are 17 GB); a GPU keeps it with its decode graphs.
    if (!on_device) engine_kv_free(en);
    return rc;
}
