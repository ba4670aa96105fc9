// ARC in the report: per task its training pairs, test inputs and expected outputs as coloured grids (the ARC
// palette), the two attempts of the task's best run marked right or wrong, its best program, and every run of the
// task with its pass@2. Grids are HTML cells, not a figure: they are data to read cell by cell.
#include "tools/report/report_arc.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tasks/arc/task_file.h"
#include "tools/report/report_figures.h"

#define MAX_TASKS 40

static void grid_html(FILE *f, const arc_grid *g, const char *label) {
    fputs("<div><div class=\"lab\">", f);
    html_escape(f, label);
    fprintf(f, " %dx%d</div><div class=\"g\" style=\"grid-template-columns:repeat(%d,9px)\">", g->rows, g->cols,
            g->cols > 0 ? g->cols : 1);
    for (int i = 0; i < g->rows; i++)
        for (int j = 0; j < g->cols; j++) fprintf(f, "<i class=\"c%d\"></i>", arc_at(g, i, j) % 10);
    fputs("</div></div>", f);
}

// The run's arc_result.json, or NULL (a run folder without one: the task was not ARC or the run is going).
static json_t *read_result(const report_run *u) {
    if (!u->arc_result[0]) return NULL;
    json_t *j = json_load_file(u->arc_result, 0, NULL);
    if (!json_is_object(j)) return json_decref(j), NULL;
    return j;
}

static double pass2(const report_run *u) {
    json_t *j = read_result(u);
    double v = json_number_value(json_object_get(json_object_get(j, "score"), "pass@2"));
    int known = json_is_number(json_object_get(json_object_get(j, "score"), "pass@2"));
    json_decref(j);
    return known ? v : NAN;
}

static int load_task(arc_task *t, const report_run *u, mg_err *e) {
    if (!u->arc_file[0]) return mg_fail(e, "%s: the task file is not known (no checkpoint.h5 with the run's config)",
                                        u->source);
    if (u->arc_id[0])
        return arc_task_load_combined(t, u->arc_file, u->arc_solutions[0] ? u->arc_solutions : NULL, u->arc_id, e);
    return arc_task_load_file(t, u->arc_file, e);
}

static void attempts_html(FILE *f, const report_run *u, const arc_task *t) {
    json_t *j = read_result(u);
    json_t *att = json_object_get(j, "attempts");
    if (!json_is_array(att)) {
        fputs("<p class=\"quiet\">No attempts: the run has no arc_result.json (a checkpoint, or a run still going)."
              "</p>", f);
        json_decref(j);
        return;
    }
    for (size_t k = 0; k < json_array_size(att); k++) {
        fputs("<div class=\"pairs\">", f);
        for (int a = 1; a <= 2; a++) {
            char key[16], label[64];
            snprintf(key, sizeof key, "attempt_%d", a);
            arc_grid g = {0};
            mg_err e;
            json_t *gj = json_object_get(json_array_get(att, k), key);
            if (!gj || arc_grid_from_json(&g, gj, key, &e)) {
                fprintf(f, "<div class=\"lab\">test %zu %s: none</div>", k + 1, key);
                continue;
            }
            int known = t && t->test_outputs && (int)k < t->n_test, right = known && arc_grid_equal(&g, &t->test_outputs[k]);
            snprintf(label, sizeof label, "test %zu attempt %d%s", k + 1, a, !known ? "" : right ? " (right)" : " (wrong)");
            fprintf(f, "<div class=\"%s\">", !known ? "" : right ? "ok" : "no");
            grid_html(f, &g, label);
            fputs("</div>", f);
            arc_grid_free(&g);
        }
        fputs("</div>\n", f);
    }
    json_decref(j);
}

static void task_html(FILE *f, report *r, const int *runs, int n) {
    const report_run *best = &r->runs[runs[0]];
    for (int i = 1; i < n; i++) {
        const report_run *u = &r->runs[runs[i]];
        if (u->solved > best->solved || (u->solved == best->solved && u->best_reward > best->best_reward)) best = u;
    }
    fputs("<div class=\"task\"><h3>", f);
    html_escape(f, best->problem);
    fputs("</h3>\n", f);
    arc_task t = {0};
    mg_err e;
    int have = !load_task(&t, best, &e);
    if (!have) {
        report_note(r, "ARC task %s: %s", best->problem, e.msg);
        fputs("<p class=\"missing\">Task not shown: ", f), html_escape(f, e.msg), fputs("</p>\n", f);
    } else {
        fputs("<div class=\"pairs\">", f);
        char label[64];
        for (int i = 0; i < t.n_train; i++) {
            fputs("<div class=\"pair\">", f);
            snprintf(label, sizeof label, "train %d input", i + 1), grid_html(f, &t.train[i].input, label);
            fputs("&rarr;", f);
            snprintf(label, sizeof label, "output"), grid_html(f, &t.train[i].output, label);
            fputs("</div>", f);
        }
        for (int i = 0; i < t.n_test; i++) {
            fputs("<div class=\"pair\">", f);
            snprintf(label, sizeof label, "test %d input", i + 1), grid_html(f, &t.test_inputs[i], label);
            if (t.test_outputs) {
                fputs("&rarr;", f);
                snprintf(label, sizeof label, "expected"), grid_html(f, &t.test_outputs[i], label);
            }
            fputs("</div>", f);
        }
        fputs("</div>\n", f);
    }
    fputs("<p>Best run: ", f);
    html_escape(f, best->group);
    fputs(" seed ", f), html_escape(f, best->seed);
    fprintf(f, ", best reward %.4f", best->best_reward);
    if (best->best_info[0]) fputs(" (", f), html_escape(f, best->best_info), fputs(")", f);
    fputs(". Its attempts:</p>\n", f);
    attempts_html(f, best, have ? &t : NULL);
    fputs("<pre>", f), html_escape(f, best->best), fputs("</pre>\n<p class=\"lab\">Runs of this task:", f);
    for (int i = 0; i < n; i++) {
        const report_run *u = &r->runs[runs[i]];
        double p = pass2(u);
        fputs(i ? "; " : " ", f), html_escape(f, u->group), fputs(" seed ", f), html_escape(f, u->seed);
        if (isfinite(p)) fprintf(f, " pass@2 %.2f", p);
        else fprintf(f, " best %.3f", u->best_reward);
    }
    fputs("</p></div>\n", f);
    if (have) arc_task_free(&t);
}

void report_arc(FILE *f, report *r) {
    int *runs = mallocCheck((size_t)(r->n_runs + 1) * sizeof *runs);
    char *done = callocCheck((size_t)r->n_runs + 1, 1);
    int tasks = 0, skipped = 0;
    for (int i = 0; i < r->n_runs; i++) {
        if (done[i] || r->runs[i].kind != RK_ARC) continue;
        int n = 0;
        for (int j = i; j < r->n_runs; j++)
            if (!done[j] && r->runs[j].kind == RK_ARC && !strcmp(r->runs[j].problem, r->runs[i].problem))
                done[j] = 1, runs[n++] = j;
        if (tasks++ < MAX_TASKS) task_html(f, r, runs, n);
        else skipped++;
    }
    if (skipped)
        fprintf(f, "<p class=\"quiet\">%d more tasks are not drawn (the first %d are); the summary counts them all."
                   "</p>\n", skipped, MAX_TASKS);
    free(runs), free(done);
}
