// Full training (lora.use_peft false) on a real tiny checkpoint: the learner's exact shard sum gives the gradient of
// the GRPO loss with respect to every weight (against one plain backward over the whole group, and against finite
// differences of the loss), a search trains its own copy of the weights and leaves the model's as loaded, and a full
// search stepped in turn with a LoRA search on the same model ends as it does alone.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "coordinator/search.h"
#include "workers/learner.h"
#include "testing.h"
#include "toy_task.h"

static const comm k_alone = {.size = 1, .is_rollout = 1, .is_learner = 1, .is_coordinator = 1, .n_rollout = 1,
                             .n_learner = 1};

// Six members over three prompts, random tokens (the tiny model is random too).
static void make_group(const model *m, packed_batch *b) {
    int V = m->cfg.vocab_size, prompt_of[6] = {0, 1, 0, 2, 1, 2}, plen[3] = {9, 7, 8}, clen[6] = {5, 3, 6, 4, 2, 5};
    packed_batch_init(b);
    for (int j = 0; j < 6; j++) {
        int ids[32], k = prompt_of[j];
        for (int t = 0; t < plen[k]; t++) ids[t] = 1 + (int)(rng_uniform(41, (uint64_t)k, (uint64_t)t) * (V - 1));
        for (int t = 0; t < clen[j]; t++) ids[plen[k] + t] = 1 + (int)(rng_uniform(42, (uint64_t)j, t) * (V - 1));
        packed_batch_add(b, ids, plen[k] + clen[j], plen[k] - 1);
    }
}

static const float k_adv[6] = {0.5f, -1.0f, 0.25f, -0.5f, 1.0f, -0.25f};

// The group's GRPO loss at the current weights, old log-probs `old` (N), and its dL/dlogp into dlogp when given.
static double group_loss(model *m, const packed_batch *b, const float *old, const grpo_params *gp, float *dlogp) {
    int N = b->n_tokens;
    float *logp = malloc((size_t)N * sizeof(float)), *d = malloc((size_t)N * sizeof(float));
    model_forward(m, b, 1.0f, logp, NULL);
    grpo_stats st;
    double loss = grpo_loss(b, logp, old, NULL, k_adv, gp, d, &st);
    if (dlogp) memcpy(dlogp, d, (size_t)N * sizeof(float));
    free(logp), free(d);
    return loss;
}

static void check_learner_gradient(model *m) {
    packed_batch b;
    make_group(m, &b);
    int N = b.n_tokens;
    size_t n = m->n_params;
    float *start = malloc(n * sizeof(float)), *old = malloc((size_t)N * sizeof(float));
    memcpy(start, m->params, n * sizeof(float));
    model_set_train_mode(m, TRAIN_FULL);
    // old log-probs a little off the current ones, so that the ratio is not 1 everywhere (and none clips)
    model_forward(m, &b, 1.0f, old, NULL);
    for (int i = 0; i < N; i++) old[i] += 0.01f * (float)(i % 5 - 2);
    grpo_params gp = {0.2f, 0.28f, 0.0f, LOSS_DR_GRPO, 8, 0};

    // the plain way: one forward and backward over the whole group
    float *dlogp = malloc((size_t)N * sizeof(float)), *plain = malloc(n * sizeof(float));
    group_loss(m, &b, old, &gp, dlogp);
    model_zero_grad(m);
    model_backward(m, &b, dlogp);
    memcpy(plain, m->grads, n * sizeof(float));

    // the learner's: shards of 2 members, their gradients summed in fixed point (no clipping, so m->grads keeps it)
    adamw_state opt;
    adamw_init(&opt, n);
    opt.max_grad_norm = 0.0f, opt.lr = 0.0f;
    learner_stats ls;
    learner_update(&k_alone, m, &opt, &gp, 1, 1.0f, 2, &b, old, k_adv, &ls);
    double num = 0, den = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)m->grads[i] - plain[i];
        num += d * d, den += (double)plain[i] * plain[i], worst = fmax(worst, fabs(d));
    }
    double rel = sqrt(num / den);
    printf("  learner (3 shards) against one backward: gradient relative error %.2e, worst %.2e, norm %.4g\n", rel,
           worst, sqrt(den));
    CHECK(ls.updates == 1 && den > 0 && rel < 1e-5, "full-training gradient: relative error %g (norm %g, %d updates)",
          rel, sqrt(den), ls.updates);
    CHECK(memcmp(m->params, start, n * sizeof(float)) == 0, "a step at lr 0 moved the weights");

    // The KL term's reference is the model's own weights while a trained copy runs: none at the copy's start, some
    // once the copy has moved.
    float *copy = malloc(n * sizeof(float));
    memcpy(copy, m->own_params, n * sizeof(float));
    model_use_weights(m, copy);
    grpo_params gk = gp;
    gk.beta = 0.04f;
    learner_stats k0, k1;
    learner_update(&k_alone, m, &opt, &gk, 1, 1.0f, 2, &b, old, k_adv, &k0);
    for (size_t i = 0; i < n; i++) copy[i] += 1e-3f * (float)((int)(i % 3) - 1);
    learner_update(&k_alone, m, &opt, &gk, 1, 1.0f, 2, &b, old, k_adv, &k1);
    printf("  KL to the model's own weights: %.3g at the copy's start, %.3g once it moved\n", k0.kl, k1.kl);
    CHECK(k0.kl == 0.0 && k1.kl > 0.0 && m->params == copy, "KL reference: %g then %g", k0.kl, k1.kl);
    model_use_weights(m, NULL);
    free(copy);

    // against finite differences of the loss, in double steps on one weight of several kinds of tensor
    const char *names[] = {"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
                           "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight",
                           "model.norm.weight"};
    int count = model_weight_tensors(m, NULL);
    param_tensor *t = malloc((size_t)count * sizeof(param_tensor));
    model_weight_tensors(m, t);
    for (int k = 0; k < 5; k++) {
        int at = -1;
        for (int i = 0; i < count; i++)
            if (!strcmp(t[i].name, names[k])) at = i;
        CHECK(at >= 0, "no tensor %s", names[k]);
        if (at < 0) continue;
        // the element of this tensor with the largest gradient: a clear signal above float noise
        size_t best = t[at].offset, size = (size_t)t[at].rows * (size_t)t[at].cols;
        for (size_t i = t[at].offset; i < t[at].offset + size; i++)
            if (fabsf(plain[i]) > fabsf(plain[best])) best = i;
        float w = m->params[best], h = 1e-2f * fmaxf(1.0f, fabsf(w));
        m->params[best] = w + h;
        double up = group_loss(m, &b, old, &gp, NULL);
        m->params[best] = w - h;
        double down = group_loss(m, &b, old, &gp, NULL);
        m->params[best] = w;
        double fd = (up - down) / (2.0 * (double)h), err = fabs(fd - plain[best]) / fmax(fabs(plain[best]), 1e-6);
        printf("  %-40s finite difference %.6g, analytic %.6g (relative %.1e)\n", names[k], fd, plain[best], err);
        CHECK(err < 2e-2, "%s: finite difference %g, analytic %g", names[k], fd, plain[best]);
    }
    free(t);
    adamw_free(&opt);
    packed_batch_free(&b);
    free(start), free(old), free(dlogp), free(plain);
    model_set_train_mode(m, TRAIN_NONE);
}

static int make_config(run_config *c, const char *strategy, int full, int seed) {
    mg_err e;
    char set_s[64], set_d[64];
    snprintf(set_s, sizeof set_s, "strategy=%s", strategy);
    snprintf(set_d, sizeof set_d, "seed=%d", seed);
    const char *over[] = {set_s, set_d, full ? "lora.use_peft=false" : "lora.use_peft=true", "iterations=3",
                          "search.num_on_policy=4", "search.num_neighborhood=2", "search.num_greedy=2",
                          "sampling.max_completion_length=6", "training.learning_rate=1e-3", "task.type=semantle",
                          "task.target=x", "task.vectors=x", "lora.r=4", "lora.alpha=8"};
    const char *yaml = "model: tests/parity/fixtures/llama3-tiny\n";
    int rc = run_config_parse(c, yaml, strlen(yaml), "test.yaml", over, 14, &e);
    CHECK(rc == 0, "%s", e.msg);
    return rc;
}

static double weighted_sum(const float *p, size_t n) {
    double sum = 0;
    for (size_t i = 0; p && i < n; i++) sum += (double)p[i] * (double)(i % 7 + 1);
    return sum;
}

static void check_search(model *m, const tokenizer *tok) {
    size_t n = m->n_params;
    float *loaded = malloc(n * sizeof(float));
    memcpy(loaded, m->params, n * sizeof(float));
    run_config c[2];
    toy_state st[2];
    task t[2];
    search_state s[2];
    mg_err e;
    if (make_config(&c[0], "migrate", 1, 3) || make_config(&c[1], "grpo", 0, 4)) return;
    double alone[2];
    for (int k = 0; k < 2; k++) {  // alone, one after another on the same model, as migrate ablate runs them
        st[k] = (toy_state){0, NULL}, t[k] = make_toy(&st[k]);
        m->lora = NULL;
        CHECK(search_attach_adapter(m, &c[k], &e) == 0 && search_init(&s[k], &c[k], m, tok, &t[k], 0, NULL, NULL, &e) == 0,
              "%s", e.msg);
        while (search_step(&s[k], &e) == 0) {}
        alone[k] = k == 0 ? weighted_sum(s[k].weights, n) : weighted_sum(s[k].adapter->params, s[k].adapter->n_params);
        if (k == 0) {
            CHECK(s[0].weights && m->lora == NULL && memcmp(s[0].weights, loaded, n * sizeof(float)) != 0,
                  "the full-training search did not train its own weights");
            CHECK(memcmp(m->own_params, loaded, n * sizeof(float)) == 0, "full training wrote the model's own weights");
        }
        if (s[k].adapter) lora_free(s[k].adapter);
        search_free(&s[k]);
        CHECK(m->params == m->own_params, "after a full-training search the model runs another copy of the weights");
    }
    for (int k = 0; k < 2; k++) {  // both set up, then stepped in turn
        st[k] = (toy_state){0, NULL}, t[k] = make_toy(&st[k]);
        m->lora = NULL;
        CHECK(search_attach_adapter(m, &c[k], &e) == 0 && search_init(&s[k], &c[k], m, tok, &t[k], 0, NULL, NULL, &e) == 0,
              "%s", e.msg);
    }
    for (int running = 1; running;) {
        running = 0;
        for (int k = 0; k < 2; k++)
            if (!search_finished(&s[k])) running |= search_step(&s[k], &e) == 0;
    }
    double turn[2] = {weighted_sum(s[0].weights, n), weighted_sum(s[1].adapter->params, s[1].adapter->n_params)};
    printf("  full-training migrate alone %.12g, in turn with a LoRA grpo search %.12g\n", alone[0], turn[0]);
    CHECK(turn[0] == alone[0] && turn[1] == alone[1], "stepped in turn: full %.12g (alone %.12g), LoRA %.12g (alone %.12g)",
          turn[0], alone[0], turn[1], alone[1]);
    for (int k = 0; k < 2; k++) {
        if (s[k].adapter) lora_free(s[k].adapter);
        search_free(&s[k]);
        run_config_free(&c[k]);
    }
    m->lora = NULL;
    CHECK(m->params == m->own_params && memcmp(m->params, loaded, n * sizeof(float)) == 0,
          "the model's weights after the searches are not those loaded");
    free(loaded);
}

// The settings full training cannot run with are refused when the config loads, in one line naming the key.
static void check_config_refusals(void) {
    const char *yaml = "model: m\ntask: {target: ocean, vectors: v}\nlora:\n  use_peft: false\n";
    const char *gpu[] = {"engine.backend=cuda"}, *coordinator[] = {"distributed.coordinator_only=true"};
    const char *const *over[2] = {gpu, coordinator};
    const char *want[2] = {"probe.yaml:4: lora.use_peft false (train every weight) runs on engine.backend cpu",
                           "probe.yaml:4: lora.use_peft false (train every weight) needs the weights on rank 0"};
    for (int k = 0; k < 2; k++) {
        run_config c;
        mg_err e;
        int rc = run_config_parse(&c, yaml, strlen(yaml), "probe.yaml", over[k], 1, &e);
        CHECK(rc == -1 && strstr(e.msg, want[k]) && !strchr(e.msg, '\n'), "refusal %d: rc %d, '%s'", k, rc, e.msg);
        if (rc == -1) printf("  refused: %s\n", e.msg);
        else run_config_free(&c);
    }
}

int main(void) {
    check_config_refusals();
    model m;
    tokenizer *tok;
    mg_err e;
    if (model_load(&m, "tests/parity/fixtures/llama3-tiny", &e) || tokenizer_load(&tok, "tests/parity/fixtures/llama3-tiny", &e)) {
        CHECK(0, "%s", e.msg);
        return test_summary("test_full_training");
    }
    check_learner_gradient(&m);
    check_search(&m, tok);
    tokenizer_free(tok);
    model_free(&m);
    return test_summary("test_full_training");
}
