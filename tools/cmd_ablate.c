// migrate ablate: strategies x seeds x targets from one config, in one process, into a CSV and a markdown table.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/file.h"
#include "coordinator/run_job.h"
#include "coordinator/search.h"
#include "coordinator/sweep_results.h"
#include "kernels/cpu/blas_setup.h"
#include "tasks/semantle.h"
#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/sweep_search.h"

static const char *HELP =
    "usage: migrate ablate CONFIG.yaml --strategies LIST --seeds LIST [--targets LIST] [--set KEY=VALUE ...]\n"
    "\n"
    "Runs every strategy x seed x target combination of the search in CONFIG.yaml (Semantle task), each from a\n"
    "fresh adapter, and writes OUTPUT_DIR/ablation.csv (one row per run) and OUTPUT_DIR/ablation.md (per\n"
    "strategy: solved rate, median oracle calls to solve, mean best reward at budget, mean wall time).\n"
    "\n"
    "  --strategies LIST   comma list of random,ns,opro,grpo,grpo-greedy,migrate (default: all six)\n"
    "  --seeds LIST        comma list of integers (default: 0,1,2)\n"
    "  --targets LIST      comma list of target words (default: the config's target)\n"
    "  --set KEY=VALUE     config override, as for migrate run\n";

#define MAX_ITEMS 64

int cmd_ablate(int argc, char **argv) {
    const char *config_path = NULL;
    char strategies_s[512] = "random,ns,opro,grpo,grpo-greedy,migrate", seeds_s[512] = "0,1,2", targets_s[2048] = "";
    const char **overrides = callocCheck((size_t)argc + 4, sizeof(char *));
    int n_over = 0;
    int step;  // argv entries the current argument used: 2 for an option and its value
    for (int i = 1; i < argc; i += step) {
        step = 2;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return free(overrides), fputs(HELP, stdout), 0;
        if (a[0] != '-' && !config_path) {
            config_path = a;
            step = 1;
            continue;
        }
        if (!v) return fprintf(stderr, "migrate ablate: option %s needs a value (see --help)\n", a), free(overrides), 2;
        if (!strcmp(a, "--strategies")) snprintf(strategies_s, sizeof strategies_s, "%s", v);
        else if (!strcmp(a, "--seeds")) snprintf(seeds_s, sizeof seeds_s, "%s", v);
        else if (!strcmp(a, "--targets")) snprintf(targets_s, sizeof targets_s, "%s", v);
        else if (!strcmp(a, "--set")) overrides[n_over++] = v;
        else return fprintf(stderr, "migrate ablate: unknown option '%s' (see --help)\n", a), free(overrides), 2;
    }
    if (!config_path) return fprintf(stderr, "migrate ablate: a CONFIG.yaml is required (see --help)\n"), free(overrides), 2;
    char *strategies[MAX_ITEMS], *seeds[MAX_ITEMS], *targets[MAX_ITEMS];
    int ns = sweep_split_list(strategies_s, strategies, MAX_ITEMS), nd = sweep_split_list(seeds_s, seeds, MAX_ITEMS),
        nt = sweep_split_list(targets_s, targets, MAX_ITEMS);
    if (ns < 0 || nd < 0 || nt < 0)
        return fprintf(stderr, "migrate ablate: at most %d strategies, seeds and targets each\n", MAX_ITEMS), free(overrides), 2;

    run_config base;
    mg_err e;
    if (run_config_read(&base, config_path, overrides, n_over, &e)) {
        fprintf(stderr, "migrate ablate: %s\n", e.msg);
        free(overrides);
        return 1;
    }
    if (base.task != TASK_SEMANTLE) {
        fprintf(stderr, "migrate ablate: %s: only the semantle task is supported by ablate\n", config_path);
        run_config_free(&base), free(overrides);
        return 1;
    }
    if (nt == 0) targets[nt++] = base.target;
    // Validate every combination's config before the first run, so a typo fails in a second, not an hour in.
    int total = ns * nd * nt, rc = 0;
    for (int s = 0; s < ns && !rc; s++) {
        run_config probe;
        char set_s[128];
        snprintf(set_s, sizeof set_s, "strategy=%s", strategies[s]);
        overrides[n_over] = set_s;
        if (run_config_read(&probe, config_path, overrides, n_over + 1, &e)) {
            fprintf(stderr, "migrate ablate: %s\n", e.msg);
            rc = 1;
        } else run_config_free(&probe);
    }
    blas_set_threads(base.threads);
    model m;
    tokenizer *tok = NULL;
    word_vectors *wv = NULL;
    if (rc || cli_load_model("ablate", base.model, &m, &tok)) {
        run_config_free(&base), free(overrides);
        return 1;
    }
    if (word_vectors_load(&wv, base.vectors, &e)) {
        fprintf(stderr, "migrate ablate: %s\n", e.msg);
        rc = 1;
    }
    file_mkdir_p(base.output_dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/ablation.csv", base.output_dir);
    FILE *csv = rc ? NULL : file_open_nofollow(path, "w", &e);
    if (!rc && !csv) fprintf(stderr, "migrate ablate: %s\n", e.msg), rc = 1;
    if (csv) fprintf(csv, "strategy,seed,target,solved,oracle_calls,oracle_calls_to_solve,best_reward,seconds\n");
    sweep_result *res = callocCheck((size_t)total, sizeof *res);
    int done = 0;
    for (int s = 0; s < ns && !rc; s++)
        for (int t = 0; t < nt && !rc; t++)
            for (int d = 0; d < nd && !rc; d++) {
                char set_s[128], set_d[128], set_t[256];
                snprintf(set_s, sizeof set_s, "strategy=%s", strategies[s]);
                snprintf(set_d, sizeof set_d, "seed=%s", seeds[d]);
                snprintf(set_t, sizeof set_t, "task.target=%s", targets[t]);
                overrides[n_over] = set_s, overrides[n_over + 1] = set_d, overrides[n_over + 2] = set_t;
                run_config cfg;
                task *tk = NULL;
                if (run_config_read(&cfg, config_path, overrides, n_over + 3, &e) ||
                    semantle_create(&tk, wv, cfg.target, &e)) {
                    fprintf(stderr, "migrate ablate: %s\n", e.msg);
                    rc = 1;
                    break;
                }
                search_state st;
                double t0 = mg_seconds();
                if (sweep_search_run(&st, &cfg, &m, tok, tk, 0, &e)) fprintf(stderr, "migrate ablate: %s\n", e.msg), rc = 1;
                if (!rc) {
                    sweep_result *r = &res[done++];
                    const archive_entry *b = st.best >= 0 ? archive_get(st.arc, st.best) : NULL;
                    *r = (sweep_result){s, st.solved, st.oracle_calls, st.solved ? st.solved_at_calls : -1,
                                        b ? b->reward : 0.0, mg_seconds() - t0};
                    fprintf(csv, "%s,%s,%s,%d,%ld,%ld,%.6f,%.2f\n", strategies[s], seeds[d], targets[t], r->solved,
                            r->calls, r->calls_to_solve, r->best, r->seconds);
                    fflush(csv);
                    fprintf(stderr, "[%d/%d] %-12s seed %-3s target %-12s %s calls %4ld best %.4f %.1fs\n", done, total,
                            strategies[s], seeds[d], targets[t], r->solved ? "SOLVED    " : "not solved", r->calls,
                            r->best, r->seconds);
                    search_free(&st);
                }
                model_set_train_mode(&m, TRAIN_NONE);
                tk->destroy(tk);
                run_config_free(&cfg);
            }
    if (csv && (ferror(csv) | fclose(csv)))
        fprintf(stderr, "migrate ablate: %s/ablation.csv: a write failed\n", base.output_dir), rc = 1;
    if (!rc) {
        snprintf(path, sizeof path, "%s/ablation.md", base.output_dir);
        file_atomic md;
        FILE *f = file_atomic_open(&md, path, &e);
        FILE *outs[2] = {stdout, f};
        for (int o = 0; o < 2; o++)
            if (outs[o]) sweep_group_table(outs[o], (const char *const *)strategies, ns, res, done);
        if (!f || file_atomic_commit(&md, &e)) fprintf(stderr, "migrate ablate: %s\n", e.msg), rc = 1;
        else fprintf(stderr, "migrate ablate: wrote %s/ablation.csv and ablation.md\n", base.output_dir);
    }
    free(res);
    if (wv) word_vectors_free(wv);
    tokenizer_free(tok);
    model_free(&m);
    run_config_free(&base);
    free(overrides);
    return rc;
}
