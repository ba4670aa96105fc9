// The search loop on a real (tiny, random) checkpoint with a deterministic in-test task: oracle calls are counted
// once per new canonical candidate, repeats are free, the budget is exact, a solved problem stops the loop, every
// strategy runs, only the training strategies move the adapter, and a run is bit-for-bit reproducible.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/search.h"
#include "testing.h"
#include "toy_task.h"

typedef struct {
    long calls, repeats, archive;
    double best;
    float adapter_sum;
    int iterations, solved;
    char first[64], last[64], best_text[64];
} outcome;

// The test's run config for a strategy, budget, iteration count and seed.
static int make_config(run_config *c, const char *strategy, int budget, int iters, int seed) {
    mg_err e;
    char set_s[64], set_b[64], set_i[64], set_d[64];
    snprintf(set_s, sizeof set_s, "strategy=%s", strategy);
    snprintf(set_b, sizeof set_b, "oracle_budget=%d", budget);
    snprintf(set_i, sizeof set_i, "iterations=%d", iters);
    snprintf(set_d, sizeof set_d, "seed=%d", seed);
    const char *over[] = {set_s, set_b, set_i, set_d, "search.num_on_policy=4", "search.num_neighborhood=2",
                          "search.num_greedy=2", "sampling.max_completion_length=6", "training.learning_rate=1e-2",
                          "task.type=semantle", "task.target=x", "task.vectors=x", "lora.r=4", "lora.alpha=8"};
    const char *yaml = "model: tests/parity/fixtures/llama3-tiny\n";
    int rc = run_config_parse(c, yaml, strlen(yaml), "test.yaml", over, 14, &e);
    CHECK(rc == 0, "%s", e.msg);
    return rc;
}

static float weighted_sum(const lora_adapter *a) {
    float sum = 0;
    for (size_t i = 0; a && i < a->n_params; i++) sum += a->params[i] * (float)(i % 7 + 1);
    return sum;
}

static outcome run(model *m, const tokenizer *tok, const char *strategy, int budget, const char *solution, int iters) {
    run_config c;
    mg_err e;
    outcome o;
    memset(&o, 0, sizeof o);
    if (make_config(&c, strategy, budget, iters, 1234)) return o;
    toy_state st = {0, solution};
    task t = make_toy(&st);
    lora_config lc = {.rank = 4, .alpha = 8, .targets = LORA_Q | LORA_V};
    CHECK(model_lora_init(m, &lc, 5, &e) == 0, "%s", e.msg);
    search_state s;
    CHECK(search_init(&s, &c, m, tok, &t, 7, NULL, NULL, &e) == 0, "%s", e.msg);
    int status;
    while ((status = search_step(&s, &e)) == 0) {}
    CHECK(status == 1, "%s: search failed: %s", strategy, e.msg);
    o.calls = s.oracle_calls, o.repeats = s.repeats, o.archive = (long)archive_size(s.arc);
    o.iterations = s.iteration, o.solved = s.solved;
    o.best = s.best >= 0 ? archive_get(s.arc, s.best)->reward : -1;
    o.adapter_sum = weighted_sum(m->lora);
    if (s.best >= 0) snprintf(o.best_text, sizeof o.best_text, "%s", archive_canonical(s.arc, s.best));
    if (o.archive) {
        snprintf(o.first, sizeof o.first, "%s", archive_canonical(s.arc, 0));
        snprintf(o.last, sizeof o.last, "%s", archive_canonical(s.arc, o.archive - 1));
    }
    CHECK(st.calls == s.oracle_calls, "%s: task saw %ld calls, loop counted %ld", strategy, st.calls, s.oracle_calls);
    CHECK(o.calls == o.archive, "%s: %ld calls for %ld archive entries", strategy, o.calls, o.archive);
    search_free(&s);
    model_set_train_mode(m, TRAIN_NONE);
    run_config_free(&c);
    return o;
}

// Searches stepped in turn on one model (migrate run SWEEP.yaml; migrate ablate runs them one after another).
// Each has its own adapter, attached only while it runs, so each ends as it does alone; a baseline that follows a
// training search samples from the base policy, not from the adapter left on the model.
static void check_shared_model(model *m, const tokenizer *tok) {
    const char *strategy[3] = {"migrate", "grpo", "random"};
    const int seed[3] = {3, 4, 5};
    run_config c[3];
    toy_state st[3];
    task t[3];
    search_state s[3];
    float alone[3];
    char alone_last[3][64];
    mg_err e;
    for (int k = 0; k < 3; k++)
        if (make_config(&c[k], strategy[k], 0, 2, seed[k])) return;
    for (int k = 0; k < 3; k++) {  // alone, one after another on the same model, as migrate ablate does
        st[k] = (toy_state){0, NULL}, t[k] = make_toy(&st[k]);
        CHECK(search_attach_adapter(m, &c[k], &e) == 0 && search_init(&s[k], &c[k], m, tok, &t[k], 0, NULL, NULL, &e) == 0,
              "%s", e.msg);
        while (search_step(&s[k], &e) == 0) {}
        alone[k] = weighted_sum(s[k].adapter);
        snprintf(alone_last[k], sizeof alone_last[k], "%s", archive_canonical(s[k].arc, (long)archive_size(s[k].arc) - 1));
        search_free(&s[k]);
    }
    CHECK(m->lora == NULL, "the baseline run left an adapter attached");
    for (int k = 0; k < 3; k++) {  // set up all three, then step them in turn
        st[k] = (toy_state){0, NULL}, t[k] = make_toy(&st[k]);
        m->lora = NULL;
        CHECK(search_attach_adapter(m, &c[k], &e) == 0 && search_init(&s[k], &c[k], m, tok, &t[k], 0, NULL, NULL, &e) == 0,
              "%s", e.msg);
    }
    m->lora = NULL;
    for (int running = 1; running;) {
        running = 0;
        for (int k = 0; k < 3; k++)
            if (!search_finished(&s[k])) running |= search_step(&s[k], &e) == 0;
    }
    for (int k = 0; k < 3; k++) {
        const char *last = archive_canonical(s[k].arc, (long)archive_size(s[k].arc) - 1);
        CHECK(weighted_sum(s[k].adapter) == alone[k] && !strcmp(last, alone_last[k]),
              "%s stepped in turn with two other searches: adapter %.9g (alone %.9g), last entry '%s' (alone '%s')",
              strategy[k], weighted_sum(s[k].adapter), alone[k], last, alone_last[k]);
        if (s[k].adapter) lora_free(s[k].adapter);
        search_free(&s[k]);
        run_config_free(&c[k]);
    }
    m->lora = NULL;
    model_set_train_mode(m, TRAIN_NONE);
}

int main(void) {
    model m;
    tokenizer *tok;
    mg_err e;
    if (model_load(&m, "tests/parity/fixtures/llama3-tiny", &e) || tokenizer_load(&tok, "tests/parity/fixtures/llama3-tiny", &e)) {
        CHECK(0, "%s", e.msg);
        return test_summary("test_search");
    }
    const char *strategies[] = {"random", "ns", "opro", "grpo", "grpo-greedy", "migrate"};
    float init_sum = 0;
    for (int k = 0; k < 6; k++) {
        outcome o = run(&m, tok, strategies[k], 0, NULL, 4);
        lora_config lc = {.rank = 4, .alpha = 8, .targets = LORA_Q | LORA_V};
        model_lora_init(&m, &lc, 5, &e);
        init_sum = 0;
        for (size_t i = 0; i < m.lora->n_params; i++) init_sum += m.lora->params[i] * (float)(i % 7 + 1);
        int trains = k >= 3;
        printf("  %-12s calls %3ld repeats %3ld best %.3f adapter %s\n", strategies[k], o.calls, o.repeats, o.best,
               o.adapter_sum != init_sum ? "trained" : "unchanged");
        CHECK(o.iterations == 4 && o.calls + o.repeats <= 4 * 6 && o.calls > 0, "%s: %d iterations, %ld calls",
              strategies[k], o.iterations, o.calls);
        CHECK(trains == (o.adapter_sum != init_sum), "%s: adapter %s", strategies[k], trains ? "did not train" : "changed");
    }
    check_shared_model(&m, tok);
    // Reproducible: the same run twice gives the same archive and adapter, bit for bit.
    outcome a = run(&m, tok, "migrate", 0, NULL, 3), b = run(&m, tok, "migrate", 0, NULL, 3);
    CHECK(a.calls == b.calls && a.best == b.best && a.adapter_sum == b.adapter_sum && !strcmp(a.last, b.last),
          "two identical runs differ: %ld/%ld calls, adapter %.9g/%.9g", a.calls, b.calls, a.adapter_sum, b.adapter_sum);
    // Exact budget: 6 new samples per iteration, budget 9 -> stops at 9 calls.
    outcome c = run(&m, tok, "migrate", 9, NULL, 50);
    CHECK(c.calls == 9, "budget 9 but %ld calls", c.calls);
    // Solved stops the loop: the best candidate of the first iteration of a run is declared the solution.
    outcome first = run(&m, tok, "grpo", 0, NULL, 1);
    outcome d = run(&m, tok, "grpo", 0, first.best_text, 50);
    CHECK(d.solved && d.iterations == 1, "solution '%s' not found at iteration 1 (solved %d after %d)",
          first.best_text, d.solved, d.iterations);
    tokenizer_free(tok);
    model_free(&m);
    return test_summary("test_search");
}
