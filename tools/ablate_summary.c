// migrate ablate --summarize: the tables of `migrate ablate` again, from ablation.csv files already written (one
// seed per process, a run cut short and finished later, the CSVs committed beside a study), so a reader can check a
// study's figures from its rows.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "coordinator/ablation_stats.h"
#include "coordinator/sweep_results.h"
#include "tools/ablate_summary.h"
#include "tools/report/report.h"

#define MAX_COLS 32
#define MAX_GROUPS 256
#define NAME_LEN 512

// The columns migrate ablate writes; any other column (e.g. a study's "budget") becomes part of the row's name.
enum { C_STRATEGY, C_SETTINGS, C_SEED, C_TARGET, C_SOLVED, C_CALLS, C_CALLS_TO_SOLVE, C_BEST, C_R950, C_R990,
       C_SECONDS, N_KNOWN };
static const char *const KNOWN[N_KNOWN] = {"strategy", "settings", "seed", "target", "solved", "oracle_calls",
                                           "oracle_calls_to_solve", "best_reward", "calls_to_rank950",
                                           "calls_to_rank990", "seconds"};

typedef struct {
    char **names;  // groups in first-seen order
    int n_groups;
    char **pairs;  // "seed target" in first-seen order
    int n_pairs, cap_pairs;
    ablation_run *runs;
    sweep_result *res;
    char **where;  // "file:line" of each run, for the duplicate message
    int n, cap;
} table;

static char *copy_of(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(mallocCheck(n), s, n);
}

static int intern(char ***list, int *n, int *cap, const char *s) {
    for (int i = 0; i < *n; i++)
        if (!strcmp((*list)[i], s)) return i;
    if (cap && *n == *cap) *cap = *cap ? 2 * *cap : 64, *list = reallocCheck(*list, (size_t)*cap * sizeof(char *));
    (*list)[*n] = copy_of(s);
    return (*n)++;
}

static int parse_long(const char *s, long *out) {
    char *end;
    *out = strtol(s, &end, 10);
    return !*s || *end ? -1 : 0;
}

static int read_csv(table *t, const char *path, mg_err *e) {
    report_csv csv;
    char note[512];
    if (report_csv_read(&csv, path, note, sizeof note) < 0) return report_csv_free(&csv), mg_fail(e, "%s", note);
    if (!csv.n) return report_csv_free(&csv), mg_fail(e, "%s: empty", path);
    int col[N_KNOWN], n_cols = 0, extra[MAX_COLS], n_extra = 0, rc = 0;
    while (csv.rows[0][n_cols]) n_cols++;
    for (int k = 0; k < N_KNOWN; k++) col[k] = report_csv_column(&csv, KNOWN[k]);
    for (int c = 0; c < n_cols; c++) {
        int known = 0;
        for (int k = 0; k < N_KNOWN; k++) known |= col[k] == c;
        if (!known && n_extra < MAX_COLS) extra[n_extra++] = c;
    }
    const int need[] = {C_STRATEGY, C_SEED, C_TARGET, C_SOLVED, C_CALLS, C_BEST};
    for (size_t k = 0; !rc && k < sizeof need / sizeof need[0]; k++)
        if (col[need[k]] < 0)
            rc = mg_fail(e, "%s:1: no '%s' column: not an ablation.csv of migrate ablate", path, KNOWN[need[k]]);
    for (int i = 1; !rc && i < csv.n; i++) {
        char **row = csv.rows[i];
        int n_fields = 0, lineno = i + 1;  // the files hold no quoted line breaks: row i is line i + 1
        while (row[n_fields]) n_fields++;
        if (n_fields == 1 && !row[0][0]) continue;  // a blank line
        if (n_fields != n_cols) {
            rc = mg_fail(e, "%s:%d: %d fields, the header has %d", path, lineno, n_fields, n_cols);
            break;
        }
        long solved, calls, to_solve = -1, r950 = -2, r990 = -2;
        double best = report_csv_number(row, col[C_BEST]);
        const char *bad = NULL;
        if (parse_long(row[col[C_SOLVED]], &solved) || (solved != 0 && solved != 1)) bad = "solved";
        else if (parse_long(row[col[C_CALLS]], &calls) || calls < 0) bad = "oracle_calls";
        else if (!isfinite(best)) bad = "best_reward";
        else if (col[C_CALLS_TO_SOLVE] >= 0 && parse_long(row[col[C_CALLS_TO_SOLVE]], &to_solve)) bad = "oracle_calls_to_solve";
        else if (col[C_R950] >= 0 && (parse_long(row[col[C_R950]], &r950) || r950 < -1)) bad = "calls_to_rank950";
        else if (col[C_R990] >= 0 && (parse_long(row[col[C_R990]], &r990) || r990 < -1)) bad = "calls_to_rank990";
        if (bad) {
            rc = mg_fail(e, "%s:%d: %s is not a number of the kind migrate ablate writes", path, lineno, bad);
            break;
        }
        // A solved search stops at the call that solved it: older files without the column lose nothing.
        if (col[C_CALLS_TO_SOLVE] < 0) to_solve = solved ? calls : -1;
        char name[NAME_LEN], pair[NAME_LEN];
        size_t at = (size_t)snprintf(name, sizeof name, "%s", row[col[C_STRATEGY]]);
        if (col[C_SETTINGS] >= 0 && row[col[C_SETTINGS]][0] && at < sizeof name)
            at += (size_t)snprintf(name + at, sizeof name - at, " %s", row[col[C_SETTINGS]]);
        for (int x = 0; x < n_extra && at < sizeof name; x++)
            at += (size_t)snprintf(name + at, sizeof name - at, " %s=%s", csv.rows[0][extra[x]], row[extra[x]]);
        snprintf(pair, sizeof pair, "seed %s target %s", row[col[C_SEED]], row[col[C_TARGET]]);
        int g = intern(&t->names, &t->n_groups, NULL, name);
        if (g == MAX_GROUPS - 1) {
            rc = mg_fail(e, "%s:%d: more than %d rows of the table (strategy and settings)", path, lineno, MAX_GROUPS - 2);
            break;
        }
        int p = intern(&t->pairs, &t->n_pairs, &t->cap_pairs, pair);
        for (int j = 0; j < t->n; j++)
            if (t->runs[j].group == g && t->runs[j].pair == p) {
                rc = mg_fail(e, "%s:%d: a second row for %s, %s (the first: %s)", path, lineno, name, pair, t->where[j]);
                break;
            }
        if (rc) break;
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 256;
            t->runs = reallocCheck(t->runs, (size_t)t->cap * sizeof *t->runs);
            t->res = reallocCheck(t->res, (size_t)t->cap * sizeof *t->res);
            t->where = reallocCheck(t->where, (size_t)t->cap * sizeof *t->where);
        }
        double seconds = report_csv_number(row, col[C_SECONDS]);
        t->runs[t->n] = (ablation_run){g, p, (int)solved, best, calls, {r950, r990}};
        t->res[t->n] = (sweep_result){g, (int)solved, calls, to_solve, best, isfinite(seconds) ? seconds : 0.0};
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        t->where[t->n++] = copy_of(where);
    }
    report_csv_free(&csv);
    return rc;
}

// Keeps the runs whose (seed, target) every row of the table has: a row cut short is then compared with the others
// on its own pairs only.
static void keep_common(table *t) {
    int m = 0;
    for (int i = 0; i < t->n; i++) {
        int groups_with = 0;
        for (int g = 0; g < t->n_groups; g++)
            for (int j = 0; j < t->n; j++)
                if (t->runs[j].group == g && t->runs[j].pair == t->runs[i].pair) {
                    groups_with++;
                    break;
                }
        if (groups_with < t->n_groups) {
            free(t->where[i]);
            continue;
        }
        t->runs[m] = t->runs[i], t->res[m] = t->res[i], t->where[m] = t->where[i];
        m++;
    }
    t->n = m;
}

static void table_free(table *t) {
    for (int i = 0; i < t->n_groups; i++) free(t->names[i]);
    for (int i = 0; i < t->n_pairs; i++) free(t->pairs[i]);
    for (int i = 0; i < t->n; i++) free(t->where[i]);
    free(t->names), free(t->pairs), free(t->runs), free(t->res), free(t->where);
}

void ablate_print_tables(FILE *f, const char *const *rows, int n_rows, const sweep_result *res,
                         const ablation_run *runs, int n, int baseline) {
    const char *thresholds[2] = {"rank >= 950", "rank >= 990"};
    sweep_group_table(f, rows, n_rows, res, n);
    fputc('\n', f);
    ablation_stats_table(f, rows, n_rows, runs, n, thresholds, baseline);
    fputc('\n', f);
    ablation_paired_matrix(f, rows, n_rows, runs, n, "Best reward");
}

int ablate_summarize(int argc, char **argv) {
    const char *baseline_name = NULL, *out = NULL;
    int common = 0, n_files = 0, rc = 0;
    const char **files = callocCheck((size_t)argc + 1, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--baseline") && i + 1 < argc) baseline_name = argv[++i];
        else if (!strcmp(a, "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(a, "--common")) common = 1;
        else if (a[0] != '-') files[n_files++] = a;
        else {
            fprintf(stderr, "migrate ablate --summarize: unexpected argument '%s' (see migrate ablate --help)\n", a);
            return free(files), 2;
        }
    }
    if (!n_files) {
        fprintf(stderr, "migrate ablate --summarize: name at least one ablation.csv (see migrate ablate --help)\n");
        return free(files), 2;
    }
    table t = {0};
    t.names = callocCheck(MAX_GROUPS, sizeof(char *));
    mg_err e;
    for (int i = 0; i < n_files && !rc; i++)
        if (read_csv(&t, files[i], &e)) fprintf(stderr, "migrate ablate --summarize: %s\n", e.msg), rc = 1;
    if (!rc && common) keep_common(&t);
    // As migrate ablate: by default the first row of random sampling, with whatever settings its grid gave it.
    int baseline = -1, by_default = !baseline_name;
    for (int g = t.n_groups - 1; g >= 0; g--)
        if (by_default ? !strncmp(t.names[g], "random", 6) && (!t.names[g][6] || t.names[g][6] == ' ')
                       : !strcmp(t.names[g], baseline_name))
            baseline = g;
    if (!rc && baseline < 0 && !by_default) {
        fprintf(stderr, "migrate ablate --summarize: --baseline '%s' is no row of the table; the rows:", baseline_name);
        for (int g = 0; g < t.n_groups; g++) fprintf(stderr, "%s'%s'", g ? ", " : " ", t.names[g]);
        fputc('\n', stderr);
        rc = 1;
    }
    FILE *f = rc ? NULL : out ? fopen(out, "w") : stdout;
    if (!rc && !f) fprintf(stderr, "migrate ablate --summarize: %s: cannot write: %s\n", out, strerror(errno)), rc = 1;
    if (!rc) {
        fprintf(f, "From %d runs of", t.n);
        for (int i = 0; i < n_files; i++) fprintf(f, "%s%s", i ? ", " : " ", files[i]);
        fprintf(f, "%s.\n\n", common ? " (only the seed and target pairs every row has)" : "");
        ablate_print_tables(f, (const char *const *)t.names, t.n_groups, t.res, t.runs, t.n, baseline);
        if (f != stdout && (ferror(f) | fclose(f))) fprintf(stderr, "migrate ablate --summarize: %s: a write failed\n", out), rc = 1;
    }
    table_free(&t);
    free(files);
    return rc;
}
