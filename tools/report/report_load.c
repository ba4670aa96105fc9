// What `migrate report` reads, by what a path holds:
//   a run's output folder     metrics.jsonl, summary.json (once it ended), checkpoint.h5 (the config), arc_result.json
//   a sweep folder            manifest.tsv: one run folder per element, its --set overrides naming the run
//   an ablation folder        ablation.csv (one row per run) and best_curves.csv (best reward so far per run)
//   a PMO folder              pmo.csv and top10_curves.csv
//   a checkpoint (.h5)        the run's config, its metrics.jsonl copy and the archive in scoring order
// A path that holds none of these, a file that does not parse, a run still going: a note, never a stop.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "common/error.h"
#include "common/file.h"
#include "common/run_config.h"
#include "coordinator/checkpoint.h"
#include "tools/report/report.h"

const char *const report_kind_names[RK_COUNT] = {"unknown", "semantle", "molecule", "arc", "oracle"};

void report_note(report *r, const char *fmt, ...) {
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 32) *p = ' ';
    fprintf(stderr, "migrate report: %s\n", line);
    if (r->n_notes < REPORT_MAX_NOTES) r->notes[r->n_notes++] = strdup(line);
}

static report_run *new_run(report *r, const char *source) {
    if (r->n_runs == r->cap_runs)
        r->runs = reallocCheck(r->runs, (size_t)(r->cap_runs = r->cap_runs ? 2 * r->cap_runs : 16) * sizeof *r->runs);
    report_run *u = &r->runs[r->n_runs++];
    *u = (report_run){.best_reward = NAN, .seconds = NAN, .seconds_sample = NAN, .seconds_score = NAN,
                      .seconds_train = NAN};
    report_copy(u->source, sizeof u->source, source);
    snprintf(u->group, sizeof u->group, "run");
    return u;
}

static int exists(const char *dir, const char *name, char *path, size_t size) {
    struct stat st;
    snprintf(path, size, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void base_name(char *out, size_t size, const char *path, const char *drop_suffix) {
    const char *b = strrchr(path, '/');
    report_copy(out, size, b ? b + 1 : path);
    size_t n = strlen(out), k = strlen(drop_suffix);
    if (n > k && !strcmp(out + n - k, drop_suffix)) out[n - k] = 0;
}

// The run's identity from its effective config (a checkpoint's /config).
static void from_config(report_run *u, const char *yaml, const char *where, const char *const *sets, int n_sets,
                        report *r) {
    run_config cfg;
    mg_err e;
    if (run_config_parse(&cfg, yaml, strlen(yaml), where, sets, n_sets, &e)) {
        report_note(r, "%s", e.msg);
        return;
    }
    report_copy(u->group, sizeof u->group, strategy_name(cfg.strategy));
    snprintf(u->seed, sizeof u->seed, "%llu", (unsigned long long)cfg.seed);
    switch (cfg.task) {
    case TASK_SEMANTLE:
        u->kind = RK_SEMANTLE;
        report_copy(u->problem, sizeof u->problem, cfg.target);
        break;
    case TASK_MOLECULE:
        u->kind = RK_MOLECULE;
        report_copy(u->problem, sizeof u->problem, strpbrk(cfg.objective, "\n{:,") ? "(config objective)"
                                                                                       : cfg.objective);
        break;
    case TASK_ARC:
        u->kind = RK_ARC;
        report_copy(u->arc_file, sizeof u->arc_file, cfg.arc_file);
        report_copy(u->arc_id, sizeof u->arc_id, cfg.arc_id);
        report_copy(u->arc_solutions, sizeof u->arc_solutions, cfg.arc_solutions);
        if (cfg.arc_id[0]) report_copy(u->problem, sizeof u->problem, cfg.arc_id);
        else base_name(u->problem, sizeof u->problem, cfg.arc_file, ".json");
        break;
    default:
        u->kind = RK_ORACLE;
        snprintf(u->problem, sizeof u->problem, "external oracle");
    }
    run_config_free(&cfg);
}

static void curve_from_metrics(report_run *u) {
    const report_metrics *m = &u->metrics;
    for (int i = 0; i < m->n; i++) {
        if (!isfinite(m->col[RM_ORACLE_CALLS][i])) continue;
        if (isfinite(m->col[RM_BEST_REWARD][i]))
            report_curve_add(&u->best_curve, m->col[RM_ORACLE_CALLS][i], m->col[RM_BEST_REWARD][i]);
        if (isfinite(m->col[RM_SEMANTLE_RANK][i]))
            report_curve_add(&u->rank_curve, m->col[RM_ORACLE_CALLS][i], m->col[RM_SEMANTLE_RANK][i]);
    }
    if (!m->n) return;
    u->oracle_calls = (long)m->col[RM_ORACLE_CALLS][m->n - 1];
    u->iterations = (long)m->col[RM_ITERATION][m->n - 1];
    u->best_reward = m->col[RM_BEST_REWARD][m->n - 1];
    u->solved = m->solved;
    report_copy(u->best, sizeof u->best, m->best);
    report_copy(u->best_info, sizeof u->best_info, m->best_info);
}

static void read_summary(report_run *u, const char *path, report *r) {
    json_error_t je;
    json_t *s = json_load_file(path, 0, &je);
    if (!json_is_object(s)) {
        report_note(r, "%s: not JSON (line %d: %s): the run's totals are taken from its metrics", path, je.line,
                    je.text);
        json_decref(s);
        return;
    }
    u->finished = 1;
    const char *v;
    if ((v = json_string_value(json_object_get(s, "strategy"))) && !strcmp(u->group, "run"))
        report_copy(u->group, sizeof u->group, v);
    u->solved = json_is_true(json_object_get(s, "solved"));
    json_t *x;
    if (json_is_integer(x = json_object_get(s, "oracle_calls"))) u->oracle_calls = (long)json_integer_value(x);
    if (json_is_integer(x = json_object_get(s, "iterations"))) u->iterations = (long)json_integer_value(x);
    if (json_is_number(x = json_object_get(s, "best_reward"))) u->best_reward = json_number_value(x);
    if ((v = json_string_value(json_object_get(s, "best")))) report_copy(u->best, sizeof u->best, v);
    if ((v = json_string_value(json_object_get(s, "best_info")))) report_copy(u->best_info, sizeof u->best_info, v);
    json_t *t = json_object_get(s, "seconds");
    if (json_is_number(x = json_object_get(t, "total"))) u->seconds = json_number_value(x);
    if (json_is_number(x = json_object_get(t, "sample"))) u->seconds_sample = json_number_value(x);
    if (json_is_number(x = json_object_get(t, "score"))) u->seconds_score = json_number_value(x);
    if (json_is_number(x = json_object_get(t, "train"))) u->seconds_train = json_number_value(x);
    json_decref(s);
}

static void read_metrics_text(report_run *u, const char *text, size_t len, const char *name, report *r) {
    char note[600];
    report_metrics_parse(&u->metrics, text, len, name, note, sizeof note);
    if (note[0]) report_note(r, "%s", note);
    curve_from_metrics(u);
}

// What a run folder's files say when no config names the task: Semantle notes a rank, ARC writes arc_result.json.
static void guess_kind(report_run *u) {
    if (u->kind != RK_UNKNOWN) return;
    if (u->arc_result[0]) u->kind = RK_ARC;
    else if (!strncmp(u->best_info, "rank ", 5)) u->kind = RK_SEMANTLE;
    else if (strstr(u->best_info, "train pairs")) u->kind = RK_ARC;
}

// One run folder. A sweep element passes the sweep's config and its overrides (sweep_yaml, sets): they name the
// run even before its first checkpoint; otherwise the checkpoint's config does.
static int load_run_dir(report *r, const char *dir, int quiet_if_empty, const char *sweep_yaml, const char *where,
                        const char *const *sets, int n_sets) {
    char path[2200];
    int has_metrics = exists(dir, "metrics.jsonl", path, sizeof path), has_summary, has_ckpt;
    char summary[2200], ckpt[2200];
    has_summary = exists(dir, "summary.json", summary, sizeof summary);
    has_ckpt = exists(dir, "checkpoint.h5", ckpt, sizeof ckpt);
    if (!has_metrics && !has_summary && !has_ckpt) {
        if (!quiet_if_empty)
            report_note(r, "%s: nothing a report reads (no metrics.jsonl, summary.json or checkpoint.h5: a run that "
                           "has not written its first iteration yet?)", dir);
        return 0;
    }
    report_run *u = new_run(r, dir);
    if (sweep_yaml) from_config(u, sweep_yaml, where, sets, n_sets, r);
    else if (has_ckpt) {
        checkpoint c = {0};
        mg_err e;
        if (checkpoint_read_header(&c, ckpt, &e)) report_note(r, "%s", e.msg);
        else {
            char where[2300];
            snprintf(where, sizeof where, "%s:/config", ckpt);
            from_config(u, c.config, where, NULL, 0, r);
        }
        checkpoint_free(&c);
    }
    if (has_metrics) {
        mg_err e;
        size_t len;
        char *text = read_small_file(path, (size_t)1 << 30, &len, 0, NULL, &e);
        if (!text) report_note(r, "%s", e.msg);
        else read_metrics_text(u, text, len, path, r), free(text);
    }
    if (has_summary) read_summary(u, summary, r);
    if (exists(dir, "arc_result.json", path, sizeof path)) report_copy(u->arc_result, sizeof u->arc_result, path);
    guess_kind(u);
    if (!u->finished) r->unfinished++;
    return 1;
}

// A sweep's element folders, named by the manifest's overrides: the problem from the key that picks it, the
// group from the strategy and any other grid key.
// Which override keys of a manifest take more than one value: only those name a group (the user's own --set
// flags, iterations=2 on every element, say nothing about what the sweep compares).
#define MAX_KEYS 64
typedef struct {
    char key[128], first[256];
    int varies;
} manifest_key;

static int manifest_keys(const char *text, manifest_key *keys) {
    int nk = 0;
    for (const char *line = text; *line; ) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        if (line[0] != '#')
            for (const char *f = strchr(line, '\t'); f && f < end; f = strchr(f, '\t')) {
                f++;
                const char *eq = memchr(f, '=', (size_t)(end - f)), *stop = strpbrk(f, "\t\n");
                if (!stop) stop = end;
                if (!eq || eq > stop) continue;
                char key[128], value[256];
                snprintf(key, sizeof key, "%.*s", (int)(eq - f) < 127 ? (int)(eq - f) : 127, f);
                snprintf(value, sizeof value, "%.*s", (int)(stop - eq - 1) < 255 ? (int)(stop - eq - 1) : 255, eq + 1);
                int k = 0;
                while (k < nk && strcmp(keys[k].key, key)) k++;
                if (k == nk && nk < MAX_KEYS) {
                    report_copy(keys[nk].key, sizeof keys[nk].key, key);
                    report_copy(keys[nk].first, sizeof keys[nk].first, value);
                    keys[nk++].varies = 0;
                } else if (k < nk && strcmp(keys[k].first, value)) {
                    keys[k].varies = 1;
                }
            }
        line = *end ? end + 1 : end;
    }
    return nk;
}

static int varies(const manifest_key *keys, int nk, const char *key) {
    for (int k = 0; k < nk; k++)
        if (!strcmp(keys[k].key, key)) return keys[k].varies;
    return 1;
}

static int load_sweep(report *r, const char *dir) {
    char path[2200];
    exists(dir, "manifest.tsv", path, sizeof path);
    mg_err e;
    size_t len;
    char *text = read_small_file(path, (size_t)1 << 28, &len, 0, NULL, &e);
    if (!text) return report_note(r, "%s", e.msg), 0;
    char cfg_path[2200];
    char *yaml = exists(dir, "config.yaml", cfg_path, sizeof cfg_path)
                     ? read_small_file(cfg_path, (size_t)1 << 24, &len, 0, NULL, &e) : NULL;
    if (!yaml) report_note(r, "%s: no readable config.yaml: each element is named by its checkpoint", dir);
    manifest_key keys[MAX_KEYS];
    int nk = manifest_keys(text, keys);
    int loaded = 0, missing = 0, elements = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') continue;
        char *fields[64];
        int nf = 0;
        for (char *f = line; f && nf < 64; ) {
            fields[nf++] = f;
            char *tab = strchr(f, '\t');
            if (tab) *tab = 0;
            f = tab ? tab + 1 : NULL;
        }
        char out[1024] = "", problem[256] = "", seed[32] = "", group[256] = "";
        const char *sets[64];
        int n_sets = 0;
        for (int i = 1; i < nf; i++) {
            char *eq = strchr(fields[i], '=');
            if (!eq || !strncmp(fields[i], "output_dir=", 11)) {
                if (eq) report_copy(out, sizeof out, eq + 1);
                continue;
            }
            sets[n_sets++] = fields[i];
            char k[256];
            size_t kl = (size_t)(eq - fields[i]) < sizeof k ? (size_t)(eq - fields[i]) : sizeof k - 1;
            memcpy(k, fields[i], kl), k[kl] = 0;
            const char *v = eq + 1;
            if (!strcmp(k, "seed")) report_copy(seed, sizeof seed, v);
            else if (!strcmp(k, "task.target") || !strcmp(k, "task.arc.id") || !strcmp(k, "task.objective"))
                report_copy(problem, sizeof problem, v);
            else if (!strcmp(k, "task.arc.file")) base_name(problem, sizeof problem, v, ".json");
            else if (!strcmp(k, "strategy") || varies(keys, nk, k)) {
                size_t n = strlen(group);
                if (!strcmp(k, "strategy")) snprintf(group + n, sizeof group - n, "%s%.100s", n ? " " : "", v);
                else snprintf(group + n, sizeof group - n, "%s%.100s=%.100s", n ? " " : "", k, v);
            }
        }
        if (!out[0]) continue;
        elements++;
        if (out[0] != '/') {  // relative to where the sweep ran; the folder beside manifest.tsv is the same element
            char local[2200];
            snprintf(local, sizeof local, "%s/%s", dir, strrchr(out, '/') ? strrchr(out, '/') + 1 : out);
            report_copy(out, sizeof out, local);
        }
        int n0 = r->n_runs;
        if (!load_run_dir(r, out, 1, yaml, cfg_path, sets, n_sets)) { missing++; continue; }
        report_run *u = &r->runs[n0];
        if (group[0]) report_copy(u->group, sizeof u->group, group);
        if (problem[0]) report_copy(u->problem, sizeof u->problem, problem);
        if (seed[0]) report_copy(u->seed, sizeof u->seed, seed);
        loaded++;
    }
    free(text), free(yaml);
    if (!elements) report_note(r, "%s: no element in manifest.tsv", path);
    if (missing) report_note(r, "%s: %d of %d elements have no output yet (not started, or failed before their "
                                "first iteration)", dir, missing, elements);
    return loaded;
}

// best_curves.csv / top10_curves.csv: rows "strategy,settings,seed,problem,calls,value", each run's points in
// order. Attached to the runs of the same (group, seed, problem).
static void load_curves(report *r, int first_run, const char *dir, const char *name, int top10) {
    char path[2200], note[1200];
    if (!exists(dir, name, path, sizeof path)) {
        report_note(r, "%s: no %s (older versions of migrate did not write it): no %s curves from this folder", dir,
                    name, top10 ? "top-10" : "best-so-far");
        return;
    }
    report_csv c;
    if (report_csv_read(&c, path, note, sizeof note) < 0) return report_note(r, "%s", note);
    int cs = report_csv_column(&c, "strategy"), cg = report_csv_column(&c, "settings"),
        cd = report_csv_column(&c, "seed"), cp = report_csv_column(&c, "problem"), cx = report_csv_column(&c, "calls"),
        cy = report_csv_column(&c, "value");
    if (cs < 0 || cg < 0 || cd < 0 || cp < 0 || cx < 0 || cy < 0) {
        report_note(r, "%s: expected the columns strategy,settings,seed,problem,calls,value", path);
        return report_csv_free(&c);
    }
    report_run *u = NULL;
    int bad = 0;
    for (int i = 1; i < c.n; i++) {
        char **f = c.rows[i];
        const char *settings = report_csv_text(f, cg), *seed = report_csv_text(f, cd),
                   *problem = report_csv_text(f, cp);
        char group[256];
        snprintf(group, sizeof group, "%s%s%s", report_csv_text(f, cs), settings[0] ? " " : "", settings);
        if (!u || strcmp(u->group, group) || strcmp(u->seed, seed) || strcmp(u->problem, problem)) {
            u = NULL;
            for (int k = first_run; k < r->n_runs && !u; k++)
                if (!strcmp(r->runs[k].group, group) && !strcmp(r->runs[k].seed, seed) &&
                    !strcmp(r->runs[k].problem, problem))
                    u = &r->runs[k];
            if (!u) { bad++; continue; }
        }
        double x = report_csv_number(f, cx), y = report_csv_number(f, cy);
        if (!isfinite(x) || !isfinite(y)) { bad++; continue; }
        report_curve_add(top10 ? &u->top10_curve : &u->best_curve, x, y);
    }
    if (bad) report_note(r, "%s: %d rows skipped (too few fields, not numbers, or no matching run)", path, bad);
    report_csv_free(&c);
}

// ablation.csv (Semantle) or pmo.csv: one run per row.
static int load_table(report *r, const char *dir, int pmo) {
    char path[2200], note[1200];
    exists(dir, pmo ? "pmo.csv" : "ablation.csv", path, sizeof path);
    report_csv c;
    if (report_csv_read(&c, path, note, sizeof note) < 0) return report_note(r, "%s", note), 0;
    int cs = report_csv_column(&c, "strategy"), cg = report_csv_column(&c, "settings"),
        cd = report_csv_column(&c, "seed"), cp = report_csv_column(&c, pmo ? "task" : "target"),
        cb = report_csv_column(&c, pmo ? "top1" : "best_reward"), cn = report_csv_column(&c, pmo ? "samples" : "oracle_calls"),
        cw = report_csv_column(&c, "seconds"), cv = report_csv_column(&c, "solved"),
        ca = report_csv_column(&c, "auc_top10"), ct = report_csv_column(&c, "top10"),
        cbest = report_csv_column(&c, "best");
    if (cs < 0 || cd < 0 || cp < 0 || cb < 0) {
        report_note(r, "%s: not a table migrate %s writes (no strategy, seed, %s or %s column)", path,
                    pmo ? "pmo" : "ablate", pmo ? "task" : "target", pmo ? "top1" : "best_reward");
        return report_csv_free(&c), 0;
    }
    int first = r->n_runs, bad = 0;
    for (int i = 1; i < c.n; i++) {
        char **f = c.rows[i];
        double best = report_csv_number(f, cb);
        if (!report_csv_text(f, cs)[0] || !isfinite(best)) { bad++; continue; }
        report_run *u = new_run(r, dir);
        const char *settings = report_csv_text(f, cg);
        snprintf(u->group, sizeof u->group, "%s%s%s", report_csv_text(f, cs), settings[0] ? " " : "", settings);
        report_copy(u->seed, sizeof u->seed, report_csv_text(f, cd));
        report_copy(u->problem, sizeof u->problem, report_csv_text(f, cp));
        u->kind = pmo ? RK_MOLECULE : RK_SEMANTLE;
        u->finished = 1;
        u->best_reward = best;
        u->solved = report_csv_number(f, cv) == 1;
        double calls = report_csv_number(f, cn);
        u->oracle_calls = isfinite(calls) ? (long)calls : 0;
        u->seconds = report_csv_number(f, cw);
        if (cbest >= 0) report_copy(u->best, sizeof u->best, report_csv_text(f, cbest));
        if (pmo) {
            if (r->n_pmo == r->cap_pmo)
                r->pmo = reallocCheck(r->pmo, (size_t)(r->cap_pmo = r->cap_pmo ? 2 * r->cap_pmo : 32) * sizeof *r->pmo);
            report_pmo_row *p = &r->pmo[r->n_pmo++];
            report_copy(p->task, sizeof p->task, u->problem);
            report_copy(p->strategy, sizeof p->strategy, u->group);
            report_copy(p->seed, sizeof p->seed, u->seed);
            p->auc_top10 = report_csv_number(f, ca), p->top10 = report_csv_number(f, ct);
        }
    }
    if (bad) report_note(r, "%s: %d rows skipped (no strategy or no number in %s)", path, bad, pmo ? "top1" : "best_reward");
    report_csv_free(&c);
    if (r->n_runs > first) load_curves(r, first, dir, pmo ? "top10_curves.csv" : "best_curves.csv", pmo);
    return r->n_runs - first;
}

// A checkpoint: the whole file, verified. Its archive gives the exact best-so-far curve (one point per oracle
// call that raised the best).
static int load_checkpoint(report *r, const char *path) {
    checkpoint c = {0};
    mg_err e;
    if (checkpoint_read(&c, path, NULL, &e)) {
        report_note(r, "%s", e.msg);
        checkpoint_free(&c);
        return 0;
    }
    report_run *u = new_run(r, path);
    char where[1200];
    snprintf(where, sizeof where, "%s:/config", path);
    from_config(u, c.config, where, NULL, 0, r);
    snprintf(where, sizeof where, "%s:/metrics", path);
    if (c.metrics && c.metrics_bytes > 0) read_metrics_text(u, c.metrics, (size_t)c.metrics_bytes, where, r);
    report_curve_free(&u->best_curve);
    double best = -INFINITY;
    for (int64_t i = 0; i < c.n_entries; i++)
        if (c.valid[i] && c.reward[i] > best) report_curve_add(&u->best_curve, (double)(i + 1), best = c.reward[i]);
    u->finished = 1;
    u->oracle_calls = (long)c.oracle_calls;
    u->iterations = (long)c.iteration;
    u->solved = (int)c.solved;
    u->seconds = c.seconds[3], u->seconds_sample = c.seconds[0], u->seconds_score = c.seconds[1];
    u->seconds_train = c.seconds[2];
    if (c.best >= 0 && c.best < c.n_entries) {
        u->best_reward = c.reward[c.best];
        int64_t from = c.best ? c.canonical_end[c.best - 1] : 0;
        snprintf(u->best, sizeof u->best, "%.*s", (int)(c.canonical_end[c.best] - from), c.canonical + from);
    }
    if (c.best_info) report_copy(u->best_info, sizeof u->best_info, c.best_info);
    checkpoint_free(&c);
    return 1;
}

int report_load(report *r, const char *path) {
    struct stat st;
    char p[2200];
    if (stat(path, &st)) return report_note(r, "%s: cannot read it (no such file or folder?)", path), 0;
    if (S_ISREG(st.st_mode)) {
        size_t n = strlen(path);
        if (n > 3 && !strcmp(path + n - 3, ".h5")) return load_checkpoint(r, path);
        return report_note(r, "%s: a file that is not a checkpoint (.h5): give its run folder instead", path), 0;
    }
    if (!S_ISDIR(st.st_mode)) return report_note(r, "%s: neither a folder nor a checkpoint", path), 0;
    if (exists(path, "manifest.tsv", p, sizeof p)) return load_sweep(r, path);
    if (exists(path, "ablation.csv", p, sizeof p)) return load_table(r, path, 0);
    if (exists(path, "pmo.csv", p, sizeof p)) return load_table(r, path, 1);
    if (exists(path, "sweep/manifest.tsv", p, sizeof p)) {  // `migrate run` of a job with a sweep: section
        snprintf(p, sizeof p, "%s/sweep", path);
        return load_sweep(r, p);
    }
    if (load_run_dir(r, path, 1, NULL, NULL, NULL, 0)) return 1;
    return report_note(r, "%s: an empty folder, or one with nothing a report reads (metrics.jsonl, summary.json, "
                          "checkpoint.h5, manifest.tsv, ablation.csv, pmo.csv)", path), 0;
}

void report_free(report *r) {
    for (int i = 0; i < r->n_runs; i++) {
        report_curve_free(&r->runs[i].best_curve);
        report_curve_free(&r->runs[i].top10_curve);
        report_curve_free(&r->runs[i].rank_curve);
        report_metrics_free(&r->runs[i].metrics);
    }
    for (int i = 0; i < r->n_notes; i++) free(r->notes[i]);
    free(r->runs), free(r->pmo);
    *r = (report){0};
}
