// migrate ablate: strategies x seeds x targets from one config, in one process, into a CSV and a markdown table.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/rng.h"
#include "common/file.h"
#include "coordinator/ablation_stats.h"
#include "coordinator/run_job.h"
#include "coordinator/search.h"
#include "coordinator/sweep_results.h"
#include "kernels/cpu/blas_setup.h"
#include "tasks/semantle.h"
#include "tools/ablate_summary.h"
#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/rank_tap.h"
#include "tools/sweep_search.h"

static const char *HELP =
    "usage: migrate ablate CONFIG.yaml --strategies LIST --seeds LIST [--targets LIST | --draw N [--draw-seed S]\n"
    "                      [--draw-ranks LO-HI] [--draw-from FILE] [--exclude LIST]] [--grid KEY=V1,V2,...]\n"
    "                      [--set KEY=VALUE ...]\n"
    "       migrate ablate --summarize ABLATION.csv... [--baseline ROW] [--common] [--out FILE]\n"
    "\n"
    "Runs every strategy x seed x target combination of the search in CONFIG.yaml, each from a fresh adapter: a\n"
    "Semantle search, scored by the built-in task or by an external oracle (task.type oracle) whose task.command\n"
    "holds {target}, replaced by each target word (jobs/semantle-sentence-oracle.yaml; the oracle's info must read\n"
    "'rank N/1000' and 'found' as the built-in task's does). Writes OUTPUT_DIR/ablation.csv (one row per run, with\n"
    "the oracle calls at which the best guess first reached Semantle rank 950 and 990 of 1000) and\n"
    "OUTPUT_DIR/ablation.md: per strategy the solved rate, median oracle calls to solve, mean best reward and wall\n"
    "time; then the median best reward with its 95% confidence interval, the median calls to reach rank 950 and\n"
    "990, and best-reward wins / ties / losses against random on the same (seed, target) with a sign test, and\n"
    "the same for every strategy against every other (a matrix: MiGrATe against GRPO-greedy is one cell).\n"
    "OUTPUT_DIR/best_curves.csv holds each run's best reward so far against oracle calls, for `migrate report`.\n"
    "\n"
    "  --strategies LIST   comma list of random,ns,opro,grpo,grpo-greedy,migrate (default: all six)\n"
    "  --seeds LIST        comma list of integers (default: 0,1,2)\n"
    "  --targets LIST      comma list of target words (default: the config's task.target)\n"
    "  --draw N            instead, N targets drawn at random (without replacement) from a declared population:\n"
    "                      the words of task.vectors (an oracle task names it too) of frequency rank LO..HI (the\n"
    "                      vectors file is in frequency order), without the --exclude words. The same seed draws\n"
    "                      the same words. Report on these, not on targets you developed on.\n"
    "  --draw-seed S       the draw's seed (default 0)\n"
    "  --draw-ranks LO-HI  the population's frequency ranks, 1-based (default 100-2000: common words)\n"
    "  --draw-from FILE    only words listed in FILE (one per line), e.g. data/semantle/nouns.txt, the vocabulary's\n"
    "                      words that are mainly nouns (scripts/make_semantle_targets.py)\n"
    "  --exclude LIST      words never drawn, e.g. the demo's and development targets and every target of an\n"
    "                      earlier table (up to 4,096 words)\n"
    "  --grid KEY=V1,V2    also every value of a config key: each strategy runs once per combination of the --grid\n"
    "                      values (repeatable: their product), as its own row of the tables, named e.g.\n"
    "                      'migrate training.learning_rate=1e-3'; the CSV gets a settings column. --grid model=A,B\n"
    "                      compares policies (each loaded in turn); task.vectors must be the same for all\n"
    "  --set KEY=VALUE     config override, as for migrate run\n"
    "\n"
    "--summarize prints the same tables from ablation.csv files already written (one per seed, a run finished\n"
    "later, the CSVs a study committed), as one table; a row is the strategy with its settings and any column\n"
    "migrate ablate does not write (e.g. a study's 'budget'). A (seed, target) twice in one row is refused.\n"
    "  --baseline ROW      the row the wins / ties / losses are counted against (default: random), e.g. 'grpo'\n"
    "  --common            only the (seed, target) pairs every row has: a row cut short is compared on its pairs\n"
    "  --out FILE          write the tables there instead of to stdout\n";

#define MAX_ITEMS 64
#define MAX_DRAW 1000
#define MAX_EXCLUDE 4096
#define MAX_GRID 4

// One row of the tables: a strategy with one combination of the --grid values.
typedef struct {
    int strategy;
    char name[512];            // "migrate" or "migrate training.learning_rate=1e-3 sampling.temperature=0.7"
    char sets[MAX_GRID][256];  // its --grid overrides, "KEY=VALUE"
} arm;

// The arms: every strategy x the product of the --grid lists ("KEY=V1,V2", split in place). Returns their count,
// or -1 with a message when a --grid is malformed or there are more than max.
static int make_arms(char *const *strategies, int ns, char **grid, int n_grid, arm *out, int max) {
    char *key[MAX_GRID], *vals[MAX_GRID][MAX_ITEMS];
    int nv[MAX_GRID], combos = 1;
    for (int g = 0; g < n_grid; g++) {
        char *eq = strchr(grid[g], '=');
        if (!eq || eq == grid[g] || !eq[1])
            return fprintf(stderr, "migrate ablate: --grid '%s': expected KEY=V1,V2,...\n", grid[g]), -1;
        *eq = 0, key[g] = grid[g];
        nv[g] = sweep_split_list(eq + 1, vals[g], MAX_ITEMS);
        if (nv[g] <= 0) return fprintf(stderr, "migrate ablate: --grid %s: no values\n", key[g]), -1;
        combos *= nv[g];
        if (combos * ns > max)
            return fprintf(stderr, "migrate ablate: at most %d strategy x --grid combinations\n", max), -1;
    }
    int n = 0;
    for (int s = 0; s < ns; s++)
        for (int c = 0; c < combos; c++, n++) {
            arm *a = &out[n];
            memset(a, 0, sizeof *a);
            a->strategy = s;
            int len = snprintf(a->name, sizeof a->name, "%s", strategies[s]);
            for (int g = 0, rest = c; g < n_grid; rest /= nv[g], g++) {
                snprintf(a->sets[g], sizeof a->sets[g], "%s=%s", key[g], vals[g][rest % nv[g]]);
                if (len < (int)sizeof a->name) len += snprintf(a->name + len, sizeof a->name - len, " %s", a->sets[g]);
            }
        }
    return n;
}

// --draw: n distinct vocabulary words of frequency rank lo..hi (1-based), none of the excluded, in draw order: a
// partial Fisher-Yates shuffle of the population with Philox draws keyed by the seed (the same words on every
// machine). Returns the count drawn, or -1 with a one-line error.
static int draw_targets(const word_vectors *wv, int n, uint64_t seed, int lo, int hi, const char *from,
                        char *const *exclude, int n_exclude, const char **out, mg_err *e) {
    int V = word_vectors_count(wv);
    if (lo < 1 || hi < lo || hi > V)
        return mg_fail(e, "--draw-ranks %d-%d: the vocabulary has ranks 1-%d", lo, hi, V);
    char *listed = callocCheck((size_t)V, 1);  // the --draw-from words, by vocabulary index
    if (from) {
        size_t len;
        char *text = read_small_file(from, 64u << 20, &len, 0, NULL, e);
        if (!text) return free(listed), -1;
        char *save = NULL;
        for (char *w = strtok_r(text, "\r\n", &save); w; w = strtok_r(NULL, "\r\n", &save)) {
            int i = word_vectors_find(wv, w);
            if (i >= 0) listed[i] = 1;
        }
        free(text);
    }
    int *pop = mallocCheck((size_t)(hi - lo + 1) * sizeof(int)), P = 0;
    for (int i = lo - 1; i < hi; i++) {
        int skip = from && !listed[i];
        for (int x = 0; x < n_exclude && !skip; x++) skip = !strcmp(word_vectors_word(wv, i), exclude[x]);
        if (!skip) pop[P++] = i;
    }
    free(listed);
    if (n > P) {
        free(pop);
        return mg_fail(e, "--draw %d: the population (ranks %d-%d%s%s, %d excluded) has only %d words", n, lo, hi,
                       from ? " of " : "", from ? from : "", n_exclude, P);
    }
    rng_draw_prefix(rng_mix(seed, 0x7461726765747300ull), pop, P, n);  // key "targets"
    for (int i = 0; i < n; i++) out[i] = word_vectors_word(wv, pop[i]);
    free(pop);
    return n;
}

// The search's task for its config's task.target, in a rank tap: the built-in Semantle, or the config's oracle with
// {target} in task.command replaced by the word, its failures appended to OUTPUT_DIR/oracle.log as `migrate run` does.
static int ablate_task(task **out, const run_config *c, const word_vectors *wv, mg_err *e) {
    task *inner = NULL;
    int rc = c->task == TASK_SEMANTLE ? semantle_create(&inner, wv, c->target, e) : run_oracle_task(&inner, c, e);
    if (rc) return -1;
    *out = rank_tap_wrap(inner);
    return 0;
}

int cmd_ablate(int argc, char **argv) {
    const char *config_path = NULL;
    // The lists are split in place: argv's own strings (writable in C), so no length cuts a list short.
    char default_strategies[] = "random,ns,opro,grpo,grpo-greedy,migrate", default_seeds[] = "0,1,2", none[] = "";
    char *strategies_s = default_strategies, *seeds_s = default_seeds, *targets_s = none, *exclude_s = none;
    const char *draw_from = NULL;
    char *grid[MAX_GRID];
    int n_grid = 0;
    int n_draw = 0, draw_lo = 100, draw_hi = 2000;
    unsigned long long draw_seed = 0;
    const char **overrides = callocCheck((size_t)argc + 4, sizeof(char *));
    int n_over = 0;
    if (argc > 1 && !strcmp(argv[1], "--summarize")) return free(overrides), ablate_summarize(argc - 1, argv + 1);
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
        if (!strcmp(a, "--strategies")) strategies_s = argv[i + 1];
        else if (!strcmp(a, "--seeds")) seeds_s = argv[i + 1];
        else if (!strcmp(a, "--targets")) targets_s = argv[i + 1];
        else if (!strcmp(a, "--set")) overrides[n_over++] = v;
        else if (!strcmp(a, "--exclude")) exclude_s = argv[i + 1];
        else if (!strcmp(a, "--draw-from")) draw_from = v;
        else if (!strcmp(a, "--grid")) {
            if (n_grid == MAX_GRID)
                return fprintf(stderr, "migrate ablate: at most %d --grid keys\n", MAX_GRID), free(overrides), 2;
            grid[n_grid++] = argv[i + 1];
        }
        else if (!strcmp(a, "--draw") || !strcmp(a, "--draw-seed") || !strcmp(a, "--draw-ranks")) {
            char *end;
            int bad;
            if (!strcmp(a, "--draw")) {
                long x = strtol(v, &end, 10);
                bad = *end || x < 1 || x > MAX_DRAW;
                n_draw = (int)x;
            } else if (!strcmp(a, "--draw-seed")) {
                draw_seed = strtoull(v, &end, 10);
                bad = *end || v[0] == '-' || !v[0];
            } else {
                bad = sscanf(v, "%d-%d", &draw_lo, &draw_hi) != 2;
            }
            if (bad)
                return fprintf(stderr, "migrate ablate: %s '%s': expected %s\n", a, v,
                               !strcmp(a, "--draw") ? "a count 1..1000" : !strcmp(a, "--draw-seed")
                                   ? "an unsigned integer" : "LO-HI, e.g. 100-2000"),
                       free(overrides), 2;
        }
        else return fprintf(stderr, "migrate ablate: unknown option '%s' (see --help)\n", a), free(overrides), 2;
    }
    if (!config_path) return fprintf(stderr, "migrate ablate: a CONFIG.yaml is required (see --help)\n"), free(overrides), 2;
    char *strategies[MAX_ITEMS], *seeds[MAX_ITEMS], *listed[MAX_ITEMS];
    char *exclude[MAX_EXCLUDE];  // benchmarks exclude every target used before them
    int ns = sweep_split_list(strategies_s, strategies, MAX_ITEMS), nd = sweep_split_list(seeds_s, seeds, MAX_ITEMS),
        nt = sweep_split_list(targets_s, listed, MAX_ITEMS), nx = sweep_split_list(exclude_s, exclude, MAX_EXCLUDE);
    if (ns < 0 || nd < 0 || nt < 0 || nx < 0)
        return fprintf(stderr, "migrate ablate: at most %d strategies, seeds and targets each, and %d excluded words\n",
                       MAX_ITEMS, MAX_EXCLUDE), free(overrides), 2;
    if (n_draw && nt)
        return fprintf(stderr, "migrate ablate: --targets and --draw exclude each other\n"), free(overrides), 2;
    int draw_options = draw_from || nx || draw_seed || draw_lo != 100 || draw_hi != 2000;
    if (!n_draw && draw_options)
        return fprintf(stderr, "migrate ablate: --draw-seed, --draw-ranks, --draw-from and --exclude need --draw N\n"),
               free(overrides), 2;
    const char *targets[MAX_DRAW];
    for (int t = 0; t < nt; t++) targets[t] = listed[t];
    arm *arms = callocCheck(MAX_ITEMS, sizeof *arms);
    int na = make_arms(strategies, ns, grid, n_grid, arms, MAX_ITEMS);
    if (na < 0) return free(arms), free(overrides), 2;
    const char *arm_names[MAX_ITEMS];
    for (int k = 0; k < na; k++) arm_names[k] = arms[k].name;

    run_config base;
    mg_err e;
    if (run_config_read(&base, config_path, overrides, n_over, &e)) {
        fprintf(stderr, "migrate ablate: %s\n", e.msg);
        free(overrides), free(arms);
        return 1;
    }
    int is_oracle = base.task == TASK_ORACLE;
    const char *unfit = NULL;  // why this config cannot be ablated
    if (base.task != TASK_SEMANTLE && !is_oracle)
        unfit = "ablate runs Semantle searches: task.type semantle, or oracle with {target} in task.command";
    else if (is_oracle && !strstr(base.oracle_command, "{target}"))
        unfit = "task.command has no {target}: migrate ablate puts each target word there";
    else if (is_oracle && !nt && !n_draw && !base.target[0])
        unfit = "no target: set task.target, or give --targets LIST or --draw N";
    else if (is_oracle && n_draw && !base.vectors[0])
        unfit = "--draw draws from the words of task.vectors: set it (e.g. data/semantle/vectors.bin)";
    if (unfit) {
        fprintf(stderr, "migrate ablate: %s: %s\n", config_path, unfit);
        run_config_free(&base), free(overrides), free(arms);
        return 1;
    }
    if (nt == 0 && !n_draw) targets[nt++] = base.target;
    // Validate every combination's config before the first run, so a typo fails in a second, not an hour in.
    int total = na * nd * nt, rc = 0;
    for (int k = 0; k < na && !rc; k++) {
        run_config probe;
        char set_s[128];
        snprintf(set_s, sizeof set_s, "strategy=%s", strategies[arms[k].strategy]);
        overrides[n_over] = set_s;
        for (int g = 0; g < n_grid; g++) overrides[n_over + 1 + g] = arms[k].sets[g];
        if (run_config_read(&probe, config_path, overrides, n_over + 1 + n_grid, &e)) {
            fprintf(stderr, "migrate ablate: %s\n", e.msg);
            rc = 1;
            continue;
        }
        // Every run scores with the one vectors file loaded below (the draw reads it too).
        if (strcmp(probe.vectors, base.vectors)) {
            fprintf(stderr, "migrate ablate: %s: task.vectors differs between arms ('%s', '%s'); run one ablate per "
                            "vectors file\n", arms[k].name, base.vectors, probe.vectors);
            rc = 1;
        }
        // A --grid model folder that is not there fails now, not after the arms before it have run.
        char cfg_json[sizeof probe.model + 16];
        snprintf(cfg_json, sizeof cfg_json, "%s/config.json", probe.model);
        FILE *f = rc ? NULL : fopen(cfg_json, "rb");
        if (!rc && !f)
            fprintf(stderr, "migrate ablate: %s: model '%s': cannot open %s\n", arms[k].name, probe.model, cfg_json),
                rc = 1;
        if (f) fclose(f);
        run_config_free(&probe);
    }
    blas_set_threads(base.threads);
    model m;
    tokenizer *tok = NULL;
    char loaded[sizeof base.model];  // the model folder m holds; an arm with another (--grid model=...) reloads
    snprintf(loaded, sizeof loaded, "%s", base.model);
    word_vectors *wv = NULL;
    if (rc || cli_load_model("ablate", base.model, &m, &tok)) {
        run_config_free(&base), free(overrides), free(arms);
        return 1;
    }
    if ((!is_oracle || n_draw) && word_vectors_load(&wv, base.vectors, &e)) {
        fprintf(stderr, "migrate ablate: %s\n", e.msg);
        rc = 1;
    } else if (n_draw) {
        nt = draw_targets(wv, n_draw, draw_seed, draw_lo, draw_hi, draw_from, exclude, nx, targets, &e);
        if (nt < 0) fprintf(stderr, "migrate ablate: %s\n", e.msg), rc = 1, nt = 0;
        else {
            fprintf(stderr, "migrate ablate: %d targets drawn (seed %llu, frequency ranks %d-%d%s%s, %d excluded):",
                    nt, draw_seed, draw_lo, draw_hi, draw_from ? " of " : "", draw_from ? draw_from : "", nx);
            for (int t = 0; t < nt; t++) fprintf(stderr, "%s%s", t ? "," : " ", targets[t]);
            fputc('\n', stderr);
        }
    }
    total = na * nd * nt;
    file_mkdir_p(base.output_dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/ablation.csv", base.output_dir);
    FILE *csv = rc ? NULL : file_open_nofollow(path, "w", &e);
    if (!rc && !csv) fprintf(stderr, "migrate ablate: %s\n", e.msg), rc = 1;
    if (csv)
        fprintf(csv, "strategy,%sseed,target,solved,oracle_calls,oracle_calls_to_solve,best_reward,calls_to_rank950,"
                     "calls_to_rank990,seconds\n", n_grid ? "settings," : "");
    snprintf(path, sizeof path, "%s/best_curves.csv", base.output_dir);
    FILE *curves = rc ? NULL : file_open_nofollow(path, "w", &e);
    if (!rc && !curves) fprintf(stderr, "migrate ablate: %s\n", e.msg), rc = 1;
    if (curves) sweep_curves_header(curves);
    sweep_result *res = callocCheck((size_t)total + 1, sizeof *res);
    ablation_run *runs = callocCheck((size_t)total + 1, sizeof *runs);
    int done = 0;
    for (int k = 0; k < na && !rc; k++)
        for (int t = 0; t < nt && !rc; t++)
            for (int d = 0; d < nd && !rc; d++) {
                const arm *A = &arms[k];
                char set_s[128], set_d[128], set_t[256];
                snprintf(set_s, sizeof set_s, "strategy=%s", strategies[A->strategy]);
                snprintf(set_d, sizeof set_d, "seed=%s", seeds[d]);
                snprintf(set_t, sizeof set_t, "task.target=%s", targets[t]);
                int no = n_over;
                overrides[no++] = set_s;
                for (int g = 0; g < n_grid; g++) overrides[no++] = A->sets[g];
                overrides[no++] = set_d, overrides[no++] = set_t;
                run_config cfg;
                task *tk = NULL;
                if (run_config_read(&cfg, config_path, overrides, no, &e)) {
                    fprintf(stderr, "migrate ablate: %s\n", e.msg);
                    rc = 1;
                    break;
                }
                if (ablate_task(&tk, &cfg, wv, &e)) {
                    fprintf(stderr, "migrate ablate: %s\n", e.msg);
                    run_config_free(&cfg);
                    rc = 1;
                    break;
                }
                if (strcmp(cfg.model, loaded)) {
                    tokenizer_free(tok), tok = NULL;
                    model_free(&m);
                    if (cli_load_model("ablate", cfg.model, &m, &tok)) {
                        rc = 1, loaded[0] = 0;
                        tk->destroy(tk), run_config_free(&cfg);
                        break;
                    }
                    snprintf(loaded, sizeof loaded, "%s", cfg.model);
                }
                search_state st;
                double t0 = mg_seconds();
                if (sweep_search_run(&st, &cfg, &m, tok, tk, 0, &e)) fprintf(stderr, "migrate ablate: %s\n", e.msg), rc = 1;
                if (!rc) {
                    sweep_result *r = &res[done++];
                    const archive_entry *b = st.best >= 0 ? archive_get(st.arc, st.best) : NULL;
                    *r = (sweep_result){k, st.solved, st.oracle_calls, st.solved ? st.solved_at_calls : -1,
                                        b ? b->reward : 0.0, mg_seconds() - t0};
                    ablation_run *q = &runs[done - 1];
                    *q = (ablation_run){k, d * nt + t, r->solved, r->best, r->calls, {-1, -1}};
                    for (int k = 0; k < 2; k++)
                        q->calls_to[k] = rank_tap_calls_to(tk, k ? 990 : 950);
                    fprintf(csv, "%s,", strategies[A->strategy]);
                    if (n_grid) fprintf(csv, "%s,", A->name + strlen(strategies[A->strategy]) + 1);
                    fprintf(csv, "%s,%s,%d,%ld,%ld,%.6f,%ld,%ld,%.2f\n", seeds[d], targets[t], r->solved, r->calls,
                            r->calls_to_solve, r->best, q->calls_to[0], q->calls_to[1], r->seconds);
                    fflush(csv);
                    sweep_curves_best(curves, strategies[A->strategy],
                                      n_grid ? A->name + strlen(strategies[A->strategy]) + 1 : "", seeds[d],
                                      targets[t], st.arc);
                    fprintf(stderr, "[%d/%d] %-12s seed %-3s target %-12s %s calls %4ld best %.4f %.1fs\n", done, total,
                            A->name, seeds[d], targets[t], r->solved ? "SOLVED    " : "not solved", r->calls,
                            r->best, r->seconds);
                    search_free(&st);
                }
                model_set_train_mode(&m, TRAIN_NONE);
                tk->destroy(tk);
                run_config_free(&cfg);
            }
    if (csv && (ferror(csv) | fclose(csv)))
        fprintf(stderr, "migrate ablate: %s/ablation.csv: a write failed\n", base.output_dir), rc = 1;
    if (curves && (ferror(curves) | fclose(curves)))
        fprintf(stderr, "migrate ablate: %s/best_curves.csv: a write failed\n", base.output_dir), rc = 1;
    if (!rc) {
        snprintf(path, sizeof path, "%s/ablation.md", base.output_dir);
        file_atomic md;
        FILE *f = file_atomic_open(&md, path, &e);
        FILE *outs[2] = {stdout, f};
        int baseline = -1;
        for (int g = na - 1; g >= 0; g--)
            if (!strcmp(strategies[arms[g].strategy], "random")) baseline = g;
        for (int o = 0; o < 2; o++) {
            if (!outs[o]) continue;
            if (n_draw) {
                fprintf(outs[o], "Targets: %d drawn with seed %llu from the vocabulary's frequency ranks %d-%d%s%s", nt,
                        draw_seed, draw_lo, draw_hi, draw_from ? " listed in " : "", draw_from ? draw_from : "");
                for (int x = 0; x < nx; x++) fprintf(outs[o], "%s%s", x ? ", " : " without ", exclude[x]);
                fprintf(outs[o], ":");
                for (int t = 0; t < nt; t++) fprintf(outs[o], "%s%s", t ? ", " : " ", targets[t]);
                fprintf(outs[o], ".\n\n");
            }
            ablate_print_tables(outs[o], arm_names, na, res, runs, done, baseline);
        }
        if (!f || file_atomic_commit(&md, &e)) fprintf(stderr, "migrate ablate: %s\n", e.msg), rc = 1;
        else fprintf(stderr, "migrate ablate: wrote %s/ablation.csv and ablation.md\n", base.output_dir);
    }
    free(res);
    free(runs);
    free(arms);
    if (wv) word_vectors_free(wv);
    if (tok) tokenizer_free(tok);
    if (loaded[0]) model_free(&m);
    run_config_free(&base);
    free(overrides);
    return rc;
}
