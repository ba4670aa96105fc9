// The pretrain configuration (tools/pretrain/pretrain_config.h): defaults equal to pretrain_params_default(), a full
// file, the bundled job, each kind of error with its file:line and key, the checks across keys, --set overrides and
// dump -> parse round trips. The engine itself is tested through the run config (test_config.c); this covers the
// pretrain table and its checks. docs/config.md's pretrain table is checked by test_config.c with the run config's.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"
#include "tools/pretrain/pretrain_config.h"

// The smallest valid file: the four required keys, so a key appended after it is on line 5.
#define REQUIRED "model_config: m/config.json\ntokenizer: m\ncorpus: c.jsonl\noutput_dir: out\n"

static int parse(pretrain_config *c, const char *yaml, const char *const *ov, int n, mg_err *e) {
    return pretrain_config_parse(c, yaml, strlen(yaml), "p.yaml", ov, n, e);
}

static void test_defaults(void) {
    pretrain_config c;
    pretrain_config_defaults(&c);
    pretrain_params p;
    pretrain_params_default(&p);
    CHECK(c.text == NULL && !c.model_config[0] && !c.tokenizer[0] && !c.corpus[0] && !c.valid[0] && !c.output_dir[0],
          "paths empty");
    CHECK(!strcmp(c.save_dtype, "bf16") && c.seed == 0 && c.threads == 0, "top level");
    const pretrain_params *t = &c.train;
    CHECK(t->steps == p.steps && t->batch_tokens == p.batch_tokens, "steps %d batch %d", t->steps, t->batch_tokens);
    CHECK(t->learning_rate == p.learning_rate && t->min_learning_rate == p.min_learning_rate, "learning rates");
    CHECK(t->warmup_steps == p.warmup_steps && t->weight_decay == p.weight_decay, "warmup, decay");
    CHECK(t->adam_beta1 == p.adam_beta1 && t->adam_beta2 == p.adam_beta2 && t->max_grad_norm == p.max_grad_norm,
          "adam, clip");
    CHECK(t->eval_every == p.eval_every && t->save_every == p.save_every && t->seed == p.seed, "eval, save, seed");
    // The values the brief and docs/config.md give, in case pretrain_params_default changes under us.
    CHECK(t->steps == 1000 && t->batch_tokens == 4096 && t->learning_rate == 1e-3f && t->min_learning_rate == 1e-4f,
          "documented defaults");
    CHECK(t->warmup_steps == 50 && t->weight_decay == 0.1f && t->adam_beta1 == 0.9f && t->adam_beta2 == 0.95f &&
              t->max_grad_norm == 1.0f && t->eval_every == 100 && t->save_every == 0,
          "documented defaults");
    // A file with only the required keys gives the same struct.
    pretrain_config d;
    mg_err e = {{0}};
    int rc = parse(&d, REQUIRED, NULL, 0, &e);
    CHECK(rc == 0, "required keys only: %s", e.msg);
    if (rc == 0) {
        CHECK(!memcmp(&d.train, &c.train, sizeof d.train) && !strcmp(d.save_dtype, "bf16"), "file defaults");
        CHECK(!strcmp(d.path, "p.yaml") && d.text && !strcmp(d.text, REQUIRED), "path and text");
        pretrain_config_free(&d);
    }
}

// Every key, none at its default.
static const char *k_full =
    "# every key\n"
    "model_config: data/pretrain/config.json\n"
    "tokenizer: data/pretrain\n"
    "corpus: data/pretrain/corpus.jsonl\n"
    "valid: \"data/pretrain/valid.jsonl\"\n"
    "output_dir: 'models/x y'\n"
    "save_dtype: f32\n"
    "seed: 18446744073709551615\n"
    "threads: 2\n"
    "training:\n"
    "  steps: 20\n"
    "  batch_tokens: 512\n"
    "  learning_rate: 3e-3\n"
    "  min_learning_rate: 0\n"
    "  warmup_steps: 20\n"
    "  weight_decay: 0.0\n"
    "  adam_beta1: 0.8\n"
    "  adam_beta2: 0.99\n"
    "  max_grad_norm: 0\n"
    "  eval_every: 0\n"
    "  save_every: 5\n";

static void test_full_file(void) {
    pretrain_config c;
    mg_err e = {{0}};
    int rc = parse(&c, k_full, NULL, 0, &e);
    CHECK(rc == 0, "full file: %s", e.msg);
    if (rc) return;
    CHECK(!strcmp(c.model_config, "data/pretrain/config.json") && !strcmp(c.tokenizer, "data/pretrain"), "model");
    CHECK(!strcmp(c.corpus, "data/pretrain/corpus.jsonl") && !strcmp(c.valid, "data/pretrain/valid.jsonl"), "data");
    CHECK(!strcmp(c.output_dir, "models/x y") && !strcmp(c.save_dtype, "f32"), "output");
    CHECK(c.seed == UINT64_MAX && c.train.seed == UINT64_MAX && c.threads == 2, "seed mirrored, threads");
    const pretrain_params *t = &c.train;
    CHECK(t->steps == 20 && t->batch_tokens == 512 && t->learning_rate == 3e-3f && t->min_learning_rate == 0,
          "schedule");
    CHECK(t->warmup_steps == 20 && t->weight_decay == 0 && t->adam_beta1 == 0.8f && t->adam_beta2 == 0.99f, "adam");
    CHECK(t->max_grad_norm == 0 && t->eval_every == 0 && t->save_every == 5, "clip, eval, save");
    pretrain_config_free(&c);
    pretrain_config_free(&c);  // twice is harmless
}

static void test_job(void) {
    pretrain_config c;
    mg_err e = {{0}};
    int rc = pretrain_config_load(&c, "jobs/pretrain-semantle-tiny.yaml", NULL, 0, &e);
    CHECK(rc == 0, "jobs/pretrain-semantle-tiny.yaml: %s", e.msg);
    if (rc) return;
    CHECK(!strcmp(c.model_config, "data/pretrain/config.json") && !strcmp(c.tokenizer, "data/pretrain"), "model");
    CHECK(!strcmp(c.corpus, "data/pretrain/corpus.jsonl") && !strcmp(c.valid, "data/pretrain/valid.jsonl"), "data");
    CHECK(!strcmp(c.output_dir, "data/models/semantle-tiny") && !strcmp(c.save_dtype, "bf16"), "output");
    const pretrain_params *t = &c.train;
    CHECK(t->steps == 1800 && t->batch_tokens == 2048 && t->learning_rate == 2e-3f && t->min_learning_rate == 2e-4f,
          "schedule");
    CHECK(t->warmup_steps == 50 && t->eval_every == 250 && t->save_every == 250, "warmup, eval, save");
    CHECK(strstr(c.text, "# ") != NULL, "the job is commented");
    pretrain_config_free(&c);
    // Every key is in the job, so the job documents them all: its dump and the job set the same keys.
    char *dumped = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dumped, &len);
    pretrain_config_defaults(&c);
    pretrain_config_dump(&c, f);
    fclose(f);
    FILE *job = fopen("jobs/pretrain-semantle-tiny.yaml", "rb");
    static char text[8192];
    size_t n = job ? fread(text, 1, sizeof text - 1, job) : 0;
    if (job) fclose(job);
    text[n] = 0;
    char *save = NULL;
    for (char *line = strtok_r(dumped, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char key[96];
        snprintf(key, sizeof key, "\n%.*s", (int)strcspn(line, ":") + 1, line);
        CHECK(strstr(text, key) != NULL, "the job lacks '%s'", key + 1);
    }
    free(dumped);
}

// An input that must fail: with "p.yaml:LINE: " (line > 0), "p.yaml: " (0) or "--set " (-1) first, and `what` in it.
typedef struct {
    const char *label, *yaml, *set;
    int line;
    const char *what;
} bad_case;

static const bad_case k_bad[] = {
    // Unknown keys, with the key meant.
    {"unknown: lr", REQUIRED "training:\n  lr: 1e-3\n", NULL, 6,
     "unknown key 'training.lr' (did you mean 'training.learning_rate'?)"},
    {"unknown: min_lr", REQUIRED "min_lr: 1e-5\n", NULL, 5,
     "unknown key 'min_lr' (did you mean 'training.min_learning_rate'?)"},
    {"unknown: wrong group", REQUIRED "warmup_steps: 10\n", NULL, 5,
     "unknown key 'warmup_steps' (did you mean 'training.warmup_steps'?)"},
    {"unknown: typo", REQUIRED "training:\n  stpes: 10\n", NULL, 6,
     "unknown key 'training.stpes' (did you mean 'training.steps'?)"},
    {"unknown: group typo", REQUIRED "trainig:\n  steps: 10\n", NULL, 5, "(did you mean 'training'?)"},
    {"unknown: run config key", REQUIRED "model: m\n", NULL, 5, "unknown key 'model' (did you mean 'model_config'?)"},
    {"unknown: far", REQUIRED "zebra_crossing: 1\n", NULL, 5, "unknown key 'zebra_crossing' (docs/config.md"},
    {"unknown: --set", REQUIRED, "training.max_steps=5", -1,
     "--set training.max_steps=5: unknown key 'training.max_steps' (did you mean 'training.steps'?)"},
    // Wrong types.
    {"type: int", REQUIRED "training:\n  steps: many\n", NULL, 6,
     "key 'training.steps' must be an integer, got 'many'"},
    {"type: int from float", REQUIRED "training:\n  batch_tokens: 2048.0\n", NULL, 6,
     "key 'training.batch_tokens' must be an integer, got '2048.0'"},
    {"type: number", REQUIRED "training:\n  learning_rate: fast\n", NULL, 6,
     "key 'training.learning_rate' must be a number, got 'fast'"},
    {"type: list for string", REQUIRED "valid: [a, b]\n", NULL, 5, "key 'valid' must be a string, got a list"},
    {"type: group scalar", REQUIRED "training: 5\n", NULL, 5, "key 'training' must be a mapping of keys"},
    {"type: --set", REQUIRED, "seed=abc", -1, "--set seed=abc: must be an integer"},
    // Out of range.
    {"range: steps", REQUIRED "training:\n  steps: 0\n", NULL, 6,
     "key 'training.steps' must be in [1, 2147483647], got 0"},
    {"range: batch_tokens", REQUIRED "training:\n  batch_tokens: 8\n", NULL, 6,
     "key 'training.batch_tokens' must be in [16, 2147483647], got 8"},
    {"range: learning_rate", REQUIRED "training:\n  learning_rate: 0\n", NULL, 6,
     "key 'training.learning_rate' must be in (0, 1], got 0"},
    {"range: learning_rate underflows float", REQUIRED "training:\n  learning_rate: 1e-60\n", NULL, 6,
     "key 'training.learning_rate' must be in (0, 1], got 1e-60"},
    {"range: min_learning_rate", REQUIRED "training:\n  min_learning_rate: -1e-5\n", NULL, 6,
     "key 'training.min_learning_rate' must be in [0, 1]"},
    {"range: warmup", REQUIRED "training:\n  warmup_steps: -1\n", NULL, 6,
     "key 'training.warmup_steps' must be in [0,"},
    {"range: beta2", REQUIRED "training:\n  adam_beta2: 1\n", NULL, 6, "key 'training.adam_beta2' must be in [0, 1)"},
    {"range: eval_every", REQUIRED "training:\n  eval_every: -5\n", NULL, 6, "key 'training.eval_every' must be in"},
    {"range: save_every", REQUIRED "training:\n  save_every: -1\n", NULL, 6, "key 'training.save_every' must be in"},
    {"range: threads", REQUIRED "threads: -1\n", NULL, 5, "key 'threads' must be in [0, 4096]"},
    {"range: seed", REQUIRED "seed: -3\n", NULL, 5, "key 'seed' must be in [0, 18446744073709551615]"},
    {"range: nan", REQUIRED "training:\n  weight_decay: .nan\n", NULL, 6, "must be a number, not NaN"},
    {"range: --set", REQUIRED, "training.batch_tokens=4", -1,
     "--set training.batch_tokens=4: must be in [16, 2147483647]"},
    // Enum.
    {"enum: save_dtype", REQUIRED "save_dtype: fp16\n", NULL, 5,
     "key 'save_dtype' must be one of bf16, f32, got 'fp16'"},
    {"enum: --set", REQUIRED, "save_dtype=f16", -1, "--set save_dtype=f16: must be one of bf16, f32"},
    // Required keys: absent (no line to point at), or set to nothing.
    {"required: model_config", "tokenizer: m\ncorpus: c\noutput_dir: o\n", NULL, 0, "key 'model_config' is required"},
    {"required: tokenizer", "model_config: m\ncorpus: c\noutput_dir: o\n", NULL, 0, "key 'tokenizer' is required"},
    {"required: corpus", "model_config: m\ntokenizer: t\noutput_dir: o\n", NULL, 0, "key 'corpus' is required"},
    {"required: output_dir", "model_config: m\ntokenizer: t\ncorpus: c\n", NULL, 0, "key 'output_dir' is required"},
    {"required: empty file", "", NULL, 0, "key 'model_config' is required"},
    {"required: set empty", "model_config: m\ntokenizer: t\ncorpus: ''\noutput_dir: o\n", NULL, 3,
     "key 'corpus' must not be empty"},
    {"required: null", "model_config:\n", NULL, 1, "key 'model_config' must not be empty"},
    {"required: --set empty", REQUIRED, "output_dir=", -1, "--set output_dir=: must not be empty"},
    // Checks across keys: at the line that set the first key named, else the second's, else none.
    {"cross: min_lr > lr", REQUIRED "training:\n  learning_rate: 1e-3\n  min_learning_rate: 2e-3\n", NULL, 7,
     "key 'training.min_learning_rate' (0.002) must be <= training.learning_rate (0.001)"},
    {"cross: lr below the default min_lr", REQUIRED "training:\n  learning_rate: 5e-5\n", NULL, 6,
     "key 'training.min_learning_rate' (0.0001) must be <= training.learning_rate (5e-05)"},
    {"cross: warmup > steps", REQUIRED "training:\n  steps: 10\n  warmup_steps: 11\n", NULL, 7,
     "key 'training.warmup_steps' (11) must be <= training.steps (10)"},
    {"cross: steps below the default warmup", REQUIRED "training.steps: 20\n", NULL, 5,
     "key 'training.warmup_steps' (50) must be <= training.steps (20)"},
    {"cross: by --set, other key from the file", REQUIRED "training:\n  steps: 100\n", "training.warmup_steps=200", 6,
     "key 'training.warmup_steps' (200) must be <= training.steps (100)"},
    {"cross: both by --set", REQUIRED, "training.steps=10", 0,
     "key 'training.warmup_steps' (50) must be <= training.steps (10)"},
    // The file as a whole.
    {"shape: root list", "- a\n", NULL, 1, "a pretrain config must be a mapping of keys"},
    {"shape: two documents", REQUIRED "---\nseed: 1\n", NULL, 5, "a second YAML document ('---'); a pretrain config"},
    {"dup: dotted vs nested", REQUIRED "training:\n  steps: 5\ntraining.steps: 6\n", NULL, 7,
     "duplicate key 'training.steps' (first set on line 6)"},
    {"syntax", REQUIRED "seed: 1\nseed 2\n", NULL, 7, "YAML syntax error"},
};

static void test_errors(void) {
    for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
        const bad_case *b = &k_bad[i];
        const char *ov[] = {b->set};
        pretrain_config c;
        mg_err e = {{0}};
        int rc = parse(&c, b->yaml, ov, b->set ? 1 : 0, &e);
        if (getenv("TEST_VERBOSE")) printf("  %-36s -> %s\n", b->label, e.msg);
        char want[64];
        if (b->line > 0)
            snprintf(want, sizeof want, "p.yaml:%d: ", b->line);
        else
            snprintf(want, sizeof want, "%s", b->line == 0 ? "p.yaml: " : "--set ");
        CHECK(rc == -1 && c.text == NULL, "%s: accepted (or text kept)", b->label);
        CHECK(!strncmp(e.msg, want, strlen(want)) && strstr(e.msg, b->what) && !strchr(e.msg, '\n'),
              "%s: wanted '%s...%s', got: %s", b->label, want, b->what, e.msg);
    }
    pretrain_config c;
    mg_err e = {{0}};
    CHECK(pretrain_config_load(&c, "/nonexistent/pretrain.yaml", NULL, 0, &e) == -1 &&
              strstr(e.msg, "/nonexistent/pretrain.yaml: cannot open") && c.text == NULL,
          "missing file: %s", e.msg);
}

static void test_overrides(void) {
    const char *ov[] = {"training.steps=30", "seed=7", "save_dtype=f32", "valid=", "output_dir= out dir ",
                        "training.learning_rate = 5e-4", "training.warmup_steps=30"};
    pretrain_config c;
    mg_err e = {{0}};
    int rc = parse(&c, REQUIRED "valid: v.jsonl\nseed: 1\ntraining:\n  steps: 10\n", ov, 7, &e);
    CHECK(rc == 0, "overrides: %s", e.msg);
    if (rc) return;
    CHECK(c.train.steps == 30 && c.seed == 7 && c.train.seed == 7, "override beats the file; seed mirrored");
    CHECK(!strcmp(c.save_dtype, "f32") && !c.valid[0] && !strcmp(c.output_dir, " out dir "), "strings as written");
    CHECK(c.train.learning_rate == 5e-4f && c.train.warmup_steps == 30, "numbers");
    CHECK(strstr(c.text, "steps: 10") != NULL, "text is the file's");
    pretrain_config_free(&c);
    // The required keys may all come from --set.
    const char *all[] = {"model_config=m", "tokenizer=t", "corpus=c", "output_dir=o"};
    rc = parse(&c, "", all, 4, &e);
    CHECK(rc == 0 && !strcmp(c.corpus, "c"), "required keys by --set: %s", e.msg);
    pretrain_config_free(&c);
}

static char *dump_text(const pretrain_config *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pretrain_config_dump(c, f);
    fclose(f);
    return buf;
}

// Equal but for the name and the text pointer.
static int same_config(const pretrain_config *a, const pretrain_config *b) {
    pretrain_config x, y;  // memcpy, not =, so padding bytes compare too
    memcpy(&x, a, sizeof x), memcpy(&y, b, sizeof y);
    memset(x.path, 0, sizeof x.path), memset(y.path, 0, sizeof y.path);
    x.text = y.text = NULL;
    return memcmp(&x, &y, sizeof x) == 0;
}

// Parse, dump, parse the dump, dump again: both parses give the same struct, both dumps the same text.
static void check_round_trip(const char *label, const char *yaml, const char *const *ov, int n) {
    pretrain_config first, second;
    mg_err e = {{0}};
    int rc = parse(&first, yaml, ov, n, &e);
    CHECK(rc == 0, "%s: %s", label, e.msg);
    if (rc) return;
    char *dumps[2] = {dump_text(&first), NULL};
    rc = pretrain_config_parse(&second, dumps[0], strlen(dumps[0]), "dump.yaml", NULL, 0, &e);
    if (rc == 0) dumps[1] = dump_text(&second);
    CHECK(rc == 0 && same_config(&first, &second) && !strcmp(dumps[0], dumps[1]),
          "%s: the dump does not read back as the same config and dump (%s):\n%s", label, rc ? e.msg : "", dumps[0]);
    if (getenv("TEST_VERBOSE")) printf("%s", dumps[0]);
    free(dumps[0]), free(dumps[1]);
    pretrain_config_free(&first), pretrain_config_free(&second);
}

static void test_round_trip(void) {
    check_round_trip("required only", REQUIRED, NULL, 0);
    check_round_trip("full", k_full, NULL, 0);
    const char *odd[] = {"valid=~", "output_dir=- [x]: {y} # z", "corpus=caf\xc3\xa9 \"q\"\t\\", "seed=123",
                         "training.learning_rate=3.3e-7", "training.min_learning_rate=1e-7",
                         "training.max_grad_norm=0.3"};
    check_round_trip("odd values", REQUIRED, odd, (int)(sizeof odd / sizeof odd[0]));
    // The dump's shape: top-level keys, then the group.
    pretrain_config c;
    pretrain_config_defaults(&c);
    char *dumped = dump_text(&c);
    CHECK(!strncmp(dumped, "model_config: \"\"\n", 17) && strstr(dumped, "\nsave_dtype: bf16\n") &&
              strstr(dumped, "\ntraining:\n  steps: 1000\n  batch_tokens: 4096\n  learning_rate: 0.001\n"),
          "dump shape:\n%s", dumped);
    free(dumped);
}

int main(void) {
    test_defaults();
    test_full_file();
    test_job();
    test_errors();
    test_overrides();
    test_round_trip();
    return test_summary("test_pretrain_config");
}
