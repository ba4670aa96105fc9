// migrate pmo: the PMO protocol (Gao et al. 2022) in one command: every task x strategy x seed from one molecule
// config, each run until PMO's budget of valid distinct molecules, scored as PMO scores it (tools/sweep_pmo.h),
// into OUTPUT_DIR/pmo.csv (one row per run) and OUTPUT_DIR/pmo.md (beside REINVENT's and Graph GA's published
// AUCs).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/file.h"
#include "common/rng.h"
#include "coordinator/ablation_stats.h"
#include "coordinator/run_job.h"
#include "coordinator/sweep_results.h"
#include "kernels/cpu/blas_setup.h"
#include "tasks/molecule.h"
#include "tasks/molecule_objective.h"
#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/sweep_pmo.h"
#include "tools/sweep_search.h"

static const char *HELP =
    "usage: migrate pmo CONFIG.yaml [--tasks LIST | --draw N [--draw-seed S] [--exclude LIST]] [--strategies LIST]\n"
    "                  [--seeds LIST] [--budget N] [--max-samples N] [--set KEY=VALUE ...]\n"
    "\n"
    "Runs the PMO protocol (Gao et al. 2022, \"Sample Efficiency Matters\") on the molecule search in CONFIG.yaml\n"
    "(task.type molecule): for every task x strategy x seed a fresh search that stops once N valid, distinct\n"
    "molecules are scored (PMO's oracle budget: invalid SMILES and repeats do not count). Each run is scored as\n"
    "PMO does: AUC of the top-10 (and top-1, top-100) average versus oracle calls, logged every 100 calls, an\n"
    "early stop filled with its last value; and the top-1/10/100 means at the end. Writes OUTPUT_DIR/pmo.csv and\n"
    "OUTPUT_DIR/pmo.md (mean +- std AUC top-10 per task and strategy beside REINVENT's and Graph GA's published\n"
    "values), then per strategy the median AUC top-10 over every (task, seed) with its 95% confidence interval\n"
    "and each strategy's paired wins / ties / losses against each other with a sign test; and\n"
    "OUTPUT_DIR/top10_curves.csv (each run's top-10 mean every 100 molecules, for `migrate report`).\n"
    "docs/pmo.md explains the protocol.\n"
    "\n"
    "  --tasks LIST        comma list of predefined objectives (default: the config's task.objective)\n"
    "  --draw N            instead, N tasks drawn at random (without replacement) from a declared population: the\n"
    "                      PMO tasks this build defines, in name order (18 of PMO's 23: not drd2, gsk3b, jnk3,\n"
    "                      deco_hop, scaffold_hop), without the --exclude tasks. The same seed draws the same\n"
    "                      tasks. Report on these, not on the tasks you developed on.\n"
    "  --draw-seed S       the draw's seed (default 0)\n"
    "  --exclude LIST      tasks never drawn, e.g. the development tasks and every task of an earlier table\n"
    "  --strategies LIST   default: migrate,random,grpo,grpo-greedy\n"
    "  --seeds LIST        default: 0,1,2\n"
    "  --budget N          valid distinct molecules per run (default 10000, PMO's)\n"
    "  --max-samples N     a run also stops after N samples (a model that writes few valid new SMILES would\n"
    "                      never reach the budget; default 10 x budget); the AUC then fills the rest\n"
    "  --set KEY=VALUE     config override, as for migrate run\n";

#define MAX_ITEMS 64

typedef struct {
    int task, strategy, seed;
    long molecules, samples;
    double auc10, auc1, auc100, top1, top10, top100, seconds;
} pmo_run;

static void mean_std(const double *x, int n, double *mean, double *std) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += x[i];
    *mean = n ? s / n : 0;
    for (int i = 0; i < n; i++) q += (x[i] - *mean) * (x[i] - *mean);
    *std = n > 1 ? sqrt(q / (n - 1)) : 0;  // sample std, as the paper's +- over 5 seeds
}

// Per task: the published AUC top-10 of REINVENT and Graph GA, then ours per strategy (mean +- std over seeds);
// then the end-of-run top-k means.
static void write_table(FILE *f, char **tasks, int nt, char **strategies, int ns, const pmo_run *r, int n,
                        long budget) {
    fprintf(f, "AUC top-10 (PMO), %ld valid distinct molecules per run, mean +- std over seeds (runs)\n\n", budget);
    fprintf(f, "| task | REINVENT (paper) | Graph GA (paper) |");
    for (int s = 0; s < ns; s++) fprintf(f, " %s |", strategies[s]);
    fprintf(f, "\n|---|---|---|");
    for (int s = 0; s < ns; s++) fprintf(f, "---|");
    fputc('\n', f);
    double *x = mallocCheck(((size_t)n + 1) * sizeof *x);
    for (int t = 0; t < nt; t++) {
        const pmo_published *p = pmo_published_find(tasks[t]);
        if (p) fprintf(f, "| %s | %.3f +- %.3f | %.3f +- %.3f |", tasks[t], p->reinvent, p->reinvent_std, p->graph_ga,
                       p->graph_ga_std);
        else fprintf(f, "| %s | - | - |", tasks[t]);
        for (int s = 0; s < ns; s++) {
            int k = 0;
            for (int i = 0; i < n; i++)
                if (r[i].task == t && r[i].strategy == s) x[k++] = r[i].auc10;
            double m, sd;
            mean_std(x, k, &m, &sd);
            if (k) fprintf(f, " %.3f +- %.3f (%d) |", m, sd, k);
            else fprintf(f, " - |");
        }
        fputc('\n', f);
    }
    fprintf(f, "\nAt the end of the runs (means over seeds): top-1 / top-10 / top-100 average score, molecules "
               "scored\n\n");
    fprintf(f, "| task | strategy | top-1 | top-10 | top-100 | molecules | samples | wall time (s) |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|\n");
    for (int t = 0; t < nt; t++)
        for (int s = 0; s < ns; s++) {
            int k = 0;
            double a[6] = {0};
            for (int i = 0; i < n; i++)
                if (r[i].task == t && r[i].strategy == s) {
                    k++, a[0] += r[i].top1, a[1] += r[i].top10, a[2] += r[i].top100;
                    a[3] += (double)r[i].molecules, a[4] += (double)r[i].samples, a[5] += r[i].seconds;
                }
            if (k)
                fprintf(f, "| %s | %s | %.3f | %.3f | %.3f | %.0f | %.0f | %.0f |\n", tasks[t], strategies[s], a[0] / k,
                        a[1] / k, a[2] / k, a[3] / k, a[4] / k, a[5] / k);
        }
    // Over every (task, seed): the median with its interval, and the paired comparison the paper's ordering is
    // about (MiGrATe against GRPO-greedy, GRPO and random sampling on the same task and seed).
    fprintf(f, "\nAUC top-10 over every (task, seed) run: median [95%% CI], mean\n\n| strategy | runs | median [95%% CI] "
               "| mean |\n|---|---|---|---|\n");
    ablation_run *p = mallocCheck(((size_t)n + 1) * sizeof *p);
    for (int i = 0; i < n; i++) p[i] = (ablation_run){r[i].strategy, r[i].task * 4096 + r[i].seed, 0, r[i].auc10, 0, {-1, -1}};
    for (int s = 0; s < ns; s++) {
        int k = 0;
        double mean = 0, lo, hi;
        for (int i = 0; i < n; i++)
            if (r[i].strategy == s) x[k++] = r[i].auc10, mean += r[i].auc10;
        if (!k) continue;
        double med = ablation_median_ci(x, k, &lo, &hi);
        fprintf(f, "| %s | %d | %.3f [%.3f, %.3f] | %.3f |\n", strategies[s], k, med, lo, hi, mean / k);
    }
    fputc('\n', f);
    ablation_paired_matrix(f, (const char *const *)strategies, ns, p, n, "AUC top-10");
    free(p);
    free(x);
}

// Loads the config with this point's overrides (objective NULL: the config's own). PMO runs to its budget, so
// "solved" never ends a search early (a rediscovery reaching 1.0 still has a top-10 to fill), and the config's
// oracle_budget (which counts invalid SMILES too) gives way to the valid-molecule budget.
static int load_point(run_config *cfg, const char *path, const char **over, int n_over, const char *strategy,
                      const char *seed, const char *objective, mg_err *e) {
    char set_s[128], set_d[128], set_t[512];
    snprintf(set_s, sizeof set_s, "strategy=%s", strategy);
    snprintf(set_d, sizeof set_d, "seed=%s", seed);
    snprintf(set_t, sizeof set_t, "task.objective=%s", objective ? objective : "");
    over[n_over] = set_s, over[n_over + 1] = set_d;
    over[n_over + 2] = "task.solved_reward=2.0", over[n_over + 3] = "oracle_budget=0";
    over[n_over + 4] = set_t;  // last, and left out for the config's own objective (it may be a composition)
    return run_config_read(cfg, path, over, n_over + (objective ? 5 : 4), e);
}

// --draw: n tasks of the population (PMO's published tasks that mol_objective_definition knows, in name order,
// without the excluded), in draw order; Philox-keyed by the seed as ablate's targets are. -1 with a message when
// an excluded name is no PMO task (a typo would otherwise exclude nothing) or the population is too small.
static int draw_tasks(int n, uint64_t seed, char *const *exclude, int n_exclude, char **out, mg_err *e) {
    for (int x = 0; x < n_exclude; x++)
        if (!pmo_published_find(exclude[x]))
            return mg_fail(e, "--exclude: '%s' is no PMO task (the population is PMO's published tasks)", exclude[x]);
    const char *names[64];
    int pop[64], P = 0;
    for (int i = 0; pmo_published_at(i) && P < 64; i++) {
        const char *name = pmo_published_at(i)->task;
        int skip = !mol_objective_definition(name);
        for (int x = 0; x < n_exclude && !skip; x++) skip = !strcmp(name, exclude[x]);
        if (!skip) names[P] = name, pop[P] = P, P++;
    }
    if (n > P) return mg_fail(e, "--draw %d: the population (%d excluded) has only %d tasks", n, n_exclude, P);
    rng_draw_prefix(rng_mix(seed, 0x706d6f7461736b73ull), pop, P, n);  // key "pmotasks"
    for (int i = 0; i < n; i++) out[i] = (char *)names[pop[i]];
    return n;
}

int cmd_pmo(int argc, char **argv) {
    const char *config_path = NULL;
    char strategies_s[512] = "migrate,random,grpo,grpo-greedy", seeds_s[512] = "0,1,2", tasks_s[2048] = "";
    char exclude_s[4096] = "";
    long budget = PMO_BUDGET, max_samples = 0;
    int n_draw = 0;
    unsigned long long draw_seed = 0;
    const char **over = callocCheck((size_t)argc + 8, sizeof(char *));
    int n_over = 0, step;
    for (int i = 1; i < argc; i += step) {
        step = 2;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return free(over), fputs(HELP, stdout), 0;
        if (a[0] != '-' && !config_path) {
            config_path = a, step = 1;
            continue;
        }
        if (!v) return fprintf(stderr, "migrate pmo: option %s needs a value (see --help)\n", a), free(over), 2;
        char *end = NULL;
        if (!strcmp(a, "--strategies")) snprintf(strategies_s, sizeof strategies_s, "%s", v);
        else if (!strcmp(a, "--seeds")) snprintf(seeds_s, sizeof seeds_s, "%s", v);
        else if (!strcmp(a, "--tasks")) snprintf(tasks_s, sizeof tasks_s, "%s", v);
        else if (!strcmp(a, "--set")) over[n_over++] = v;
        else if (!strcmp(a, "--exclude")) snprintf(exclude_s, sizeof exclude_s, "%s", v);
        else if (!strcmp(a, "--draw") || !strcmp(a, "--draw-seed")) {
            unsigned long long x = strtoull(v, &end, 10);
            if (!*v || *end || v[0] == '-' || (!strcmp(a, "--draw") && (x < 1 || x > 64)))
                return fprintf(stderr, "migrate pmo: option %s: '%s' is not %s\n", a, v,
                               strcmp(a, "--draw") ? "a seed (an integer >= 0)" : "a count of tasks in [1, 64]"),
                       free(over), 2;
            if (!strcmp(a, "--draw")) n_draw = (int)x;
            else draw_seed = x;
        } else if (!strcmp(a, "--budget") || !strcmp(a, "--max-samples")) {
            long x = strtol(v, &end, 10);
            if (!*v || *end || x < 1 || x > 100000000)
                return fprintf(stderr, "migrate pmo: option %s: '%s' is not an integer in [1, 1e8]\n", a, v),
                       free(over), 2;
            *(!strcmp(a, "--budget") ? &budget : &max_samples) = x;
        } else return fprintf(stderr, "migrate pmo: unknown option '%s' (see --help)\n", a), free(over), 2;
    }
    if (!config_path) return fprintf(stderr, "migrate pmo: a CONFIG.yaml is required (see --help)\n"), free(over), 2;
    if (!max_samples) max_samples = 10 * budget;
    char *strategies[MAX_ITEMS], *seeds[MAX_ITEMS], *tasks[MAX_ITEMS];
    int ns = sweep_split_list(strategies_s, strategies, MAX_ITEMS), nd = sweep_split_list(seeds_s, seeds, MAX_ITEMS),
        nt = sweep_split_list(tasks_s, tasks, MAX_ITEMS);
    if (ns <= 0 || nd <= 0 || nt < 0)
        return fprintf(stderr, "migrate pmo: 1 to %d strategies and seeds, at most %d tasks\n", MAX_ITEMS, MAX_ITEMS),
               free(over), 2;
    char *exclude[MAX_ITEMS];
    int nx = sweep_split_list(exclude_s, exclude, MAX_ITEMS);
    if (n_draw && nt) return fprintf(stderr, "migrate pmo: --tasks and --draw exclude each other\n"), free(over), 2;
    if (!n_draw && (nx || draw_seed))
        return fprintf(stderr, "migrate pmo: --draw-seed and --exclude need --draw N\n"), free(over), 2;
    if (nx < 0) return fprintf(stderr, "migrate pmo: at most %d --exclude tasks\n", MAX_ITEMS), free(over), 2;
    if (n_draw) {
        mg_err de;
        nt = draw_tasks(n_draw, draw_seed, exclude, nx, tasks, &de);
        if (nt < 0) return fprintf(stderr, "migrate pmo: %s\n", de.msg), free(over), 1;
        fprintf(stderr, "migrate pmo: %d tasks drawn (seed %llu, %d excluded):", nt, draw_seed, nx);
        for (int t = 0; t < nt; t++) fprintf(stderr, "%s%s", t ? "," : " ", tasks[t]);
        fputc('\n', stderr);
    }

    run_config base;
    mg_err e;
    if (run_config_read(&base, config_path, over, n_over, &e)) {
        fprintf(stderr, "migrate pmo: %s\n", e.msg);
        return free(over), 1;
    }
    int rc = 0;
    if (base.task != TASK_MOLECULE) {
        fprintf(stderr, "migrate pmo: %s: task.type must be molecule (PMO scores molecules)\n", config_path);
        rc = 1;
    }
    int own = nt == 0;  // no --tasks: the config's objective, named by its text in the tables
    if (own) tasks[nt++] = strpbrk(base.objective, "\n,{:") ? "(config objective)" : base.objective;
    // Every task and strategy must load before the first run: a typo fails in a second, not hours in.
    for (int s = 0; s < ns && !rc; s++)
        for (int t = 0; t < nt && !rc; t++) {
            run_config probe;
            if (load_point(&probe, config_path, over, n_over, strategies[s], seeds[0], own ? NULL : tasks[t], &e))
                fprintf(stderr, "migrate pmo: %s\n", e.msg), rc = 1;
            else run_config_free(&probe);
        }
    model m;
    tokenizer *tok = NULL;
    if (rc || (blas_set_threads(base.threads), cli_load_model("pmo", base.model, &m, &tok))) {
        run_config_free(&base), free(over);
        return 1;
    }
    file_mkdir_p(base.output_dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/pmo.csv", base.output_dir);
    FILE *csv = file_open_nofollow(path, "w", &e);
    if (!csv) fprintf(stderr, "migrate pmo: %s\n", e.msg), rc = 1;
    else fprintf(csv, "task,strategy,seed,molecules,samples,invalid,repeats,unparsable,auc_top10,auc_top1,auc_top100,"
                      "top1,top10,top100,best,seconds\n");
    snprintf(path, sizeof path, "%s/top10_curves.csv", base.output_dir);
    FILE *curves = rc ? NULL : file_open_nofollow(path, "w", &e);
    if (!rc && !curves) fprintf(stderr, "migrate pmo: %s\n", e.msg), rc = 1;
    if (curves) sweep_curves_header(curves);
    int total = ns * nd * nt, done = 0;
    pmo_run *res = callocCheck((size_t)total, sizeof *res);
    for (int t = 0; t < nt && !rc; t++)
        for (int s = 0; s < ns && !rc; s++)
            for (int d = 0; d < nd && !rc; d++) {
                run_config cfg;
                task *tk = NULL;
                if (load_point(&cfg, config_path, over, n_over, strategies[s], seeds[d], own ? NULL : tasks[t], &e) ||
                    run_molecule_task(&tk, &cfg, &e)) {
                    fprintf(stderr, "migrate pmo: %s\n", e.msg);
                    rc = 1;
                    break;
                }
                long per_iteration = cfg.num_on_policy + cfg.num_neighborhood;
                cfg.iterations = (int)((max_samples + per_iteration - 1) / per_iteration);
                search_state st;
                double t0 = mg_seconds();
                if (sweep_search_run(&st, &cfg, &m, tok, tk, budget, &e)) {
                    fprintf(stderr, "migrate pmo: %s\n", e.msg);
                    rc = 1;
                } else {
                    double *sc;
                    long n = sweep_valid_rewards(st.arc, budget, &sc);
                    pmo_run *r = &res[done++];
                    *r = (pmo_run){t, s, d, n, (long)st.iteration * per_iteration,
                                   pmo_top_auc(sc, n, 10, 1, PMO_FREQ_LOG, budget),
                                   pmo_top_auc(sc, n, 1, 1, PMO_FREQ_LOG, budget),
                                   pmo_top_auc(sc, n, 100, 1, PMO_FREQ_LOG, budget),
                                   pmo_top_mean(sc, n, 1), pmo_top_mean(sc, n, 10), pmo_top_mean(sc, n, 100),
                                   mg_seconds() - t0};
                    const char *best = st.best >= 0 ? archive_canonical(st.arc, st.best) : NULL;
                    // invalid: SMILES RDKit rejects (archived, not in PMO's budget); repeats and unparsable
                    // completions never reach the objective
                    long invalid = (long)archive_size(st.arc) - sweep_valid_rewards_count(st.arc);
                    fprintf(csv, "%s,%s,%s,%ld,%ld,%ld,%ld,%ld,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%s,%.1f\n", tasks[t],
                            strategies[s], seeds[d], r->molecules, r->samples, invalid, st.repeats, st.unparsable,
                            r->auc10, r->auc1, r->auc100, r->top1, r->top10, r->top100, best ? best : "", r->seconds);
                    fflush(csv);
                    sweep_curves_top10(curves, strategies[s], "", seeds[d], tasks[t], sc, n);
                    fprintf(stderr, "[%d/%d] %-24s %-12s seed %-3s molecules %5ld/%ld samples %6ld AUC top-10 %.4f "
                            "top-1 %.4f %.0fs\n", done, total, tasks[t], strategies[s], seeds[d], r->molecules, budget,
                            r->samples, r->auc10, r->top1, r->seconds);
                    free(sc);
                    search_free(&st);
                }
                model_set_train_mode(&m, TRAIN_NONE);
                tk->destroy(tk);
                run_config_free(&cfg);
            }
    if (csv && (ferror(csv) | fclose(csv))) fprintf(stderr, "migrate pmo: %s/pmo.csv: a write failed\n", base.output_dir), rc = 1;
    if (curves && (ferror(curves) | fclose(curves)))
        fprintf(stderr, "migrate pmo: %s/top10_curves.csv: a write failed\n", base.output_dir), rc = 1;
    if (done) {
        snprintf(path, sizeof path, "%s/pmo.md", base.output_dir);
        file_atomic md;
        FILE *f = file_atomic_open(&md, path, &e);
        FILE *outs[2] = {stdout, f};
        for (int o = 0; o < 2; o++) {
            if (!outs[o]) continue;
            if (n_draw) {
                fprintf(outs[o], "Tasks: %d drawn with seed %llu from PMO's published tasks", nt, draw_seed);
                for (int x = 0; x < nx; x++) fprintf(outs[o], "%s%s", x ? ", " : " without ", exclude[x]);
                fprintf(outs[o], ":");
                for (int t = 0; t < nt; t++) fprintf(outs[o], "%s%s", t ? ", " : " ", tasks[t]);
                fprintf(outs[o], ".\n\n");
            }
            write_table(outs[o], tasks, nt, strategies, ns, res, done, budget);
        }
        if (!f || file_atomic_commit(&md, &e)) fprintf(stderr, "migrate pmo: %s\n", e.msg), rc = 1;
        else fprintf(stderr, "migrate pmo: wrote %s/pmo.csv and pmo.md\n", base.output_dir);
    }
    free(res);
    tokenizer_free(tok);
    model_free(&m);
    run_config_free(&base);
    free(over);
    return rc;
}
