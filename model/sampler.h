// Batched sampling with a counter-based RNG: the draw for (seed, sequence id, position) is a pure function of
// those three numbers, so a completion never depends on what else was in the batch or on the rank that made it.
#pragma once
#include <stdint.h>

#include "model/model.h"
#include "model/tokenizer.h"

#define SAMPLER_MAX_STOPS 8

typedef struct {
    float temperature;  // 0 = greedy
    int top_k;          // 0 = off
    float top_p;        // 1 = off
    float min_p;        // 0 = off
    int max_new_tokens;
    const char *stop[SAMPLER_MAX_STOPS];  // stop strings (matched on decoded text), NULL-terminated
    uint64_t seed;
    int share_prefix;   // prefill a prompt prefix that several samples share once (model/gen_batch.h)
} sampling_params;

void sampling_params_default(sampling_params *p);  // temperature 1, no filters, 64 new tokens, shared prefixes

typedef enum { FINISH_LENGTH = 0, FINISH_EOS, FINISH_STOP } finish_reason;

typedef struct {
    int *ids;      // generated ids (without the prompt); a stop string's tokens are kept, the text is cut
    int n;
    float *logp;   // (n) log-prob of each generated token under the policy at `temperature` (before filters)
    char *text;    // decoded completion, cut before any stop string
    finish_reason finish;
} completion;

void completion_free(completion *c);

// Samples one completion for each of n prompts, batching decode steps over all live sequences (at most
// max_batch at once; 0 = all). seq_ids[i] keys the RNG for prompt i. Errors: a prompt longer than the model's
// context.
int generate(model *m, const tokenizer *tok, int n, const int *const *prompts, const int *prompt_lens,
             const uint64_t *seq_ids, const sampling_params *p, int max_batch, completion *out, mg_err *e);

// Stop-string search for one completion, incremental: what generate() does after each token (exposed for tests).
// It gives exactly the answer of decoding all n ids and searching the text for each stop string, but decodes
// only the tokens since the last point where the text became final (a complete character; a split multi-byte
// character still shows as U+FFFD and may change), plus the last (longest stop - 1) bytes before that point.
typedef struct {
    int from;        // tokens before `from` decode to text that no later token can change
    int dead;        // a NUL byte entered the text: string search stops there, so no stop string can come
    size_t keep;     // longest stop string - 1: final bytes a stop string may still start in
    size_t n_carry;  // carry holds the last n_carry (<= keep) bytes of the final text
    char *carry;
} stop_scan;

void stop_scan_init(stop_scan *s, const sampling_params *p);
void stop_scan_free(stop_scan *s);
// Call after each new token, ids (n) being the whole completion so far. Returns 1 and sets *text (malloc'd) to
// the decoded completion cut before the earliest stop string once one appears, 0 until then (and always 0 without
// a tokenizer or stop strings).
int stop_scan_step(stop_scan *s, const tokenizer *tok, const sampling_params *p, const int *ids, int n, char **text);
