// The detail text of an ARC program and the files a finished ARC search writes.
#include "tasks/arc/outcome.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/text.h"

char *arc_detail_encode(const arc_output *test, const char *const *why, int n_test) {
    json_t *a = json_array();
    for (int i = 0; i < n_test; i++) {
        if (test[i].ok) json_array_append_new(a, arc_grid_to_json(&test[i].grid));
        else json_array_append_new(a, json_pack("{s:s}", "error", why && why[i] ? why[i] : "failed"));
    }
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    mgCheck(text != NULL, "out of memory encoding test outputs");
    return text;
}

void arc_outputs_free(arc_output *o, int n) {
    for (int i = 0; i < n; i++)
        if (o[i].ok) arc_grid_free(&o[i].grid), o[i].ok = 0;
}

int arc_detail_decode(const char *detail, int n_test, arc_output *out, mg_err *e) {
    memset(out, 0, (size_t)n_test * sizeof *out);
    json_error_t je;
    json_t *a = json_loads(detail, 0, &je);
    if (!json_is_array(a) || (int)json_array_size(a) != n_test) {
        json_decref(a);
        return mg_fail(e, "test outputs: not a list of %d items", n_test);
    }
    for (int i = 0; i < n_test; i++) {
        json_t *g = json_array_get(a, (size_t)i);
        if (json_is_object(g)) continue;  // {"error": ...}: failed
        char where[32];
        snprintf(where, sizeof where, "test output %d", i);
        if (arc_grid_from_json(&out[i].grid, g, where, e)) {
            arc_outputs_free(out, i);
            json_decref(a);
            return -1;
        }
        out[i].ok = 1;
    }
    json_decref(a);
    return 0;
}

// The valid programs of the outcome with their decoded test outputs, in scoring order.
static int gather(const arc_task *t, const task_outcome *o, arc_program_result **progs, arc_output **outs,
                  int *n_perfect, int *n_clean, mg_err *e) {
    int n = 0, nt = t->n_test;
    *progs = callocCheck((size_t)o->n + 1, sizeof **progs);
    *outs = callocCheck(((size_t)o->n + 1) * (size_t)nt, sizeof **outs);
    *n_perfect = *n_clean = 0;
    for (long i = 0; i < o->n; i++) {
        if (!o->valid[i] || !o->detail[i]) continue;  // unscored, unparsable, or dropped by the archive bound
        arc_output *mine = *outs + (size_t)n * (size_t)nt;
        mg_err de;
        if (arc_detail_decode(o->detail[i], nt, mine, &de)) {
            arc_outputs_free(*outs, n * nt);
            return mg_fail(e, "archive entry %ld: %s", i, de.msg);
        }
        arc_program_result *p = &(*progs)[n++];
        p->reward = o->reward[i];
        p->train_exact = o->reward[i] >= 1.0;
        p->test_clean = 1;
        for (int k = 0; k < nt; k++) p->test_clean &= mine[k].ok;
        p->test = mine;
        *n_perfect += p->train_exact;
        *n_clean += p->test_clean;
    }
    return n;
}

static json_t *result_json(const arc_task *t, const task_outcome *o, const arc_answer *ans, int n_progs,
                           int n_perfect, int n_clean, const arc_score *sc) {
    json_t *att = json_array();
    for (int i = 0; i < t->n_test; i++)
        json_array_append_new(att, json_pack("{s:o,s:o}", "attempt_1", arc_grid_to_json(&ans[i].attempt[0]),
                                             "attempt_2", arc_grid_to_json(&ans[i].attempt[1])));
    json_t *r = json_pack("{s:s,s:i,s:o,s:i,s:i,s:I,s:i,s:b,s:f}", "task_id", t->id, "n_test", t->n_test,
                          "attempts", att, "programs", n_progs, "train_perfect_programs", n_perfect,
                          "oracle_calls", (json_int_t)o->oracle_calls, "iterations", o->iterations, "solved",
                          o->solved, "seconds", o->seconds);
    json_object_set_new(r, "programs_clean_on_test", json_integer(n_clean));
    json_object_set_new(r, "score", sc ? json_pack("{s:f,s:f,s:f}", "pass@1", sc->pass1, "pass@2", sc->pass2,
                                                   "pass@n", sc->passn)
                                       : json_null());
    return r;
}

int arc_write_results(const arc_task *t, const task_outcome *o, int print, mg_err *e) {
    arc_program_result *progs;
    arc_output *outs;
    int n_perfect, n_clean, rc = 0;
    int n = gather(t, o, &progs, &outs, &n_perfect, &n_clean, e);
    arc_answer *ans = callocCheck((size_t)t->n_test, sizeof *ans);
    if (n < 0) rc = -1;
    arc_score sc;
    int scored = 0;
    if (!rc) {
        arc_choose_answers(progs, n, t->n_test, ans);
        mg_err se;
        scored = t->test_outputs && !arc_score_task(t, ans, progs, n, &sc, &se);
        char *path = text_printf("%s/submission.json", o->output_dir);
        arc_submission_entry entry = {t->id, t->n_test, ans};
        rc = arc_submission_write(path, &entry, 1, e);
        free(path);
    }
    if (!rc) {
        json_t *r = result_json(t, o, ans, n, n_perfect, n_clean, scored ? &sc : NULL);
        char *json = json_dumps(r, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        json_decref(r);
        mgCheck(json != NULL, "out of memory writing arc_result.json");
        char *path = text_printf("%s/arc_result.json", o->output_dir);
        char *text = text_printf("%s\n", json);
        rc = file_write_atomic(path, text, strlen(text), e);
        if (!rc && print) {
            printf("arc %s: %d programs ran, %d exact on every training pair; two attempts per test input in "
                   "%s/submission.json", t->id, n, n_perfect, o->output_dir);
            if (scored) printf("; pass@1 %.2f, pass@2 %.2f, pass@n %.2f", sc.pass1, sc.pass2, sc.passn);
            printf("\n");
        }
        free(path), free(text), free(json);
    }
    arc_answers_free(ans, t->n_test);
    free(ans);
    if (n > 0) arc_outputs_free(outs, n * t->n_test);
    free(outs), free(progs);
    return rc;
}
