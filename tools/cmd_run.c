// migrate run: one MiGrATe search (or a baseline) on one problem, from a YAML config.
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/checkpoint.h"
#include "coordinator/search.h"
#include "model/peft.h"
#include "workers/comm.h"
#include "tasks/molecule.h"
#include "tasks/oracle.h"
#include "tasks/semantle.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

static const char *HELP =
    "usage: migrate run CONFIG.yaml [--resume FILE] [--set KEY=VALUE ...] [--print-config] [--quiet]\n"
    "       migrate run --resume FILE [--set KEY=VALUE ...]\n"
    "\n"
    "Runs the search the config describes: sample -> score -> archive -> mixed GRPO group -> LoRA update,\n"
    "until the problem is solved, the oracle budget is spent or `iterations` are done. Writes\n"
    "OUTPUT_DIR/metrics.jsonl (one JSON object per iteration, TRL's metric names where they exist),\n"
    "OUTPUT_DIR/summary.json and OUTPUT_DIR/checkpoint.h5 (every `save_steps` iterations and at the end), and\n"
    "the trained adapter as a PEFT folder, OUTPUT_DIR/adapter; prints a progress line per iteration and a\n"
    "final summary. `migrate inspect` summarises a checkpoint; `migrate export` writes its adapter.\n"
    "\n"
    "SIGTERM, SIGUSR1 or SIGINT (Slurm preemption, Ctrl-C) end the current iteration, write the checkpoint and\n"
    "exit 0; a second SIGINT exits at once. --resume continues from a checkpoint exactly where it stopped: the\n"
    "archive and adapter end bit-identical to a run that was never interrupted.\n"
    "\n"
    "  --resume FILE     continue the run saved in FILE (its stored config is used when CONFIG is not given;\n"
    "                    with CONFIG, the two must agree except iterations, oracle_budget, output_dir,\n"
    "                    log_every, threads, save_steps, model folder, task.workers and task.timeout)\n"
    "  --set KEY=VALUE   override a config key, dotted for nested keys (--set training.learning_rate=1e-4);\n"
    "                    e.g. --resume FILE --set iterations=200 extends a finished run\n"
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
    if (c->task == TASK_MOLECULE) return molecule_create_from_run_config(t, c, e);
    *argv = split_command(c->oracle_command);
    oracle_config oc = {*argv, c->oracle_workers, c->oracle_timeout, c->solved_reward, c->prompt,
                        c->ns_prompt[0] ? c->ns_prompt : NULL, log_path};
    return oracle_create(t, &oc, e);
}

// ---- signals: finish the iteration, checkpoint, exit 0 ----

static volatile sig_atomic_t g_stop_signal;

static void on_stop_signal(int sig) {
    g_stop_signal = sig;
    if (sig == SIGINT) signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

static void install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    // Past a file-size limit (ulimit -f), writes should fail with EFBIG and be reported, not kill the run.
    signal(SIGXFSZ, SIG_IGN);
}

// A signal may reach some ranks only (or reach them in different iterations): every rank stops after the same
// iteration, the first one at whose end any rank had seen it.
static int stop_requested(const comm *world) {
    double stop = g_stop_signal;
    comm_allreduce_max(world, &stop, 1, "stop signal");
    if (stop > 0 && !g_stop_signal) g_stop_signal = (int)stop;
    return stop > 0;
}

static const char *signal_name(int sig) {
    return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : sig == SIGINT ? "SIGINT" : "a signal";
}

// The effective configuration as text (what checkpoints store and resumes compare).
static char *config_text(const run_config *c) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mgCheck(f != NULL, "out of memory");
    run_config_dump(c, f);
    fclose(f);
    return buf;
}

// Loads the run's configuration: from CONFIG, from the checkpoint being resumed, or both (then they must agree).
static int load_config(run_config *cfg, const char *config_path, const checkpoint *resume, const char *resume_path,
                       const char **overrides, int n_over, mg_err *e) {
    if (config_path) {
        if (run_config_load(cfg, config_path, overrides, n_over, e)) return -1;
    } else {
        char name[4200];
        snprintf(name, sizeof name, "%s:/config", resume_path);
        if (run_config_parse(cfg, resume->config, strlen(resume->config), name, overrides, n_over, e)) return -1;
    }
    if (!resume) return 0;
    char *now = config_text(cfg);
    int rc = checkpoint_config_compatible(resume->config, now, resume_path, e);
    free(now);
    if (rc) run_config_free(cfg);
    return rc;
}

// Truncates metrics.jsonl to where the checkpoint left it (lines of iterations after it are redone) and appends.
static FILE *open_metrics(const char *path, long keep_bytes, int resume) {
    if (!resume) return fopen(path, "w");
    FILE *f = fopen(path, "r+");
    if (!f) return fopen(path, "w");
    if (ftruncate(fileno(f), keep_bytes) == 0 && fseek(f, 0, SEEK_END) == 0) return f;
    fclose(f);
    return NULL;
}

typedef struct {
    char path[4200];
    char *config;          // effective config text
    const char *model_dir;
    uint64_t model_hash;
    checkpoint_writer writer;
    int failures;
} run_saver;

static void saver_snapshot(run_saver *sv, const search_state *s, FILE *metrics, checkpoint *out) {
    if (metrics) fflush(metrics);
    checkpoint_take(out, s, sv->config, sv->model_dir, sv->model_hash, metrics ? ftell(metrics) : 0);
}

// A periodic checkpoint, written in the background: the loop stalls only for the copy.
static void saver_periodic(run_saver *sv, const search_state *s, FILE *metrics) {
    mg_err e;
    if (checkpoint_writer_wait(&sv->writer, &e)) {
        fprintf(stderr, "migrate run: warning: %s\n", e.msg);
        sv->failures++;
    }
    checkpoint snap;
    saver_snapshot(sv, s, metrics, &snap);
    checkpoint_writer_start(&sv->writer, &snap, sv->path);
}

// The last checkpoint (end of run, signal, error), written before returning.
static int saver_final(run_saver *sv, const search_state *s, FILE *metrics) {
    mg_err e;
    if (checkpoint_writer_wait(&sv->writer, &e)) fprintf(stderr, "migrate run: warning: %s\n", e.msg);
    checkpoint snap;
    saver_snapshot(sv, s, metrics, &snap);
    int rc = checkpoint_write(&snap, sv->path, &e);
    checkpoint_free(&snap);
    if (rc) fprintf(stderr, "migrate run: %s\n", e.msg);
    return rc;
}

static void write_summary(const run_config *cfg, const search_state *s) {
    json_t *per_iter = json_array();
    for (int i = 0; i < s->iteration; i++) {
        const char *b = s->best_history[i] >= 0 ? archive_canonical(s->arc, s->best_history[i]) : NULL;
        json_array_append_new(per_iter, json_string(b ? b : ""));
    }
    const archive_entry *b = s->best >= 0 ? archive_get(s->arc, s->best) : NULL;
    const char *best = b ? archive_canonical(s->arc, s->best) : NULL;
    json_t *sum = json_object();
    json_object_set_new(sum, "strategy", json_string(strategy_name(cfg->strategy)));
    json_object_set_new(sum, "solved", json_boolean(s->solved));
    json_object_set_new(sum, "oracle_calls", json_integer(s->oracle_calls));
    json_object_set_new(sum, "oracle_calls_to_solve", s->solved ? json_integer(s->solved_at_calls) : json_null());
    json_object_set_new(sum, "iterations", json_integer(s->iteration));
    json_object_set_new(sum, "best", json_string(best ? best : ""));
    json_object_set_new(sum, "best_reward", json_real(b ? b->reward : 0.0));
    json_object_set_new(sum, "best_info", json_string(s->best_info));
    json_object_set_new(sum, "repeats", json_integer(s->repeats));
    json_object_set_new(sum, "archive_size", json_integer((json_int_t)archive_size(s->arc)));
    json_object_set_new(sum, "best_per_iteration", per_iter);
    json_t *times = json_object();
    json_object_set_new(times, "sample", json_real(s->time.sample));
    json_object_set_new(times, "score", json_real(s->time.score));
    json_object_set_new(times, "train", json_real(s->time.train));
    json_object_set_new(times, "total", json_real(s->time.total));
    json_object_set_new(sum, "seconds", times);
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", cfg->output_dir);
    json_dump_file(sum, path, JSON_INDENT(2));
    printf("%s after %d iterations and %ld oracle calls (%ld repeats cost nothing); best %s = %.4f (%s)\n",
           s->solved ? "SOLVED" : "not solved", s->iteration, s->oracle_calls, s->repeats, best ? best : "(none)",
           b ? b->reward : 0.0, s->best_info);
    printf("best per iteration:");
    for (size_t i = 0; i < json_array_size(per_iter); i++) printf(" %s", json_string_value(json_array_get(per_iter, i)));
    double loop = s->time.total - s->time.sample - s->time.score - s->time.train;
    printf("\ntime: %.1f s total, sampling %.1f, scoring %.1f, training %.1f, loop %.2f (%.1f%%)\n", s->time.total,
           s->time.sample, s->time.score, s->time.train, loop, 100.0 * loop / (s->time.total > 0 ? s->time.total : 1));
    json_decref(sum);
}

// The trained adapter as a PEFT folder, OUTPUT_DIR/adapter, as TRL leaves one in its output_dir.
static int export_adapter(const run_config *cfg, const model *m) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/adapter", cfg->output_dir);
    cli_mkdir_p(dir);
    int n = lora_tensors(m, NULL);
    lora_tensor *t = mallocCheck((size_t)n * sizeof(lora_tensor));
    lora_tensors(m, t);
    mg_err e;
    int rc = peft_save(dir, cfg->model, m->lora->cfg.rank, m->lora->cfg.alpha, m->lora->cfg.targets, t, n,
                       m->lora->params, &e);
    free(t);
    if (rc) fprintf(stderr, "migrate run: %s\n", e.msg);
    return rc;
}

static int run_main(comm *world, int argc, char **argv) {
    const char *config_path = NULL, *resume_path = NULL;
    const char **overrides = callocCheck((size_t)argc + 1, sizeof(char *));
    int n_over = 0, print_config = 0, quiet = 0;
    int step;  // argv entries the current argument used
    for (int i = 1; i < argc; i += step) {
        step = 1;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return free(overrides), fputs(HELP, stdout), 0;
        else if (!strcmp(argv[i], "--print-config")) print_config = 1;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) overrides[n_over++] = argv[i + 1], step = 2;
        else if (!strcmp(argv[i], "--resume") && i + 1 < argc) resume_path = argv[i + 1], step = 2;
        else if (argv[i][0] != '-' && !config_path) config_path = argv[i];
        else {
            fprintf(stderr, "migrate run: unexpected argument '%s' (see --help)\n", argv[i]);
            free(overrides);
            return 2;
        }
    }
    if (!config_path && !resume_path) {
        fprintf(stderr, "migrate run: a CONFIG.yaml (or --resume FILE) is required (see --help)\n");
        free(overrides);
        return 2;
    }
    mg_err e;
    checkpoint resume;
    memset(&resume, 0, sizeof resume);
    if (resume_path && checkpoint_read_header(&resume, resume_path, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        free(overrides);
        return 1;
    }
    run_config cfg;
    int bad = load_config(&cfg, config_path, resume_path ? &resume : NULL, resume_path, overrides, n_over, &e);
    free(overrides);
    if (bad) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        checkpoint_free(&resume);
        return 1;
    }
    if (comm_layout(world, cfg.rollout_ranks, cfg.learner_ranks, cfg.coordinator_only, cfg.dist_timeout, &e)) {
        fprintf(stderr, "migrate run: %s: %s\n", config_path ? config_path : resume_path, e.msg);
        run_config_free(&cfg);
        checkpoint_free(&resume);
        return 1;
    }
    if (print_config) {
        run_config_dump(&cfg, stdout);
        run_config_free(&cfg);
        checkpoint_free(&resume);
        return 0;
    }
    install_signal_handlers();
    cli_set_threads(cfg.threads);
    model m;
    tokenizer *tok = NULL;
    task *t = NULL;
    word_vectors *wv = NULL;
    char **oracle_argv = NULL;
    int rc = 1;
    run_saver sv;
    memset(&sv, 0, sizeof sv);
    sv.model_dir = cfg.model;
    if (checkpoint_model_hash(cfg.model, &sv.model_hash, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        run_config_free(&cfg);
        checkpoint_free(&resume);
        return 1;
    }
    if (resume_path && resume.model_hash != sv.model_hash) {
        fprintf(stderr, "migrate run: %s: the checkpoint was written for the model in %s (config.json hash %016llx); "
                        "%s is another model (hash %016llx)\n", resume_path, resume.model_path,
                (unsigned long long)resume.model_hash, cfg.model, (unsigned long long)sv.model_hash);
        run_config_free(&cfg);
        checkpoint_free(&resume);
        return 1;
    }
    checkpoint_free(&resume);
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
    snprintf(sv.path, sizeof sv.path, "%s/checkpoint.h5", cfg.output_dir);
    sv.config = config_text(&cfg);
    if (make_task(&cfg, &t, &wv, &oracle_argv, oracle_log, &e) || search_attach_adapter(&m, &cfg, &e) ||
        search_init(&s, &cfg, &m, tok, t, 0, NULL, quiet || !world->is_coordinator ? NULL : stderr, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        goto done;
    }
    long metrics_keep = 0;
    if (resume_path) {
        checkpoint full;
        if (checkpoint_read(&full, resume_path, &m, &e) || checkpoint_apply(&full, &s, &e)) {
            fprintf(stderr, "migrate run: %s\n", e.msg);
            goto done;
        }
        metrics_keep = (long)full.metrics_bytes;
        checkpoint_free(&full);
        if (world->is_coordinator)
            fprintf(stderr, "migrate run: resumed %s at iteration %d (%ld oracle calls, %zu archive entries)\n",
                    resume_path, s.iteration, s.oracle_calls, archive_size(s.arc));
    }
    s.comm = world;
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", cfg.output_dir);
    if (world->is_coordinator) metrics = open_metrics(path, metrics_keep, resume_path != NULL);
    if (world->is_coordinator && !metrics) {
        fprintf(stderr, "migrate run: cannot write %s: %s\n", path, strerror(errno));
        goto done;
    }
    s.metrics = metrics;
    if (world->is_coordinator) {
        fprintf(stderr, "migrate run: %s on %s, strategy %s, %d+%d new samples per iteration%s\n", t->name, cfg.model,
                strategy_name(cfg.strategy), cfg.num_on_policy, cfg.num_neighborhood,
                cfg.num_greedy && cfg.strategy >= STRATEGY_GRPO_GREEDY ? " + greedy" : "");
        if (world->size > 1)
            fprintf(stderr, "migrate run: %d ranks: %d rollout, %d learner%s\n", world->size, world->n_rollout,
                    world->n_learner, cfg.coordinator_only ? ", rank 0 coordinates only" : " (rank 0 also coordinates)");
    }
    int status = 0;
    while (!stop_requested(world) && !search_finished(&s) && (status = search_step(&s, &e)) == 0)
        if (world->is_coordinator && cfg.save_steps > 0 && s.iteration % cfg.save_steps == 0)
            saver_periodic(&sv, &s, metrics);
    if (status < 0) fprintf(stderr, "migrate run: %s (the archive so far is kept in the checkpoint)\n", e.msg);
    int saved = world->is_coordinator ? saver_final(&sv, &s, metrics) == 0 : 1;
    if (g_stop_signal && status >= 0 && !search_finished(&s)) {
        if (!world->is_coordinator) {
            rc = 0;
            goto done;
        }
        fprintf(stderr, "migrate run: stopped by %s after iteration %d; %s\n", signal_name(g_stop_signal), s.iteration,
                saved ? "checkpoint written" : "the checkpoint could NOT be written");
        if (saved) fprintf(stderr, "migrate run: continue with: migrate run --resume %s\n", sv.path);
        rc = saved ? 0 : 1;
        goto done;
    }
    if (world->is_coordinator) {
        write_summary(&cfg, &s);
        if (m.lora && strategy_trains(cfg.strategy) && export_adapter(&cfg, &m)) saved = 0;
    }
    rc = status < 0 || !saved;
done:
    checkpoint_writer_wait(&sv.writer, NULL);
    free(sv.config);
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

int cmd_run(int argc, char **argv) {
    comm world;
    mg_err e;
    if (comm_init(&world, &argc, &argv, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        return 1;
    }
    int rc = run_main(&world, argc, argv);
    // One rank failing alone would leave the others waiting in a collective: end them all.
    if (rc && world.size > 1) comm_abort(&world, "stopping every rank after the error above");
    comm_finalize(&world);
    return rc;
}
