// The configuration of `migrate pretrain`: its schema table and checks across keys; common/yaml_schema.c does the
// rest (defaults, loader, --set overrides, ranges, suggestions, dump). The `training:` defaults are
// pretrain_params_default()'s, which tests/unit/test_pretrain_config.c checks.
#include "tools/pretrain/pretrain_config.h"

#include <limits.h>
#include <stddef.h>

#include "common/yaml_schema.h"

static const char *const k_save_dtypes[] = {"bf16", "f32", NULL};

// Order = dump order. A group's keys come right after it.
#define YS_STRUCT pretrain_config
static const ys_key k_keys[] = {
    YS_KEY_STR("model_config", model_config, YS_REQUIRED, NULL),
    YS_KEY_STR("tokenizer", tokenizer, YS_REQUIRED, NULL),
    YS_KEY_STR("corpus", corpus, YS_REQUIRED, NULL),
    YS_KEY_STR("valid", valid, 0, NULL),
    YS_KEY_STR("init_from", init_from, 0, NULL),
    YS_KEY_STR("output_dir", output_dir, YS_REQUIRED, NULL),
    YS_KEY_CHOICE("save_dtype", save_dtype, k_save_dtypes, "bf16"),
    YS_KEY_U64("seed", seed, "0"),
    YS_KEY_INT("threads", threads, 0, 4096, "0"),
    YS_KEY_GROUP("training"),
    YS_KEY_INT("training.steps", train.steps, 1, INT_MAX, "1000"),
    YS_KEY_INT("training.batch_tokens", train.batch_tokens, 16, INT_MAX, "4096"),
    YS_KEY_FLOAT("training.learning_rate", train.learning_rate, 0, 1, YS_OPEN_MIN, "1e-3"),
    YS_KEY_FLOAT("training.min_learning_rate", train.min_learning_rate, 0, 1, 0, "1e-4"),
    YS_KEY_INT("training.warmup_steps", train.warmup_steps, 0, INT_MAX, "50"),
    YS_KEY_FLOAT("training.weight_decay", train.weight_decay, 0, 10, 0, "0.1"),
    YS_KEY_FLOAT("training.adam_beta1", train.adam_beta1, 0, 1, YS_OPEN_MAX, "0.9"),
    YS_KEY_FLOAT("training.adam_beta2", train.adam_beta2, 0, 1, YS_OPEN_MAX, "0.95"),
    YS_KEY_FLOAT("training.max_grad_norm", train.max_grad_norm, 0, 1e5, 0, "1.0"),
    YS_KEY_INT("training.eval_every", train.eval_every, 0, INT_MAX, "100"),
    YS_KEY_INT("training.save_every", train.save_every, 0, INT_MAX, "0"),
};
#undef YS_STRUCT

// Names from nanoGPT / HF Trainer configs, which edit distance cannot find.
static const ys_hint k_hints[] = {
    {"lr", "training.learning_rate"},          {"min_lr", "training.min_learning_rate"},
    {"max_steps", "training.steps"},           {"max_iters", "training.steps"},
    {"warmup", "training.warmup_steps"},       {"warmup_iters", "training.warmup_steps"},
    {"batch_size", "training.batch_tokens"},   {"eval_interval", "training.eval_every"},
    {"save_steps", "training.save_every"},     {"grad_clip", "training.max_grad_norm"},
    {"beta1", "training.adam_beta1"},          {"beta2", "training.adam_beta2"},
    {"config", "model_config"},                {"model", "model_config"},
    {"dtype", "save_dtype"},                   {"train", "corpus"},
    {"validation", "valid"},                   {"out_dir", "output_dir"},
    {"resume_from", "init_from"},              {"model_name_or_path", "init_from"},
};

// The cosine runs from learning_rate down to min_learning_rate after warmup, inside the run's steps.
static int check(void *config, const ys_seen *seen, mg_err *e) {
    pretrain_config *c = config;
    c->train.seed = c->seed;
    if (ys_check_order(seen, c, "training.min_learning_rate", "<=", "training.learning_rate", e)) return -1;
    return ys_check_order(seen, c, "training.warmup_steps", "<=", "training.steps", e);
}

static const yaml_schema k_schema = {
    .what = "pretrain config",
    .docs = "docs/config.md",
    YS_KEYS(k_keys),
    YS_HINTS(k_hints),
    YS_LAYOUT(pretrain_config),
    .check = check,
};

void pretrain_config_defaults(pretrain_config *c) {
    ys_defaults(&k_schema, c);
    c->train.seed = c->seed;
}

int pretrain_config_parse(pretrain_config *c, const char *yaml, size_t len, const char *name,
                          const char *const *overrides, int n_overrides, mg_err *e) {
    return ys_parse(&k_schema, c, yaml, len, name, overrides, n_overrides, e);
}

int pretrain_config_load(pretrain_config *c, const char *path, const char *const *overrides, int n_overrides,
                         mg_err *e) {
    return ys_load(&k_schema, c, path, overrides, n_overrides, e);
}

void pretrain_config_free(pretrain_config *c) {
    if (c) ys_free(&k_schema, c);
}

void pretrain_config_dump(const pretrain_config *c, FILE *f) { ys_dump(&k_schema, c, f); }
