// migrate run: one MiGrATe search (or a baseline) on one problem, from a YAML config.
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/search.h"
#include "tasks/oracle.h"
#include "tasks/semantle.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

static const char *HELP =
    "usage: migrate run CONFIG.yaml [--set KEY=VALUE ...] [--print-config] [--quiet]\n"
    "\n"
    "Runs the search the config describes: sample -> score -> archive -> mixed GRPO group -> LoRA update,\n"
    "until the problem is solved, the oracle budget is spent or `iterations` are done. Writes\n"
    "OUTPUT_DIR/metrics.jsonl (one JSON object per iteration, TRL's metric names where they exist) and\n"
    "OUTPUT_DIR/summary.json, prints a progress line per iteration and a final summary.\n"
    "\n"
    "  --set KEY=VALUE   override a config key, dotted for nested keys (--set training.learning_rate=1e-4)\n"
    "  --print-config    print the effective configuration and exit\n"
    "  --quiet           no per-iteration progress lines\n"
    "\n"
    "Strategies (key `strategy`): random, ns, opro, grpo, grpo-greedy, migrate. See docs/config.md for every key.\n";

// Splits a command line on spaces, honouring single and double quotes. Returns a NULL-terminated malloc'd argv.
static char **split_command(const char *cmd) {
    size_t n = strlen(cmd);
    char **argv = callocCheck(n / 2 + 2, sizeof(char *));
    char *buf = mallocCheck(n + 1);
    int argc = 0;
    const char *p = cmd;
    while (*p) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        size_t len = 0;
        char quote = 0;
        for (; *p && (quote || (*p != ' ' && *p != '\t')); p++) {
            if (!quote && (*p == '"' || *p == '\'')) quote = *p;
            else if (quote && *p == quote) quote = 0;
            else buf[len++] = *p;
        }
        buf[len] = '\0';
        argv[argc++] = strdup(buf);
    }
    free(buf);
    return argv;
}

static int make_task(const run_config *c, task **t, word_vectors **wv, char ***argv, const char *log_path, mg_err *e) {
    if (c->task == TASK_SEMANTLE) {
        if (word_vectors_load(wv, c->vectors, e)) return -1;
        return semantle_create(t, *wv, c->target, e);
    }
    *argv = split_command(c->oracle_command);
    oracle_config oc = {*argv, c->oracle_workers, c->oracle_timeout, c->solved_reward, c->prompt,
                        c->ns_prompt[0] ? c->ns_prompt : NULL, log_path};
    return oracle_create(t, &oc, e);
}

int cmd_run(int argc, char **argv) {
    const char *config_path = NULL;
    const char **overrides = callocCheck((size_t)argc + 1, sizeof(char *));
    int n_over = 0, print_config = 0, quiet = 0;
    int step;  // argv entries the current argument used
    for (int i = 1; i < argc; i += step) {
        step = 1;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return free(overrides), fputs(HELP, stdout), 0;
        else if (!strcmp(argv[i], "--print-config")) print_config = 1;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) overrides[n_over++] = argv[i + 1], step = 2;
        else if (argv[i][0] != '-' && !config_path) config_path = argv[i];
        else {
            fprintf(stderr, "migrate run: unexpected argument '%s' (see --help)\n", argv[i]);
            free(overrides);
            return 2;
        }
    }
    if (!config_path) {
        fprintf(stderr, "migrate run: a CONFIG.yaml is required (see --help)\n");
        free(overrides);
        return 2;
    }
    run_config cfg;
    mg_err e;
    if (run_config_load(&cfg, config_path, overrides, n_over, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        free(overrides);
        return 1;
    }
    free(overrides);
    if (print_config) {
        run_config_dump(&cfg, stdout);
        run_config_free(&cfg);
        return 0;
    }
    cli_set_threads(cfg.threads);
    model m;
    tokenizer *tok = NULL;
    task *t = NULL;
    word_vectors *wv = NULL;
    char **oracle_argv = NULL;
    int rc = 1;
    if (cli_load_model("run", cfg.model, &m, &tok)) {
        run_config_free(&cfg);
        return 1;
    }
    FILE *metrics = NULL;
    search_state s;
    memset(&s, 0, sizeof s);
    cli_mkdir_p(cfg.output_dir);
    char oracle_log[4200];
    snprintf(oracle_log, sizeof oracle_log, "%s/oracle.log", cfg.output_dir);
    if (make_task(&cfg, &t, &wv, &oracle_argv, oracle_log, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        goto done;
    }
    if (search_attach_adapter(&m, &cfg, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        goto done;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", cfg.output_dir);
    metrics = fopen(path, "w");
    if (!metrics) {
        fprintf(stderr, "migrate run: cannot write %s: %s\n", path, strerror(errno));
        goto done;
    }
    if (search_init(&s, &cfg, &m, tok, t, 0, metrics, quiet ? NULL : stderr, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        goto done;
    }
    fprintf(stderr, "migrate run: %s on %s, strategy %s, %d+%d new samples per iteration%s\n", t->name, cfg.model,
            strategy_name(cfg.strategy), cfg.num_on_policy, cfg.num_neighborhood,
            cfg.num_greedy && cfg.strategy >= STRATEGY_GRPO_GREEDY ? " + greedy" : "");
    json_t *per_iter = json_array();
    int status;
    while ((status = search_step(&s, &e)) == 0) {
        const char *best = s.best >= 0 ? archive_canonical(s.arc, s.best) : NULL;
        json_array_append_new(per_iter, json_string(best ? best : ""));
    }
    if (status < 0) fprintf(stderr, "migrate run: %s (the archive so far is kept)\n", e.msg);
    else {
        const char *best = s.best >= 0 ? archive_canonical(s.arc, s.best) : NULL;
        json_array_append_new(per_iter, json_string(best ? best : ""));
    }
    const archive_entry *b = s.best >= 0 ? archive_get(s.arc, s.best) : NULL;
    json_t *sum = json_object();
    json_object_set_new(sum, "strategy", json_string(strategy_name(cfg.strategy)));
    json_object_set_new(sum, "solved", json_boolean(s.solved));
    json_object_set_new(sum, "oracle_calls", json_integer(s.oracle_calls));
    json_object_set_new(sum, "oracle_calls_to_solve", s.solved ? json_integer(s.solved_at_calls) : json_null());
    json_object_set_new(sum, "iterations", json_integer(s.iteration));
    json_object_set_new(sum, "best", json_string(b ? archive_canonical(s.arc, s.best) : ""));
    json_object_set_new(sum, "best_reward", json_real(b ? b->reward : 0.0));
    json_object_set_new(sum, "best_info", json_string(s.best_info));
    json_object_set_new(sum, "repeats", json_integer(s.repeats));
    json_object_set_new(sum, "archive_size", json_integer((json_int_t)archive_size(s.arc)));
    json_object_set_new(sum, "best_per_iteration", per_iter);
    json_t *times = json_object();
    json_object_set_new(times, "sample", json_real(s.time.sample));
    json_object_set_new(times, "score", json_real(s.time.score));
    json_object_set_new(times, "train", json_real(s.time.train));
    json_object_set_new(times, "total", json_real(s.time.total));
    json_object_set_new(sum, "seconds", times);
    snprintf(path, sizeof path, "%s/summary.json", cfg.output_dir);
    json_dump_file(sum, path, JSON_INDENT(2));
    printf("%s after %d iterations and %ld oracle calls (%ld repeats cost nothing); best %s = %.4f (%s)\n",
           s.solved ? "SOLVED" : "not solved", s.iteration, s.oracle_calls, s.repeats,
           b ? archive_canonical(s.arc, s.best) : "(none)", b ? b->reward : 0.0, s.best_info);
    printf("best per iteration:");
    for (size_t i = 0; i < json_array_size(per_iter); i++) printf(" %s", json_string_value(json_array_get(per_iter, i)));
    printf("\ntime: %.1f s total, sampling %.1f, scoring %.1f, training %.1f, loop %.2f (%.1f%%)\n", s.time.total,
           s.time.sample, s.time.score, s.time.train, s.time.total - s.time.sample - s.time.score - s.time.train,
           100.0 * (s.time.total - s.time.sample - s.time.score - s.time.train) / (s.time.total > 0 ? s.time.total : 1));
    json_decref(sum);
    rc = status < 0;
done:
    search_free(&s);
    if (metrics) fclose(metrics);
    if (t) t->destroy(t);
    if (wv) word_vectors_free(wv);
    for (int i = 0; oracle_argv && oracle_argv[i]; i++) free(oracle_argv[i]);
    free(oracle_argv);
    tokenizer_free(tok);
    model_free(&m);
    run_config_free(&cfg);
    return rc;
}
