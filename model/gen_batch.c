#include "model/gen_batch.h"

#include <stdlib.h>
#include <string.h>

enum { PREFILL_WAITING = 0, PREFILL_FED, PREFILL_DONE };

struct gen_slot {
    int prompt;     // index of the prompt in this slot, -1 when free
    int prefilled;  // PREFILL_WAITING, PREFILL_FED (its prompt is in this step), PREFILL_DONE (in the cache)
    int last;       // last sampled token, fed at the next step
};

// A shared prefix shorter than this is prefilled again rather than copied: a copy can cost the slot a step.
enum { MIN_SHARED_PREFIX = 8 };

int gen_batch_init(gen_batch *b, int n, const int *const *prompts, const int *prompt_lens, const sampling_params *p,
                   int max_batch, int ctx, completion *out, mg_err *e) {
    memset(b, 0, sizeof *b);
    int longest = 0;
    for (int i = 0; i < n; i++) {
        if (prompt_lens[i] <= 0) return mg_fail(e, "prompt %d is empty", i);
        if (prompt_lens[i] >= ctx)
            return mg_fail(e, "prompt %d has %d tokens, longer than the model's context of %d", i, prompt_lens[i],
                           ctx);
        if (prompt_lens[i] > longest) longest = prompt_lens[i];
    }
    b->n = n, b->prompts = prompts, b->prompt_lens = prompt_lens, b->p = p, b->out = out;
    b->slots = max_batch > 0 && max_batch < n ? max_batch : n;
    b->max_len = longest + p->max_new_tokens < ctx ? longest + p->max_new_tokens : ctx;
    memset(out, 0, (size_t)n * sizeof *out);
    if (b->slots == 0) return 0;
    b->slot = mallocCheck((size_t)b->slots * sizeof *b->slot);
    b->scan = mallocCheck((size_t)b->slots * sizeof *b->scan);
    for (int s = 0; s < b->slots; s++) b->slot[s].prompt = -1, stop_scan_init(&b->scan[s], p);
    int total_in = 0;
    for (int i = 0; i < n; i++) total_in += prompt_lens[i];
    int cap = total_in + b->slots;
    b->tokens = mallocCheck((size_t)cap * sizeof(int));
    b->slot_of = mallocCheck((size_t)cap * sizeof(int));
    b->want = mallocCheck((size_t)cap);
    b->row_slot = mallocCheck((size_t)b->slots * sizeof(int));
    return 0;
}

// Tokens prompts a and b have in common from the start.
static int common_prefix(const gen_batch *b, int a, int c) {
    int n = b->prompt_lens[a] < b->prompt_lens[c] ? b->prompt_lens[a] : b->prompt_lens[c], t = 0;
    while (t < n && b->prompts[a][t] == b->prompts[c][t]) t++;
    return t;
}

// Where slot s's prompt can take its first tokens from: the slot whose cached prompt shares the longest prefix
// with it (*from, its length in *shared, at most the prompt's length - 1 so that the last prompt token is fed and
// yields the logits of the first draw), or -1. *pending: the longest prefix shared with a prompt going through
// the model in this step, which the cache holds only after it.
static int prefix_donor(const gen_batch *b, int s, int *shared, int *pending) {
    int i = b->slot[s].prompt, cap = b->prompt_lens[i] - 1, best = -1;
    *shared = *pending = 0;
    for (int d = 0; d < b->slots; d++) {
        const struct gen_slot *g = &b->slot[d];
        if (d == s || g->prompt < 0 || g->prefilled == PREFILL_WAITING) continue;
        int m = common_prefix(b, i, g->prompt);
        if (m > cap) m = cap;
        if (g->prefilled == PREFILL_FED) {
            if (m > *pending) *pending = m;
        } else if (m > *shared) {
            *shared = m, best = d;
        }
    }
    return best;
}

int gen_batch_next(gen_batch *b, const gen_batch_cache *cache) {
    const sampling_params *p = b->p;
    int nt = 0, rows = 0;
    for (int s = 0; s < b->slots; s++)  // the last step wrote these prompts into the cache
        if (b->slot[s].prompt >= 0 && b->slot[s].prefilled == PREFILL_FED) b->slot[s].prefilled = PREFILL_DONE;
    for (int s = 0; s < b->slots; s++) {
        struct gen_slot *g = &b->slot[s];
        if (g->prompt < 0 && b->next_prompt < b->n) {  // admit a waiting prompt into a free slot
            *g = (struct gen_slot){b->next_prompt++, PREFILL_WAITING, 0};
            cache->reset_slot(cache->ctx, s);
            stop_scan_free(&b->scan[s]);
            stop_scan_init(&b->scan[s], p);
            completion *c = &b->out[g->prompt];
            c->ids = mallocCheck(((size_t)p->max_new_tokens + 1) * sizeof(int));
            c->logp = mallocCheck(((size_t)p->max_new_tokens + 1) * sizeof(float));
        }
        if (g->prompt < 0) continue;
        if (g->prefilled == PREFILL_WAITING) {
            int i = g->prompt, from = 0;
            if (p->share_prefix && cache->copy_prefix) {
                int shared, pending, donor = prefix_donor(b, s, &shared, &pending);
                // A longer prefix is being prefilled in this step: wait one step and copy it then. The draws are
                // keyed by (sequence, token index), not by step, so waiting changes no token.
                if (pending >= MIN_SHARED_PREFIX && pending >= shared + MIN_SHARED_PREFIX) continue;
                if (shared >= MIN_SHARED_PREFIX) {
                    cache->copy_prefix(cache->ctx, donor, s, shared);
                    from = shared;
                    b->shared_tokens += shared;
                }
            }
            for (int t = from; t < b->prompt_lens[i]; t++) {
                b->tokens[nt] = b->prompts[i][t];
                b->slot_of[nt] = s;
                b->want[nt++] = t + 1 == b->prompt_lens[i];
            }
            g->prefilled = PREFILL_FED;
        } else {
            b->tokens[nt] = g->last;
            b->slot_of[nt] = s;
            b->want[nt++] = 1;
        }
        b->row_slot[rows++] = s;
    }
    b->n_tokens = nt, b->rows = rows;
    return rows;
}

int gen_batch_prompt(const gen_batch *b, int r) { return b->slot[b->row_slot[r]].prompt; }

void gen_batch_accept(gen_batch *b, int r, int token, float logp, int is_eos, const tokenizer *tok) {
    const sampling_params *p = b->p;
    int s = b->row_slot[r], i = b->slot[s].prompt;
    completion *c = &b->out[i];
    c->ids[c->n] = token;
    c->logp[c->n] = logp;
    c->n++;
    b->slot[s].last = token;
    int done = 0;
    if (is_eos) c->finish = FINISH_EOS, done = 1;
    else if (stop_scan_step(&b->scan[s], tok, p, c->ids, c->n, &c->text)) c->finish = FINISH_STOP, done = 1;
    else if (c->n >= p->max_new_tokens || b->prompt_lens[i] + c->n >= b->max_len) c->finish = FINISH_LENGTH, done = 1;
    if (done) {
        if (!c->text) c->text = tok ? tokenizer_decode(tok, c->ids, c->n, 1) : calloc(1, 1);
        b->slot[s].prompt = -1;
        b->finished++;
    }
}

void gen_batch_free(gen_batch *b, int failed) {
    free(b->tokens), free(b->slot_of), free(b->want), free(b->row_slot);
    for (int s = 0; s < b->slots && b->scan; s++) stop_scan_free(&b->scan[s]);
    free(b->scan), free(b->slot);
    if (failed)
        for (int i = 0; i < b->n; i++) completion_free(&b->out[i]);
    memset(b, 0, sizeof *b);
}
