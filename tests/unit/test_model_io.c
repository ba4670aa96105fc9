// Saving and loading models in the Hugging Face layout, LoRA target parsing, gradient accumulation and the
// optimizer wrapper with its step-size schedules.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rng.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "kernels/ops.h"
#include "model/safetensors.h"
#include "testing.h"

static hf_config config(int tied, int bias) {
    hf_config c;
    memset(&c, 0, sizeof c);
    c.arch = bias ? ARCH_QWEN2 : ARCH_LLAMA;
    snprintf(c.architecture, sizeof c.architecture, "%s", bias ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
    c.vocab_size = 50, c.hidden_size = 16, c.intermediate_size = 40, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 4, c.max_position_embeddings = 128;
    c.rms_norm_eps = 1e-6f, c.rope_theta = 10000.0, c.tie_word_embeddings = tied, c.attention_bias = bias;
    c.bos_token_id = 1, c.eos_token_ids[0] = 2, c.eos_token_ids[1] = 3, c.n_eos = 2, c.pad_token_id = -1;
    if (!bias) {
        c.rope_llama3 = 1, c.rope_factor = 8, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4;
        c.rope_original_max_position_embeddings = 16;
    }
    return c;
}

static void roundtrip(int tied, int bias, int bf16) {
    char dir[] = "/tmp/migrate_io_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    hf_config c = config(tied, bias);
    model a, b;
    model_init_random(&a, &c, 77);
    for (size_t i = 0; i < a.n_params; i++) a.params[i] += 0.01f * rng_normal(3, 3, i);  // norms, biases not trivial
    mg_err e;
    CHECK(model_save(&a, dir, bf16, &e) == 0, "save: %s", e.msg);
    CHECK(model_load(&b, dir, &e) == 0, "load: %s", e.msg);
    CHECK(b.n_params == a.n_params, "param count %zu vs %zu", b.n_params, a.n_params);
    float worst = 0;
    for (size_t i = 0; i < a.n_params && b.n_params == a.n_params; i++) {
        float want = bf16 ? bf16_to_f32(f32_to_bf16(a.params[i])) : a.params[i];
        worst = fmaxf(worst, fabsf(b.params[i] - want));
    }
    CHECK(worst == 0.0f, "tied=%d bias=%d bf16=%d: reloaded weights differ by %g", tied, bias, bf16, worst);
    CHECK(b.cfg.n_eos == 2 && b.cfg.eos_token_ids[1] == 3, "eos ids not kept");
    CHECK(b.cfg.tie_word_embeddings == tied && b.cfg.attention_bias == bias, "flags not kept");
    CHECK(b.cfg.rope_llama3 == !bias && fabs(b.cfg.rope_factor - (bias ? b.cfg.rope_factor : 8)) < 1e-9, "rope not kept");
    CHECK(tied ? b.w.lm_head == b.w.wte : b.w.lm_head != b.w.wte, "tying");
    model_free(&a);
    model_free(&b);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

static void accumulation(void) {
    hf_config c = config(0, 1);
    model m;
    model_init_random(&m, &c, 5);
    lora_config lc = {.rank = 4, .alpha = 8};
    mg_err e;
    CHECK(lora_parse_targets("q_proj, v_proj,down_proj", &lc.targets, &e) == 0, "%s", e.msg);
    CHECK(lc.targets == (LORA_Q | LORA_V | LORA_DOWN), "targets %u", lc.targets);
    unsigned t;
    CHECK(lora_parse_targets("q_proj,qkv", &t, &e) == -1 && strstr(e.msg, "qkv"), "bad target accepted");
    CHECK(model_lora_init(&m, &lc, 1, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < m.lora->n_params; i++) m.lora->params[i] += 0.05f * rng_normal(1, 2, i);
    model_set_train_mode(&m, TRAIN_LORA);
    int s1[] = {1, 5, 9, 13, 17, 21}, s2[] = {4, 8, 15, 16, 23, 42, 7};
    // one batch holding both sequences
    packed_batch both, p1, p2;
    packed_batch_init(&both), packed_batch_init(&p1), packed_batch_init(&p2);
    packed_batch_add(&both, s1, 6, 2), packed_batch_add(&both, s2, 7, 1);
    packed_batch_add(&p1, s1, 6, 2), packed_batch_add(&p2, s2, 7, 1);
    float logp[16], dl[16];
    for (int i = 0; i < 16; i++) dl[i] = -1.0f;
    model_zero_grad(&m);
    model_forward(&m, &both, 1.0f, logp, NULL);
    model_backward(&m, &both, dl);
    size_t n;
    float *g = model_trainable_grad(&m, &n), *ref = malloc(n * sizeof(float));
    memcpy(ref, g, n * sizeof(float));
    model_zero_grad(&m);
    model_forward(&m, &p1, 1.0f, logp, NULL);
    model_backward(&m, &p1, dl);
    model_forward(&m, &p2, 1.0f, logp, NULL);
    model_backward(&m, &p2, dl);
    float worst = 0, scale = 1e-6f;
    for (size_t i = 0; i < n; i++) worst = fmaxf(worst, fabsf(g[i] - ref[i])), scale = fmaxf(scale, fabsf(ref[i]));
    printf("  accumulation over 2 micro-batches vs one batch: %.2e relative\n", worst / scale);
    CHECK(worst / scale < 1e-5, "accumulated gradient differs: %g", worst / scale);
    // optimizer: clipping to max_grad_norm, and the step moves the adapter
    adamw_state o;
    adamw_init(&o, n);
    o.lr = 1e-2f, o.max_grad_norm = 1e-3f;
    float *p = model_trainable(&m, &n), before = p[0];
    float norm = optimizer_step(&m, &o);
    CHECK(norm > 1e-3f, "norm %g", norm);
    double clipped = sqrt(0.0 + 0);
    for (size_t i = 0; i < n; i++) clipped += (double)g[i] * g[i];
    CHECK(fabs(sqrt(clipped) - 1e-3) < 1e-6, "clipped norm %g", sqrt(clipped));
    CHECK(p[0] != before && o.t == 1, "no step taken");
    adamw_free(&o);
    // optimizer_step takes the schedule's size: under warmup the first step has size 0 and leaves the weights
    adamw_init(&o, n);
    o.lr = 1e-2f, o.warmup_steps = 3, o.total_steps = 10, o.schedule = LR_LINEAR;
    memcpy(ref, p, n * sizeof(float));
    optimizer_step(&m, &o);
    CHECK(o.t == 1 && memcmp(ref, p, n * sizeof(float)) == 0, "the warmup's first step (size 0) moved the weights");
    optimizer_step(&m, &o);
    CHECK(o.t == 2 && memcmp(ref, p, n * sizeof(float)) != 0, "the warmup's second step did not move the weights");
    adamw_free(&o);
    free(ref);
    packed_batch_free(&both), packed_batch_free(&p1), packed_batch_free(&p2);
    model_free(&m);
}

// A new adapter with the same rank but other target modules must get activation buffers for its own modules.
static void retarget(void) {
    hf_config c = config(0, 0);
    model m;
    model_init_random(&m, &c, 8);
    int ids[] = {1, 2, 3, 4, 5, 6};
    packed_batch b;
    packed_batch_init(&b);
    packed_batch_add(&b, ids, 6, 0);
    float logp[6], d[6] = {-1, -1, -1, -1, -1, 0};
    mg_err e;
    lora_config first = {.rank = 4, .alpha = 8, .targets = LORA_Q}, second = {.rank = 4, .alpha = 8, .targets = LORA_DOWN};
    CHECK(model_lora_init(&m, &first, 1, &e) == 0, "%s", e.msg);
    model_set_train_mode(&m, TRAIN_LORA);
    model_forward(&m, &b, 1.0f, logp, NULL);
    model_backward(&m, &b, d);
    CHECK(model_lora_init(&m, &second, 1, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < m.lora->n_params; i++) m.lora->params[i] += 0.01f;  // B != 0: dA is not zero
    model_zero_grad(&m);
    model_forward(&m, &b, 1.0f, logp, NULL);
    model_backward(&m, &b, d);
    size_t n;
    const float *g = model_trainable_grad(&m, &n);  // sets n: read it only afterwards
    CHECK(sqrt(sumsq(g, n)) > 0, "no gradient after switching adapter targets");
    packed_batch_free(&b);
    model_free(&m);
}

// tie_word_embeddings against the checkpoint: an untied config without lm_head.weight, and a tied config beside a
// different lm_head.weight, are refused by key; a tied config beside an identical copy of the embedding loads.
static void tying_checks(void) {
    char dir[] = "/tmp/migrate_tie_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    mg_err e = {{0}};
    model a, b;
    hf_config untied = config(0, 0), tied = config(1, 0);
    model_init_random(&a, &untied, 5);  // lm_head differs from the embedding
    CHECK(model_save(&a, dir, 0, &e) == 0, "save: %s", e.msg);
    CHECK(hf_config_write(&tied, dir, &e) == 0, "%s", e.msg);  // the same weights under a tied config
    int rc = model_load(&b, dir, &e);
    CHECK(rc == -1 && strstr(e.msg, "tie_word_embeddings true") && strstr(e.msg, "lm_head.weight") &&
              strstr(e.msg, dir) && !strchr(e.msg, '\n'),
          "tied config, other head: rc %d '%s'", rc, e.msg);
    if (!rc) model_free(&b);
    memcpy(a.w.lm_head, a.w.wte, (size_t)untied.vocab_size * untied.hidden_size * sizeof(float));
    CHECK(model_save(&a, dir, 0, &e) == 0 && hf_config_write(&tied, dir, &e) == 0, "%s", e.msg);
    rc = model_load(&b, dir, &e);
    CHECK(rc == 0 && b.w.lm_head == b.w.wte, "tied config, the embedding's copy as head: %s", e.msg);
    if (!rc) model_free(&b);
    model_free(&a);
    model_init_random(&a, &tied, 6);  // saved without lm_head.weight
    CHECK(model_save(&a, dir, 0, &e) == 0, "save: %s", e.msg);
    CHECK(hf_config_write(&untied, dir, &e) == 0, "%s", e.msg);
    rc = model_load(&b, dir, &e);
    CHECK(rc == -1 && strstr(e.msg, "tie_word_embeddings false") && strstr(e.msg, "no lm_head.weight") &&
              !strchr(e.msg, '\n'),
          "untied config without a head: rc %d '%s'", rc, e.msg);
    if (!rc) model_free(&b);
    model_free(&a);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

// The schedules at points whose values follow from transformers' definitions by hand: peak 0.1, 10 planned steps,
// 2 of them warmup. Warmup is t / W from step 0 (the first step has size 0); the linear fall is (T - t) / (T - W),
// half way at t 6; the cosine is 0.5 (1 + cos(pi (t - W) / (T - W))), also half at t 6; both stay 0 past T.
static void lr_schedules(void) {
    adamw_state o;
    adamw_init(&o, 1);
    o.lr = 0.1f, o.total_steps = 10, o.warmup_steps = 2;
    const struct { lr_schedule kind; int t; double want; } k[] = {  // not static: cos() is no constant to clang
        {LR_CONSTANT, 0, 0.0},  {LR_CONSTANT, 1, 0.05}, {LR_CONSTANT, 2, 0.1},  {LR_CONSTANT, 50, 0.1},
        {LR_LINEAR, 1, 0.05},   {LR_LINEAR, 2, 0.1},    {LR_LINEAR, 6, 0.05},   {LR_LINEAR, 9, 0.0125},
        {LR_LINEAR, 10, 0.0},   {LR_LINEAR, 12, 0.0},   {LR_COSINE, 0, 0.0},    {LR_COSINE, 2, 0.1},
        {LR_COSINE, 4, 0.1 * (0.5 + 0.5 * cos(M_PI / 4))}, {LR_COSINE, 6, 0.05}, {LR_COSINE, 10, 0.0},
        {LR_COSINE, 11, 0.0},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        o.schedule = k[i].kind;
        float got = adamw_lr_at(&o, k[i].t);
        CHECK(fabs(got - k[i].want) < 1e-7, "schedule %d at step %d: %g, expected %g", (int)k[i].kind, k[i].t, got,
              k[i].want);
    }
    o.warmup_steps = 0, o.schedule = LR_CONSTANT, o.total_steps = 0;  // the default: every step at the peak
    CHECK(adamw_lr_at(&o, 0) == 0.1f && adamw_lr_at(&o, 1000) == 0.1f, "a constant schedule without warmup moved");
    adamw_free(&o);
}

int main(void) {
    lr_schedules();
    tying_checks();
    retarget();
    for (int tied = 0; tied < 2; tied++)
        for (int bf16 = 0; bf16 < 2; bf16++) roundtrip(tied, tied, bf16);
    accumulation();
    return test_summary("test_model_io");
}
