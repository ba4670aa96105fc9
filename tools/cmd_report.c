// migrate report: runs, sweeps, ablations, PMO grids and checkpoints into one self-contained HTML page of figures
// (tools/report/). --watch re-renders a live run's page until every run in it has ended.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/report/report.h"

static const char *HELP =
    "usage: migrate report PATH... [--out FILE] [--title TEXT] [--watch [SECONDS]]\n"
    "\n"
    "Writes one HTML page (every figure, style and script inline: it opens offline) from the output of\n"
    "searches. Each PATH is one of:\n"
    "  a run's output folder     metrics.jsonl, summary.json, checkpoint.h5 and, for ARC, arc_result.json\n"
    "  a sweep folder            manifest.tsv and one run folder per element (or the run folder above it)\n"
    "  an ablation folder        ablation.csv and best_curves.csv (migrate ablate)\n"
    "  a PMO folder              pmo.csv and top10_curves.csv (migrate pmo)\n"
    "  a checkpoint              FILE.h5: its config, metrics copy and archive\n"
    "The page has a summary table per group (strategy, with an ablation's grid settings) and per run; the best\n"
    "reward so far against oracle calls, one line per group (median over seeds, band from min to max); the mean\n"
    "reward by sample origin (on-policy, greedy, neighborhood) by iteration; loss, KL, entropy, gradient norm,\n"
    "clip ratios, completion length and tokens/s; and where the task has them: the Semantle rank of the best\n"
    "guess, PMO's top-10 curves beside REINVENT's and Graph GA's published AUCs, ARC tasks drawn as grids with the\n"
    "best run's attempts and program. Inputs that cannot be read and figures that cannot be drawn are named at\n"
    "the end of the page (and on stderr); the page is still written. Figures are drawn by gnuplot (Debian's\n"
    "gnuplot-nox; MIGRATE_GNUPLOT names another program).\n"
    "\n"
    "  --out FILE        the page (default report.html)\n"
    "  --title TEXT      its heading (default: the paths)\n"
    "  --watch [S]       re-render every S seconds (default 10) while any run is going; the page reloads\n"
    "                    itself in the browser at the same pace. Ends when every run has written summary.json\n"
    "                    (it waits for a run folder that has nothing in it yet; Ctrl-C stops it).\n"
    "\n"
    "Exit status: 0 when the page was written (even with notes), 1 when it could not be, 2 on bad options.\n";

static volatile sig_atomic_t stop_watch;
static void on_signal(int sig) { (void)sig, stop_watch = 1; }

// unfinished: runs still going, or -1 when no run could be read yet (a watched run that has not started)
static int render(char **paths, int n, const char *out, const char *title, int refresh, int *unfinished) {
    report r = {0};
    for (int i = 0; i < n; i++) report_load(&r, paths[i]);
    char msg[1200];
    int rc = report_write_html(&r, out, title, refresh, msg, sizeof msg);
    if (rc) fprintf(stderr, "migrate report: %s\n", msg);
    else fprintf(stderr, "migrate report: wrote %s (%d run%s, %d note%s)\n", out, r.n_runs, r.n_runs == 1 ? "" : "s",
                 r.n_notes, r.n_notes == 1 ? "" : "s");
    *unfinished = r.n_runs ? r.unfinished : -1;
    report_free(&r);
    return rc ? 1 : 0;
}

int cmd_report(int argc, char **argv) {
    const char *out = "report.html", *title = NULL;
    int watch = 0;
    char **paths = callocCheck((size_t)argc + 1, sizeof *paths);
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(HELP, stdout), free(paths), 0;
        if (!strcmp(a, "--out") || !strcmp(a, "--title")) {
            if (i + 1 >= argc) return fprintf(stderr, "migrate report: %s needs a value\n", a), free(paths), 2;
            *(!strcmp(a, "--out") ? &out : &title) = argv[++i];
        } else if (!strcmp(a, "--watch")) {
            watch = 10;
            if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9' &&
                cli_int("report", "--watch", argv[++i], 1, 86400, &watch))
                return free(paths), 2;
        } else if (a[0] == '-' && a[1]) {
            return fprintf(stderr, "migrate report: unknown option '%s' (see --help)\n", a), free(paths), 2;
        } else {
            paths[n++] = argv[i];
        }
    }
    if (!n) return fprintf(stderr, "migrate report: give at least one run, sweep, ablation or PMO folder, or a "
                                   "checkpoint (see --help)\n"), free(paths), 2;
    char default_title[1024] = "";
    if (!title) {
        for (int i = 0; i < n; i++) {
            size_t k = strlen(default_title);
            snprintf(default_title + k, sizeof default_title - k, "%s%s", i ? ", " : "", paths[i]);
        }
        title = default_title;
    }
    int unfinished = 0, rc = render(paths, n, out, title, watch, &unfinished);
    if (watch && !rc) {
        signal(SIGINT, on_signal), signal(SIGTERM, on_signal);
        // Every period re-renders: comparing modification times instead missed a run that ended between a render
        // and the look at its files (and one-second mtimes miss writes within a second), leaving the page stale.
        while (unfinished && !stop_watch && !rc) {
            sleep((unsigned)watch);
            rc = render(paths, n, out, title, watch, &unfinished);
        }
        if (!rc && !stop_watch) rc = render(paths, n, out, title, 0, &unfinished);  // final: no reload tag
    }
    free(paths);
    return rc;
}
