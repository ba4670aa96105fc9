// The page: one HTML file with every style and script inline and every figure an inline SVG, so it opens offline
// from a laptop's disk or a cluster's scratch. Sections carry fixed ids (summary, best-so-far, origins, training,
// semantle, pmo, arc, notes) that tests and readers can link to; "#only=FIG" shows one figure alone.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/file.h"
#include "tools/report/report.h"
#include "tools/report/report_arc.h"
#include "tools/report/report_figures.h"
#include "tools/sweep_pmo.h"

static const char *STYLE =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;"
    "padding:0 1em}h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}"
    "table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;"
    "text-align:right;vertical-align:top}th{background:#f3f3f3}td.t{text-align:left}code,pre{font-size:.9em}"
    "pre{background:#f7f7f7;padding:.4em;margin:.2em 0}.figs{display:flex;flex-wrap:wrap;gap:1em}"
    "figure.plot{margin:0;flex:1 1 480px;max-width:720px}figure.plot svg{width:100%;height:auto}"
    "figcaption{font-size:.8em;color:#555}.missing{color:#a00}.quiet{color:#777;font-size:.85em}"
    ".meta{color:#666;font-size:.85em}.task{border:1px solid #ddd;padding:.5em;margin:1em 0}"
    ".pairs{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}.pair{display:flex;gap:.4em;"
    "align-items:center}.lab{font-size:.75em;color:#555}.g{display:inline-grid;gap:1px;background:#555;"
    "border:1px solid #555}.g i{width:9px;height:9px;display:block}.ok{color:#070}.no{color:#a00}"
    ".c0{background:#000}.c1{background:#0074d9}.c2{background:#ff4136}.c3{background:#2ecc40}"
    ".c4{background:#ffdc00}.c5{background:#aaa}.c6{background:#f012be}.c7{background:#ff851b}"
    ".c8{background:#7fdbff}.c9{background:#870c25}";

// "#only=ID": the figure alone on the page (tests screenshot each figure this way; readers can link to one).
static const char *SCRIPT =
    "document.addEventListener('DOMContentLoaded',function(){var h=location.hash;if(h.indexOf('#only=')!==0)return;"
    "var f=document.getElementById(h.slice(6));if(!f)return;var b=document.body;while(b.firstChild)"
    "b.removeChild(b.firstChild);b.appendChild(f);});";

static double median(double *v, int n) {
    double med, lo, hi;
    report_spread(v, n, &med, &lo, &hi);
    return med;
}

static void cell_number(FILE *f, double v, const char *fmt) {
    fputs("<td>", f);
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("&ndash;", f);
    fputs("</td>", f);
}

static void cell_text(FILE *f, const char *s, size_t max) {
    fputs("<td class=\"t\">", f);
    char buf[600];
    snprintf(buf, sizeof buf, "%.*s%s", (int)(max < sizeof buf - 8 ? max : sizeof buf - 8), s,
             strlen(s) > max ? "..." : "");
    for (char *p = buf; *p; p++)
        if (*p == '\n') *p = ' ';
    html_escape(f, buf);
    fputs("</td>", f);
}

// Per group: runs, solved, median best reward, calls, wall time and its phases.
static void summary_groups(FILE *f, const report *r) {
    fputs("<table><tr><th>group</th><th>task</th><th>runs</th><th>finished</th><th>solved</th><th>median best "
          "reward</th><th>median oracle calls</th><th>median seconds</th><th>sampling</th><th>scoring</th>"
          "<th>training</th></tr>\n", f);
    double *v = mallocCheck((size_t)(r->n_runs + 1) * sizeof *v);
    char *done = callocCheck((size_t)r->n_runs + 1, 1);
    for (int i = 0; i < r->n_runs; i++) {
        if (done[i]) continue;
        const report_run *a = &r->runs[i];
        int n = 0, solved = 0, finished = 0;
        int *sel = mallocCheck((size_t)r->n_runs * sizeof *sel);
        for (int j = i; j < r->n_runs; j++)
            if (!done[j] && r->runs[j].kind == a->kind && !strcmp(r->runs[j].group, a->group))
                done[j] = 1, sel[n++] = j, solved += r->runs[j].solved, finished += r->runs[j].finished;
        fputs("<tr>", f), cell_text(f, a->group, 200), cell_text(f, report_kind_names[a->kind], 40);
        fprintf(f, "<td>%d</td><td>%d</td><td>%d</td>", n, finished, solved);
        for (int k = 0; k < n; k++) v[k] = r->runs[sel[k]].best_reward;
        cell_number(f, median(v, n), "%.4f");
        for (int k = 0; k < n; k++) v[k] = (double)r->runs[sel[k]].oracle_calls;
        cell_number(f, median(v, n), "%.0f");
        for (int k = 0; k < n; k++) v[k] = r->runs[sel[k]].seconds;
        cell_number(f, median(v, n), "%.1f");
        for (int k = 0; k < n; k++) v[k] = r->runs[sel[k]].seconds_sample;
        cell_number(f, median(v, n), "%.1f");
        for (int k = 0; k < n; k++) v[k] = r->runs[sel[k]].seconds_score;
        cell_number(f, median(v, n), "%.1f");
        for (int k = 0; k < n; k++) v[k] = r->runs[sel[k]].seconds_train;
        cell_number(f, median(v, n), "%.1f");
        fputs("</tr>\n", f);
        free(sel);
    }
    fputs("</table>\n", f);
    free(v), free(done);
}

#define MAX_RUN_ROWS 400

static void summary_runs(FILE *f, const report *r) {
    if (r->n_runs > 24) fprintf(f, "<details><summary>Every run (%d)</summary>\n", r->n_runs);
    fputs("<table><tr><th>source</th><th>group</th><th>problem</th><th>seed</th><th>solved</th><th>best reward</th>"
          "<th>note</th><th>oracle calls</th><th>iterations</th><th>seconds</th><th>best solution</th></tr>\n", f);
    for (int i = 0; i < r->n_runs && i < MAX_RUN_ROWS; i++) {
        const report_run *u = &r->runs[i];
        fputs("<tr>", f);
        cell_text(f, u->source, 80), cell_text(f, u->group, 80), cell_text(f, u->problem, 60);
        cell_text(f, u->seed, 20);
        fprintf(f, "<td>%s</td>", u->solved ? "yes" : u->finished ? "no" : "running");
        cell_number(f, u->best_reward, "%.4f");
        cell_text(f, u->best_info, 60);
        cell_number(f, (double)u->oracle_calls, "%.0f");
        cell_number(f, u->iterations ? (double)u->iterations : NAN, "%.0f");
        cell_number(f, u->seconds, "%.1f");
        cell_text(f, u->best, 90);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    if (r->n_runs > MAX_RUN_ROWS)
        fprintf(f, "<p class=\"quiet\">The first %d of %d runs; the groups above count them all.</p>\n", MAX_RUN_ROWS,
                r->n_runs);
    if (r->n_runs > 24) fputs("</details>\n", f);
}

// PMO: mean +- std of AUC top-10 per task and strategy beside the published values.
static void pmo_table(FILE *f, const report *r) {
    fputs("<table><tr><th>task</th><th>strategy</th><th>seeds</th><th>AUC top-10 mean</th><th>std</th><th>top-10 at "
          "the end</th><th>REINVENT</th><th>Graph GA</th></tr>\n", f);
    char *done = callocCheck((size_t)r->n_pmo + 1, 1);
    for (int i = 0; i < r->n_pmo; i++) {
        if (done[i]) continue;
        double s = 0, s2 = 0, t = 0;
        int n = 0;
        for (int j = i; j < r->n_pmo; j++) {
            if (done[j] || strcmp(r->pmo[j].task, r->pmo[i].task) || strcmp(r->pmo[j].strategy, r->pmo[i].strategy))
                continue;
            done[j] = 1, n++;
            s += r->pmo[j].auc_top10, s2 += r->pmo[j].auc_top10 * r->pmo[j].auc_top10, t += r->pmo[j].top10;
        }
        double mean = s / n, sd = n > 1 ? sqrt(fmax(0, (s2 - n * mean * mean) / (n - 1))) : NAN;
        const pmo_published *p = pmo_published_find(r->pmo[i].task);
        fputs("<tr>", f), cell_text(f, r->pmo[i].task, 60), cell_text(f, r->pmo[i].strategy, 60);
        fprintf(f, "<td>%d</td>", n);
        cell_number(f, mean, "%.4f"), cell_number(f, sd, "%.4f"), cell_number(f, t / n, "%.4f");
        cell_number(f, p ? p->reinvent : NAN, "%.3f"), cell_number(f, p ? p->graph_ga : NAN, "%.3f");
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    free(done);
}

static int has_kind(const report *r, report_kind k) {
    for (int i = 0; i < r->n_runs; i++)
        if (r->runs[i].kind == k) return 1;
    return 0;
}

static void write_page(FILE *f, report *r, const char *title, int refresh) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", f);
    html_escape(f, title);
    fputs("</title>\n", f);
    if (refresh > 0) fprintf(f, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh);
    fprintf(f, "<style>%s</style>\n<script>%s</script>\n</head><body>\n<h1>", STYLE, SCRIPT);
    html_escape(f, title);
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    fprintf(f, "</h1>\n<p class=\"meta\">migrate report, %d run%s, written %s%s.</p>\n", r->n_runs,
            r->n_runs == 1 ? "" : "s", when,
            refresh > 0 ? (r->unfinished ? "; reloads itself while runs are going" : "; every run has ended") : "");
    int kinds = 0;
    for (int k = 0; k < RK_COUNT; k++) kinds += has_kind(r, (report_kind)k);
    if (kinds > 1)
        report_note(r, "runs of different tasks in one report: their rewards are not on one scale, so each task "
                       "gets its own figures");

    report_figures_begin();
    fputs("<section id=\"summary\"><h2>Summary</h2>\n", f);
    if (r->n_runs) summary_groups(f, r), summary_runs(f, r);
    else fputs("<p class=\"missing\">No run could be read: see the notes at the end.</p>\n", f);
    fputs("</section>\n<section id=\"best-so-far\"><h2>Best reward so far against oracle calls</h2>\n<div class=\"figs\">", f);
    report_figures_best(f, r);
    fputs("</div></section>\n<section id=\"origins\"><h2>Reward by sample origin</h2>\n<div class=\"figs\">", f);
    report_figures_origins(f, r);
    fputs("</div></section>\n<section id=\"training\"><h2>Training and sampling</h2>\n<div class=\"figs\">", f);
    report_figures_training(f, r);
    fputs("</div></section>\n", f);
    if (has_kind(r, RK_SEMANTLE)) {
        fputs("<section id=\"semantle\"><h2>Semantle</h2>\n<div class=\"figs\">", f);
        report_figures_semantle(f, r);
        fputs("</div></section>\n", f);
    }
    if (has_kind(r, RK_MOLECULE)) {
        fputs("<section id=\"pmo\"><h2>Molecules (PMO)</h2>\n", f);
        if (r->n_pmo) pmo_table(f, r);
        fputs("<div class=\"figs\">", f);
        report_figures_pmo(f, r);
        fputs("</div></section>\n", f);
    }
    if (has_kind(r, RK_ARC)) {
        fputs("<section id=\"arc\"><h2>ARC tasks</h2>\n", f);
        report_arc(f, r);
        fputs("</section>\n", f);
    }
    fputs("<section id=\"notes\"><h2>What could not be read or drawn</h2>\n", f);
    if (!r->n_notes) fputs("<p class=\"quiet\">Nothing: every input was read and every figure drawn.</p>\n", f);
    else {
        fputs("<ul>\n", f);
        for (int i = 0; i < r->n_notes; i++) fputs("<li>", f), html_escape(f, r->notes[i]), fputs("</li>\n", f);
        fputs("</ul>\n", f);
    }
    fputs("</section>\n</body></html>\n", f);
}

int report_write_html(report *r, const char *out_path, const char *title, int refresh_seconds, char *msg,
                      size_t msg_size) {
    file_atomic a;
    mg_err e;
    FILE *f = file_atomic_open(&a, out_path, &e);
    if (!f) return snprintf(msg, msg_size, "%s", e.msg), -1;
    write_page(f, r, title, refresh_seconds);
    if (file_atomic_commit(&a, &e)) return snprintf(msg, msg_size, "%s", e.msg), -1;
    return 0;
}
