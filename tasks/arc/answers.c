// ARC answers: per-test-input majority vote over train-perfect programs with fallbacks, pass@k scores, and the
// Kaggle submission file. The rules are in answers.h.
#include "tasks/arc/answers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/text.h"

typedef struct {
    const arc_grid *grid;
    int votes, first;  // first: index of the earliest program that voted for it
} candidate;

static int by_votes(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->votes != y->votes) return y->votes - x->votes;
    return x->first - y->first;
}

typedef struct {
    double reward;
    int index;
} ranked;

static int by_reward(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->reward != y->reward) return x->reward > y->reward ? -1 : 1;
    return x->index - y->index;
}

static int chosen_already(const arc_answer *a, int filled, const arc_grid *g) {
    for (int k = 0; k < filled; k++)
        if (arc_grid_equal(&a->attempt[k], g)) return 1;
    return 0;
}

static void choose_one(const arc_program_result *progs, int n_progs, const ranked *order, int i, arc_answer *a) {
    candidate *cands = callocCheck((size_t)n_progs + 1, sizeof *cands);
    int n_cands = 0, filled = 0;
    for (int p = 0; p < n_progs; p++) {
        if (!progs[p].train_exact || !progs[p].test_clean || !arc_output_valid(&progs[p].test[i])) continue;
        const arc_grid *g = &progs[p].test[i].grid;
        int k = 0;
        while (k < n_cands && !arc_grid_equal(cands[k].grid, g)) k++;
        if (k == n_cands) cands[n_cands++] = (candidate){g, 0, p};
        cands[k].votes++;
    }
    qsort(cands, (size_t)n_cands, sizeof *cands, by_votes);
    for (int k = 0; k < n_cands && filled < 2; k++) arc_grid_copy(&a->attempt[filled++], cands[k].grid);
    for (int k = 0; k < n_progs && filled < 2; k++) {
        const arc_output *o = &progs[order[k].index].test[i];
        if (arc_output_valid(o) && !chosen_already(a, filled, &o->grid)) arc_grid_copy(&a->attempt[filled++], &o->grid);
    }
    while (filled < 2) arc_grid_init(&a->attempt[filled++], 1, 1, 0);
    free(cands);
}

void arc_choose_answers(const arc_program_result *progs, int n_progs, int n_test, arc_answer *answers) {
    mgCheck(n_progs >= 0 && n_test >= 1, "arc_choose_answers: a task has at least one test input");
    ranked *order = mallocCheck(((size_t)n_progs + 1) * sizeof *order);
    for (int p = 0; p < n_progs; p++)
        order[p] = (ranked){isnan(progs[p].reward) ? -INFINITY : progs[p].reward, p};  // NaN ranks last
    qsort(order, (size_t)n_progs, sizeof *order, by_reward);
    for (int i = 0; i < n_test; i++) choose_one(progs, n_progs, order, i, &answers[i]);
    free(order);
}

void arc_answers_free(arc_answer *answers, int n_test) {
    for (int i = 0; i < n_test; i++) arc_grid_free(&answers[i].attempt[0]), arc_grid_free(&answers[i].attempt[1]);
}

int arc_score_task(const arc_task *t, const arc_answer *answers, const arc_program_result *progs, int n_progs,
                   arc_score *s, mg_err *e) {
    if (!t->test_outputs) return mg_fail(e, "task %s: the test outputs are unknown, so there is no score", t->id);
    int p1 = 0, p2 = 0, pn = 0;
    for (int i = 0; i < t->n_test; i++) {
        const arc_grid *want = &t->test_outputs[i];
        int first = arc_grid_equal(&answers[i].attempt[0], want);
        p1 += first;
        p2 += first || arc_grid_equal(&answers[i].attempt[1], want);
        int any = 0;
        for (int p = 0; p < n_progs && !any; p++) any = arc_output_exact(&progs[p].test[i], want);
        pn += any;
    }
    s->pass1 = (double)p1 / t->n_test, s->pass2 = (double)p2 / t->n_test, s->passn = (double)pn / t->n_test;
    return 0;
}

json_t *arc_submission_to_json(const arc_submission_entry *entries, int n, mg_err *e) {
    json_t *root = json_object();
    for (int k = 0; k < n; k++) {
        if (json_object_get(root, entries[k].task_id)) {
            json_decref(root);
            return mg_fail(e, "submission: task %s appears twice", entries[k].task_id), NULL;
        }
        json_t *list = json_array();
        for (int i = 0; i < entries[k].n_test; i++) {
            const arc_answer *a = &entries[k].answers[i];
            json_array_append_new(list, json_pack("{s:o,s:o}", "attempt_1", arc_grid_to_json(&a->attempt[0]),
                                                  "attempt_2", arc_grid_to_json(&a->attempt[1])));
        }
        json_object_set_new(root, entries[k].task_id, list);
    }
    return root;
}

int arc_submission_write(const char *path, const arc_submission_entry *entries, int n, mg_err *e) {
    json_t *root = arc_submission_to_json(entries, n, e);
    if (!root) return -1;
    char *json = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(root);
    mgCheck(json != NULL, "out of memory writing a submission");
    char *text = text_printf("%s\n", json);
    free(json);
    int rc = file_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}
