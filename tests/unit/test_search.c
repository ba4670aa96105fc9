// The search loop on a real (tiny, random) checkpoint with a deterministic in-test task: oracle calls are counted
// once per new canonical candidate, repeats are free, the budget is exact, a solved problem stops the loop, every
// strategy runs, only the training strategies move the adapter, and a run is bit-for-bit reproducible.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rng.h"
#include "coordinator/metrics_log.h"
#include "coordinator/search.h"
#include "workers/learner.h"
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

// ---- trouble: failed calls, rewards too large for float, non-finite gradients ----

// The toy task with trouble: mode 0, every call fails (invalid, timeout, crash in turn); mode 1, rewards of
// 1e308 and 0.5 in turn (finite, but their plain sum is not, and no float advantage can hold them: a C task is not
// held to an oracle's range); mode 2, none; mode 3, +inf and 0.5 in turn (no number at all: the mean is none).
typedef struct {
    toy_state base;  // first: the toy's functions read it
    int mode;
    long failed[TASK_FAIL_COUNT];
} trouble_state;

static int trouble_score(task *t, int n, const char *const *cands, task_score *out, mg_err *e) {
    trouble_state *s = t->state;
    (void)cands, (void)e;
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        long k = s->base.calls++;
        if (s->mode == 0) {
            out[i].failure = TASK_FAIL_INVALID + (int)(k % 3);
            s->failed[out[i].failure]++;
            snprintf(out[i].info, sizeof out[i].info, "toy failure %d", out[i].failure);
        } else {
            out[i].valid = 1;
            out[i].reward = s->mode == 1   ? (k % 2 ? 1e308 : 0.5)
                            : s->mode == 3 ? (k % 2 ? INFINITY : 0.5)
                                           : (double)(k % 10) / 10;
        }
    }
    return 0;
}

// Runs `iters` grpo iterations with the trouble task, its metrics lines into *lines (a JSON array) and its stderr
// into err (what the loop warned).
static void run_trouble(model *m, const tokenizer *tok, int mode, int iters, search_state *s, trouble_state *st,
                        json_t **lines, char *err, size_t err_cap) {
    run_config c;
    mg_err e;
    *lines = json_array();
    err[0] = '\0';
    if (make_config(&c, "grpo", 0, iters, 99)) return;
    memset(st, 0, sizeof *st);
    st->mode = mode;
    static task t;
    t = make_toy(&st->base);
    t.state = st, t.score = trouble_score;
    lora_config lc = {.rank = 4, .alpha = 8, .targets = LORA_Q | LORA_V};
    CHECK(model_lora_init(m, &lc, 5, &e) == 0, "%s", e.msg);
    char mpath[96];
    snprintf(mpath, sizeof mpath, "/tmp/migrate_test_search_%ld.jsonl", (long)getpid());
    metrics_log metrics;
    CHECK(metrics_log_open(&metrics, mpath, 0, NULL, 0, stderr, &e) == 0, "%s", e.msg);
    FILE *errf = tmpfile();
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(errf), 2);
    CHECK(search_init(s, &c, m, tok, &t, 7, &metrics, NULL, &e) == 0, "%s", e.msg);
    int status;
    while ((status = search_step(s, &e)) == 0) {}
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(errf);
    size_t got = fread(err, 1, err_cap - 1, errf);
    err[got] = '\0';
    fclose(errf);
    fputs(err, stderr);  // still shown
    CHECK(status == 1, "mode %d: search failed: %s", mode, e.msg);
    for (char *line = metrics.text; line && *line;) {
        char *nl = strchr(line, '\n');
        json_error_t je;
        json_t *o = json_loadb(line, nl ? (size_t)(nl - line) : strlen(line), 0, &je);
        CHECK(o != NULL, "mode %d: a metrics line is not JSON: %s", mode, je.text);
        if (o) json_array_append_new(*lines, o);
        line = nl ? nl + 1 : NULL;
    }
    metrics_log_close(&metrics);
    unlink(mpath);
    run_config_free(&c);
}

static int count_of(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

// Every metrics line has every key: a value that is not finite is null and named in "nonfinite".
static void check_keys(const char *what, json_t *lines) {
    static const char *const keys[] = {"reward", "reward_std", "best_reward", "loss", "kl", "entropy", "grad_norm",
                                       "oracle/invalid", "oracle/timeout", "oracle/crash", "train/skipped",
                                       "clip_ratio/low_mean", "time/iteration"};
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        json_t *bad = json_object_get(o, "nonfinite");
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            json_t *v = json_object_get(o, keys[k]);
            CHECK(v != NULL, "%s: line %zu has no '%s'", what, i + 1, keys[k]);
            if (!v || !json_is_null(v)) continue;
            int listed = 0;
            for (size_t b = 0; b < json_array_size(bad); b++)
                listed |= !strcmp(json_string_value(json_array_get(bad, b)), keys[k]);
            CHECK(listed, "%s: line %zu has '%s' null without listing it in \"nonfinite\"", what, i + 1, keys[k]);
        }
    }
}

static long sum_key(json_t *lines, const char *key) {
    long sum = 0;
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) sum += (long)json_integer_value(json_object_get(o, key));
    return sum;
}

static void check_trouble(model *m, const tokenizer *tok) {
    search_state s;
    trouble_state st;
    json_t *lines;
    static char err[16384];
    // Every call fails: counted by kind per iteration and in total, and said once, in the first iteration.
    run_trouble(m, tok, 0, 3, &s, &st, &lines, err, sizeof err);
    check_keys("failing calls", lines);
    CHECK(json_array_size(lines) == 3, "failing calls: %zu metrics lines", json_array_size(lines));
    CHECK(s.oracle_invalid == st.failed[TASK_FAIL_INVALID] && s.oracle_timeouts == st.failed[TASK_FAIL_TIMEOUT] &&
              s.oracle_crashes == st.failed[TASK_FAIL_CRASH] && s.oracle_calls == st.base.calls && st.base.calls > 0,
          "failing calls: totals %ld/%ld/%ld, the task failed %ld/%ld/%ld of %ld", s.oracle_invalid, s.oracle_timeouts,
          s.oracle_crashes, st.failed[1], st.failed[2], st.failed[3], st.base.calls);
    CHECK(sum_key(lines, "oracle/invalid") == s.oracle_invalid && sum_key(lines, "oracle/timeout") == s.oracle_timeouts &&
              sum_key(lines, "oracle/crash") == s.oracle_crashes,
          "failing calls: the metrics lines do not add up to the totals");
    CHECK(count_of(err, "oracle calls of iteration 1 failed (") == 1 && count_of(err, "oracle calls of iteration") == 1,
          "failing calls: want one warning, in iteration 1; stderr:\n%s", err);
    CHECK(strstr(err, "toy failure"), "failing calls: the warning does not quote a reason:\n%s", err);
    json_decref(lines);
    search_free(&s);
    // Rewards of 1e308: the group's mean stays a number, the update is skipped and said, and the adapter keeps
    // its values (it would turn NaN).
    float before = 0;
    run_trouble(m, tok, 1, 2, &s, &st, &lines, err, sizeof err);
    lora_config lc = {.rank = 4, .alpha = 8, .targets = LORA_Q | LORA_V};
    mg_err e;
    lora_adapter *trained = m->lora;
    m->lora = NULL;
    CHECK(model_lora_init(m, &lc, 5, &e) == 0, "%s", e.msg);
    before = weighted_sum(m->lora);
    lora_free(m->lora);
    m->lora = trained;
    check_keys("huge rewards", lines);
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) CHECK(json_is_number(json_object_get(o, "reward")), "huge rewards: line %zu: "
                                          "no mean reward", i + 1);
    CHECK(s.train_skipped >= 1 && sum_key(lines, "train/skipped") == s.train_skipped && s.opt.t == 0,
          "huge rewards: %ld steps skipped (metrics %ld), adapter version %d", s.train_skipped,
          sum_key(lines, "train/skipped"), s.opt.t);
    CHECK(weighted_sum(m->lora) == before, "huge rewards: the adapter changed (%g, was %g)", weighted_sum(m->lora),
          before);
    CHECK(count_of(err, "GRPO update of iteration") == s.train_skipped && strstr(err, "not finite"),
          "huge rewards: want one warning per skipped update; stderr:\n%s", err);
    json_decref(lines);
    search_free(&s);
    // Infinite rewards: the mean is no number: null, listed, and said, line by line; no step is taken.
    run_trouble(m, tok, 3, 2, &s, &st, &lines, err, sizeof err);
    check_keys("infinite rewards", lines);
    json_array_foreach(lines, i, o) CHECK(json_is_null(json_object_get(o, "reward")) &&
                                              json_is_null(json_object_get(o, "best_reward")),
                                          "infinite rewards: line %zu: reward or best_reward is not null", i + 1);
    CHECK(s.train_skipped == 2 && s.opt.t == 0 && count_of(err, "metrics.jsonl has null there") == 2,
          "infinite rewards: %ld steps skipped, adapter version %d; stderr:\n%s", s.train_skipped, s.opt.t, err);
    json_decref(lines);
    search_free(&s);
    // A task that never fails reports zeros in the same keys.
    run_trouble(m, tok, 2, 2, &s, &st, &lines, err, sizeof err);
    check_keys("plain task", lines);
    CHECK(sum_key(lines, "oracle/invalid") + sum_key(lines, "oracle/timeout") + sum_key(lines, "oracle/crash") == 0 &&
              sum_key(lines, "train/skipped") == 0 && s.oracle_crashes == 0 && s.opt.t > 0 && !strstr(err, "warning"),
          "plain task: failures or skips reported: %s", err);
    json_decref(lines);
    search_free(&s);
    model_set_train_mode(m, TRAIN_NONE);
}

// A gradient that is not finite (a NaN in the adapter) is no step: the learner skips it, says why, and leaves
// the adapter and the optimizer as they were.
static void check_gradient_skip(model *m) {
    mg_err e;
    lora_config lc = {.rank = 4, .alpha = 8, .targets = LORA_Q | LORA_V};
    CHECK(model_lora_init(m, &lc, 5, &e) == 0, "%s", e.msg);
    model_set_train_mode(m, TRAIN_LORA);
    size_t n;
    model_trainable(m, &n);
    adamw_state opt;
    adamw_init(&opt, n);
    m->lora->params[0] = NAN;
    float *copy = malloc(n * sizeof(float));
    memcpy(copy, m->lora->params, n * sizeof(float));
    packed_batch b;
    packed_batch_init(&b);
    int ids[2][5] = {{1, 2, 3, 4, 5}, {1, 2, 6, 7, 8}};
    for (int k = 0; k < 2; k++) packed_batch_add(&b, ids[k], 5, 2);
    float *old = malloc((size_t)b.n_tokens * sizeof(float)), adv[2] = {1.0f, -1.0f};
    for (int i = 0; i < b.n_tokens; i++) old[i] = NAN;  // off-policy: taken from the current policy
    comm alone = {.size = 1, .is_rollout = 1, .is_learner = 1, .is_coordinator = 1, .n_rollout = 1, .n_learner = 1};
    grpo_params gp = {0.2f, 0.28f, 0.0f, LOSS_DR_GRPO, 8, 0};
    learner_stats ls;
    learner_update(&alone, m, &opt, &gp, 2, 1.0f, 4, &b, old, adv, &ls);
    CHECK(ls.skipped == 2 && ls.skip_reason == LEARNER_SKIP_GRADIENT && opt.t == 0,
          "NaN gradient: skipped %d (reason %d), optimizer step %d", ls.skipped, ls.skip_reason, opt.t);
    CHECK(memcmp(copy, m->lora->params, n * sizeof(float)) == 0, "NaN gradient: the adapter changed");
    // advantages that are not finite: skipped before any forward
    float inf_adv[2] = {INFINITY, -INFINITY};
    m->lora->params[0] = 0.0f;
    learner_update(&alone, m, &opt, &gp, 1, 1.0f, 4, &b, old, inf_adv, &ls);
    CHECK(ls.skipped == 1 && ls.skip_reason == LEARNER_SKIP_ADVANTAGES && opt.t == 0,
          "infinite advantages: skipped %d (reason %d), optimizer step %d", ls.skipped, ls.skip_reason, opt.t);
    packed_batch_free(&b);
    free(old), free(copy);
    adamw_free(&opt);
    model_set_train_mode(m, TRAIN_NONE);
}

// training.share_prefix: a group whose members share prompts (three one prompt, two another, one alone; shards of
// four) gives the learner the same loss, entropy, token count and gradient norm whether each shard packs a shared
// prompt once or with every member, up to fp32 rounding.
static void check_learner_shared_prompt(model *m) {
    mg_err e;
    lora_config lc = {.rank = 4, .alpha = 8, .targets = LORA_Q | LORA_K | LORA_V | LORA_O};
    CHECK(model_lora_init(m, &lc, 6, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < m->lora->n_params; i++)  // B != 0, so that every adapted module has a gradient
        if (m->lora->params[i] == 0.0f) m->lora->params[i] = 0.05f * rng_normal(8, 0, i);
    model_set_train_mode(m, TRAIN_LORA);
    size_t n;
    model_trainable(m, &n);
    int V = m->cfg.vocab_size, prompt_of[6] = {0, 1, 0, 0, 1, 2}, plen[3] = {20, 18, 17}, clen[6] = {5, 3, 6, 4, 2, 5};
    packed_batch b;
    packed_batch_init(&b);
    for (int j = 0; j < 6; j++) {
        int ids[32], k = prompt_of[j];
        for (int t = 0; t < plen[k]; t++) ids[t] = 1 + (int)(rng_uniform(31, (uint64_t)k, (uint64_t)t) * (V - 1));
        for (int t = 0; t < clen[j]; t++) ids[plen[k] + t] = 1 + (int)(rng_uniform(32, (uint64_t)j, t) * (V - 1));
        packed_batch_add(&b, ids, plen[k] + clen[j], plen[k] - 1);
    }
    float *old = malloc((size_t)b.n_tokens * sizeof(float)), adv[6] = {0.5f, -1.0f, 0.25f, -0.5f, 1.0f, -0.25f};
    for (int i = 0; i < b.n_tokens; i++) old[i] = NAN;
    comm alone = {.size = 1, .is_rollout = 1, .is_learner = 1, .is_coordinator = 1, .n_rollout = 1, .n_learner = 1};
    float *start = malloc(n * sizeof(float));
    memcpy(start, m->lora->params, n * sizeof(float));
    learner_stats ls[2];
    for (int share = 0; share < 2; share++) {
        memcpy(m->lora->params, start, n * sizeof(float));
        adamw_state opt;
        adamw_init(&opt, n);
        grpo_params gp = {0.2f, 0.28f, 0.0f, LOSS_DR_GRPO, 8, share};
        learner_update(&alone, m, &opt, &gp, 1, 1.0f, 4, &b, old, adv, &ls[share]);
        adamw_free(&opt);
    }
    double rel = fabs(ls[1].grad_norm - ls[0].grad_norm) / ls[0].grad_norm;
    printf("  shared prompts in the learner: loss %.9f vs %.9f, gradient norm %.9g vs %.9g\n", ls[1].loss, ls[0].loss,
           ls[1].grad_norm, ls[0].grad_norm);
    CHECK(ls[0].grad_norm > 0 && rel < 1e-5 && fabs(ls[1].loss - ls[0].loss) <= 1e-6 * fabs(ls[0].loss) + 1e-9 &&
              fabs(ls[1].entropy - ls[0].entropy) <= 1e-5 && ls[1].tokens == ls[0].tokens,
          "shared prompts in the learner: loss %g vs %g, gradient norm %g vs %g, tokens %ld vs %ld", ls[1].loss,
          ls[0].loss, ls[1].grad_norm, ls[0].grad_norm, ls[1].tokens, ls[0].tokens);
    memcpy(m->lora->params, start, n * sizeof(float));
    packed_batch_free(&b);
    free(old), free(start);
    model_set_train_mode(m, TRAIN_NONE);
}

// The group statistics: no overflow for any finite rewards, and the same bits as the plain formulas otherwise.
static void check_group_stats(void) {
    double r[6] = {1e308, 1e308, -1e308, 1e308, 3.0, -2.5}, mean, sd;
    grpo_reward_stats(r, 4, &mean, &sd);
    CHECK(mean == 0.5e308, "mean of huge rewards %g", mean);
    float adv[6];
    double big[3] = {1e9, -1e9, 5e8};  // the ends of an oracle's range
    grpo_advantages(big, 3, 0, adv);
    CHECK(adv[0] == (float)(1e9 - 5e8 / 3) && adv[1] == (float)(-1e9 - 5e8 / 3) && isfinite(adv[2]),
          "advantages at the range's ends: %g %g %g", adv[0], adv[1], adv[2]);
    grpo_advantages(r, 3, 0, adv);  // 2e308 - ... does not fit a float: inf, for the learner to refuse
    CHECK(isinf(adv[0]) && isinf(adv[2]) && adv[0] > 0 && adv[2] < 0, "huge advantages %g %g", adv[0], adv[2]);
    // ordinary rewards: bit for bit the plain formulas
    double x[7] = {0.1, 0.73, -0.2, 0.5, 0.999, 0.0, 0.31};
    for (int scale = 0; scale < 2; scale++) {
        double m = 0, var = 0;
        for (int i = 0; i < 7; i++) m += x[i];
        m /= 7;
        for (int i = 0; i < 7; i++) var += (x[i] - m) * (x[i] - m);
        double std = sqrt(var / 6);
        float got[7];
        grpo_advantages(x, 7, scale, got);
        for (int i = 0; i < 7; i++) {
            float want = (float)(scale ? (x[i] - m) / (std + 1e-4) : x[i] - m);
            CHECK(got[i] == want, "scale %d: advantage %d is %.9g, the plain formula %.9g", scale, i, got[i], want);
        }
        grpo_reward_stats(x, 7, &mean, &sd);
        CHECK(mean == m && sd == std, "stats %.17g %.17g, plain %.17g %.17g", mean, sd, m, std);
    }
}

// search.repeats: the group of each iteration (kept as pending with training.staleness 1, so it can be looked at)
// holds every new sample under `reward`, leaves the iteration's repeats out under `drop`, and under `lowest` gives
// each repeat the lowest reward of the others, so at least repeats + 1 members share the lowest advantage.
static void check_repeats(model *m, const tokenizer *tok) {
    const char *modes[] = {"reward", "drop", "lowest"};
    int seqs[3][8] = {{0}}, reps[3][8] = {{0}}, lowest_ties[8] = {0};
    long total_repeats = 0;
    for (int k = 0; k < 3; k++) {
        run_config c;
        mg_err e;
        char set_r[64];
        snprintf(set_r, sizeof set_r, "search.repeats=%s", modes[k]);
        const char *over[] = {"strategy=grpo", "iterations=8", "search.num_on_policy=8", "search.num_neighborhood=0",
                              "sampling.max_completion_length=4", "sampling.temperature=0.1", "training.staleness=1",
                              "task.type=semantle", "task.target=x", "task.vectors=x", "lora.r=4", "lora.alpha=8",
                              set_r};
        const char *yaml = "model: tests/parity/fixtures/llama3-tiny\n";
        if (run_config_parse(&c, yaml, strlen(yaml), "test.yaml", over, 13, &e)) {
            CHECK(0, "%s", e.msg);
            return;
        }
        toy_state st = {0, NULL};
        task t = make_toy(&st);
        search_state s;
        int ok = search_attach_adapter(m, &c, &e) == 0 && search_init(&s, &c, m, tok, &t, 0, NULL, NULL, &e) == 0;
        CHECK(ok, "%s", e.msg);
        for (int it = 0; ok && it < 8; it++) {
            long before = s.repeats;
            if (search_step(&s, &e) < 0 || s.n_pending < 1) break;
            const pending_group *g = &s.pending[s.n_pending - 1];
            seqs[k][it] = g->b.n_seqs, reps[k][it] = (int)(s.repeats - before);
            if (k == 2 && g->b.n_seqs) {
                float low = g->adv[0];
                for (int i = 1; i < g->b.n_seqs; i++) low = fminf(low, g->adv[i]);
                for (int i = 0; i < g->b.n_seqs; i++) lowest_ties[it] += g->adv[i] == low;
            }
        }
        if (ok) search_free(&s);
        model_set_train_mode(m, TRAIN_NONE);
        run_config_free(&c);
    }
    for (int it = 0; it < 8; it++) {
        total_repeats += reps[0][it];
        // the three runs draw the same samples until their updates differ: compare within the drop run itself
        CHECK(seqs[0][it] == 8 || seqs[0][it] == 0, "reward: iteration %d's group has %d members", it, seqs[0][it]);
        int want = 8 - reps[1][it];
        CHECK(seqs[1][it] == (want >= 2 ? want : 0), "drop: iteration %d has %d repeats and %d members", it,
              reps[1][it], seqs[1][it]);
        if (reps[2][it] > 0 && reps[2][it] < 8)
            CHECK(lowest_ties[it] >= reps[2][it] + 1, "lowest: iteration %d has %d repeats, %d members at the lowest "
                  "advantage", it, reps[2][it], lowest_ties[it]);
    }
    CHECK(total_repeats > 0, "the runs had no repeats: search.repeats was not exercised");
    printf("  search.repeats: %ld repeats in 8 iterations; members per group (drop) %d %d %d %d ...\n", total_repeats,
           seqs[1][0], seqs[1][1], seqs[1][2], seqs[1][3]);
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
    check_group_stats();
    check_trouble(&m, tok);
    check_gradient_skip(&m);
    check_learner_shared_prompt(&m);
    check_repeats(&m, tok);
    tokenizer_free(tok);
    model_free(&m);
    return test_summary("test_search");
}
