// Reads a sweep folder back: manifest.tsv says which elements exist and their overrides, config.yaml + those
// overrides give each element's problem, strategy and seed, and each element's folder holds what its run wrote:
// summary.json when it finished, metrics.jsonl while it runs, job.status from the Slurm template.
#include "coordinator/sweep_collect.h"

#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file.h"
#include "common/run_config.h"
#include "coordinator/sweep_arc.h"
#include "coordinator/sweep_results.h"
#include "common/text.h"

typedef enum { EL_DONE, EL_FAILED, EL_UNFINISHED, EL_MISSING } el_status;
static const char *STATUS[] = {"done", "failed", "unfinished", "missing"};

typedef struct {
    long index;
    char **kv;  // the manifest's overrides (into the manifest text)
    int n_kv;
    el_status status;
    char problem[CFG_STR], strategy[32], best[256], note[2048];
    unsigned long long seed;
    int solved, iterations;
    long calls, calls_to_solve;
    double best_reward, seconds;
    char *arc_file, *arc_id, *arc_solutions;  // ARC elements (task.arc.*), else NULL
} element;

static const char *jstr(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

// summary.json of a finished run (tools/cmd_run.c writes it last). 0 = read; -1 = absent; -2 = unreadable.
static int read_summary(element *el, const char *path) {
    struct stat st;
    if (stat(path, &st)) return -1;
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!json_is_object(j)) {
        snprintf(el->note, sizeof el->note, "%.500s: %.200s", path, j ? "not a JSON object" : err.text);
        json_decref(j);
        return -2;
    }
    el->solved = json_is_true(json_object_get(j, "solved"));
    el->calls = (long)json_integer_value(json_object_get(j, "oracle_calls"));
    json_t *cts = json_object_get(j, "oracle_calls_to_solve");
    el->calls_to_solve = json_is_integer(cts) ? (long)json_integer_value(cts) : -1;
    el->iterations = (int)json_integer_value(json_object_get(j, "iterations"));
    el->best_reward = json_number_value(json_object_get(j, "best_reward"));
    snprintf(el->best, sizeof el->best, "%s", jstr(j, "best"));
    el->seconds = json_number_value(json_object_get(json_object_get(j, "seconds"), "total"));
    json_decref(j);
    return 0;
}

// The last complete line of metrics.jsonl (a run stopped mid-way), with the wall time summed over the lines.
// Returns the number of iterations seen (0: nothing usable).
static int read_metrics(element *el, const char *path) {
    mg_err e;
    size_t len;
    char *text = read_small_file(path, (size_t)1 << 30, &len, 1, NULL, &e);
    if (!text) return 0;
    int lines = 0;
    double secs = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            continue;  // a line cut by a kill
        }
        lines++;
        secs += json_number_value(json_object_get(j, "time/iteration"));
        el->iterations = (int)json_integer_value(json_object_get(j, "iteration"));
        el->calls = (long)json_integer_value(json_object_get(j, "oracle_calls"));
        el->best_reward = json_number_value(json_object_get(j, "best_reward"));
        el->solved = json_is_true(json_object_get(j, "solved"));
        snprintf(el->best, sizeof el->best, "%s", jstr(j, "best"));
        json_decref(j);
    }
    free(text);
    el->seconds = secs;
    return lines;
}

// First line of a small file, newline dropped; "" if none.
static void first_line(const char *path, char *out, size_t cap) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(out, (int)cap, f)) out[strcspn(out, "\r\n")] = '\0';
    fclose(f);
}

// The newest Slurm log of element i (logs/JOBID_i.out) and its last non-empty line, as " log PATH: LINE".
static void log_tail(const char *dir, long i, char *out, size_t cap) {
    char pat[4200];
    snprintf(pat, sizeof pat, "%s/logs/*_%ld.out", dir, i);
    glob_t g;
    out[0] = '\0';
    if (glob(pat, 0, NULL, &g)) return;
    const char *newest = NULL;
    time_t t = 0;
    for (size_t k = 0; k < g.gl_pathc; k++) {
        struct stat st;
        if (!stat(g.gl_pathv[k], &st) && (!newest || st.st_mtime >= t)) newest = g.gl_pathv[k], t = st.st_mtime;
    }
    FILE *f = newest ? fopen(newest, "r") : NULL;
    if (f) {
        char line[512], last[512] = "";
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0]) snprintf(last, sizeof last, "%s", line);
        }
        fclose(f);
        snprintf(out, cap, "; log %s: %s", newest, last[0] ? last : "(empty)");
    }
    globfree(&g);
}

static void collect_one(element *el, const char *dir) {
    char path[4200], js[256], log[1024];
    snprintf(path, sizeof path, "%s/%ld/summary.json", dir, el->index);
    int s = read_summary(el, path);
    if (s == 0) {
        el->status = EL_DONE;
        return;
    }
    char bad[600];
    snprintf(bad, sizeof bad, "%.599s", s == -2 ? el->note : "");
    snprintf(path, sizeof path, "%s/%ld/job.status", dir, el->index);
    first_line(path, js, sizeof js);
    snprintf(path, sizeof path, "%s/%ld/metrics.jsonl", dir, el->index);
    int iters = read_metrics(el, path);
    log_tail(dir, el->index, log, sizeof log);
    int code = 0;
    if (bad[0]) el->status = EL_FAILED, snprintf(el->note, sizeof el->note, "%s%s", bad, log);
    else if (sscanf(js, "exited %d", &code) == 1 && code != 0)
        el->status = EL_FAILED, snprintf(el->note, sizeof el->note, "migrate run exited with status %d%s", code, log);
    else if (iters || js[0])
        el->status = EL_UNFINISHED,
        snprintf(el->note, sizeof el->note, "no summary.json yet: %d iteration%s in metrics.jsonl, job status '%s' "
                 "(running, requeued, or killed without a trace)%s", iters, iters == 1 ? "" : "s",
                 js[0] ? js : "none", log);
    else
        el->status = EL_MISSING,
        snprintf(el->note, sizeof el->note, "no output in %s/%ld: not started (pending?) or lost%s", dir, el->index,
                 log);
}

static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) fputs(*s == '"' ? "\"\"" : (char[2]){*s, 0}, f);
    fputc('"', f);
}

static void md_field(FILE *f, const char *s) {
    for (; *s; s++) fputs(*s == '|' ? "\\|" : (char[2]){*s, 0}, f);
}

// An override shown in the table's last column: one that differs between elements and is not a column already.
static int varies(const element *els, int n, const char *kv) {
    size_t k = strcspn(kv, "=");
    if ((k == 8 && !strncmp(kv, "strategy", 8)) || (k == 11 && !strncmp(kv, "task.target", 11)) ||
        (k == 14 && !strncmp(kv, "task.objective", 14)) ||
        (k == 4 && !strncmp(kv, "seed", 4)) || (k == 10 && !strncmp(kv, "output_dir", 10)))
        return 0;
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < els[i].n_kv && !found; j++) found = !strcmp(els[i].kv[j], kv);
        if (!found) return 1;
    }
    return 0;
}

static void write_tables(FILE *csv, FILE *md, const element *els, int n) {
    fprintf(csv, "element,status,problem,strategy,seed,solved,oracle_calls,oracle_calls_to_solve,best_reward,best,"
                 "iterations,seconds,overrides\n");
    fprintf(md, "| element | problem | strategy | seed | status | solved | oracle calls | best reward | best | "
                "wall time (s) | overrides |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const element *el = &els[i];
        int has = el->status != EL_MISSING;
        fprintf(csv, "%ld,%s,", el->index, STATUS[el->status]);
        csv_field(csv, el->problem);
        fprintf(csv, ",%s,%llu,", el->strategy, el->seed);
        if (has) fprintf(csv, "%d,%ld,%ld,%.6f,", el->solved, el->calls, el->calls_to_solve, el->best_reward);
        else fprintf(csv, ",,,,");
        csv_field(csv, has ? el->best : "");
        if (has) fprintf(csv, ",%d,%.2f,", el->iterations, el->seconds);
        else fprintf(csv, ",,,");
        fprintf(md, "| %ld | ", el->index);
        md_field(md, el->problem);
        fprintf(md, " | %s | %llu | %s | ", el->strategy, el->seed, STATUS[el->status]);
        if (has) {
            fprintf(md, "%s | %ld | %.4f | ", el->solved ? "yes" : "no", el->calls, el->best_reward);
            md_field(md, el->best);
            fprintf(md, " | %.1f | ", el->seconds);
        } else fprintf(md, "- | - | - | - | - | ");
        char ov[2048] = "";
        for (int j = 0, first = 1; j < el->n_kv; j++) {
            if (strncmp(el->kv[j], "output_dir=", 11)) {
                if (!first) strncat(ov, " ", sizeof ov - strlen(ov) - 1);
                strncat(ov, el->kv[j], sizeof ov - strlen(ov) - 1), first = 0;
            }
            if (varies(els, n, el->kv[j])) md_field(md, el->kv[j]), fputc(' ', md);
        }
        csv_field(csv, ov);
        fputc('\n', csv);
        fprintf(md, "|\n");
    }
    // Per strategy, over the finished elements: README's table.
    const char *groups[64];
    int ng = 0, nr = 0;
    sweep_result *r = callocCheck((size_t)n + 1, sizeof *r);
    for (int i = 0; i < n; i++) {
        if (els[i].status != EL_DONE) continue;
        int g = 0;
        while (g < ng && strcmp(groups[g], els[i].strategy)) g++;
        if (g == ng && ng < 64) groups[ng++] = els[i].strategy;
        if (g < ng)
            r[nr++] = (sweep_result){g, els[i].solved, els[i].calls, els[i].calls_to_solve, els[i].best_reward,
                                     els[i].seconds};
    }
    fprintf(md, "\nFinished elements, per strategy:\n\n");
    sweep_group_table(md, groups, ng, r, nr);
    free(r);
}

// An ARC element's problem column: the task id (a task file's name without its folder and .json).
static const char *arc_problem(const run_config *c) {
    static char id[CFG_STR];
    if (c->arc_id[0]) return c->arc_id;
    const char *base = strrchr(c->arc_file, '/');
    snprintf(id, sizeof id, "%s", base ? base + 1 : c->arc_file);
    size_t n = strlen(id);
    if (n > 5 && !strcmp(id + n - 5, ".json")) id[n - 5] = '\0';
    return id;
}

// An override that names the element's task rather than its arm.
static int names_task(const char *kv) {
    return !strncmp(kv, "output_dir=", 11) || !strncmp(kv, "task.arc.file=", 14) || !strncmp(kv, "task.arc.id=", 12) ||
           !strncmp(kv, "task.arc.solutions=", 19);
}

// The ARC elements' answers (sweep_arc.h); 0 when there are none.
static int collect_arc(const char *dir, const element *els, int n) {
    sweep_arc_element *a = callocCheck((size_t)n + 1, sizeof *a);
    char **arms = callocCheck((size_t)n + 1, sizeof *arms);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!els[i].arc_file) continue;
        char *arm = text_printf("%s", "");
        for (int k = 0; k < els[i].n_kv; k++) {
            if (names_task(els[i].kv[k])) continue;
            char *longer = text_printf("%s%s%s", arm, arm[0] ? " " : "", els[i].kv[k]);
            free(arm);
            arm = longer;
        }
        arms[m] = arm;
        a[m++] = (sweep_arc_element){els[i].index, els[i].arc_file, els[i].arc_id, els[i].arc_solutions, arm};
    }
    int rc = m ? sweep_collect_arc(dir, a, m) : 0;
    for (int i = 0; i < m; i++) free(arms[i]);
    free(arms), free(a);
    return rc;
}

int sweep_collect(const char *dir) {
    char path[4200];
    mg_err e;
    size_t len, clen;
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    char *man = read_small_file(path, (size_t)256 << 20, &len, 0, NULL, &e);
    if (!man) return fprintf(stderr, "migrate sweep: %s (is %s a sweep folder?)\n", e.msg, dir), 1;
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    char *cfg_text = read_small_file(path, (size_t)16 << 20, &clen, 0, NULL, &e);
    if (!cfg_text) return fprintf(stderr, "migrate sweep: %s\n", e.msg), free(man), 1;
    int cap = 1;
    for (size_t i = 0; i < len; i++) cap += man[i] == '\n';
    element *els = callocCheck((size_t)cap, sizeof *els);
    int n = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(man, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || !line[0]) continue;
        element *el = &els[n];
        int fields = 1;
        for (char *p = line; *p; p++) fields += *p == '\t';
        el->kv = callocCheck((size_t)fields, sizeof(char *));
        char *s2 = NULL, *end;
        char *idx = strtok_r(line, "\t", &s2);
        el->index = strtol(idx, &end, 10);
        if (*end || end == idx || el->index < 0) {
            fprintf(stderr, "migrate sweep: %s/manifest.tsv: '%s' is not an element index\n", dir, idx);
            free(el->kv);
            rc = 1;
            break;
        }
        for (char *kv = strtok_r(NULL, "\t", &s2); kv; kv = strtok_r(NULL, "\t", &s2)) el->kv[el->n_kv++] = kv;
        n++;
        run_config c;
        if (run_config_parse(&c, cfg_text, clen, path, (const char *const *)el->kv, el->n_kv, &e)) {
            fprintf(stderr, "migrate sweep: element %ld: %s\n", el->index, e.msg);
            rc = 1;
            break;
        }
        const char *problem = c.task == TASK_SEMANTLE   ? c.target
                              : c.task == TASK_MOLECULE ? c.objective
                              : c.task == TASK_ARC      ? arc_problem(&c)
                                                        : c.oracle_command;
        snprintf(el->problem, sizeof el->problem, "%.*s", (int)sizeof el->problem - 1, problem);
        if (c.task == TASK_ARC) {
            el->arc_file = text_printf("%s", c.arc_file), el->arc_id = text_printf("%s", c.arc_id);
            el->arc_solutions = text_printf("%s", c.arc_solutions);
        }
        for (char *q = el->problem; *q; q++)  // a composed objective is YAML over several lines: one table cell
            if (*q == '\n' || *q == '\t') *q = ' ';
        snprintf(el->strategy, sizeof el->strategy, "%s", strategy_name(c.strategy));
        el->seed = (unsigned long long)c.seed;
        run_config_free(&c);
        collect_one(el, dir);
    }
    int done = 0;
    if (!rc) {
        char csv_path[4200], md_path[4200];
        snprintf(csv_path, sizeof csv_path, "%s/results.csv", dir);
        snprintf(md_path, sizeof md_path, "%s/results.md", dir);
        // The markdown goes to the file and to stdout: build it once.
        char *mdtext = NULL;
        size_t mdlen = 0;
        file_atomic csv_file;
        mg_err e;
        FILE *csv = file_atomic_open(&csv_file, csv_path, &e), *mem = open_memstream(&mdtext, &mdlen);
        mgCheck(mem != NULL, "out of memory");
        if (csv) write_tables(csv, mem, els, n);
        fclose(mem);
        if (!csv || file_atomic_commit(&csv_file, &e) || file_write_atomic(md_path, mdtext, mdlen, &e))
            fprintf(stderr, "migrate sweep: %s\n", e.msg), rc = 1;
        if (!rc) fwrite(mdtext, 1, mdlen, stdout), fflush(stdout);
        free(mdtext);
        for (int i = 0; i < n; i++) {
            if (els[i].status == EL_DONE) done++;
            else
                fprintf(stderr, "migrate sweep: element %ld (%s, %s, seed %llu) %s: %s\n", els[i].index,
                        els[i].problem, els[i].strategy, els[i].seed, STATUS[els[i].status], els[i].note);
        }
        if (!rc)
            fprintf(stderr, "migrate sweep: %d of %d elements done; wrote %s and %s\n", done, n, csv_path, md_path);
    }
    int arc = rc ? 0 : collect_arc(dir, els, n);
    for (int i = 0; i < n; i++) free(els[i].kv), free(els[i].arc_file), free(els[i].arc_id), free(els[i].arc_solutions);
    free(els), free(man), free(cfg_text);
    return rc || done < n || arc != 0;
}
