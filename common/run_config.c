// The run configuration: its schema table, the names of its enums, the checks across keys and the public
// functions. The table drives everything else through common/yaml_schema.c: defaults, the YAML loader, --set
// overrides, range checks, the dump, and (through tests/unit/test_config.c) docs/config.md. Adding a knob = one
// table row.
#include "common/run_config.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "common/text.h"
#include "common/yaml_schema.h"

// ---- the schema ----

static const char *const k_strategies[] = {"random", "ns", "opro", "grpo", "grpo-greedy", "migrate", NULL};
static const char *const k_tasks[] = {"semantle", "oracle", "molecule", "arc", NULL};
static const char *const k_arc_executors[] = {"dsl", "python", NULL};
static const char *const k_arc_formats[] = {"colors", "digits", NULL};
static const char *const k_arc_rewards[] = {"partial", "strict", NULL};
static const char *const k_ns_seeds[] = {"top", "sample", NULL};
static const char *const k_repeats[] = {"reward", "drop", "lowest", NULL};
// training.loss_type: workers/grpo.h's loss_kind in its order (test_config checks that they agree)
static const char *const k_losses[] = {"grpo", "bnpo", "dr_grpo", NULL};
// training.lr_scheduler_type: model/optimizer.h's lr_schedule in its order
static const char *const k_lr_schedules[] = {"constant", "linear", "cosine", NULL};
static const char *const k_chat_formats[] = {"auto", "plain", "llama3", "chatml", NULL};
static const char *const k_backends[] = {"cpu", "cuda", NULL};
static const char *const k_allreduce[] = {"auto", "nccl", "mpi", NULL};
static const char *const k_engine_dtypes[] = {"bf16", "fp32", NULL};

// YS_ENUM fields are written through an int*.
_Static_assert(sizeof(strategy_kind) == sizeof(int) && sizeof(task_kind) == sizeof(int) &&
                   sizeof(ns_seed_mode) == sizeof(int) && sizeof(repeats_mode) == sizeof(int),
               "enums must be int-sized");
_Static_assert(STRATEGY_MIGRATE == 5 && TASK_ARC == 3 && NS_SEED_SAMPLE == 1 && REPEATS_LOWEST == 2,
               "name tables follow the enum order");

// Order = dump order. A group's keys come right after it.
#define YS_STRUCT run_config
static const ys_key k_keys[] = {
    YS_KEY_STR("model", model, 0, NULL),
    YS_KEY_CHOICE("chat_format", chat_format, k_chat_formats, "auto"),
    YS_KEY_STR("system_prompt", system_prompt, 0, NULL),
    YS_KEY_U64("seed", seed, "0"),
    YS_KEY_ENUM("strategy", strategy, k_strategies, "migrate"),
    YS_KEY_INT("iterations", iterations, 1, 1e9, "50"),
    YS_KEY_INT("oracle_budget", oracle_budget, 0, INT_MAX, "0"),
    YS_KEY_STR("output_dir", output_dir, YS_NONEMPTY, "runs/latest"),
    YS_KEY_INT("save_steps", save_steps, 0, 1e9, "10"),
    YS_KEY_INT("log_every", log_every, 1, 1e9, "1"),
    YS_KEY_INT("threads", threads, 0, 4096, "0"),
    YS_KEY_GROUP("task"),
    YS_KEY_ENUM("task.type", task, k_tasks, "semantle"),
    YS_KEY_STR("task.target", target, 0, NULL),
    YS_KEY_STR("task.vectors", vectors, 0, NULL),
    YS_KEY_STR("task.command", oracle_command, 0, NULL),
    YS_KEY_INT("task.workers", oracle_workers, 1, 1024, "1"),
    YS_KEY_DOUBLE("task.timeout", oracle_timeout, 0, 86400, YS_OPEN_MIN, "30"),
    YS_KEY_DOUBLE("task.solved_reward", solved_reward, 0, 0, YS_NO_RANGE, ".inf"),
    YS_KEY_STR("task.candidate_pattern", candidate_pattern, 0, NULL),
    YS_KEY_STR("task.candidate_format", candidate_format, 0, NULL),
    YS_KEY_NODE("task.objective", objective, NULL),
    YS_KEY_STR("task.prompt", prompt, 0, NULL),
    YS_KEY_STR("task.ns_prompt", ns_prompt, 0, NULL),
    YS_KEY_STR("task.opro_prompt", opro_prompt, 0, NULL),
    YS_KEY_GROUP("task.arc"),
    YS_KEY_STR("task.arc.file", arc_file, 0, NULL),
    YS_KEY_STR("task.arc.id", arc_id, 0, NULL),
    YS_KEY_STR("task.arc.solutions", arc_solutions, 0, NULL),
    YS_KEY_CHOICE("task.arc.executor", arc_executor, k_arc_executors, "python"),
    YS_KEY_CHOICE("task.arc.format", arc_format, k_arc_formats, "colors"),
    YS_KEY_CHOICE("task.arc.reward", arc_reward, k_arc_rewards, "partial"),
    YS_KEY_DOUBLE("task.arc.timeout", arc_timeout, 0, 3600, YS_OPEN_MIN, "2"),
    YS_KEY_INT("task.arc.workers", arc_workers, 1, 1024, "1"),
    YS_KEY_STR("task.arc.common_py", arc_common_py, 0, NULL),
    YS_KEY_GROUP("search"),
    YS_KEY_INT("search.num_on_policy", num_on_policy, 0, 4096, "8"),
    YS_KEY_INT("search.num_greedy", num_greedy, 0, 4096, "4"),
    YS_KEY_INT("search.num_neighborhood", num_neighborhood, 0, 4096, "4"),
    YS_KEY_INT("search.top_k", top_k, 1, 4096, "5"),
    YS_KEY_ENUM("search.ns_seed", ns_seed, k_ns_seeds, "top"),
    YS_KEY_ENUM("search.repeats", repeats, k_repeats, "reward"),
    YS_KEY_INT("search.archive_max_entries", archive_max_entries, 0, INT_MAX, "0"),
    YS_KEY_BOOL("search.stop_when_solved", stop_when_solved, "true"),
    YS_KEY_GROUP("sampling"),
    YS_KEY_FLOAT("sampling.temperature", temperature, 0, 100, 0, "1.0"),
    YS_KEY_FLOAT("sampling.top_p", top_p, 0, 1, YS_OPEN_MIN, "1.0"),
    YS_KEY_INT("sampling.sampling_top_k", top_k_sampling, 0, 1000000, "0"),
    YS_KEY_FLOAT("sampling.min_p", min_p, 0, 1, YS_OPEN_MAX, "0"),
    YS_KEY_INT("sampling.max_completion_length", max_completion_length, 1, 65536, "16"),
    YS_KEY_BOOL("sampling.share_prefix", share_prefix, "true"),
    YS_KEY_GROUP("training"),
    YS_KEY_FLOAT("training.learning_rate", learning_rate, 0, 1, 0, "5e-5"),
    YS_KEY_ENUM("training.lr_scheduler_type", lr_scheduler_type, k_lr_schedules, "constant"),
    YS_KEY_FLOAT("training.warmup_ratio", warmup_ratio, 0, 1, 0, "0"),
    YS_KEY_FLOAT("training.epsilon", epsilon, 0, 1, 0, "0.2"),
    YS_KEY_FLOAT("training.epsilon_high", epsilon_high, 0, 10, 0, "0.28"),
    YS_KEY_FLOAT("training.beta", beta, 0, 1000, 0, "0"),
    YS_KEY_ENUM("training.loss_type", loss_type, k_losses, "dr_grpo"),
    YS_KEY_BOOL("training.scale_rewards", scale_rewards, "false"),
    YS_KEY_INT("training.num_iterations", num_iterations, 1, 1000, "1"),
    YS_KEY_INT("training.members_per_shard", members_per_shard, 1, 1 << 20, "4"),
    YS_KEY_BOOL("training.share_prefix", train_share_prefix, "false"),
    YS_KEY_INT("training.staleness", staleness, 0, MAX_STALENESS, "0"),
    YS_KEY_FLOAT("training.max_grad_norm", max_grad_norm, 0, 1e5, 0, "1.0"),
    YS_KEY_FLOAT("training.weight_decay", weight_decay, 0, 10, 0, "0"),
    YS_KEY_FLOAT("training.adam_beta1", adam_beta1, 0, 1, YS_OPEN_MAX, "0.9"),
    YS_KEY_FLOAT("training.adam_beta2", adam_beta2, 0, 1, YS_OPEN_MAX, "0.999"),
    YS_KEY_FLOAT("training.adam_epsilon", adam_epsilon, 0, 1, YS_OPEN_MIN, "1e-8"),
    YS_KEY_GROUP("distributed"),
    YS_KEY_INT("distributed.rollout_ranks", rollout_ranks, 0, 1 << 20, "0"),
    YS_KEY_INT("distributed.learner_ranks", learner_ranks, 0, 1 << 20, "0"),
    YS_KEY_BOOL("distributed.coordinator_only", coordinator_only, "false"),
    YS_KEY_DOUBLE("distributed.timeout", dist_timeout, 0, 1e7, YS_OPEN_MIN, "3600"),
    YS_KEY_CHOICE("distributed.allreduce", allreduce, k_allreduce, "auto"),
    YS_KEY_GROUP("engine"),
    YS_KEY_CHOICE("engine.backend", backend, k_backends, "cpu"),
    YS_KEY_CHOICE("engine.dtype", engine_dtype, k_engine_dtypes, "bf16"),
    YS_KEY_INT("engine.device", device, -1, 4096, "-1"),
    YS_KEY_BOOL("engine.cuda_graphs", cuda_graphs, "true"),
    YS_KEY_GROUP("lora"),
    YS_KEY_BOOL("lora.use_peft", use_peft, "true"),
    YS_KEY_INT("lora.r", lora_r, 1, 4096, "64"),
    YS_KEY_FLOAT("lora.alpha", lora_alpha, 0, 1e5, YS_OPEN_MIN, "16"),
    YS_KEY_LIST("lora.target_modules", lora_target_modules, "q_proj,k_proj,v_proj,o_proj"),
};
#undef YS_STRUCT

// Names people bring from TRL, PEFT, vLLM or the paper, which edit distance cannot find.
static const ys_hint k_hints[] = {
    {"lr", "training.learning_rate"},         {"kl", "training.beta"},
    {"kl_coef", "training.beta"},             {"epsilon_low", "training.epsilon"},
    {"rank", "lora.r"},                       {"lora_r", "lora.r"},
    {"lora_rank", "lora.r"},                  {"lora_alpha", "lora.alpha"},
    {"use_peft", "lora.use_peft"},            {"full_weights", "lora.use_peft"},
    {"max_new_tokens", "sampling.max_completion_length"},
    {"max_tokens", "sampling.max_completion_length"},
    {"num_generations", "search.num_on_policy"},
    {"search.alpha", "search.num_on_policy"}, {"search.beta", "search.num_greedy"},
    {"search.gamma", "search.num_neighborhood"},
    {"sampling.top_k", "sampling.sampling_top_k"},
    {"device", "engine.device"},              {"backend", "engine.backend"},
};

// ---- checks across keys ----

// The line that set key a, else the one that set b (0 when neither came from the file).
static long line_of_either(const ys_seen *seen, const char *a, const char *b) {
    return ys_line(seen, a) ? ys_line(seen, a) : ys_line(seen, b);
}

static int validate(void *config, const ys_seen *seen, mg_err *e) {
    run_config *c = config;  // fills objective_line
    const char *s = strategy_name(c->strategy);
    if (!c->model[0]) return ys_fail(seen, 0, e, "key 'model' is required (a Hugging Face model folder)");
    // Every strategy draws num_on_policy + num_neighborhood new samples per iteration (equal oracle cost; the
    // neighborhood share uses the neighborhood prompt under ns and migrate only); grpo-greedy and migrate add
    // num_greedy archive entries to the group they train on.
    int drawn = c->num_on_policy + c->num_neighborhood;
    int group = drawn + (c->strategy == STRATEGY_GRPO_GREEDY || c->strategy == STRATEGY_MIGRATE ? c->num_greedy : 0);
    const char *need = NULL, *need_key = NULL;
    if (drawn < 1)
        need = "search.num_on_policy + search.num_neighborhood > 0 (new samples per iteration)",
        need_key = "search.num_on_policy";
    else if (c->strategy == STRATEGY_MIGRATE && c->num_neighborhood < 1)
        need = "search.num_neighborhood > 0", need_key = "search.num_neighborhood";
    else if (c->strategy == STRATEGY_MIGRATE && c->num_greedy < 0)  // the range already says so; kept explicit
        need = "search.num_greedy >= 0", need_key = "search.num_greedy";
    else if (c->strategy == STRATEGY_GRPO_GREEDY && c->num_greedy < 1)
        need = "search.num_greedy > 0", need_key = "search.num_greedy";
    if (need)
        return ys_fail(seen, line_of_either(seen, need_key, "strategy"), e, "strategy '%s' needs %s", s, need);
    if (c->strategy >= STRATEGY_GRPO && group < 2)
        return ys_fail(seen, line_of_either(seen, "search.num_on_policy", "strategy"), e,
                       "strategy '%s' needs a group of at least 2 members for GRPO advantages, got %d "
                       "(search.num_on_policy + num_neighborhood%s)",
                       s, group, c->strategy == STRATEGY_GRPO ? "" : " + num_greedy");
    if (c->task == TASK_SEMANTLE && (!c->target[0] || !c->vectors[0])) {
        const char *missing = !c->target[0] ? "task.target (the hidden word)" : "task.vectors (a word-vector file)";
        return ys_fail(seen, ys_line(seen, "task.type"), e, "task.type 'semantle' needs %s", missing);
    }
    if (c->task == TASK_MOLECULE) {
        c->objective_line = ys_line(seen, "task.objective");
        if (!c->objective[0])
            return ys_fail(seen, ys_line(seen, "task.type"), e,
                           "task.type 'molecule' needs task.objective (a name such as qed, or a composition; "
                           "docs/molecules.md)");
        // compiled by coordinator/run_job.c's run_config_read, which knows the tasks
    }
    if (c->task == TASK_ARC && c->arc_solutions[0] && !c->arc_id[0])
        return ys_fail(seen, ys_line(seen, "task.arc.solutions"), e,
                       "task.arc.solutions needs task.arc.id: a solutions file goes with a Kaggle challenges file "
                       "in task.arc.file and one task id in it");
    if (c->task == TASK_ARC && !c->arc_file[0])
        return ys_fail(seen, ys_line(seen, "task.type"), e,
                       "task.type 'arc' needs task.arc.file (an ARC task file such as "
                       "data/arc-agi-1/training/3c9b0459.json; docs/arc.md)");
    if (c->task == TASK_ORACLE && (!c->oracle_command[0] || !c->prompt[0])) {
        const char *missing = !c->oracle_command[0] ? "task.command (the oracle program)"
                                                    : "task.prompt (the oracle knows nothing about prompts)";
        return ys_fail(seen, ys_line(seen, "task.type"), e, "task.type 'oracle' needs %s", missing);
    }
    if (c->candidate_pattern[0]) c->candidate_lines[0] = ys_line(seen, "task.candidate_pattern");
    if (c->candidate_format[0]) c->candidate_lines[1] = ys_line(seen, "task.candidate_format");
    if ((c->candidate_pattern[0] || c->candidate_format[0]) && c->task != TASK_ORACLE)
        return ys_fail(seen, line_of_either(seen, "task.candidate_pattern", "task.candidate_format"), e,
                       "task.candidate_pattern and task.candidate_format are for task.type 'oracle' (the built-in "
                       "tasks parse their own answers)");
    if (c->candidate_format[0] && !c->candidate_pattern[0])
        return ys_fail(seen, ys_line(seen, "task.candidate_format"), e,
                       "task.candidate_format needs task.candidate_pattern, whose match it rewrites");
    // The pattern and format themselves are compiled by coordinator/run_job.c's run_config_read (tasks/ knows PCRE2).
    if (c->task == TASK_ORACLE) {  // split as the run will split it, so a stray quote is refused now
        char **argv;
        mg_err why;
        if (text_split_words(c->oracle_command, &argv, &why))
            return ys_fail(seen, ys_line(seen, "task.command"), e, "task.command: %s", why.msg);
        text_free_words(argv);
    }
    // Full training keeps one copy of the weights per search on the host (coordinator/search.c): the CPU engine's.
    if (!c->use_peft && strcmp(c->backend, "cpu"))
        return ys_fail(seen, line_of_either(seen, "lora.use_peft", "engine.backend"), e,
                       "lora.use_peft false (train every weight) runs on engine.backend cpu; on a GPU train LoRA "
                       "adapters");
    if (!c->use_peft && c->coordinator_only)
        return ys_fail(seen, line_of_either(seen, "lora.use_peft", "distributed.coordinator_only"), e,
                       "lora.use_peft false (train every weight) needs the weights on rank 0, which "
                       "distributed.coordinator_only does not load");
    return ys_check_order(seen, c, "training.epsilon_high", ">=", "training.epsilon", e);
}

// ---- public API ----

static const yaml_schema k_schema = {
    .what = "run config",
    .docs = "docs/config.md",
    YS_KEYS(k_keys),
    YS_HINTS(k_hints),
    YS_LAYOUT(run_config),
    .check = validate,
};

int strategy_trains(strategy_kind s) {
    return s == STRATEGY_GRPO || s == STRATEGY_GRPO_GREEDY || s == STRATEGY_MIGRATE;
}

const char *strategy_name(strategy_kind s) {
    return (unsigned)s <= STRATEGY_MIGRATE ? k_strategies[s] : "unknown";
}

void run_config_defaults(run_config *c) { ys_defaults(&k_schema, c); }

int run_config_parse(run_config *c, const char *yaml, size_t len, const char *name, const char *const *overrides,
                     int n_overrides, mg_err *e) {
    return ys_parse(&k_schema, c, yaml, len, name, overrides, n_overrides, e);
}

int run_config_load(run_config *c, const char *path, const char *const *overrides, int n_overrides, mg_err *e) {
    return ys_load(&k_schema, c, path, overrides, n_overrides, e);
}

void run_config_free(run_config *c) {
    if (c) ys_free(&k_schema, c);
}

void run_config_dump(const run_config *c, FILE *f) { ys_dump(&k_schema, c, f); }

char *run_config_text(const run_config *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mgCheck(f != NULL, "out of memory");
    run_config_dump(c, f);
    fclose(f);
    return buf;
}
