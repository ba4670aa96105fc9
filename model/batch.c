// Packed batches: sequences end to end, with the positions and targets the forward pass needs.
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/model.h"

void packed_batch_init(packed_batch *b) { memset(b, 0, sizeof *b); }

void packed_batch_free(packed_batch *b) {
    free(b->tokens);
    free(b->targets);
    free(b->pos);
    free(b->seq_start);
    free(b->prefix_of);
    memset(b, 0, sizeof *b);
}

void packed_batch_clear(packed_batch *b) {
    b->n_seqs = 0;
    b->n_tokens = 0;
    b->n_prefixes = 0;
}

static void grow(packed_batch *b, int need) {
    if (need <= b->capacity) return;
    int cap = b->capacity ? b->capacity : 256;
    while (cap < need) cap *= 2;
    b->tokens = realloc(b->tokens, (size_t)cap * sizeof(int));
    b->targets = realloc(b->targets, (size_t)cap * sizeof(int));
    b->pos = realloc(b->pos, (size_t)cap * sizeof(int));
    // seq_start needs at most one entry per token plus one
    b->seq_start = realloc(b->seq_start, ((size_t)cap + 1) * sizeof(int));
    b->prefix_of = realloc(b->prefix_of, ((size_t)cap + 1) * sizeof(int));
    mgCheck(b->tokens && b->targets && b->pos && b->seq_start && b->prefix_of, "out of memory growing a packed batch");
    b->capacity = cap;
}

// Appends n ids as a sequence whose first position is pos0 and which continues `prefix` (-1: none).
static void add_sequence(packed_batch *b, const int *ids, int n, int score_from, int pos0, int prefix) {
    mgCheck(n > 0, "packed_batch_add: empty sequence");
    grow(b, b->n_tokens + n);
    int base = b->n_tokens;
    if (b->n_seqs == 0) b->seq_start[0] = 0;
    for (int p = 0; p < n; p++) {
        b->tokens[base + p] = ids[p];
        b->pos[base + p] = pos0 + p;
        b->targets[base + p] = (p >= score_from && p + 1 < n) ? ids[p + 1] : -1;
    }
    b->prefix_of[b->n_seqs] = prefix;
    b->n_tokens += n;
    b->n_seqs++;
    b->seq_start[b->n_seqs] = b->n_tokens;
}

void packed_batch_add(packed_batch *b, const int *ids, int n, int score_from) {
    add_sequence(b, ids, n, score_from, 0, -1);
}

int packed_batch_add_prefix(packed_batch *b, const int *ids, int n) {
    mgCheck(b->n_seqs == b->n_prefixes, "packed_batch_add_prefix: prefixes come before every other sequence");
    add_sequence(b, ids, n, n, 0, -1);
    return b->n_prefixes++;
}

void packed_batch_add_after(packed_batch *b, int prefix, const int *ids, int n, int score_from) {
    mgCheck(prefix >= 0 && prefix < b->n_prefixes, "packed_batch_add_after continues a prefix the batch holds");
    add_sequence(b, ids, n, score_from, b->seq_start[prefix + 1] - b->seq_start[prefix], prefix);
}

int packed_batch_score_from(const packed_batch *b, int seq) {
    int a = b->seq_start[seq], n = b->seq_start[seq + 1] - a, from = 0;
    while (from < n && b->targets[a + from] < 0) from++;
    return from;
}

int packed_batch_share_prompts(packed_batch *dst, const packed_batch *src, int first, int count, int min_shared,
                               int *from) {
    mgCheck(src->n_prefixes == 0, "packed_batch_share_prompts packs from a batch without prefixes");
    int *prefix = mallocCheck((size_t)(count > 0 ? count : 1) * sizeof(int));
    for (int j = 0; j < count; j++) prefix[j] = -1;
    // A prefix is the prompt without its last token (score_from tokens): that token stays with each member, whose
    // first target (the first completion token) it predicts.
    for (int j = 0; min_shared > 0 && j < count; j++) {
        int s = first + j, a = src->seq_start[s], P = packed_batch_score_from(src, s), shared = 0;
        if (prefix[j] >= 0 || P < min_shared) continue;
        for (int k = j + 1; k < count; k++) {
            int t = first + k, b = src->seq_start[t];
            if (prefix[k] < 0 && packed_batch_score_from(src, t) == P &&
                !memcmp(src->tokens + a, src->tokens + b, (size_t)P * sizeof(int))) {
                if (!shared) shared = 1, prefix[j] = packed_batch_add_prefix(dst, src->tokens + a, P);
                prefix[k] = prefix[j];
            }
        }
    }
    for (int j = 0; j < count; j++) {
        int s = first + j, a = src->seq_start[s], n = src->seq_start[s + 1] - a, P = packed_batch_score_from(src, s);
        if (prefix[j] >= 0) {
            if (from) from[j] = a + P;
            packed_batch_add_after(dst, prefix[j], src->tokens + a + P, n - P, 0);
        } else {
            if (from) from[j] = a;
            packed_batch_add(dst, src->tokens + a, n, P);
        }
    }
    free(prefix);
    return dst->n_prefixes;
}
