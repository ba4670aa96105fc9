// The report's figures: runs grouped by what they compare (strategy, with any grid settings), each group one line,
// the median over its runs with a min-max band (seeds, and problems when a figure pools several). Curves are read
// as step functions on a shared grid of oracle calls (a run that stopped early keeps its last value, as PMO's AUC
// does), or by iteration for the per-iteration metrics.
#include "tools/report/report_figures.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tools/report/plot.h"
#include "tools/sweep_pmo.h"

#define GRID_POINTS 161
#define MAX_GROUPS PLOT_MAX_LINES

// Storage of a figure's lines until it is drawn.
typedef struct {
    plot_figure fig;
    double *buf[PLOT_MAX_LINES];
    char names[PLOT_MAX_LINES][300];
} figure_data;

static void figure_data_free(figure_data *d) {
    for (int i = 0; i < PLOT_MAX_LINES; i++) free(d->buf[i]);
}

// The distinct groups of the selected runs, in first-seen order.
static int groups_of(const report *r, const int *sel, int n, const char **groups) {
    int ng = 0;
    for (int i = 0; i < n; i++) {
        const char *g = r->runs[sel[i]].group;
        int k = 0;
        while (k < ng && strcmp(groups[k], g)) k++;
        if (k == ng && ng < MAX_GROUPS) groups[ng++] = g;
    }
    return ng;
}

typedef const report_curve *(*curve_getter)(const report_run *u);
static const report_curve *best_curve(const report_run *u) { return &u->best_curve; }
static const report_curve *top10_curve(const report_run *u) { return &u->top10_curve; }
static const report_curve *rank_curve(const report_run *u) { return &u->rank_curve; }

// One line per group over a shared grid of x from 0 to the largest x of any curve.
static int add_curve_lines(figure_data *d, const report *r, const int *sel, int n, curve_getter get) {
    const char *groups[MAX_GROUPS];
    int ng = groups_of(r, sel, n, groups);
    double xmax = 0;
    for (int i = 0; i < n; i++) {
        const report_curve *c = get(&r->runs[sel[i]]);
        if (c->n && c->x[c->n - 1] > xmax) xmax = c->x[c->n - 1];
    }
    if (xmax <= 0) return 0;
    double *v = mallocCheck((size_t)n * sizeof *v);
    for (int g = 0; g < ng; g++) {
        int runs = 0;
        for (int i = 0; i < n; i++) runs += !strcmp(r->runs[sel[i]].group, groups[g]) && get(&r->runs[sel[i]])->n;
        if (!runs) continue;
        int l = d->fig.n_lines;
        double *b = d->buf[l] = mallocCheck(4 * GRID_POINTS * sizeof *b);
        for (int p = 0; p < GRID_POINTS; p++) {
            double x = xmax * p / (GRID_POINTS - 1);
            int k = 0;
            for (int i = 0; i < n; i++)
                if (!strcmp(r->runs[sel[i]].group, groups[g])) v[k++] = report_curve_at(get(&r->runs[sel[i]]), x);
            b[p] = x;
            report_spread(v, k, &b[GRID_POINTS + p], &b[2 * GRID_POINTS + p], &b[3 * GRID_POINTS + p]);
        }
        snprintf(d->names[l], sizeof d->names[l], "%s (%d run%s)", groups[g], runs, runs == 1 ? "" : "s");
        plot_add(&d->fig, d->names[l], GRID_POINTS, b, b + GRID_POINTS, runs > 1 ? b + 2 * GRID_POINTS : NULL,
                 runs > 1 ? b + 3 * GRID_POINTS : NULL, 0);
    }
    free(v);
    return d->fig.n_lines;
}

// One line per group of metric k by iteration (the median over the group's runs at each iteration index).
// only_training: leave out groups whose values are all zero (the baselines never train).
static int add_metric_lines(figure_data *d, const report *r, const int *sel, int n, int k, const char *suffix,
                            int only_training) {
    const char *groups[MAX_GROUPS];
    int ng = groups_of(r, sel, n, groups);
    double *v = mallocCheck((size_t)n * sizeof *v);
    for (int g = 0; g < ng && d->fig.n_lines < PLOT_MAX_LINES; g++) {
        int len = 0, runs = 0, nonzero = 0, finite = 0;
        for (int i = 0; i < n; i++) {
            const report_run *u = &r->runs[sel[i]];
            if (strcmp(u->group, groups[g]) || !u->metrics.n) continue;
            runs++;
            if (u->metrics.n > len) len = u->metrics.n;
            for (int t = 0; t < u->metrics.n; t++) {
                finite |= isfinite(u->metrics.col[k][t]);
                nonzero |= isfinite(u->metrics.col[k][t]) && u->metrics.col[k][t] != 0;
            }
        }
        if (!runs || !finite || (only_training && !nonzero)) continue;
        int l = d->fig.n_lines;
        double *b = d->buf[l] = mallocCheck(4 * (size_t)len * sizeof *b);
        finite = 0;
        for (int t = 0; t < len; t++) {
            int c = 0;
            for (int i = 0; i < n; i++) {
                const report_run *u = &r->runs[sel[i]];
                if (!strcmp(u->group, groups[g]) && t < u->metrics.n) v[c++] = u->metrics.col[k][t];
            }
            b[t] = t + 1;
            report_spread(v, c, &b[len + t], &b[2 * len + t], &b[3 * len + t]);
            finite += isfinite(b[len + t]);
        }
        if (!finite) { free(b), d->buf[l] = NULL; continue; }
        snprintf(d->names[l], sizeof d->names[l], "%s%s", groups[g], suffix);
        plot_add(&d->fig, d->names[l], len, b, b + len, runs > 1 ? b + 2 * len : NULL, runs > 1 ? b + 3 * len : NULL, 0);
    }
    free(v);
    return d->fig.n_lines;
}

void html_escape(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

// Draws d's figure into the page as <figure id=...>, or names what kept it from being drawn.
static void emit(FILE *f, report *r, figure_data *d, const char *id, const char *caption) {
    char why[600] = "";
    char *svg = plot_svg(&d->fig, 720, 380, why, sizeof why);
    fprintf(f, "<figure class=\"plot%s\" id=\"%s\" data-lines=\"%d\">\n", svg ? "" : " missing", id, d->fig.n_lines);
    if (svg) fputs(svg, f), free(svg);
    else {
        fputs("<p class=\"missing\">Not drawn: ", f), html_escape(f, why), fputs("</p>\n", f);
        report_note(r, "figure '%s' not drawn: %s", d->fig.title, why);
    }
    fputs("<figcaption>", f), html_escape(f, caption), fputs("</figcaption></figure>\n", f);
    figure_data_free(d);
}

// The runs of one task kind, split by problem when there are few problems, pooled otherwise.
typedef struct {
    int *sel, n;
    char label[300];
} run_set;

#define POOL_ABOVE 6

static int run_sets(const report *r, report_kind kind, run_set *sets, int max) {
    const char *problems[POOL_ABOVE + 1];
    int np = 0, total = 0;
    for (int i = 0; i < r->n_runs; i++) {
        if (r->runs[i].kind != kind) continue;
        total++;
        int k = 0;
        while (k < np && strcmp(problems[k], r->runs[i].problem)) k++;
        if (k == np && np <= POOL_ABOVE) problems[np++] = r->runs[i].problem;
    }
    if (!total) return 0;
    int pooled = np > POOL_ABOVE || max < np, ns = pooled ? 1 : np;
    for (int s = 0; s < ns; s++) {
        sets[s].sel = mallocCheck((size_t)total * sizeof(int));
        sets[s].n = 0;
        for (int i = 0; i < r->n_runs; i++)
            if (r->runs[i].kind == kind && (pooled || !strcmp(r->runs[i].problem, problems[s])))
                sets[s].sel[sets[s].n++] = i;
        if (pooled) snprintf(sets[s].label, sizeof sets[s].label, "%s, %d runs over %s%d problems",
                             report_kind_names[kind], total, np > POOL_ABOVE ? "more than " : "",
                             np > POOL_ABOVE ? POOL_ABOVE : np);
        else snprintf(sets[s].label, sizeof sets[s].label, "%s %s", report_kind_names[kind],
                      problems[s][0] ? problems[s] : "(problem not known)");
    }
    return ns;
}

static int fig_counter;

void report_figures_begin(void) { fig_counter = 0; }

static void next_id(char *id, size_t size, const char *section) {
    snprintf(id, size, "fig-%s-%d", section, ++fig_counter);
}

void report_figures_best(FILE *f, report *r) {
    for (int kind = 0; kind < RK_COUNT; kind++) {
        run_set sets[POOL_ABOVE];
        int ns = run_sets(r, (report_kind)kind, sets, POOL_ABOVE);
        for (int s = 0; s < ns; s++) {
            int with_curve = 0;
            for (int i = 0; i < sets[s].n; i++) with_curve += r->runs[sets[s].sel[i]].best_curve.n > 0;
            if (!with_curve) {  // a PMO table: its curve is the top-10 mean, drawn in its own section
                fputs("<p class=\"quiet\">", f), html_escape(f, sets[s].label);
                fputs(": no best-so-far curve in these inputs", f);
                fputs(kind == RK_MOLECULE ? " (PMO folders keep the top-10 curve: see Molecules).</p>\n" : ".</p>\n", f);
                free(sets[s].sel);
                continue;
            }
            figure_data d = {.fig = {.title = sets[s].label, .xlabel = "oracle calls", .ylabel = "best reward so far"}};
            add_curve_lines(&d, r, sets[s].sel, sets[s].n, best_curve);
            char id[64], caption[600];
            next_id(id, sizeof id, "best");
            snprintf(caption, sizeof caption, "Best reward so far against oracle calls (%s). Each line is the median "
                     "over a group's runs (seeds%s); the band spans their minimum to maximum.", sets[s].label,
                     strstr(sets[s].label, "problems") ? " and problems" : "");
            emit(f, r, &d, id, caption);
            free(sets[s].sel);
        }
    }
}

static const struct { int k; const char *name; } ORIGINS[] = {
    {RM_REWARD, "all samples"}, {RM_REWARD_ON_POLICY, "on-policy"}, {RM_REWARD_GREEDY, "greedy"},
    {RM_REWARD_NEIGHBORHOOD, "neighborhood"}, {RM_REWARD_OPRO, "opro"}};

// Reward by origin: one figure per group (its lines are the origins), for the runs with metrics.
// The runs with metrics of one task kind; *kinds counts the kinds that have any (titles name the kind then).
static int with_metrics(const report *r, int kind, int *sel, int *kinds) {
    int n = 0, seen[RK_COUNT] = {0};
    for (int i = 0; i < r->n_runs; i++) {
        if (!r->runs[i].metrics.n) continue;
        seen[r->runs[i].kind] = 1;
        if ((int)r->runs[i].kind == kind) sel[n++] = i;
    }
    *kinds = 0;
    for (int k = 0; k < RK_COUNT; k++) *kinds += seen[k];
    return n;
}

static void origins_of_kind(FILE *f, report *r, int kind);
static void training_of_kind(FILE *f, report *r, int kind);

void report_figures_origins(FILE *f, report *r) {
    int any = 0;
    for (int i = 0; i < r->n_runs; i++) any |= r->runs[i].metrics.n > 0;
    for (int k = 0; k < RK_COUNT; k++) origins_of_kind(f, r, k);
    if (!any) fputs("<p class=\"quiet\">No run here has a metrics.jsonl (ablation and PMO tables keep totals "
                    "only).</p>\n", f);
}

void report_figures_training(FILE *f, report *r) {
    int any = 0;
    for (int i = 0; i < r->n_runs; i++) any |= r->runs[i].metrics.n > 0;
    for (int k = 0; k < RK_COUNT; k++) training_of_kind(f, r, k);
    if (!any) fputs("<p class=\"quiet\">No run here has a metrics.jsonl.</p>\n", f);
}

static void origins_of_kind(FILE *f, report *r, int kind) {
    int *sel = mallocCheck((size_t)(r->n_runs + 1) * sizeof *sel), kinds;
    int n = with_metrics(r, kind, sel, &kinds);
    char prefix[64] = "";
    if (kinds > 1) snprintf(prefix, sizeof prefix, "%s, ", report_kind_names[kind]);
    const char *groups[MAX_GROUPS];
    int ng = groups_of(r, sel, n, groups);
    for (int g = 0; g < ng; g++) {
        int *gs = mallocCheck((size_t)n * sizeof *gs), m = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(r->runs[sel[i]].group, groups[g])) gs[m++] = sel[i];
        char title[300];
        snprintf(title, sizeof title, "%s%s: mean reward by origin", prefix, groups[g]);
        figure_data d = {.fig = {.title = title, .xlabel = "iteration", .ylabel = "mean reward of the group's samples"}};
        for (size_t o = 0; o < sizeof ORIGINS / sizeof *ORIGINS; o++) {
            int before = d.fig.n_lines;
            add_metric_lines(&d, r, gs, m, ORIGINS[o].k, "", 0);
            for (int l = before; l < d.fig.n_lines; l++) {
                report_copy(d.names[l], sizeof d.names[l], ORIGINS[o].name);
                d.fig.lines[l].name = d.names[l];
            }
        }
        char id[64], caption[600];
        next_id(id, sizeof id, "origin");
        snprintf(caption, sizeof caption, "Mean reward of each iteration's samples by where they came from, %s "
                 "(%d run%s; median over runs, band min to max).", groups[g], m, m == 1 ? "" : "s");
        emit(f, r, &d, id, caption);
        free(gs);
    }
    free(sel);
}

static const struct { int k; const char *title, *ylabel; int logy, training; } TRAINING[] = {
    {RM_LOSS, "GRPO loss", "loss", 0, 1},
    {RM_KL, "KL to the reference", "KL", 0, 1},
    {RM_ENTROPY, "entropy of the sampled tokens", "nats per token", 0, 1},
    {RM_GRAD_NORM, "gradient norm (before clipping)", "norm", 0, 1},
    {RM_CLIP_LOW, "clipped below (ratio < 1 - eps_low)", "share of tokens", 0, 1},
    {RM_CLIP_HIGH, "clipped above (ratio > 1 + eps_high)", "share of tokens", 0, 1},
    {RM_CLIP_REGION, "outside the trust region", "share of tokens", 0, 1},
    {RM_MEAN_LENGTH, "completion length", "tokens", 0, 0},
    {RM_TOKENS_PER_SECOND, "sampling speed", "tokens per second", 0, 0},
    {RM_NEW_CALLS, "distinct new candidates per iteration", "oracle calls", 0, 0},
    {RM_REPEATS, "repeated answers (not re-scored), cumulative", "repeats", 0, 0},
};

static void training_of_kind(FILE *f, report *r, int kind) {
    int *sel = mallocCheck((size_t)(r->n_runs + 1) * sizeof *sel), kinds;
    int n = with_metrics(r, kind, sel, &kinds);
    for (size_t t = 0; n && t < sizeof TRAINING / sizeof *TRAINING; t++) {
        char title[200];
        snprintf(title, sizeof title, "%s%s%s", kinds > 1 ? report_kind_names[kind] : "", kinds > 1 ? ": " : "",
                 TRAINING[t].title);
        figure_data d = {.fig = {.title = title, .xlabel = "iteration", .ylabel = TRAINING[t].ylabel,
                                 .logy = TRAINING[t].logy}};
        add_metric_lines(&d, r, sel, n, TRAINING[t].k, "", TRAINING[t].training);
        if (!d.fig.n_lines) {  // nothing trained, or the metric is zero throughout: say so, no empty axes
            fprintf(f, "<p class=\"quiet\">%s: zero or absent in every run%s.</p>\n", title,
                    TRAINING[t].training ? " (no run here updates the policy)" : "");
            continue;
        }
        char id[64], caption[600];
        next_id(id, sizeof id, "train");
        snprintf(caption, sizeof caption, "%s by iteration: median over each group's runs, band min to max%s.",
                 title, TRAINING[t].training ? "; groups that never train are left out" : "");
        emit(f, r, &d, id, caption);
    }
    free(sel);
}

// Semantle: the rank of the best guess among the target's 1,000 nearest words, against oracle calls.
void report_figures_semantle(FILE *f, report *r) {
    int *sel = mallocCheck((size_t)(r->n_runs + 1) * sizeof *sel), n = 0;
    for (int i = 0; i < r->n_runs; i++)
        if (r->runs[i].kind == RK_SEMANTLE && r->runs[i].rank_curve.n) sel[n++] = i;
    if (n) {
        figure_data d = {.fig = {.title = "Semantle: rank of the best guess", .xlabel = "oracle calls",
                                 .ylabel = "rank among the target's 1,000 nearest words"}};
        add_curve_lines(&d, r, sel, n, rank_curve);
        char id[64];
        next_id(id, sizeof id, "semantle");
        emit(f, r, &d, id, "Rank of the best guess so far among the 1,000 words nearest the target (1000 = the "
             "nearest; the target itself solves the game), median over each group's runs, band min to max.");
    } else {
        fputs("<p class=\"quiet\">No Semantle run with per-iteration metrics (an ablation table keeps the calls to "
              "reach rank 950 and 990 instead: see its ablation.md).</p>\n", f);
    }
    free(sel);
}

// PMO: per task the top-10 average against valid molecules, with the published AUCs as dashed levels.
void report_figures_pmo(FILE *f, report *r) {
    run_set sets[POOL_ABOVE];
    int ns = run_sets(r, RK_MOLECULE, sets, POOL_ABOVE);
    for (int s = 0; s < ns; s++) {
        figure_data d = {.fig = {.title = sets[s].label, .xlabel = "valid distinct molecules scored",
                                 .ylabel = "mean of the 10 best"}};
        add_curve_lines(&d, r, sets[s].sel, sets[s].n, top10_curve);
        const pmo_published *p = sets[s].n ? pmo_published_find(r->runs[sets[s].sel[0]].problem) : NULL;
        static double ref[PLOT_MAX_LINES][4];
        if (p && d.fig.n_lines && d.fig.n_lines + 2 <= PLOT_MAX_LINES) {
            double xmax = d.fig.lines[0].x[d.fig.lines[0].n - 1];
            const double v[2] = {p->reinvent, p->graph_ga};
            const char *who[2] = {"REINVENT", "Graph GA"};
            for (int k = 0; k < 2; k++) {
                int l = d.fig.n_lines;
                ref[l][0] = 0, ref[l][1] = xmax, ref[l][2] = ref[l][3] = v[k];
                snprintf(d.names[l], sizeof d.names[l], "%s published AUC %.3f", who[k], v[k]);
                plot_add(&d.fig, d.names[l], 2, ref[l], ref[l] + 2, NULL, NULL, 1);
            }
        }
        char id[64], caption[700];
        next_id(id, sizeof id, "pmo");
        snprintf(caption, sizeof caption, "PMO %s: the mean of the 10 best molecules so far, the curve whose area "
                 "over the run's molecule budget is the AUC top-10; median over seeds, band min to max.%s",
                 sets[s].label, p ? " Dashed: the published AUC top-10 of REINVENT and Graph GA (at PMO's 10,000 "
                                    "molecules), the height a flat curve with the same area would have." : "");
        if (!d.fig.n_lines) fputs("<p class=\"quiet\">No top-10 curve for these runs.</p>\n", f), figure_data_free(&d);
        else emit(f, r, &d, id, caption);
        free(sets[s].sel);
    }
}
