// The sampler: filtered distributions are exactly what the filters define (checked by sweeping the uniform draw
// over a fine grid, which turns the inverse-CDF sampler into an exact histogram), the recorded log-probs, greedy
// decoding, and stop strings / EOS on a real checkpoint with its tokenizer.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/sampler.h"
#include "testing.h"

enum { V = 10, GRID = 200000 };
static const float LOGITS[V] = {1.0f, 3.0f, -2.0f, 2.5f, 0.0f, 2.9f, -1.0f, 0.5f, 3.0f, 1.5f};

// Expected distribution in double: temperature, then top-k, top-p, min-p (transformers' order).
static void expected(const sampling_params *p, double *q) {
    double mx = -INFINITY, s = 0;
    for (int v = 0; v < V; v++) mx = fmax(mx, LOGITS[v]);
    for (int v = 0; v < V; v++) s += (q[v] = exp((LOGITS[v] - mx) / p->temperature));
    for (int v = 0; v < V; v++) q[v] /= s;
    int order[V];
    for (int v = 0; v < V; v++) order[v] = v;
    for (int i = 0; i < V; i++)  // sort ids by probability, descending, ties by id
        for (int j = i + 1; j < V; j++)
            if (q[order[j]] > q[order[i]] || (q[order[j]] == q[order[i]] && order[j] < order[i])) {
                int t = order[i];
                order[i] = order[j], order[j] = t;
            }
    int keep = V;
    if (p->top_k > 0 && p->top_k < keep) keep = p->top_k;
    if (p->top_p < 1.0f) {
        double kept = 0, acc = 0;
        for (int i = 0; i < keep; i++) kept += q[order[i]];
        int n = 0;
        while (n < keep && acc < p->top_p * kept) acc += q[order[n++]];
        keep = n;
    }
    double top = q[order[0]], total = 0;
    for (int i = 0; i < V; i++) {
        int v = order[i];
        if (i >= keep || q[v] < p->min_p * top) q[v] = 0;
        total += q[v];
    }
    for (int v = 0; v < V; v++) q[v] /= total;
}

static void check_distribution(const char *name, sampling_params p) {
    double want[V];
    expected(&p, want);
    long count[V] = {0};
    float scratch[SAMPLE_SCRATCH(V)];
    double worst_lp = 0;
    for (int i = 0; i < GRID; i++) {
        float lp;
        int v = sample_token(LOGITS, V, &p, (i + 0.5f) / GRID, &lp, scratch);
        count[v]++;
        double mx = 3.0, s = 0;
        for (int k = 0; k < V; k++) s += exp((LOGITS[k] - mx) / p.temperature);
        worst_lp = fmax(worst_lp, fabs(lp - ((LOGITS[v] - mx) / p.temperature - log(s))));
    }
    double worst = 0;
    for (int v = 0; v < V; v++) worst = fmax(worst, fabs((double)count[v] / GRID - want[v]));
    printf("  %-28s worst |frequency - probability| %.1e, logp error %.1e\n", name, worst, worst_lp);
    CHECK(worst < 1e-4, "%s: distribution off by %g", name, worst);
    CHECK(worst_lp < 1e-5, "%s: recorded logp off by %g", name, worst_lp);
}

static void distributions(void) {
    sampling_params p;
    sampling_params_default(&p);
    check_distribution("temperature 1", p);
    p.temperature = 0.5f;
    check_distribution("temperature 0.5", p);
    p.temperature = 1.3f, p.top_k = 3;
    check_distribution("top-k 3 (tie at the cut)", p);
    p.top_k = 0, p.top_p = 0.8f;
    check_distribution("top-p 0.8", p);
    p.top_p = 1.0f, p.min_p = 0.3f;
    check_distribution("min-p 0.3", p);
    p.top_k = 5, p.top_p = 0.9f, p.min_p = 0.05f;
    check_distribution("top-k 5 + top-p 0.9 + min-p", p);
    p.temperature = 0.0f;
    float lp, scratch[SAMPLE_SCRATCH(V)];
    CHECK(sample_token(LOGITS, V, &p, 0.99f, &lp, scratch) == 1, "greedy must pick the first maximum");
}

static void stops_and_eos(void) {
    const char *dir = "tests/parity/fixtures/llama3-tiny";
    model m;
    tokenizer *tok;
    mg_err e;
    if (model_load(&m, dir, &e) || tokenizer_load(&tok, dir, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    m.cfg.n_eos = 0;  // first run: nothing stops it
    int prompt[] = {5, 6, 7, 8};
    const int *prompts[] = {prompt};
    int len = 4;
    uint64_t id = 3;
    sampling_params p;
    sampling_params_default(&p);
    p.max_new_tokens = 40;
    p.seed = 11;
    completion free_run, stopped, eos;
    CHECK(generate(&m, tok, 1, prompts, &len, &id, &p, 0, &free_run, &e) == 0, "%s", e.msg);
    CHECK(free_run.n == 40 && free_run.finish == FINISH_LENGTH, "n %d finish %d", free_run.n, free_run.finish);
    // Stop at a piece of text from the middle of the free run: same seed, so the same tokens until the stop.
    size_t tl = strlen(free_run.text);
    CHECK(tl > 12, "free run text too short (%zu bytes)", tl);
    char stop[5] = {0};
    memcpy(stop, free_run.text + tl / 2, 4);
    p.stop[0] = stop;
    CHECK(generate(&m, tok, 1, prompts, &len, &id, &p, 0, &stopped, &e) == 0, "%s", e.msg);
    const char *first = strstr(free_run.text, stop);
    CHECK(stopped.finish == FINISH_STOP, "finish %d", stopped.finish);
    CHECK(first && strlen(stopped.text) == (size_t)(first - free_run.text) &&
              strncmp(stopped.text, free_run.text, strlen(stopped.text)) == 0,
          "stopped text '%s' is not the free run cut before '%s'", stopped.text, stop);
    CHECK(stopped.n <= free_run.n && memcmp(stopped.ids, free_run.ids, stopped.n * sizeof(int)) == 0,
          "stopped ids are not a prefix");
    // EOS: make the 10th sampled token an end-of-sequence id.
    p.stop[0] = NULL;
    m.cfg.n_eos = 1;
    m.cfg.eos_token_ids[0] = free_run.ids[9];
    int first_eos = 0;
    while (free_run.ids[first_eos] != free_run.ids[9]) first_eos++;
    CHECK(generate(&m, tok, 1, prompts, &len, &id, &p, 0, &eos, &e) == 0, "%s", e.msg);
    CHECK(eos.finish == FINISH_EOS && eos.n == first_eos + 1, "eos: finish %d after %d tokens (want %d)", eos.finish,
          eos.n, first_eos + 1);
    completion_free(&free_run), completion_free(&stopped), completion_free(&eos);
    tokenizer_free(tok);
    model_free(&m);
}

int main(void) {
    distributions();
    stops_and_eos();
    return test_summary("test_sampler");
}
