#include "tools/pretrain/pretrainer.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/rng.h"
#include "model/optimizer.h"

void pretrain_params_default(pretrain_params *p) {
    memset(p, 0, sizeof *p);
    p->steps = 1000;
    p->batch_tokens = 4096;
    p->learning_rate = 1e-3f;
    p->min_learning_rate = 1e-4f;
    p->warmup_steps = 50;
    p->weight_decay = 0.1f;
    p->adam_beta1 = 0.9f;
    p->adam_beta2 = 0.95f;
    p->max_grad_norm = 1.0f;
    p->eval_every = 100;
}

int corpus_load(corpus *c, const char *path, const tokenizer *tok, int eos, int max_len, mg_err *e) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f) return mg_fail(e, "%s: cannot open the corpus", path);
    char *line = NULL;
    size_t cap = 0, doc_cap = 0;
    long lineno = 0;
    int rc = 0;
    while (getline(&line, &cap, f) >= 0 && !rc) {
        lineno++;
        if (line[0] == '\n' || line[0] == '\0') continue;
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        const char *text = o ? json_string_value(json_object_get(o, "text")) : NULL;
        if (!text) {
            rc = mg_fail(e, "%s:%ld: expected a JSON object with a string \"text\"", path, lineno);
        } else {
            int *ids = NULL, n = 0;
            if (tokenizer_encode(tok, text, strlen(text), 0, &ids, &n, e)) {
                char inner[MG_ERRLEN];
                snprintf(inner, sizeof inner, "%s", e->msg);
                rc = mg_fail(e, "%s:%ld: %s", path, lineno, inner);
            } else {
                if (n + 1 > max_len) n = max_len - 1;  // cut over-long documents to the context
                ids = realloc(ids, (size_t)(n + 1) * sizeof(int));
                ids[n++] = eos;
                if (c->n_docs == (int)doc_cap) {
                    doc_cap = doc_cap ? 2 * doc_cap : 1024;
                    c->ids = realloc(c->ids, doc_cap * sizeof(int *));
                    c->lens = realloc(c->lens, doc_cap * sizeof(int));
                    mgCheck(c->ids && c->lens, "out of memory reading the corpus");
                }
                c->ids[c->n_docs] = ids;
                c->lens[c->n_docs++] = n;
                c->tokens += n;
            }
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    if (!rc && c->n_docs == 0) rc = mg_fail(e, "%s: the corpus holds no documents", path);
    if (rc) corpus_free(c);
    return rc;
}

void corpus_free(corpus *c) {
    for (int i = 0; i < c->n_docs; i++) free(c->ids[i]);
    free(c->ids);
    free(c->lens);
    memset(c, 0, sizeof *c);
}

// Fills b with documents order[*cursor...] until batch_tokens; returns the number of scored positions.
static long fill_batch(packed_batch *b, const corpus *c, const int *order, int *cursor, int batch_tokens) {
    packed_batch_clear(b);
    long scored = 0;
    while (*cursor < c->n_docs) {
        int d = order ? order[*cursor] : *cursor;
        if (b->n_tokens > 0 && b->n_tokens + c->lens[d] > batch_tokens) break;
        packed_batch_add(b, c->ids[d], c->lens[d], 0);
        scored += c->lens[d] - 1;
        (*cursor)++;
    }
    return scored;
}

double corpus_loss(model *m, const corpus *c, int batch_tokens) {
    packed_batch b;
    packed_batch_init(&b);
    int cursor = 0;
    double total = 0;
    long n = 0;
    float *logp = NULL;
    int cap = 0;
    while (cursor < c->n_docs) {
        long scored = fill_batch(&b, c, NULL, &cursor, batch_tokens);
        if (b.n_tokens > cap) logp = realloc(logp, (size_t)(cap = b.n_tokens) * sizeof(float));
        total -= model_forward(m, &b, 1.0f, logp, NULL);
        n += scored;
    }
    free(logp);
    packed_batch_free(&b);
    return n ? total / n : 0.0;
}

// A permutation of 0..n-1 for this epoch: sort by Philox keys.
typedef struct {
    uint32_t key;
    int index;
} keyed;

static int by_key(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : x->index - y->index;
}

static void shuffle(int *order, int n, uint64_t seed, int epoch) {
    keyed *k = mallocCheck((size_t)n * sizeof(keyed));
    for (int i = 0; i < n; i++) {
        uint32_t r[4];
        philox4x32(seed, (uint64_t)epoch, (uint64_t)i, r);
        k[i] = (keyed){r[0], i};
    }
    qsort(k, (size_t)n, sizeof(keyed), by_key);
    for (int i = 0; i < n; i++) order[i] = k[i].index;
    free(k);
}

static float lr_at(const pretrain_params *p, int step) {
    if (step < p->warmup_steps) return p->learning_rate * (step + 1) / p->warmup_steps;
    double progress = (double)(step - p->warmup_steps) / fmax(1.0, p->steps - p->warmup_steps);
    return (float)(p->min_learning_rate + 0.5 * (p->learning_rate - p->min_learning_rate) * (1.0 + cos(M_PI * progress)));
}

int pretrain_run(model *m, const corpus *train, const corpus *valid, const pretrain_params *p, FILE *progress,
                 int (*save)(model *m, int step, void *ctx), void *ctx, mg_err *e) {
    model_set_train_mode(m, TRAIN_FULL);
    adamw_state opt;
    adamw_init(&opt, m->n_params);
    opt.weight_decay = p->weight_decay, opt.beta1 = p->adam_beta1, opt.beta2 = p->adam_beta2;
    opt.max_grad_norm = p->max_grad_norm;
    int *order = mallocCheck((size_t)train->n_docs * sizeof(int));
    int epoch = 0, cursor = 0, rc = 0;
    shuffle(order, train->n_docs, p->seed, epoch);
    packed_batch b;
    packed_batch_init(&b);
    float *logp = NULL, *dlogp = NULL;
    int cap = 0;
    double t0 = mg_seconds(), loss_acc = 0;
    long tokens = 0;
    int acc_steps = 0;
    for (int step = 0; step < p->steps && !rc; step++) {
        if (cursor >= train->n_docs) shuffle(order, train->n_docs, p->seed, ++epoch), cursor = 0;
        long scored = fill_batch(&b, train, order, &cursor, p->batch_tokens);
        if (b.n_tokens > cap) {
            cap = b.n_tokens;
            logp = realloc(logp, (size_t)cap * sizeof(float));
            dlogp = realloc(dlogp, (size_t)cap * sizeof(float));
        }
        double loss = -model_forward(m, &b, 1.0f, logp, NULL) / scored;
        for (int i = 0; i < b.n_tokens; i++) dlogp[i] = b.targets[i] >= 0 ? -1.0f / scored : 0.0f;
        model_zero_grad(m);
        model_backward(m, &b, dlogp);
        opt.lr = lr_at(p, step);
        float norm = optimizer_step(m, &opt);
        loss_acc += loss, acc_steps++, tokens += b.n_tokens;
        int last = step + 1 == p->steps;
        int eval = valid && p->eval_every > 0 && ((step + 1) % p->eval_every == 0 || last);
        if (progress && (eval || (step + 1) % 10 == 0 || last)) {
            double dt = mg_seconds() - t0;
            fprintf(progress, "step %5d/%d  epoch %d  loss %.4f  grad norm %.3f  lr %.2e  %.0f tokens/s  %.1f min",
                    step + 1, p->steps, epoch, loss_acc / acc_steps, norm, opt.lr, tokens / dt, dt / 60);
            if (eval) fprintf(progress, "  valid loss %.4f", corpus_loss(m, valid, p->batch_tokens));
            fputc('\n', progress);
            fflush(progress);
            loss_acc = 0, acc_steps = 0;
        }
        if (save && ((p->save_every > 0 && (step + 1) % p->save_every == 0) || last)) rc = save(m, step + 1, ctx);
    }
    if (rc && e && !e->msg[0]) mg_fail(e, "saving the model failed");
    free(order), free(logp), free(dlogp);
    packed_batch_free(&b);
    adamw_free(&opt);
    return rc;
}
