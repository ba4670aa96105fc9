// Run configuration: defaults, a full file, every kind of error (with file:line and the key), --set overrides,
// dump -> parse round trips, lists vs comma strings, the example jobs, and docs/config.md against the schema.
// `test_config --doc-rows [run|pretrain]` prints the first four columns of docs/config.md's table for that config
// (the run config's by default) as its schema sees them; the docs check covers both tables.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/run_config.h"
#include "testing.h"
#include "tools/pretrain/pretrain_config.h"
#include "workers/grpo.h"  // loss_kind: the order of training.loss_type's names

static char g_dir[64];
static char g_path[128];  // the YAML file the last load() wrote

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static int load(run_config *c, const char *text, const char *const *ov, int n, mg_err *e) {
    snprintf(g_path, sizeof g_path, "%s/x.yaml", g_dir);
    write_text(g_path, text);
    return run_config_load(c, g_path, ov, n, e);
}

// The smallest valid file: four lines, so a key appended after it is on line 5.
#define HEAD "model: models/m\ntask:\n  target: ocean\n  vectors: data/v.bin\n"

// Must fail with one line that names the file and `line` (> 0), or the file without a line (0), or starts with
// "--set " (-1); and contains `what` and `what2` (when not NULL).
static void expect_bad(const char *label, const char *text, const char *const *ov, int n, int line,
                       const char *what, const char *what2) {
    run_config c;
    mg_err e = {{0}};
    int rc = load(&c, text, ov, n, &e);
    if (getenv("TEST_VERBOSE")) printf("  %-28s -> %s\n", label, e.msg);
    CHECK(rc == -1, "%s: accepted", label);
    CHECK(c.text == NULL, "%s: text not freed on failure", label);
    char want[256];
    if (line > 0)
        snprintf(want, sizeof want, "%s:%d: ", g_path, line);
    else if (line == 0)
        snprintf(want, sizeof want, "%s: ", g_path);
    else
        snprintf(want, sizeof want, "--set ");
    CHECK(strncmp(e.msg, want, strlen(want)) == 0, "%s: message does not start with '%s': %s", label, want, e.msg);
    CHECK(strstr(e.msg, what) != NULL, "%s: message lacks '%s': %s", label, what, e.msg);
    CHECK(!what2 || strstr(e.msg, what2) != NULL, "%s: message lacks '%s': %s", label, what2, e.msg);
    CHECK(strchr(e.msg, '\n') == NULL, "%s: not one line", label);
    run_config_free(&c);
}

static void test_defaults(void) {
    run_config c;
    run_config_defaults(&c);
    CHECK(c.text == NULL && c.model[0] == 0 && c.system_prompt[0] == 0, "empty strings");
    CHECK(!strcmp(c.chat_format, "auto"), "chat_format %s", c.chat_format);
    CHECK(c.seed == 0, "seed");
    CHECK(c.strategy == STRATEGY_MIGRATE && !strcmp(strategy_name(c.strategy), "migrate"), "strategy");
    CHECK(c.iterations == 50 && c.oracle_budget == 0 && c.log_every == 1 && c.threads == 0, "loop");
    CHECK(!strcmp(c.output_dir, "runs/latest"), "output_dir %s", c.output_dir);
    CHECK(c.task == TASK_SEMANTLE && c.target[0] == 0 && c.vectors[0] == 0 && c.oracle_command[0] == 0, "task");
    CHECK(c.oracle_workers == 1 && c.oracle_timeout == 30 && isinf(c.solved_reward) && c.solved_reward > 0,
          "oracle");
    CHECK(c.prompt[0] == 0 && c.ns_prompt[0] == 0 && c.opro_prompt[0] == 0, "prompts");
    CHECK(c.num_on_policy == 8 && c.num_greedy == 4 && c.num_neighborhood == 4 && c.top_k == 5, "group");
    CHECK(c.ns_seed == NS_SEED_TOP, "ns_seed");
    CHECK(c.temperature == 1.0f && c.top_p == 1.0f && c.top_k_sampling == 0 && c.min_p == 0.0f, "sampling");
    CHECK(c.max_completion_length == 16, "max_completion_length");
    CHECK(c.learning_rate == 5e-5f && c.epsilon == 0.2f && c.epsilon_high == 0.28f && c.beta == 0.0f, "grpo");
    CHECK(c.loss_type == LOSS_DR_GRPO && c.scale_rewards == 0 && c.num_iterations == 1, "loss");
    CHECK(c.max_grad_norm == 1.0f && c.weight_decay == 0.0f, "clip/decay");
    CHECK(c.adam_beta1 == 0.9f && c.adam_beta2 == 0.999f && c.adam_epsilon == 1e-8f, "adam");
    CHECK(c.lora_r == 64 && c.lora_alpha == 16.0f, "lora");
    CHECK(!strcmp(c.lora_target_modules, "q_proj,k_proj,v_proj,o_proj"), "targets %s", c.lora_target_modules);
    CHECK(!strcmp(strategy_name(STRATEGY_GRPO_GREEDY), "grpo-greedy") && !strcmp(strategy_name(STRATEGY_NS), "ns"),
          "strategy names");
}

// Every key, none at its default.
static const char *k_full =
    "# a comment\n"
    "model: models/Llama-3.2-1B-Instruct\n"
    "chat_format: llama3\n"
    "system_prompt: \"You are terse.\\nAnswer with one word.\"\n"
    "seed: 18446744073709551615\n"
    "strategy: grpo-greedy\n"
    "iterations: 200\n"
    "oracle_budget: 5000\n"
    "output_dir: runs/oracle-1\n"
    "log_every: 10\n"
    "threads: 2\n"
    "task:\n"
    "  type: oracle\n"
    "  target: sea\n"
    "  vectors: data/glove.txt\n"
    "  command: python3 tasks/examples/length_oracle.py --max 40\n"
    "  workers: 4\n"
    "  timeout: 2.5\n"
    "  solved_reward: 0.99\n"
    "  prompt: |\n"
    "    Write one word.\n"
    "    Longer is better.\n"
    "  ns_prompt: 'Improve on {solution} (score {reward}).'\n"
    "  opro_prompt: \"Past: {history}\"\n"
    "search:\n"
    "  num_on_policy: 6\n"
    "  num_greedy: 2\n"
    "  num_neighborhood: 0\n"
    "  top_k: 3\n"
    "  ns_seed: sample\n"
    "sampling:\n"
    "  temperature: 0.7\n"
    "  top_p: 0.95\n"
    "  sampling_top_k: 50\n"
    "  min_p: 0.05\n"
    "  max_completion_length: 64\n"
    "training:\n"
    "  learning_rate: 1e-4\n"
    "  epsilon: 0.1\n"
    "  epsilon_high: 0.3\n"
    "  beta: 0.04\n"
    "  loss_type: bnpo\n"
    "  scale_rewards: true\n"
    "  num_iterations: 2\n"
    "  max_grad_norm: 0.5\n"
    "  weight_decay: 0.01\n"
    "  adam_beta1: 0.8\n"
    "  adam_beta2: 0.99\n"
    "  adam_epsilon: 1.0e-6\n"
    "lora:\n"
    "  r: 16\n"
    "  alpha: 32\n"
    "  target_modules: [q_proj, v_proj, gate_proj]\n";

static void test_full_file(void) {
    run_config c;
    mg_err e = {{0}};
    int rc = load(&c, k_full, NULL, 0, &e);
    CHECK(rc == 0, "full file: %s", e.msg);
    if (rc) return;
    CHECK(c.text && !strcmp(c.text, k_full), "text kept as read");
    CHECK(!strcmp(c.path, g_path), "path %s", c.path);
    CHECK(!strcmp(c.model, "models/Llama-3.2-1B-Instruct") && !strcmp(c.chat_format, "llama3"), "model");
    CHECK(!strcmp(c.system_prompt, "You are terse.\nAnswer with one word."), "system_prompt '%s'", c.system_prompt);
    CHECK(c.seed == UINT64_MAX, "seed");
    CHECK(c.strategy == STRATEGY_GRPO_GREEDY && c.iterations == 200 && c.oracle_budget == 5000, "search loop");
    CHECK(!strcmp(c.output_dir, "runs/oracle-1") && c.log_every == 10 && c.threads == 2, "output");
    CHECK(c.task == TASK_ORACLE && !strcmp(c.target, "sea") && !strcmp(c.vectors, "data/glove.txt"), "task");
    CHECK(!strcmp(c.oracle_command, "python3 tasks/examples/length_oracle.py --max 40"), "command");
    CHECK(c.oracle_workers == 4 && c.oracle_timeout == 2.5 && c.solved_reward == 0.99, "oracle");
    CHECK(!strcmp(c.prompt, "Write one word.\nLonger is better.\n"), "prompt '%s'", c.prompt);
    CHECK(!strcmp(c.ns_prompt, "Improve on {solution} (score {reward}).") && !strcmp(c.opro_prompt, "Past: {history}"),
          "templates");
    CHECK(c.num_on_policy == 6 && c.num_greedy == 2 && c.num_neighborhood == 0 && c.top_k == 3, "group");
    CHECK(c.ns_seed == NS_SEED_SAMPLE, "ns_seed");
    CHECK(c.temperature == 0.7f && c.top_p == 0.95f && c.top_k_sampling == 50 && c.min_p == 0.05f, "sampling");
    CHECK(c.max_completion_length == 64, "length");
    CHECK(c.learning_rate == 1e-4f && c.epsilon == 0.1f && c.epsilon_high == 0.3f && c.beta == 0.04f, "grpo");
    CHECK(c.loss_type == LOSS_BNPO && c.scale_rewards == 1 && c.num_iterations == 2, "loss");
    CHECK(c.max_grad_norm == 0.5f && c.weight_decay == 0.01f, "clip");
    CHECK(c.adam_beta1 == 0.8f && c.adam_beta2 == 0.99f && c.adam_epsilon == 1e-6f, "adam");
    CHECK(c.lora_r == 16 && c.lora_alpha == 32.0f && !strcmp(c.lora_target_modules, "q_proj,v_proj,gate_proj"),
          "lora %s", c.lora_target_modules);
    run_config_free(&c);
    run_config_free(&c);  // twice is harmless
}

// Scalars in their other YAML spellings; nulls and empty groups.
static void test_spellings(void) {
    static const struct {
        const char *yaml;
        int scale;
    } bools[] = {{"yes", 1}, {"No", 0}, {"on", 1}, {"OFF", 0}, {"True", 1}, {"FALSE", 0}, {"'true'", 1}};
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, HEAD "training: {scale_rewards: %s}\n", bools[i].yaml);
        run_config c;
        mg_err e = {{0}};
        int rc = load(&c, text, NULL, 0, &e);
        CHECK(rc == 0 && c.scale_rewards == bools[i].scale, "bool %s: %s", bools[i].yaml, e.msg);
        run_config_free(&c);
    }
    run_config c;
    mg_err e = {{0}};
    int rc = load(&c,
                  HEAD "system_prompt:\nstrategy: grpo_greedy\ntraining:\n  loss_type: dr-grpo\n  learning_rate: +.5e-3\n"
                       "search: {num_on_policy: '3'}\nlora:\ntask.solved_reward: -.inf\nsampling.temperature: 0\n"
                       "seed: -0\n",
                  NULL, 0, &e);
    CHECK(rc == 0, "spellings: %s", e.msg);
    CHECK(c.system_prompt[0] == 0 && c.strategy == STRATEGY_GRPO_GREEDY && c.loss_type == LOSS_DR_GRPO, "names");
    CHECK(c.learning_rate == 0.5e-3f && c.num_on_policy == 3 && c.solved_reward == -INFINITY, "numbers");
    CHECK(c.temperature == 0.0f && c.seed == 0 && c.lora_r == 64, "defaults kept");
    run_config_free(&c);
    // training.loss_type's names give workers/grpo.h's loss_kind (the config only knows their order)
    const struct {
        const char *yaml;
        loss_kind want;
    } losses[] = {{"grpo", LOSS_GRPO}, {"bnpo", LOSS_BNPO}, {"dr_grpo", LOSS_DR_GRPO}};
    for (int i = 0; i < 3; i++) {
        char text[256];
        snprintf(text, sizeof text, HEAD "training:\n  loss_type: %s\n", losses[i].yaml);
        rc = load(&c, text, NULL, 0, &e);
        CHECK(rc == 0 && c.loss_type == (int)losses[i].want, "loss_type %s: %s", losses[i].yaml, e.msg);
        run_config_free(&c);
    }
    // Quoted "~" is a string, plain ~ is null.
    rc = load(&c, HEAD "system_prompt: \"~\"\ntask.prompt: ~\n", NULL, 0, &e);
    CHECK(rc == 0 && !strcmp(c.system_prompt, "~") && c.prompt[0] == 0, "null vs '~': %s", e.msg);
    run_config_free(&c);
    // An empty file, or only comments: all defaults (model and the task come from --set here).
    const char *ov[] = {"model=m", "task.target=ocean", "task.vectors=v.bin"};
    rc = load(&c, "", ov, 3, &e);
    CHECK(rc == 0 && c.text && c.text[0] == 0 && c.iterations == 50, "empty file: %s", e.msg);
    run_config_free(&c);
    rc = load(&c, "# nothing\n---\n...\n", ov, 3, &e);
    CHECK(rc == 0, "comment-only file: %s", e.msg);
    run_config_free(&c);
    rc = run_config_parse(&c, HEAD, strlen(HEAD), NULL, NULL, 0, &e);
    CHECK(rc == 0 && !strcmp(c.path, "config"), "NULL name");
    run_config_free(&c);
}

static void test_lists(void) {
    static const char *forms[] = {
        "lora:\n  target_modules: [q_proj, v_proj]\n",
        "lora:\n  target_modules:\n    - q_proj\n    - \"v_proj\"\n",
        "lora:\n  target_modules: q_proj,v_proj\n",
        "lora:\n  target_modules: ' q_proj , v_proj '\n",
        "lora.target_modules: [\"q_proj\", 'v_proj']\n",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, HEAD "%s", forms[i]);
        run_config c;
        mg_err e = {{0}};
        int rc = load(&c, text, NULL, 0, &e);
        CHECK(rc == 0 && !strcmp(c.lora_target_modules, "q_proj,v_proj"), "list form %zu: %s / %s", i, e.msg,
              c.lora_target_modules);
        run_config_free(&c);
    }
    const char *ov[] = {"lora.target_modules=[up_proj, model.layers.0.mlp.down_proj]"};
    run_config c;
    mg_err e = {{0}};
    int rc = load(&c, HEAD, ov, 1, &e);
    CHECK(rc == 0 && !strcmp(c.lora_target_modules, "up_proj,model.layers.0.mlp.down_proj"), "list --set: %s",
          e.msg);
    run_config_free(&c);
    // PEFT's shorthand for every linear layer; lora_parse_targets expands it.
    const char *all[] = {"lora.target_modules=all-linear"};
    rc = load(&c, HEAD, all, 1, &e);
    CHECK(rc == 0 && !strcmp(c.lora_target_modules, "all-linear"), "all-linear: %s", e.msg);
    run_config_free(&c);
    expect_bad("list: nested", HEAD "lora:\n  target_modules: [q_proj, [v_proj]]\n", NULL, 0, 6,
               "'lora.target_modules' must be a list of names", "a list inside it");
    expect_bad("list: bad name", HEAD "lora:\n  target_modules: [q_proj, 'v proj']\n", NULL, 0, 6,
               "'lora.target_modules' must be a list of module names", "'v proj'");
    expect_bad("list: empty", HEAD "lora:\n  target_modules: []\n", NULL, 0, 6, "'lora.target_modules'",
               "at least one module");
    expect_bad("list: trailing comma", HEAD "lora:\n  target_modules: q_proj,\n", NULL, 0, 6,
               "'lora.target_modules'", "module names");
    expect_bad("list: null", HEAD "lora:\n  target_modules:\n", NULL, 0, 6, "'lora.target_modules'",
               "at least one module");
    char text[1024];
    int n = snprintf(text, sizeof text, HEAD "lora:\n  target_modules: [");
    for (int i = 0; i < 40; i++) n += snprintf(text + n, sizeof text - (size_t)n, "%smodule_%02d", i ? ", " : "", i);
    snprintf(text + n, sizeof text - (size_t)n, "]\n");
    expect_bad("list: too long", text, NULL, 0, 6, "'lora.target_modules' is too long", "at most 255");
}

static void test_errors(void) {
    // Unknown keys, with the closest known key when one is close.
    expect_bad("unknown: training.lr", HEAD "seed: 1\ntraining:\n  learning_rate: 1e-4\n  lr: 1e-4\n", NULL, 0, 8,
               "unknown key 'training.lr' (did you mean 'training.learning_rate'?)", NULL);
    expect_bad("unknown: group typo", HEAD "trainig:\n  beta: 0\n", NULL, 0, 5, "unknown key 'trainig'",
               "did you mean 'training'?");
    expect_bad("unknown: wrong group", HEAD "temperature: 0.5\n", NULL, 0, 5, "unknown key 'temperature'",
               "did you mean 'sampling.temperature'?");
    expect_bad("unknown: top_k in sampling", HEAD "sampling:\n  top_k: 40\n", NULL, 0, 6, "'sampling.top_k'",
               "did you mean 'sampling.sampling_top_k'?");
    expect_bad("unknown: paper's beta", HEAD "search:\n  beta: 4\n", NULL, 0, 6, "'search.beta'",
               "did you mean 'search.num_greedy'?");
    expect_bad("unknown: typo", HEAD "iteratons: 4\n", NULL, 0, 5, "unknown key 'iteratons'",
               "did you mean 'iterations'?");
    expect_bad("unknown: initials", HEAD "sampling:\n  mcl: 4\n", NULL, 0, 6, "'sampling.mcl'",
               "did you mean 'sampling.max_completion_length'?");
    expect_bad("unknown: far", HEAD "zebra_crossing: 4\n", NULL, 0, 5, "unknown key 'zebra_crossing'",
               "docs/config.md");
    expect_bad("unknown: nested", HEAD "lora:\n  r:\n    x: 1\n", NULL, 0, 6, "key 'lora.r' must be an integer",
               "got a mapping");
    // Wrong types.
    expect_bad("type: int", HEAD "search:\n  top_k: five\n", NULL, 0, 6,
               "key 'search.top_k' must be an integer, got 'five'", NULL);
    expect_bad("type: int from float", HEAD "iterations: 5.0\n", NULL, 0, 5, "'iterations' must be an integer",
               "'5.0'");
    expect_bad("type: int from exp", HEAD "iterations: 1e3\n", NULL, 0, 5, "'iterations' must be an integer", NULL);
    expect_bad("type: empty int", HEAD "iterations:\n", NULL, 0, 5, "'iterations' must be an integer",
               "got an empty value");
    expect_bad("type: float", HEAD "training:\n  learning_rate: fast\n", NULL, 0, 6,
               "key 'training.learning_rate' must be a number, got 'fast'", NULL);
    expect_bad("type: hex float", HEAD "training:\n  learning_rate: 0x1p-3\n", NULL, 0, 6, "must be a number", NULL);
    expect_bad("type: nan", HEAD "sampling:\n  temperature: .nan\n", NULL, 0, 6, "'sampling.temperature'", "NaN");
    expect_bad("type: bool", HEAD "training:\n  scale_rewards: maybe\n", NULL, 0, 6,
               "key 'training.scale_rewards' must be true or false, got 'maybe'", NULL);
    expect_bad("type: list for int", HEAD "seed: [1, 2]\n", NULL, 0, 5, "key 'seed' must be an integer",
               "got a list");
    expect_bad("type: mapping for string", HEAD "system_prompt: {a: b}\n", NULL, 0, 5,
               "key 'system_prompt' must be a string", "got a mapping");
    // Ranges.
    expect_bad("range: top_k", HEAD "search:\n  top_k: 0\n", NULL, 0, 6,
               "key 'search.top_k' must be in [1, 4096], got 0", NULL);
    expect_bad("range: top_p", HEAD "sampling:\n  top_p: 0\n", NULL, 0, 6, "'sampling.top_p' must be in (0, 1]",
               NULL);
    expect_bad("range: adam_beta2", HEAD "training:\n  adam_beta2: 1\n", NULL, 0, 6,
               "'training.adam_beta2' must be in [0, 1)", NULL);
    expect_bad("range: overflow", HEAD "iterations: 99999999999999999999999\n", NULL, 0, 5,
               "'iterations' must be in [1, 1000000000]", NULL);
    expect_bad("range: int beyond int", HEAD "oracle_budget: 3000000000\n", NULL, 0, 5,
               "'oracle_budget' must be in [0, 2147483647]", NULL);
    expect_bad("range: negative seed", HEAD "seed: -1\n", NULL, 0, 5, "'seed' must be in [0, 18446744073709551615]",
               NULL);
    expect_bad("range: seed overflow", HEAD "seed: 18446744073709551616\n", NULL, 0, 5, "'seed' must be in", NULL);
    expect_bad("range: inf", HEAD "sampling:\n  temperature: .inf\n", NULL, 0, 6, "'sampling.temperature' must be in",
               NULL);
    expect_bad("range: float overflow", HEAD "sampling:\n  temperature: 1e999\n", NULL, 0, 6,
               "'sampling.temperature' must be in [0, 100]", NULL);
    expect_bad("range: timeout", HEAD "task.timeout: 0\n", NULL, 0, 5, "'task.timeout' must be in (0, 86400]",
               NULL);
    // Enums.
    expect_bad("enum: strategy", HEAD "strategy: evolution\n", NULL, 0, 5,
               "key 'strategy' must be one of random, ns, opro, grpo, grpo-greedy, migrate", "'evolution'");
    expect_bad("enum: loss", HEAD "training:\n  loss_type: ppo\n", NULL, 0, 6,
               "key 'training.loss_type' must be one of grpo, bnpo, dr_grpo", NULL);
    expect_bad("enum: chat_format", HEAD "chat_format: gemma\n", NULL, 0, 5,
               "key 'chat_format' must be one of auto, plain, llama3, chatml", NULL);
    expect_bad("enum: task", HEAD "task.type: chess\n", NULL, 0, 5, "'task.type' must be one of semantle, oracle",
               NULL);
    // Duplicates: plain, in a group, a group twice, nested vs dotted.
    expect_bad("dup: top", HEAD "seed: 1\nseed: 2\n", NULL, 0, 6, "duplicate key 'seed'", "first set on line 5");
    expect_bad("dup: in group", HEAD "lora:\n  r: 8\n  alpha: 8\n  r: 4\n", NULL, 0, 8, "duplicate key 'lora.r'",
               "line 6");
    expect_bad("dup: group", HEAD "lora:\n  r: 8\nlora:\n  alpha: 4\n", NULL, 0, 7, "duplicate key 'lora'", NULL);
    expect_bad("dup: dotted", HEAD "lora:\n  r: 8\nlora.r: 4\n", NULL, 0, 7, "duplicate key 'lora.r'", NULL);
    // YAML syntax.
    expect_bad("syntax: flow", HEAD "lora:\n  target_modules: [q_proj, v_proj\n", NULL, 0, 7, "YAML syntax error",
               "flow sequence on line 6");
    expect_bad("syntax: quote", HEAD "system_prompt: \"open\nseed: 1\n", NULL, 0, 7, "YAML syntax error",
               "quoted scalar");
    expect_bad("syntax: indent", HEAD "lora:\n  r: 8\n alpha: 4\n", NULL, 0, 7, "YAML syntax error", NULL);
    expect_bad("syntax: no colon", HEAD "seed: 1\nseed 2\n", NULL, 0, 7, "YAML syntax error", "expected ':'");
    expect_bad("syntax: tab", HEAD "lora:\n\tr: 8\n", NULL, 0, 6, "YAML syntax error", NULL);
    expect_bad("syntax: control byte", HEAD "system_prompt: a\001b\n", NULL, 0, 5, "YAML syntax error",
               "control characters");
    expect_bad("syntax: bad utf-8", HEAD "system_prompt: a\xff\n", NULL, 0, 5, "YAML syntax error", NULL);
    // Not a mapping where one is expected.
    expect_bad("shape: root scalar", "just words\n", NULL, 0, 1, "a run config must be a mapping", "got a scalar");
    expect_bad("shape: root list", "- model: m\n", NULL, 0, 1, "a run config must be a mapping", "got a list");
    expect_bad("shape: group scalar", HEAD "training: fast\n", NULL, 0, 5, "key 'training' must be a mapping",
               "got a scalar");
    expect_bad("shape: group list", HEAD "search: [1, 2]\n", NULL, 0, 5, "key 'search' must be a mapping",
               "got a list");
    expect_bad("shape: complex key", HEAD "? [a, b]\n: 1\n", NULL, 0, 5, "keys must be plain names", "a list");
    expect_bad("shape: two documents", HEAD "---\nseed: 1\n", NULL, 0, 5, "a second YAML document", NULL);
    expect_bad("shape: alias", HEAD "seed: &s 7\niterations: *s\n", NULL, 0, 6, "'iterations'",
               "aliases (*name) are not supported");
    // Strings: too long for the buffer, NUL, not UTF-8 (through --set; the reader rejects it in files).
    char text[3000];
    int n = snprintf(text, sizeof text, HEAD "system_prompt: ");
    memset(text + n, 'm', 1500);
    strcpy(text + n + 1500, "\n");
    expect_bad("string: too long", text, NULL, 0, 5, "key 'system_prompt' is too long (1500 bytes, at most 1023)",
               NULL);
    n = snprintf(text, sizeof text, "model: m\ntask:\n  vectors: v\n  target: ");
    memset(text + n, 'w', 128);
    strcpy(text + n + 128, "\n");
    expect_bad("string: target", text, NULL, 0, 4, "key 'task.target' is too long (128 bytes, at most 127)", NULL);
    expect_bad("string: NUL", HEAD "system_prompt: \"a\\0b\"\n", NULL, 0, 5, "'system_prompt' must not contain a NUL",
               "got 'a?b'");
    expect_bad("string: empty output_dir", HEAD "output_dir: ''\n", NULL, 0, 5, "'output_dir' must not be empty",
               NULL);
    const char *bad_utf8[] = {"system_prompt=caf\xc3"};
    expect_bad("string: --set utf-8", HEAD, bad_utf8, 1, -1, "--set system_prompt=caf", "must be valid UTF-8");
    // A file that is not there, or not a file.
    run_config c;
    mg_err e = {{0}};
    CHECK(run_config_load(&c, "/nonexistent/run.yaml", NULL, 0, &e) == -1 &&
              strstr(e.msg, "/nonexistent/run.yaml: cannot open") && c.text == NULL,
          "missing file: %s", e.msg);
    CHECK(run_config_load(&c, g_dir, NULL, 0, &e) == -1 && strstr(e.msg, g_dir), "directory: %s", e.msg);
}

static void test_cross_checks(void) {
    expect_bad("cross: model", "task:\n  target: ocean\n  vectors: v\n", NULL, 0, 0, "key 'model' is required", NULL);
    expect_bad("cross: migrate gamma", HEAD "strategy: migrate\nsearch:\n  num_neighborhood: 0\n", NULL, 0, 7,
               "strategy 'migrate' needs search.num_neighborhood > 0", NULL);
    expect_bad("cross: grpo-greedy beta", HEAD "strategy: grpo-greedy\nsearch:\n  num_greedy: 0\n", NULL, 0, 7,
               "strategy 'grpo-greedy' needs search.num_greedy > 0", NULL);
    expect_bad("cross: grpo group", HEAD "strategy: grpo\nsearch:\n  num_on_policy: 1\n  num_neighborhood: 0\n",
               NULL, 0, 7, "strategy 'grpo' needs a group of at least 2", "got 1");
    expect_bad("cross: migrate group", HEAD "search: {num_on_policy: 0, num_greedy: 0, num_neighborhood: 1}\n", NULL,
               0, 5, "strategy 'migrate' needs a group of at least 2", NULL);
    expect_bad("cross: nothing drawn", HEAD "strategy: ns\nsearch: {num_on_policy: 0, num_neighborhood: 0}\n", NULL,
               0, 6, "strategy 'ns' needs search.num_on_policy + search.num_neighborhood > 0", NULL);
    expect_bad("cross: grpo group of 1", HEAD "strategy: grpo\nsearch: {num_on_policy: 1, num_neighborhood: 0}\n",
               NULL, 0, 6, "strategy 'grpo' needs a group of at least 2", "got 1");
    expect_bad("cross: semantle target", "model: m\ntask:\n  type: semantle\n  vectors: v\n", NULL, 0, 3,
               "task.type 'semantle' needs task.target", NULL);
    expect_bad("cross: semantle vectors", "model: m\ntask:\n  target: ocean\n", NULL, 0, 0,
               "task.type 'semantle' needs task.vectors", NULL);
    expect_bad("cross: oracle command", "model: m\ntask:\n  type: oracle\n  prompt: Say a word.\n", NULL, 0, 3,
               "task.type 'oracle' needs task.command", NULL);
    expect_bad("cross: oracle prompt", "model: m\ntask:\n  type: oracle\n  command: ./oracle\n", NULL, 0, 3,
               "task.type 'oracle' needs task.prompt", NULL);
    expect_bad("cross: epsilon", HEAD "training:\n  epsilon: 0.3\n  epsilon_high: 0.2\n", NULL, 0, 7,
               "'training.epsilon_high' (0.2) must be >= training.epsilon (0.3)", NULL);
    // The non-training strategies accept a group of one.
    run_config c;
    mg_err e = {{0}};
    int rc = load(&c, HEAD "strategy: opro\nsearch: {num_on_policy: 1, num_greedy: 0, num_neighborhood: 0}\n", NULL, 0,
                  &e);
    CHECK(rc == 0 && c.strategy == STRATEGY_OPRO, "opro with one sample: %s", e.msg);
    run_config_free(&c);
    // Every strategy draws num_on_policy + num_neighborhood: ns with only num_on_policy, grpo with only
    // num_neighborhood are fine.
    rc = load(&c, HEAD "strategy: ns\nsearch: {num_on_policy: 3, num_neighborhood: 0}\n", NULL, 0, &e);
    CHECK(rc == 0, "ns drawing num_on_policy: %s", e.msg);
    run_config_free(&c);
    rc = load(&c, HEAD "strategy: grpo\nsearch: {num_on_policy: 0, num_greedy: 0, num_neighborhood: 2}\n", NULL, 0,
              &e);
    CHECK(rc == 0, "grpo group from num_neighborhood: %s", e.msg);
    run_config_free(&c);
    rc = load(&c, "model: m\ntask:\n  type: oracle\n  command: ./o\n  prompt: p\n", NULL, 0, &e);
    CHECK(rc == 0 && c.task == TASK_ORACLE, "oracle without semantle keys: %s", e.msg);
    run_config_free(&c);
}

static void test_overrides(void) {
    const char *ov[] = {"training.learning_rate=1e-4", "lora.r=16", "strategy=grpo", "task.target=sea",
                        "system_prompt= Be brief: one word. ", "training.scale_rewards = yes", "seed=42"};
    run_config c;
    mg_err e = {{0}};
    int rc = load(&c, HEAD "seed: 7\nlora:\n  r: 8\n", ov, 7, &e);
    CHECK(rc == 0, "overrides: %s", e.msg);
    CHECK(c.learning_rate == 1e-4f && c.lora_r == 16 && c.strategy == STRATEGY_GRPO && !strcmp(c.target, "sea"),
          "override values");
    CHECK(!strcmp(c.system_prompt, " Be brief: one word. "), "strings as written: '%s'", c.system_prompt);
    CHECK(c.scale_rewards == 1 && c.seed == 42, "override beats the file");
    CHECK(c.text && strstr(c.text, "seed: 7"), "text is the file's, not the overrides'");
    run_config_free(&c);
    // Later overrides win.
    const char *twice[] = {"iterations=3", "iterations=4"};
    rc = load(&c, HEAD, twice, 2, &e);
    CHECK(rc == 0 && c.iterations == 4, "last --set wins");
    run_config_free(&c);

    const char *bad_num[] = {"training.learning_rate=abc"};
    expect_bad("--set bad number", HEAD, bad_num, 1, -1, "--set training.learning_rate=abc: must be a number", NULL);
    const char *bad_range[] = {"search.top_k=0"};
    expect_bad("--set range", HEAD, bad_range, 1, -1, "--set search.top_k=0: must be in [1, 4096]", NULL);
    const char *bad_enum[] = {"strategy=best"};
    expect_bad("--set enum", HEAD, bad_enum, 1, -1, "--set strategy=best: must be one of random", NULL);
    const char *unknown[] = {"training.lr=1e-4"};
    expect_bad("--set unknown", HEAD, unknown, 1, -1, "--set training.lr=1e-4: unknown key 'training.lr'",
               "did you mean 'training.learning_rate'?");
    const char *no_eq[] = {"training.learning_rate"};
    expect_bad("--set no =", HEAD, no_eq, 1, -1, "--set training.learning_rate: expected key=value", NULL);
    const char *no_key[] = {"=5"};
    expect_bad("--set no key", HEAD, no_key, 1, -1, "expected key=value", NULL);
    const char *group[] = {"training=5"};
    expect_bad("--set group", HEAD, group, 1, -1, "'training' is a group", NULL);
    const char *empty_list[] = {"lora.target_modules="};
    expect_bad("--set empty list", HEAD, empty_list, 1, -1, "--set lora.target_modules=: must name at least one", NULL);
    // A cross check broken by --set names the file; it has no line to point at.
    const char *gamma0[] = {"search.num_neighborhood=0"};
    expect_bad("--set cross", HEAD "search:\n  num_neighborhood: 2\n", gamma0, 1, 0,
               "strategy 'migrate' needs search.num_neighborhood > 0", NULL);
    // A long override is cut in the message, which stays one line.
    char longv[3000] = "system_prompt=";
    memset(longv + 14, 'x', 2000);
    longv[2014] = 0;
    const char *too_long[] = {longv};
    expect_bad("--set too long", HEAD, too_long, 1, -1, "...: is too long (2000 bytes, at most 1023)", NULL);
}

// Dump, parse the dump, compare: every byte of the struct but the two pointers' owners.
static int same_config(run_config *a, run_config *b) {
    char *ta = a->text, *tb = b->text;
    char pa[CFG_STR], pb[CFG_STR];
    memcpy(pa, a->path, CFG_STR), memcpy(pb, b->path, CFG_STR);
    a->text = b->text = NULL;
    memset(a->path, 0, CFG_STR), memset(b->path, 0, CFG_STR);
    int same = memcmp(a, b, sizeof *a) == 0;
    a->text = ta, b->text = tb;
    memcpy(a->path, pa, CFG_STR), memcpy(b->path, pb, CFG_STR);
    return same;
}

static char *dump_text(const run_config *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    run_config_dump(c, f);
    fclose(f);
    return buf;
}

static void check_round_trip(const char *label, const char *text, const char *const *ov, int n) {
    run_config a, b;
    mg_err e = {{0}};
    int rc = load(&a, text, ov, n, &e);
    CHECK(rc == 0, "%s: %s", label, e.msg);
    if (rc) return;
    char *dumped = dump_text(&a);
    rc = run_config_parse(&b, dumped, strlen(dumped), "dump.yaml", NULL, 0, &e);
    CHECK(rc == 0, "%s: the dump does not parse: %s\n%s", label, e.msg, dumped);
    if (rc == 0) {
        CHECK(same_config(&a, &b), "%s: the dump parses to another config:\n%s", label, dumped);
        char *again = dump_text(&b);
        CHECK(!strcmp(again, dumped), "%s: dump is not stable", label);
        free(again);
    }
    if (getenv("TEST_VERBOSE")) printf("%s", dumped);
    free(dumped);
    run_config_free(&a);
    run_config_free(&b);
}

static void test_round_trip(void) {
    check_round_trip("defaults", HEAD, NULL, 0);
    check_round_trip("full", k_full, NULL, 0);
    // Strings YAML would misread unquoted, escapes, and the characters YAML reads as line breaks.
    const char *odd[] = {
        "system_prompt=key: value # not a comment",
        "task.prompt=  \"quoted\" and \\backslash\\\n\ttab, new line  ",
        "task.ns_prompt=caf\xc3\xa9 \xe2\x80\xa8 LS \xc2\x85 NEL \xc2\x81 C1 \xef\xbb\xbf BOM \xf0\x9f\x8c\x8a \x01\x7f",
        "task.opro_prompt=~",
        "output_dir=- [x]: {y}",
        "task.target=123",
        "task.solved_reward=-.inf",
        "training.learning_rate=3.3e-7",
        "sampling.temperature=0.1",
        "training.adam_epsilon=1e-30",
    };
    check_round_trip("odd strings", HEAD, odd, (int)(sizeof odd / sizeof odd[0]));
    const char *odd2[] = {"task.opro_prompt=null", "task.solved_reward=123456.789", "seed=18446744073709551615"};
    check_round_trip("null text", HEAD, odd2, 3);
}

static void test_examples(void) {
    run_config c;
    mg_err e = {{0}};
    int rc = run_config_load(&c, "jobs/semantle-demo.yaml", NULL, 0, &e);
    CHECK(rc == 0, "jobs/semantle-demo.yaml: %s", e.msg);
    if (rc == 0) {
        CHECK(c.task == TASK_SEMANTLE && !strcmp(c.target, "ocean") && !strcmp(c.model, "data/models/semantle-tiny") &&
                  !strcmp(c.vectors, "data/semantle/vectors.bin") && c.strategy == STRATEGY_MIGRATE,
              "semantle demo values");
        run_config_free(&c);
    }
    rc = run_config_load(&c, "jobs/oracle-example.yaml", NULL, 0, &e);
    CHECK(rc == 0, "jobs/oracle-example.yaml: %s", e.msg);
    if (rc == 0) {
        CHECK(c.task == TASK_ORACLE && !strcmp(c.oracle_command, "python3 tasks/examples/length_oracle.py") &&
                  c.prompt[0],
              "oracle example values");
        run_config_free(&c);
    }
    rc = run_config_load(&c, "jobs/arc/barc.yaml", NULL, 0, &e);
    CHECK(rc == 0, "jobs/arc/barc.yaml: %s", e.msg);
    if (rc == 0) {
        CHECK(c.task == TASK_ARC && !strcmp(c.arc_executor, "python") && !strcmp(c.arc_format, "colors") &&
                  c.num_on_policy == 11 && c.num_neighborhood == 4 && c.num_greedy == 1 && c.lora_r == 128,
              "arc example values");
        run_config_free(&c);
    }
    // task.arc is a nested group: it loads, and a task.type arc without a file is refused naming the key
    const char *arc_text = "model: m\ntask:\n  type: arc\n  arc:\n    file: t.json\n    executor: dsl\n";
    rc = run_config_parse(&c, arc_text, strlen(arc_text), "arc.yaml", NULL, 0, &e);
    CHECK(rc == 0 && !strcmp(c.arc_file, "t.json") && !strcmp(c.arc_executor, "dsl"), "nested arc: %s", e.msg);
    if (rc == 0) run_config_free(&c);
    const char *arc_none = "model: m\ntask:\n  type: arc\n";
    rc = run_config_parse(&c, arc_none, strlen(arc_none), "arc.yaml", NULL, 0, &e);
    CHECK(rc == -1 && strstr(e.msg, "task.arc.file"), "arc without a file: %s", e.msg);
}

// ---- docs/config.md against the schemas, seen only through the public API ----

// A configuration the docs describe: a section whose table lists every key, and two views of the config.
typedef struct {
    const char *name;     // for --doc-rows NAME
    const char *heading;  // the table's section: from the line "## heading" to the next "## "
    int min_rows;         // a dump shorter than this is broken, not a small schema
    int (*probe)(const char *const *ov, mg_err *e);  // a valid file plus one --set: 0 or -1 with e
    void (*dump_defaults)(FILE *f);
} doc_config;

#define PROBE_BASE "model: m\ntask: {target: ocean, vectors: v}\n"

static int run_probe(const char *const *ov, mg_err *e) {
    run_config c;
    int rc = run_config_parse(&c, PROBE_BASE, strlen(PROBE_BASE), "probe.yaml", ov, 1, e);
    run_config_free(&c);
    return rc;
}

static void run_dump_defaults(FILE *f) {
    run_config c;
    run_config_defaults(&c);
    run_config_dump(&c, f);
}

#define PRETRAIN_PROBE_BASE "model_config: m\ntokenizer: t\ncorpus: c\noutput_dir: o\n"

static int pretrain_probe(const char *const *ov, mg_err *e) {
    pretrain_config c;
    int rc = pretrain_config_parse(&c, PRETRAIN_PROBE_BASE, strlen(PRETRAIN_PROBE_BASE), "probe.yaml", ov, 1, e);
    pretrain_config_free(&c);
    return rc;
}

static void pretrain_dump_defaults(FILE *f) {
    pretrain_config c;
    pretrain_config_defaults(&c);
    pretrain_config_dump(&c, f);
}

static const doc_config k_doc_configs[] = {
    {"run", "Keys", 41, run_probe, run_dump_defaults},
    {"pretrain", "Pretrain keys", 19, pretrain_probe, pretrain_dump_defaults},
};

// What --set KEY=value says: 0 accepted, -1 with the message after "--set KEY=value: " in out.
static int probe(const doc_config *dc, const char *key, const char *value, char *out, size_t cap) {
    char *ov = malloc(strlen(key) + strlen(value) + 2);
    sprintf(ov, "%s=%s", key, value);
    const char *ovs[] = {ov};
    mg_err e = {{0}};
    int rc = dc->probe(ovs, &e);
    const char *colon = strstr(e.msg, ": ");
    if (rc == 0 || strncmp(e.msg, "--set ", 6)) rc = 0;  // a cross-check message is not about the value
    snprintf(out, cap, "%s", rc && colon ? colon + 2 : "");
    free(ov);
    return rc;
}

// "| `key` | type | `default` | allowed |", the part of a docs row the schema decides.
static void doc_row(const doc_config *dc, const char *key, const char *def, char *row, size_t cap) {
    char msg[MG_ERRLEN], allowed[256] = "", type[16] = "string";
    char *big = malloc(5001);
    memset(big, 'x', 5000), big[5000] = 0;
    if (probe(dc, key, "@@", msg, sizeof msg) == 0) {
        probe(dc, key, big, msg, sizeof msg);
        const char *at = strstr(msg, "at most ");
        if (at) snprintf(allowed, sizeof allowed, "at most %d bytes", atoi(at + 8));
    } else if (!strncmp(msg, "must be an integer", 18) || !strncmp(msg, "must be a number", 16)) {
        snprintf(type, sizeof type, "%s", msg[8] == 'a' && msg[9] == 'n' ? "integer" : "number");
        if (probe(dc, key, "-99999999999999999999999", msg, sizeof msg) == 0)
            snprintf(allowed, sizeof allowed, "any");
        else
            snprintf(allowed, sizeof allowed, "%.200s", msg + strlen("must be in "));
    } else if (!strcmp(msg, "must be true or false")) {
        snprintf(type, sizeof type, "boolean");
        snprintf(allowed, sizeof allowed, "true, false");
    } else if (!strncmp(msg, "must be one of ", 15)) {
        snprintf(type, sizeof type, "enum");
        snprintf(allowed, sizeof allowed, "%.200s", msg + 15);
    } else if (strstr(msg, "module names")) {
        snprintf(type, sizeof type, "list");
        char many[1024] = "[";
        for (int i = 0; i < 300; i++) strcat(many, i ? ",q" : "q");
        probe(dc, key, strcat(many, "]"), msg, sizeof msg);
        const char *at = strstr(msg, "at most ");
        snprintf(allowed, sizeof allowed, "module names, at most %d bytes joined", at ? atoi(at + 8) : -1);
    } else {
        snprintf(type, sizeof type, "?");
        snprintf(allowed, sizeof allowed, "? (%.200s)", msg);
    }
    free(big);
    snprintf(row, cap, "| `%.100s` | %s | `%.100s` | %.250s |", key, type, def, allowed);
}

// Walks the dump of the defaults: "key: value" at the top, "group:" then "  key: value", two more blanks per
// nested group ("task:", "  arc:", "    file: ...").
static int doc_rows(const doc_config *dc, char rows[][512], int max) {
    char *dumped = NULL, *save = NULL, group[4][128] = {""};
    size_t len = 0;
    FILE *f = open_memstream(&dumped, &len);
    dc->dump_defaults(f);
    fclose(f);
    int n = 0;
    for (char *line = strtok_r(dumped, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
        int depth = 0;
        while (line[2 * depth] == ' ' && line[2 * depth + 1] == ' ' && depth < 3) depth++;
        char *name = line + 2 * depth, *colon = strstr(name, ": ");
        char key[256];
        if (!colon) {  // "group:"
            snprintf(key, sizeof key, "%s%s%.*s", depth ? group[depth - 1] : "", depth ? "." : "",
                     (int)strlen(name) - 1, name);
            snprintf(group[depth], sizeof group[depth], "%.127s", key);
            continue;
        }
        *colon = 0;
        snprintf(key, sizeof key, "%s%s%s", depth ? group[depth - 1] : "", depth ? "." : "", name);
        doc_row(dc, key, colon + 2, rows[n++], 512);
    }
    free(dumped);
    return n;
}

// Each config's rows must stand in its own section, which has no other key rows.
static void test_docs(void) {
    FILE *f = fopen("docs/config.md", "rb");
    CHECK(f != NULL, "docs/config.md is missing (run from the repository root)");
    if (!f) return;
    char *doc = calloc(1, 1 << 20);
    size_t len = fread(doc, 1, (1 << 20) - 1, f);
    fclose(f);
    doc[len] = 0;
    for (size_t c = 0; c < sizeof k_doc_configs / sizeof k_doc_configs[0]; c++) {
        const doc_config *dc = &k_doc_configs[c];
        static char rows[128][512];
        int n = doc_rows(dc, rows, 128);
        CHECK(n >= dc->min_rows, "%s: only %d keys in the dump", dc->name, n);
        char heading[64];
        snprintf(heading, sizeof heading, "\n## %s\n", dc->heading);
        char *table = strstr(doc, heading), *end = table ? strstr(table + 1, "\n## ") : NULL;
        char saved = 0;
        if (end) saved = *end, *end = 0;  // rows are looked for in this section only
        for (int i = 0; i < n; i++)
            CHECK(table && strstr(table, rows[i]) != NULL,
                  "docs/config.md's section '%s' lacks or disagrees with the row\n  %s\n"
                  "  (test_config --doc-rows %s prints them all)", dc->heading, rows[i], dc->name);
        int doc_rows_n = 0;
        for (const char *p = table; p && (p = strstr(p, "\n| `")); p++) doc_rows_n++;
        CHECK(doc_rows_n == n, "docs/config.md's section '%s' has %d key rows, the schema %d", dc->heading, doc_rows_n,
              n);
        if (end) *end = saved;
    }
    free(doc);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--doc-rows")) {  // --doc-rows [run|pretrain]
        const doc_config *dc = &k_doc_configs[argc > 2 && !strcmp(argv[2], "pretrain")];
        static char rows[128][512];
        int n = doc_rows(dc, rows, 128);
        for (int i = 0; i < n; i++) printf("%s\n", rows[i]);
        return 0;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/test_config_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults();
    test_full_file();
    test_spellings();
    test_lists();
    test_errors();
    test_cross_checks();
    test_overrides();
    test_round_trip();
    test_examples();
    test_docs();
    unlink(g_path);
    rmdir(g_dir);
    return test_summary("test_config");
}
