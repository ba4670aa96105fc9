// Merging the answers of an ARC sweep (see sweep_arc.h).
#include "coordinator/sweep_arc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/text.h"
#include "tasks/arc/answers.h"
#include "tasks/arc/task_file.h"

typedef struct {
    arc_task task;      // its grids (the test outputs when known)
    int loaded;
    arc_answer *answers;  // (task.n_test)
    int has_answers;
    double pass1, pass2, passn, seconds;
    int scored, programs, perfect;
    long calls;
    char note[512];
} arc_row;

static int load_task(const sweep_arc_element *el, arc_task *t, mg_err *e) {
    if (el->id && el->id[0])
        return arc_task_load_combined(t, el->file, el->solutions && el->solutions[0] ? el->solutions : NULL, el->id, e);
    return arc_task_load_file(t, el->file, e);
}

// ELEMENT/arc_result.json into row r: the attempts (checked against the task's shape) and the counts.
static int read_result(const char *dir, const sweep_arc_element *el, arc_row *r) {
    char *path = text_printf("%s/%ld/arc_result.json", dir, el->index);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    int rc = -1;
    if (!j) {
        snprintf(r->note, sizeof r->note, "no %s", path);
        free(path);
        return -1;
    }
    json_t *att = json_object_get(j, "attempts");
    const char *id = json_string_value(json_object_get(j, "task_id"));
    if (!id || strcmp(id, r->task.id) || !json_is_array(att) || (int)json_array_size(att) != r->task.n_test) {
        snprintf(r->note, sizeof r->note, "%.300s: not the answers of task %s with %d test inputs", path, r->task.id,
                 r->task.n_test);
    } else {
        r->answers = callocCheck((size_t)r->task.n_test, sizeof *r->answers);
        rc = 0;
        for (int i = 0; i < r->task.n_test && !rc; i++)
            for (int k = 0; k < 2 && !rc; k++) {
                mg_err e;
                char where[64];
                snprintf(where, sizeof where, "attempts[%d].attempt_%d", i, k + 1);
                json_t *g = json_object_get(json_array_get(att, (size_t)i), k ? "attempt_2" : "attempt_1");
                if (arc_grid_from_json(&r->answers[i].attempt[k], g, where, &e))
                    snprintf(r->note, sizeof r->note, "%.200s: %.200s", path, e.msg), rc = -1;
            }
        json_t *sc = json_object_get(j, "score");
        r->passn = json_number_value(json_object_get(sc, "pass@n"));
        r->programs = (int)json_integer_value(json_object_get(j, "programs"));
        r->perfect = (int)json_integer_value(json_object_get(j, "train_perfect_programs"));
        r->calls = (long)json_integer_value(json_object_get(j, "oracle_calls"));
        r->seconds = json_number_value(json_object_get(j, "seconds"));
    }
    json_decref(j);
    free(path);
    return rc;
}

static void score_row(arc_row *r) {
    if (!r->task.test_outputs) return;
    int p1 = 0, p2 = 0;
    for (int i = 0; i < r->task.n_test; i++) {
        int first = arc_grid_equal(&r->answers[i].attempt[0], &r->task.test_outputs[i]);
        p1 += first;
        p2 += first || arc_grid_equal(&r->answers[i].attempt[1], &r->task.test_outputs[i]);
    }
    r->pass1 = (double)p1 / r->task.n_test, r->pass2 = (double)p2 / r->task.n_test;
    r->scored = 1;
}

static void placeholder(arc_row *r) {
    r->answers = callocCheck((size_t)r->task.n_test, sizeof *r->answers);
    for (int i = 0; i < r->task.n_test; i++)
        arc_grid_init(&r->answers[i].attempt[0], 1, 1, 0), arc_grid_init(&r->answers[i].attempt[1], 1, 1, 0);
}

// One arm: its rows' submission file and its lines of the tables. Returns the number of placeholders, -1 on a
// write failure.
static int write_arm(const char *dir, const char *sub_path, const char *arm, const sweep_arc_element *els,
                     arc_row *rows, const int *members, int n, FILE *md, FILE *csv) {
    arc_submission_entry *entries = callocCheck((size_t)n + 1, sizeof *entries);
    int holes = 0, scored = 0, done = 0;
    double s1 = 0, s2 = 0, sn = 0;
    fprintf(md, "\n### %s%s\n\n`%s`\n\n| task | answers | pass@1 | pass@2 | pass@n | programs | train-perfect | "
                "oracle calls | wall time (s) |\n|---|---|---|---|---|---|---|---|---|\n",
            arm[0] ? "arm: " : "all elements", arm, sub_path);
    for (int k = 0; k < n; k++) {
        arc_row *r = &rows[members[k]];
        const sweep_arc_element *el = &els[members[k]];
        entries[k] = (arc_submission_entry){r->task.id, r->task.n_test, r->answers};
        int has = r->has_answers;
        holes += !has, done += has;
        if (r->scored) s1 += r->pass1, s2 += r->pass2, scored++;
        if (has) sn += r->passn;
        fprintf(md, "| %s | %s |", r->task.id, has ? "yes" : "placeholder");
        if (r->scored) fprintf(md, " %.2f | %.2f |", r->pass1, r->pass2);
        else fprintf(md, " - | - |");
        if (has) fprintf(md, " %.2f | %d | %d | %ld | %.1f |\n", r->passn, r->programs, r->perfect, r->calls, r->seconds);
        else fprintf(md, " - | - | - | - | - |\n");
        fprintf(csv, "\"%s\",%ld,%s,%s,", arm, el->index, r->task.id, has ? "answers" : "placeholder");
        if (r->scored) fprintf(csv, "%.6f,%.6f,", r->pass1, r->pass2);
        else fprintf(csv, ",,");
        if (has) fprintf(csv, "%.6f,%d,%d,%ld,%.2f\n", r->passn, r->programs, r->perfect, r->calls, r->seconds);
        else fprintf(csv, ",,,,\n");
    }
    fprintf(md, "\n%d tasks: %d with answers, %d placeholders; ", n, done, holes);
    if (scored)
        fprintf(md, "score over the %d tasks with known test outputs: pass@1 %.2f%% (%.2f tasks), pass@2 %.2f%% "
                    "(%.2f tasks); pass@n over the tasks with answers %.2f tasks\n",
                scored, 100.0 * s1 / scored, s1, 100.0 * s2 / scored, s2, sn);
    else fprintf(md, "no test outputs are known, so there is no score\n");
    mg_err e;
    int rc = arc_submission_write(sub_path, entries, n, &e);
    if (rc) fprintf(stderr, "migrate sweep: %s\n", e.msg);
    free(entries);
    (void)dir;
    return rc ? -1 : holes;
}

int sweep_collect_arc(const char *dir, const sweep_arc_element *els, int n) {
    arc_row *rows = callocCheck((size_t)n + 1, sizeof *rows);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        mg_err e;
        if (load_task(&els[i], &rows[i].task, &e)) {
            fprintf(stderr, "migrate sweep: element %ld: %s\n", els[i].index, e.msg);
            rc = -1;
            break;
        }
        rows[i].loaded = 1;
        if (read_result(dir, &els[i], &rows[i]) == 0) {
            rows[i].has_answers = 1;
        } else {
            if (rows[i].answers) arc_answers_free(rows[i].answers, rows[i].task.n_test), free(rows[i].answers);
            rows[i].answers = NULL;
            placeholder(&rows[i]);
            fprintf(stderr, "migrate sweep: element %ld, task %s: no answers (%s); its attempts are placeholders\n",
                    els[i].index, rows[i].task.id, rows[i].note);
        }
        score_row(&rows[i]);
    }
    // arms in order of first appearance
    const char **arms = callocCheck((size_t)n + 1, sizeof *arms);
    int *arm_of = callocCheck((size_t)n + 1, sizeof *arm_of), n_arms = 0;
    for (int i = 0; i < n; i++) {
        int a = 0;
        while (a < n_arms && strcmp(arms[a], els[i].arm)) a++;
        if (a == n_arms) arms[n_arms++] = els[i].arm;
        arm_of[i] = a;
    }
    char *mdtext = NULL, *csvtext = NULL;
    size_t mdlen = 0, csvlen = 0;
    FILE *md = open_memstream(&mdtext, &mdlen), *csv = open_memstream(&csvtext, &csvlen);
    mgCheck(md && csv, "out of memory");
    fprintf(md, "## ARC answers\n");
    fprintf(csv, "arm,element,task,answers,pass1,pass2,passn,programs,train_perfect,oracle_calls,seconds\n");
    int holes = 0;
    int *members = callocCheck((size_t)n + 1, sizeof *members);
    for (int a = 0; a < n_arms && !rc; a++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (arm_of[i] == a) members[m++] = i;
        char *sub = n_arms == 1 ? text_printf("%s/submission.json", dir) : text_printf("%s/submission_%d.json", dir, a);
        int h = write_arm(dir, sub, arms[a], els, rows, members, m, md, csv);
        free(sub);
        if (h < 0) rc = -1;
        else holes += h;
    }
    fclose(md), fclose(csv);
    if (!rc) {
        mg_err e;
        char *mdp = text_printf("%s/arc_results.md", dir), *csvp = text_printf("%s/arc_results.csv", dir);
        if (file_write_atomic(mdp, mdtext, mdlen, &e) || file_write_atomic(csvp, csvtext, csvlen, &e))
            fprintf(stderr, "migrate sweep: %s\n", e.msg), rc = -1;
        else fwrite(mdtext, 1, mdlen, stdout), fflush(stdout);
        free(mdp), free(csvp);
    }
    free(mdtext), free(csvtext), free(members), free(arms), free(arm_of);
    for (int i = 0; i < n; i++) {
        if (rows[i].answers) arc_answers_free(rows[i].answers, rows[i].task.n_test), free(rows[i].answers);
        if (rows[i].loaded) arc_task_free(&rows[i].task);
    }
    free(rows);
    return rc ? -1 : holes > 0;
}
