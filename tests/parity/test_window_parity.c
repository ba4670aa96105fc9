// Sliding-window attention against transformers (tests/parity/make_window_fixtures.py): a Mistral and a Qwen2 with
// a window of 6 tokens on every layer, sequences of up to 17 tokens, so every check crosses the window.
//
// Checked per model: logits through the KV cache token by token (decode attends to the cache's last 6 rows),
// log-probs of a packed batch of the three sequences (training attention, windows inside a packed batch), the
// gradient of sum log p(target) with respect to three weights (the backward through the window), and a greedy
// decode past the window. A control runs the same model with the window switched off and must disagree with the
// reference, so that the fixtures do test the window.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/safetensors.h"
#include "testing.h"

#define FIXTURES "tests/parity/fixtures/"
#define N_SEQS 3
#define GREEDY_PROMPT 4
#define GREEDY_NEW 14
#define TOL_LOGIT 1e-4  // absolute, on logits and log-probs
#define TOL_GRAD 1e-3   // max|a - b| / max|b|

static const char *const GRAD_TENSORS[] = {"model.layers.0.self_attn.k_proj.weight",
                                           "model.layers.1.self_attn.q_proj.weight",
                                           "model.layers.1.mlp.down_proj.weight"};

typedef struct {
    st_file ref;
    int len[N_SEQS];
    int *ids[N_SEQS];
    const float *logits[N_SEQS];  // (len, V)
} window_ref;

static const float *ref_f32(const st_file *st, const char *name, long want) {
    const st_tensor *t = st_find(st, name);
    CHECK(t && t->dtype == ST_F32 && (want < 0 || t->numel == want), "reference '%s' missing or misshapen", name);
    return t && t->dtype == ST_F32 ? (const float *)t->data : NULL;
}

static int open_ref(window_ref *r, const char *name, int V) {
    char path[256];
    mg_err e;
    snprintf(path, sizeof path, FIXTURES "%s.ref.safetensors", name);
    if (st_open(&r->ref, path, &e)) {
        CHECK(0, "%s", e.msg);
        return -1;
    }
    for (int s = 0; s < N_SEQS; s++) {
        char key[64];
        snprintf(key, sizeof key, "seq%d.ids", s);
        const st_tensor *t = st_find(&r->ref, key);
        CHECK(t && t->dtype == ST_I32 && t->ndim == 1, "reference '%s'", key);
        if (!t) return -1;
        r->len[s] = (int)t->numel;
        r->ids[s] = malloc((size_t)r->len[s] * sizeof(int));
        memcpy(r->ids[s], t->data, (size_t)r->len[s] * sizeof(int));  // the mapping is not necessarily aligned
        snprintf(key, sizeof key, "seq%d.logits", s);
        r->logits[s] = ref_f32(&r->ref, key, (long)r->len[s] * V);
        if (!r->logits[s]) return -1;
    }
    return 0;
}

static void close_ref(window_ref *r) {
    for (int s = 0; s < N_SEQS; s++) free(r->ids[s]);
    st_close(&r->ref);
}

// log softmax of a reference row at one id, in double
static double ref_logp(const float *row, int V, int id) {
    double mx = row[0], sum = 0;
    for (int v = 1; v < V; v++) mx = fmax(mx, row[v]);
    for (int v = 0; v < V; v++) sum += exp(row[v] - mx);
    return row[id] - mx - log(sum);
}

// Feeds each sequence token by token through the KV cache; returns the worst |logit - reference|.
static double step_logits(model *m, const window_ref *r) {
    int V = m->cfg.vocab_size;
    kv_cache kv;
    mg_err e;
    if (kv_cache_init(&kv, m, 1, 64, &e)) {
        CHECK(0, "%s", e.msg);
        return INFINITY;
    }
    float *logits = malloc((size_t)V * sizeof(float));
    double worst = 0;
    for (int s = 0; s < N_SEQS; s++) {
        kv.len[0] = 0;  // model_step counts the slot's tokens; a new sequence starts it again
        for (int t = 0; t < r->len[s]; t++) {
            int slot = 0;
            char want = 1;
            if (model_step(m, &kv, 1, &r->ids[s][t], &slot, &want, logits, &e)) {
                CHECK(0, "%s", e.msg);
                break;
            }
            for (int v = 0; v < V; v++)
                worst = fmax(worst, fabs((double)logits[v] - r->logits[s][(size_t)t * V + v]));
        }
    }
    free(logits);
    kv_cache_free(&kv);
    return worst;
}

// The three sequences in one packed batch (score_from 0: every next token is a target).
static void packed_of(const window_ref *r, packed_batch *b) {
    packed_batch_init(b);
    for (int s = 0; s < N_SEQS; s++) packed_batch_add(b, r->ids[s], r->len[s], 0);
}

static double packed_logp(model *m, const window_ref *r) {
    packed_batch b;
    packed_of(r, &b);
    int V = m->cfg.vocab_size;
    float *logp = malloc((size_t)b.n_tokens * sizeof(float));
    model_forward(m, &b, 1.0f, logp, NULL);
    double worst = 0;
    for (int s = 0; s < N_SEQS; s++)
        for (int t = 0; t + 1 < r->len[s]; t++)
            worst = fmax(worst, fabs(logp[b.seq_start[s] + t] -
                                     ref_logp(r->logits[s] + (size_t)t * V, V, r->ids[s][t + 1])));
    free(logp);
    packed_batch_free(&b);
    return worst;
}

// d sum log p(target) / dW for the fixture's three weights, over all sequences (the reference's per-sequence
// gradients summed), as max|a - b| / max|b| over the three.
static double full_grads(model *m, const window_ref *r) {
    model_set_train_mode(m, TRAIN_FULL);
    model_zero_grad(m);
    packed_batch b;
    packed_of(r, &b);
    float *logp = malloc((size_t)b.n_tokens * sizeof(float)), *dlogp = malloc((size_t)b.n_tokens * sizeof(float));
    model_forward(m, &b, 1.0f, logp, NULL);
    for (int i = 0; i < b.n_tokens; i++) dlogp[i] = b.targets[i] >= 0 ? 1.0f : 0.0f;
    model_backward(m, &b, dlogp);
    double worst = 0;
    for (size_t k = 0; k < sizeof GRAD_TENSORS / sizeof *GRAD_TENSORS; k++) {
        int count = model_param_count(m), found = 0;
        for (int i = 0; i < count && !found; i++) {
            char name[128];
            float *p;
            int ndim;
            int64_t shape[2];
            model_param_name(m, i, name, sizeof name, &p, &ndim, shape);
            if (strcmp(name, GRAD_TENSORS[k])) continue;
            found = 1;
            long n = (long)(ndim == 1 ? shape[0] : shape[0] * shape[1]);
            const float *g = m->grads + (p - m->params), *ref[N_SEQS];
            for (int s = 0; s < N_SEQS; s++) {
                char key[160];
                snprintf(key, sizeof key, "seq%d.grad.%s", s, GRAD_TENSORS[k]);
                ref[s] = ref_f32(&r->ref, key, n);
            }
            double amax = 0, diff = 0;
            for (long j = 0; j < n; j++) {
                double want = 0;
                for (int s = 0; s < N_SEQS; s++) want += ref[s] ? ref[s][j] : NAN;
                amax = fmax(amax, fabs(want)), diff = fmax(diff, fabs(g[j] - want));
            }
            worst = fmax(worst, amax > 0 ? diff / amax : diff);
        }
        CHECK(found, "no parameter %s", GRAD_TENSORS[k]);
    }
    free(logp), free(dlogp);
    packed_batch_free(&b);
    model_set_train_mode(m, TRAIN_NONE);
    return worst;
}

// Greedy decode of the first sequence's prompt past the window: the number of tokens equal to the reference's.
static int greedy_equal(model *m, const window_ref *r) {
    const st_tensor *t = st_find(&r->ref, "greedy.ids");
    CHECK(t && t->dtype == ST_I32 && t->numel == GREEDY_NEW, "reference greedy.ids");
    if (!t) return 0;
    int want[GREEDY_NEW], V = m->cfg.vocab_size, slot0[GREEDY_PROMPT] = {0}, equal = 0;
    memcpy(want, t->data, sizeof want);
    char wanted[GREEDY_PROMPT] = {0};
    wanted[GREEDY_PROMPT - 1] = 1;
    kv_cache kv;
    mg_err e;
    if (kv_cache_init(&kv, m, 1, 64, &e)) return 0;
    float *logits = malloc((size_t)V * sizeof(float));
    int rc = model_step(m, &kv, GREEDY_PROMPT, r->ids[0], slot0, wanted, logits, &e);  // the prompt's prefill
    for (int k = 0; k < GREEDY_NEW && rc == 0; k++) {
        int best = 0;
        for (int v = 1; v < V; v++) best = logits[v] > logits[best] ? v : best;
        equal += best == want[k];
        char one = 1;
        rc = model_step(m, &kv, 1, &best, slot0, &one, logits, &e);
    }
    CHECK(rc == 0, "greedy: %s", e.msg);
    free(logits);
    kv_cache_free(&kv);
    return equal;
}

static void test_model(const char *name) {
    model m;
    mg_err e;
    char dir[256];
    snprintf(dir, sizeof dir, FIXTURES "%s", name);
    if (model_load(&m, dir, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    window_ref r;
    if (open_ref(&r, name, m.cfg.vocab_size) == 0) {
        CHECK(m.cfg.sliding_window == 6, "%s: window %d read from config.json, 6 expected", name, m.cfg.sliding_window);
        double steps = step_logits(&m, &r), packed = packed_logp(&m, &r), grads = full_grads(&m, &r);
        int greedy = greedy_equal(&m, &r);
        printf("%s (window 6, sequences of 17, 9, 12 tokens):\n", name);
        printf("  logits, KV-cache steps      worst %.3e  (tol %.0e)\n", steps, TOL_LOGIT);
        printf("  log-probs, packed batch     worst %.3e  (tol %.0e)\n", packed, TOL_LOGIT);
        printf("  full gradients (rel)        worst %.3e  (tol %.0e)\n", grads, TOL_GRAD);
        printf("  greedy decode past window   %d of %d tokens equal\n", greedy, GREEDY_NEW);
        CHECK(steps <= TOL_LOGIT && packed <= TOL_LOGIT, "%s: logits %.3e, log-probs %.3e", name, steps, packed);
        CHECK(grads <= TOL_GRAD, "%s: gradients %.3e", name, grads);
        CHECK(greedy == GREEDY_NEW, "%s: greedy %d of %d", name, greedy, GREEDY_NEW);
        m.cfg.sliding_window = 0;  // the control: attending to everything must give other results
        double off = packed_logp(&m, &r);
        printf("  control, window off         log-probs differ by %.3e\n", off);
        CHECK(off > 1e-2, "%s: the window changes nothing (%.3e): the fixture does not cross it", name, off);
    }
    close_ref(&r);
    model_free(&m);
}

int main(void) {
    test_model("mistral-window-tiny");
    test_model("qwen2-window-tiny");
    return test_summary("test_window_parity");
}
