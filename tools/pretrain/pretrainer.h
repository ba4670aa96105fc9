// Full-parameter pretraining of a small model from scratch on a JSON-lines corpus ({"text": ...} per line).
// Documents are tokenized once, each followed by the end-of-text token, and batched as packed sequences (no
// padding): a batch is as many whole documents as fit in batch_tokens. The order of documents is a Philox
// permutation per epoch, so a run is reproducible and independent of the thread count.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "model/model.h"
#include "model/tokenizer.h"

typedef struct {
    int steps;           // optimizer steps
    int batch_tokens;    // tokens per step (whole documents; a longer document is cut to max_position_embeddings)
    float learning_rate, min_learning_rate;  // cosine from lr to min_lr after warmup
    int warmup_steps;
    float weight_decay, adam_beta1, adam_beta2, max_grad_norm;
    int eval_every;      // steps between validation losses (0 = never)
    int save_every;      // steps between checkpoints of the model folder (0 = only at the end)
    uint64_t seed;
} pretrain_params;

void pretrain_params_default(pretrain_params *p);

typedef struct {
    int n_docs;
    int **ids;   // document tokens incl. the final end-of-text
    int *lens;
    long tokens;
} corpus;

// Reads and tokenizes a JSON-lines corpus; errors name the file and line. eos: the id appended to each document.
int corpus_load(corpus *c, const char *path, const tokenizer *tok, int eos, int max_len, mg_err *e);
void corpus_free(corpus *c);

// Mean next-token loss (nats) over a corpus, in batches of batch_tokens.
double corpus_loss(model *m, const corpus *c, int batch_tokens);

// Trains m (full-parameter) and calls save(m, step, ctx) every save_every steps and at the end.
// Progress lines go to progress (may be NULL).
int pretrain_run(model *m, const corpus *train, const corpus *valid, const pretrain_params *p, FILE *progress,
                 int (*save)(model *m, int step, void *ctx), void *ctx, mg_err *e);
