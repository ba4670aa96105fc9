// migrate run: one MiGrATe search (or a baseline) on one problem from a YAML config; or, when the config has a
// sweep: section, every element of the sweep multiplexed over this job's ranks (coordinator/run_multiplex.c).
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sweep_spec.h"
#include "coordinator/run_job.h"
#include "coordinator/run_multiplex.h"
#include "kernels/cpu/blas_setup.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

static const char *HELP =
    "usage: migrate run CONFIG.yaml [--resume FILE] [--set KEY=VALUE ...] [--overwrite] [--print-config] [--quiet]\n"
    "       migrate run --resume FILE [--set KEY=VALUE ...]\n"
    "       migrate run SWEEP.yaml [--resume SWEEP_DIR] [--set KEY=VALUE ...]\n"
    "\n"
    "Runs the search the config describes: sample -> score -> archive -> mixed GRPO group -> LoRA update,\n"
    "until the problem is solved, the oracle budget is spent or `iterations` are done. Writes\n"
    "OUTPUT_DIR/metrics.jsonl (one JSON object per iteration, TRL's metric names where they exist),\n"
    "OUTPUT_DIR/summary.json and OUTPUT_DIR/checkpoint.h5 (every `save_steps` iterations and at the end), and\n"
    "the trained adapter as a PEFT folder, OUTPUT_DIR/adapter; prints a progress line per iteration and a\n"
    "final summary. `migrate inspect` summarises a checkpoint; `migrate export` writes its adapter.\n"
    "\n"
    "A config with a `sweep:` section (strategies x targets x seeds x grid, as for `migrate sweep`) runs every\n"
    "element in this one job, multiplexed over its ranks: one shared copy of the model, one adapter, archive\n"
    "and checkpoint per element, an iteration of each element in turn. Element i writes into\n"
    "OUTPUT_DIR/sweep/i and ends bit-identical to running it alone; the table goes to OUTPUT_DIR/sweep/results.md\n"
    "(the layout of `migrate sweep`, so `migrate sweep --collect` reads it too).\n"
    "\n"
    "SIGTERM, SIGUSR1 or SIGINT (Slurm preemption, Ctrl-C) end the current iteration, write the checkpoint and\n"
    "exit 0; a second SIGINT exits at once. --resume continues from a checkpoint exactly where it stopped: the\n"
    "archive and adapter end bit-identical to a run that was never interrupted.\n"
    "\n"
    "  --resume FILE     continue the run saved in FILE (its stored config is used when CONFIG is not given;\n"
    "                    with CONFIG, the two must agree except iterations, oracle_budget, output_dir,\n"
    "                    log_every, threads, save_steps, model folder, task.workers and task.timeout).\n"
    "                    The file is verified whole before anything runs. Outputs go to FILE's folder unless\n"
    "                    --set output_dir=DIR says otherwise. A checkpoint never chooses a program: an oracle\n"
    "                    task resumes only with its command from CONFIG or from --set task.command='...'\n"
    "                    (`migrate inspect FILE` shows the stored one).\n"
    "                    With a sweep config: the sweep folder; elements with a checkpoint continue from it\n"
    "  --overwrite       start afresh in an output_dir that holds a checkpoint (refused otherwise: resume it,\n"
    "                    or choose another output_dir). Two runs never share an output_dir: the second stops\n"
    "                    at once, naming the first's pid and host\n"
    "  --set KEY=VALUE   override a config key, dotted for nested keys (--set training.learning_rate=1e-4);\n"
    "                    e.g. --resume FILE --set iterations=200 extends a finished run\n"
    "  --print-config    print the effective configuration (of every element, for a sweep) and exit\n"
    "  --quiet           no per-iteration progress lines\n"
    "\n"
    "Strategies (key `strategy`): random, ns, opro, grpo, grpo-greedy, migrate. See docs/config.md for every key.\n";

// 1 when the command line sets key (--set key=...).
static int overridden(const char **overrides, int n_over, const char *key) {
    size_t n = strlen(key);
    for (int i = 0; i < n_over; i++)
        if (!strncmp(overrides[i], key, n) && overrides[i][n] == '=') return 1;
    return 0;
}

// Loads the run's configuration: from CONFIG, from the checkpoint being resumed, or both (then they must agree).
// A checkpoint is data: its config is used only once the whole file is verified, and an oracle's command line,
// the one thing in it that runs a program, only when the user gives it too.
// saved: the checkpoint at resume_path, read whole and verified.
static int load_config(run_config *cfg, const char *config_path, const checkpoint *saved, const char *resume_path,
                       const char **overrides, int n_over, mg_err *e) {
    if (config_path) return run_config_read(cfg, config_path, overrides, n_over, e);
    char name[4200];
    snprintf(name, sizeof name, "%s:/config", resume_path);
    int rc = run_config_read_text(cfg, saved->config, strlen(saved->config), name, overrides, n_over, e);
    if (!rc && cfg->task == TASK_ORACLE && !overridden(overrides, n_over, "task.command")) {
        rc = mg_fail(e, "%s: the run's oracle is the program `%.600s`; a resume runs only a command you give: "
                        "pass the run's config (migrate run CONFIG --resume %s) or confirm the command with --set "
                        "task.command='...'", resume_path, cfg->oracle_command, resume_path);
        run_config_free(cfg);
    }
    return rc;
}

// A resume writes beside the checkpoint it was given (a copy of a run continues as a copy), unless told otherwise.
static void resume_output_dir(run_config *cfg, const char *resume_path, const char **overrides, int n_over) {
    if (overridden(overrides, n_over, "output_dir")) return;
    char dir[sizeof cfg->output_dir];
    snprintf(dir, sizeof dir, "%s", resume_path);
    snprintf(cfg->output_dir, sizeof cfg->output_dir, "%s", dirname(dir));
}

static int run_single(comm *world, const char *config_path, const char *resume_path, const char **overrides,
                      int n_over, int print_config, int quiet, int overwrite) {
    mg_err e;
    run_config cfg;
    checkpoint stored;  // read once, whole and verified, for the config and the checks before a resume
    memset(&stored, 0, sizeof stored);
    if ((resume_path && checkpoint_read(&stored, resume_path, NULL, &e)) ||
        load_config(&cfg, config_path, &stored, resume_path, overrides, n_over, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        checkpoint_free(&stored);
        return 1;
    }
    if (resume_path) resume_output_dir(&cfg, resume_path, overrides, n_over);
    if (comm_layout(world, cfg.rollout_ranks, cfg.learner_ranks, cfg.coordinator_only, cfg.dist_timeout, &e)) {
        fprintf(stderr, "migrate run: %s: %s\n", config_path ? config_path : resume_path, e.msg);
        run_config_free(&cfg), checkpoint_free(&stored);
        return 1;
    }
    if (print_config) {
        run_config_dump(&cfg, stdout);
        run_config_free(&cfg), checkpoint_free(&stored);
        return 0;
    }
    uint64_t model_hash;
    int bad = checkpoint_model_hash(cfg.model, &model_hash, &e) ||
              (resume_path && run_job_check_saved(&cfg, model_hash, &stored, resume_path, &e));
    checkpoint_free(&stored);  // run_job_open reads it again against the model's adapter shapes
    if (bad) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        run_config_free(&cfg);
        return 1;
    }
    run_install_signal_handlers();
    blas_set_threads(cfg.threads);
    model m;
    tokenizer *tok = NULL;
    if (cli_load_policy("run", cfg.model, world->is_rollout || world->is_learner, &m, &tok)) {
        run_config_free(&cfg);
        return 1;
    }
    if (run_attach_backend(&m, &cfg, world, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        tokenizer_free(tok);
        model_free(&m);
        run_config_free(&cfg);
        return 1;
    }
    run_job j;
    int rc = 1;
    if (world->is_coordinator && resume_path)
        fprintf(stderr, "migrate run: resuming %s; writing to %s\n", resume_path, cfg.output_dir);
    if (run_job_open(&j, &cfg, &m, tok, model_hash, world, resume_path, overwrite,
                     quiet || !world->is_coordinator ? NULL : stderr, NULL, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        goto done;
    }
    const run_config *c = &j.cfg;
    if (world->is_coordinator) {
        fprintf(stderr, "migrate run: %s on %s, strategy %s, %d+%d new samples per iteration%s\n", j.t->name, c->model,
                strategy_name(c->strategy), c->num_on_policy, c->num_neighborhood,
                c->num_greedy && c->strategy >= STRATEGY_GRPO_GREEDY ? " + greedy" : "");
        if (c->task == TASK_ORACLE)
            fprintf(stderr, "migrate run: oracle command (task.command): %s\n", c->oracle_command);
        if (world->size > 1)
            fprintf(stderr, "migrate run: %d ranks: %d rollout, %d learner%s\n", world->size, world->n_rollout,
                    world->n_learner, c->coordinator_only ? ", rank 0 coordinates only (no model weights loaded there)" : " (rank 0 also coordinates)");
    }
    while (!run_stop_requested(world) && run_job_step(&j, world) == 0) {}
    if (j.status < 0) fprintf(stderr, "migrate run: %s (the archive so far is kept in the checkpoint)\n", j.err.msg);
    int saved = run_job_finish(&j, world, 1) == 0;
    if (run_stop_signal() && j.status == 0 && world->is_coordinator) {
        fprintf(stderr, "migrate run: stopped by %s after iteration %d; %s\n", run_signal_name(run_stop_signal()),
                j.s.iteration, saved ? "checkpoint written" : "the outputs are incomplete (see above)");
        if (saved) fprintf(stderr, "migrate run: continue with: migrate run --resume %s\n", j.sv.path);
    } else if (!saved && world->is_coordinator) {
        fprintf(stderr, "migrate run: the run's outputs in %s are incomplete (see above); exit status 1\n",
                c->output_dir);
    }
    rc = j.status < 0 || !saved;
done:
    run_job_close(&j, 0);  // the model frees the adapter attached to it
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}

static int run_main(comm *world, int argc, char **argv) {
    const char *config_path = NULL, *resume_path = NULL;
    const char **overrides = callocCheck((size_t)argc + 1, sizeof(char *));
    int n_over = 0, print_config = 0, quiet = 0, overwrite = 0;
    int step;  // argv entries the current argument used
    for (int i = 1; i < argc; i += step) {
        step = 1;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return free(overrides), fputs(HELP, stdout), 0;
        else if (!strcmp(argv[i], "--print-config")) print_config = 1;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--overwrite")) overwrite = 1;
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
    int rc;
    sweep_spec sweep;
    memset(&sweep, 0, sizeof sweep);
    mg_err e;
    if (config_path && sweep_spec_load(&sweep, config_path, &e)) {
        fprintf(stderr, "migrate run: %s\n", e.msg);
        rc = 1;
    } else if (sweep.n_axes > 0) {
        multiplex_opts o = {config_path, overrides, n_over, resume_path, print_config, quiet, overwrite};
        rc = run_multiplexed(world, &sweep, &o);
    } else
        rc = run_single(world, config_path, resume_path, overrides, n_over, print_config, quiet, overwrite);
    sweep_spec_free(&sweep);
    free(overrides);
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
