// The continuous-batching loop of generate(), shared by the CPU sampler (model/sampler.c) and the GPU engine
// (model/engine_decode.c): which prompt sits in which KV-cache slot, the tokens each step feeds, and when a
// completion ends (EOS, a stop string, max_new_tokens, the context). The caller runs the model and draws tokens.
//
//   gen_batch b;
//   if (gen_batch_init(&b, n, prompts, prompt_lens, p, max_batch, ctx, out, e)) return -1;   // b.slots, b.max_len
//   (set up a KV cache of b.slots x b.max_len)
//   while (!gen_batch_done(&b)) {
//       int rows = gen_batch_next(&b, &cache);              // b.tokens/slot_of/want (b.n_tokens), b.row_slot
//       (run the model; for row r, whose prompt is gen_batch_prompt(&b, r), draw a token)
//       gen_batch_accept(&b, r, token, logp, token_is_eos, tok);
//   }
//   gen_batch_free(&b, failed);
#pragma once
#include "model/sampler.h"

typedef struct {
    int n, slots, max_len;
    const int *const *prompts;
    const int *prompt_lens;
    const sampling_params *p;
    completion *out;
    struct gen_slot *slot;  // (slots)
    stop_scan *scan;        // (slots)
    int *tokens, *slot_of;  // this step's inputs (n_tokens each)
    char *want;             // (n_tokens) 1 where the step's logits are wanted
    int *row_slot;          // (rows) the slot of each wanted row, in order
    int n_tokens, rows, next_prompt, finished;
    long shared_tokens;     // prompt tokens copied from another slot's cache instead of prefilled
} gen_batch;

// The caller's KV cache, as the loop drives it. reset_slot empties a slot. copy_prefix (NULL: no sharing) copies
// the first n cached positions of slot `from` into slot `to` and sets its length to n: with p->share_prefix, a
// prompt that starts like one already in the cache (the α on-policy samples of a group share all of it, the
// neighbourhood prompts of one seed most of it) is prefilled once. The draws do not change: on a backend whose
// steps are batch-invariant (the CPU) the completions are the same bits with and without sharing.
typedef struct {
    void (*reset_slot)(void *ctx, int slot);
    void (*copy_prefix)(void *ctx, int from, int to, int n);
    void *ctx;
} gen_batch_cache;

// Checks the prompts (one-line errors: empty, longer than the context ctx), sizes the batch (slots = max_batch when
// 0 < max_batch < n, else n; max_len = longest prompt + max_new_tokens, at most ctx) and zeroes out.
int gen_batch_init(gen_batch *b, int n, const int *const *prompts, const int *prompt_lens, const sampling_params *p,
                   int max_batch, int ctx, completion *out, mg_err *e);
static inline int gen_batch_done(const gen_batch *b) { return b->finished >= b->n; }
// Admits waiting prompts into free slots and lays out the step: a new prompt's text (after the prefix copied from
// another slot, if any), else the slot's last token. A prompt whose prefix is being prefilled in this step waits
// for the next one. Returns the number of rows whose logits are wanted.
int gen_batch_next(gen_batch *b, const gen_batch_cache *cache);
// The prompt index of row r of the last step.
int gen_batch_prompt(const gen_batch *b, int r);
// Records row r's drawn token and its log-prob; ends the completion on EOS, a stop string or its length.
void gen_batch_accept(gen_batch *b, int r, int token, float logp, int is_eos, const tokenizer *tok);
// Frees the batch; failed: frees the completions too (out is all zero again).
void gen_batch_free(gen_batch *b, int failed);
