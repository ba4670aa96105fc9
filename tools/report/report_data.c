// The report's raw inputs: metrics.jsonl (one JSON object per iteration, search.c writes it), CSV tables (what
// ablate, pmo and sweep --collect write) and curves. A run killed mid-write leaves a truncated last line: it is
// dropped with a note, and every line before it is kept.
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/file.h"
#include "tools/report/report.h"

const char *const report_metric_keys[RM_COUNT] = {
    [RM_ITERATION] = "iteration",
    [RM_ORACLE_CALLS] = "oracle_calls",
    [RM_REWARD] = "reward",
    [RM_REWARD_ON_POLICY] = "reward/on_policy/mean",
    [RM_REWARD_GREEDY] = "reward/greedy/mean",
    [RM_REWARD_NEIGHBORHOOD] = "reward/neighborhood/mean",
    [RM_REWARD_OPRO] = "reward/opro/mean",
    [RM_BEST_REWARD] = "best_reward",
    [RM_LOSS] = "loss",
    [RM_KL] = "kl",
    [RM_ENTROPY] = "entropy",
    [RM_GRAD_NORM] = "grad_norm",
    [RM_CLIP_LOW] = "clip_ratio/low_mean",
    [RM_CLIP_HIGH] = "clip_ratio/high_mean",
    [RM_CLIP_REGION] = "clip_ratio/region_mean",
    [RM_MEAN_LENGTH] = "completions/mean_length",
    [RM_TOKENS_PER_SECOND] = "tokens_per_second",
    [RM_REPEATS] = "repeats",
    // derived, no key of their own (NULL): RM_SEMANTLE_RANK from best_info ("rank 991/1000"), RM_NEW_CALLS as
    // the difference of oracle_calls between lines
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void report_spread(double *v, int n, double *med, double *lo, double *hi) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) v[k++] = v[i];
    if (!k) {
        *med = *lo = *hi = NAN;
        return;
    }
    qsort(v, (size_t)k, sizeof *v, cmp_double);
    *med = k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
    *lo = v[0], *hi = v[k - 1];
}

void report_curve_add(report_curve *c, double x, double y) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->x = reallocCheck(c->x, (size_t)c->cap * sizeof *c->x);
        c->y = reallocCheck(c->y, (size_t)c->cap * sizeof *c->y);
    }
    c->x[c->n] = x, c->y[c->n] = y, c->n++;
}

void report_curve_free(report_curve *c) {
    free(c->x), free(c->y);
    *c = (report_curve){0};
}

double report_curve_at(const report_curve *c, double x) {
    int lo = 0, hi = c->n;  // the first point past x
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (c->x[mid] <= x) lo = mid + 1;
        else hi = mid;
    }
    return lo ? c->y[lo - 1] : NAN;
}

static void metrics_grow(report_metrics *m) {
    if (m->n < m->cap) return;
    m->cap = m->cap ? 2 * m->cap : 64;
    for (int k = 0; k < RM_COUNT; k++) m->col[k] = reallocCheck(m->col[k], (size_t)m->cap * sizeof(double));
}

static double number_of(const json_t *v) {
    if (json_is_number(v)) return json_number_value(v);
    if (json_is_boolean(v)) return json_is_true(v);
    return NAN;
}

void report_metrics_parse(report_metrics *m, const char *text, size_t len, const char *name, char *note,
                          size_t note_size) {
    note[0] = 0;
    int dropped = 0;
    size_t at = 0;
    for (long line = 1; at < len; line++) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        json_error_t je;
        json_t *o = end > at ? json_loadb(text + at, end - at, 0, &je) : NULL;
        int blank = end == at;
        at = end + 1;
        if (blank) continue;
        if (!json_is_object(o)) {
            if (!dropped++)
                snprintf(note, note_size, "%s line %ld: not a JSON object (%s): dropped", name, line,
                         nl ? "a damaged line" : "a truncated last line, as a run killed mid-write leaves");
            json_decref(o);
            continue;
        }
        metrics_grow(m);
        for (int k = 0; k < RM_COUNT; k++)
            m->col[k][m->n] = report_metric_keys[k] ? number_of(json_object_get(o, report_metric_keys[k])) : NAN;
        double before = m->n ? m->col[RM_ORACLE_CALLS][m->n - 1] : 0;
        m->col[RM_NEW_CALLS][m->n] = m->col[RM_ORACLE_CALLS][m->n] - before;
        const char *info = json_string_value(json_object_get(o, "best_info"));
        int rank;
        if (info && sscanf(info, "rank %d/", &rank) == 1) m->col[RM_SEMANTLE_RANK][m->n] = rank;
        const char *best = json_string_value(json_object_get(o, "best"));
        if (best) report_copy(m->best, sizeof m->best, best);
        if (info) report_copy(m->best_info, sizeof m->best_info, info);
        m->solved = json_is_true(json_object_get(o, "solved"));
        m->n++;
        json_decref(o);
    }
    if (dropped > 1) {
        size_t k = strlen(note);
        snprintf(note + k, note_size - k, " (and %d more such lines)", dropped - 1);
    }
}

void report_metrics_free(report_metrics *m) {
    for (int k = 0; k < RM_COUNT; k++) free(m->col[k]);
    *m = (report_metrics){0};
}

// ---- CSV ----

int report_csv_parse(report_csv *c, char *text) {
    *c = (report_csv){0};
    c->text = text;
    int cap_rows = 0;
    char *r = text, *w = text;
    while (*r) {
        int cap_fields = 8, nf = 0;
        char **fields = mallocCheck((size_t)cap_fields * sizeof *fields);
        for (;;) {  // one field per pass; w writes the unquoted text in place
            if (nf + 1 >= cap_fields) fields = reallocCheck(fields, (size_t)(cap_fields *= 2) * sizeof *fields);
            fields[nf++] = w;
            if (*r == '"') {
                for (r++; *r; r++) {
                    if (*r == '"' && r[1] == '"') *w++ = '"', r++;
                    else if (*r == '"') { r++; break; }
                    else *w++ = *r;
                }
            }
            while (*r && *r != ',' && *r != '\n' && *r != '\r') *w++ = *r++;
            char sep = *r;  // read before the terminator below can overwrite it (w may equal r)
            *w++ = 0;
            if (sep) r++;
            if (sep == ',') continue;
            if (sep == '\r' && *r == '\n') r++;
            break;
        }
        fields[nf] = NULL;
        if (c->n == cap_rows) c->rows = reallocCheck(c->rows, (size_t)(cap_rows = cap_rows ? 2 * cap_rows : 64) *
                                                                   sizeof *c->rows);
        c->rows[c->n++] = fields;
    }
    return c->n;
}

int report_csv_read(report_csv *c, const char *path, char *note, size_t note_size) {
    mg_err e;
    size_t len;
    int missing = 0;
    char *text = read_small_file(path, (size_t)1 << 30, &len, 0, &missing, &e);
    *c = (report_csv){0};
    if (!text) return snprintf(note, note_size, "%s", e.msg), -1;
    if (memchr(text, 0, len)) return free(text), snprintf(note, note_size, "%s: not a CSV file (a NUL byte)", path), -1;
    return report_csv_parse(c, text);
}

int report_csv_column(const report_csv *c, const char *name) {
    if (!c->n) return -1;
    for (int j = 0; c->rows[0][j]; j++)
        if (!strcmp(c->rows[0][j], name)) return j;
    return -1;
}

const char *report_csv_text(char **row, int col) {
    for (int j = 0; col >= 0 && row[j]; j++)
        if (j == col) return row[j];
    return "";
}

double report_csv_number(char **row, int col) {
    const char *t = report_csv_text(row, col);
    char *end;
    double v = strtod(t, &end);
    return t[0] && !*end ? v : NAN;
}

void report_csv_free(report_csv *c) {
    for (int i = 0; i < c->n; i++) free(c->rows[i]);
    free(c->rows), free(c->text);
    *c = (report_csv){0};
}
