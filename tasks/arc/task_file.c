// ARC task files: the repository's one file per task and Kaggle's combined challenges/solutions files, read into
// arc_task with one-line errors that name the file and the place.
#include "tasks/arc/task_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"

#define ARC_FILE_LIMIT ((size_t)256 << 20)  // a combined file of every task is a few MiB

static int set_id(arc_task *t, const char *id, const char *where, mg_err *e) {
    if (strlen(id) >= ARC_ID_MAX)
        return mg_fail(e, "%s: task id '%.40s...' is over %d bytes", where, id, ARC_ID_MAX - 1);
    snprintf(t->id, sizeof t->id, "%s", id);
    return 0;
}

// obj[key] as a non-empty list, or an error naming it.
static const json_t *nonempty_list(const json_t *obj, const char *key, const char *where, mg_err *e) {
    const json_t *l = json_object_get(obj, key);
    if (!l) return mg_fail(e, "%s: no \"%s\" list", where, key), NULL;
    if (!json_is_array(l)) return mg_fail(e, "%s: \"%s\" is not a list", where, key), NULL;
    if (json_array_size(l) == 0) return mg_fail(e, "%s: \"%s\" is empty (a task needs at least one)", where, key), NULL;
    if (json_array_size(l) > 10000)
        return mg_fail(e, "%s: \"%s\" has %zu entries", where, key, json_array_size(l)), NULL;
    return l;
}

// pair[side] into g, named "WHERE: split[i].side" in errors; *present says whether the pair has that side.
static int read_side(arc_grid *g, const json_t *pair, const char *where, const char *split, size_t i, const char *side,
                     int *present, mg_err *e) {
    char place[1200];
    snprintf(place, sizeof place, "%s: %s[%zu].%s", where, split, i, side);
    const json_t *j = json_object_get(pair, side);
    *present = j != NULL;
    if (!j) return 0;
    return arc_grid_from_json(g, j, place, e);
}

int arc_task_from_json(arc_task *t, const json_t *obj, const char *id, const char *where, mg_err *e) {
    memset(t, 0, sizeof *t);
    if (!json_is_object(obj)) return mg_fail(e, "%s: a task must be an object with \"train\" and \"test\"", where);
    const json_t *train = nonempty_list(obj, "train", where, e);
    const json_t *test = train ? nonempty_list(obj, "test", where, e) : NULL;
    if (!train || !test || set_id(t, id, where, e)) return -1;
    t->n_train = (int)json_array_size(train);
    t->n_test = (int)json_array_size(test);
    t->train = callocCheck((size_t)t->n_train, sizeof *t->train);
    t->test_inputs = callocCheck((size_t)t->n_test, sizeof *t->test_inputs);
    t->test_outputs = callocCheck((size_t)t->n_test, sizeof *t->test_outputs);
    for (int i = 0; i < t->n_train; i++) {
        const json_t *p = json_array_get(train, (size_t)i);
        int has_in = 0, has_out = 0;
        if (!json_is_object(p)) {
            mg_fail(e, "%s: train[%d] is not an object with \"input\" and \"output\"", where, i);
            goto fail;
        }
        if (read_side(&t->train[i].input, p, where, "train", (size_t)i, "input", &has_in, e)) goto fail;
        if (read_side(&t->train[i].output, p, where, "train", (size_t)i, "output", &has_out, e)) goto fail;
        if (!has_in || !has_out) {
            mg_fail(e, "%s: train[%d] has no \"%s\"", where, i, has_in ? "output" : "input");
            goto fail;
        }
    }
    int known = 0;
    for (int i = 0; i < t->n_test; i++) {
        const json_t *p = json_array_get(test, (size_t)i);
        int has_in = 0, has_out = 0;
        if (!json_is_object(p)) {
            mg_fail(e, "%s: test[%d] is not an object with \"input\"", where, i);
            goto fail;
        }
        if (read_side(&t->test_inputs[i], p, where, "test", (size_t)i, "input", &has_in, e)) goto fail;
        if (read_side(&t->test_outputs[i], p, where, "test", (size_t)i, "output", &has_out, e)) goto fail;
        if (!has_in) {
            mg_fail(e, "%s: test[%d] has no \"input\"", where, i);
            goto fail;
        }
        if (i > 0 && has_out != known) {
            mg_fail(e, "%s: test[%d] %s an \"output\" and test[0] %s (give all test outputs or none)", where, i,
                    has_out ? "has" : "lacks", known ? "has one" : "does not");
            goto fail;
        }
        known = has_out;
    }
    if (!known) free(t->test_outputs), t->test_outputs = NULL;
    return 0;
fail:
    arc_task_free(t);
    return -1;
}

int arc_task_parse(arc_task *t, const char *text, size_t len, const char *id, const char *where, mg_err *e) {
    json_error_t jerr;
    memset(t, 0, sizeof *t);
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return mg_fail(e, "%s: not JSON: line %d, column %d: %s", where, jerr.line, jerr.column, jerr.text);
    int rc = arc_task_from_json(t, root, id, where, e);
    json_decref(root);
    return rc;
}

json_t *arc_json_load(const char *path, mg_err *e) {
    size_t len;
    char *text = read_small_file(path, ARC_FILE_LIMIT, &len, 0, NULL, e);
    if (!text) return NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root) mg_fail(e, "%s: not JSON: line %d, column %d: %s", path, jerr.line, jerr.column, jerr.text);
    return root;
}

int arc_task_load_file(arc_task *t, const char *path, mg_err *e) {
    memset(t, 0, sizeof *t);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char id[ARC_ID_MAX + 8];
    size_t n = strlen(base);
    if (n >= 5 && !strcmp(base + n - 5, ".json")) n -= 5;
    if (n == 0 || n >= ARC_ID_MAX)
        return mg_fail(e, "%s: the file name is no task id (1 to %d bytes)", path, ARC_ID_MAX - 1);
    memcpy(id, base, n);
    id[n] = 0;
    json_t *root = arc_json_load(path, e);
    if (!root) return -1;
    int rc = arc_task_from_json(t, root, id, path, e);
    json_decref(root);
    return rc;
}

int arc_task_from_combined(arc_task *t, const json_t *challenges, const char *challenges_name, const json_t *solutions,
                           const char *solutions_name, const char *id, mg_err *e) {
    memset(t, 0, sizeof *t);
    if (!json_is_object(challenges))
        return mg_fail(e, "%s: a challenges file must be an object {id: task}", challenges_name);
    const json_t *obj = json_object_get(challenges, id);
    if (!obj) return mg_fail(e, "%s: no task '%s'", challenges_name, id);
    char where[1200];
    snprintf(where, sizeof where, "%s: task %s", challenges_name, id);
    if (arc_task_from_json(t, obj, id, where, e)) return -1;
    if (!solutions) return 0;
    const json_t *sol = json_is_object(solutions) ? json_object_get(solutions, id) : NULL;
    if (!json_is_object(solutions))
        mg_fail(e, "%s: a solutions file must be an object {id: [grid, ...]}", solutions_name);
    else if (!sol)
        mg_fail(e, "%s: no task '%s'", solutions_name, id);
    else if (!json_is_array(sol) || json_array_size(sol) != (size_t)t->n_test)
        mg_fail(e, "%s: task %s: %s %zu grids, the task has %d test inputs", solutions_name, id,
                json_is_array(sol) ? "has" : "is not a list of", json_array_size(sol), t->n_test);
    else {
        // The solutions replace any outputs the challenges file carried.
        arc_grid *outs = callocCheck((size_t)t->n_test, sizeof *outs);
        for (int i = 0; i < t->n_test; i++) {
            snprintf(where, sizeof where, "%s: task %s[%d]", solutions_name, id, i);
            if (arc_grid_from_json(&outs[i], json_array_get(sol, (size_t)i), where, e)) {
                for (int k = 0; k < i; k++) arc_grid_free(&outs[k]);
                free(outs);
                arc_task_free(t);
                return -1;
            }
        }
        if (t->test_outputs)
            for (int i = 0; i < t->n_test; i++) arc_grid_free(&t->test_outputs[i]);
        free(t->test_outputs);
        t->test_outputs = outs;
        return 0;
    }
    arc_task_free(t);
    return -1;
}

int arc_task_load_combined(arc_task *t, const char *challenges, const char *solutions, const char *id, mg_err *e) {
    memset(t, 0, sizeof *t);
    json_t *c = arc_json_load(challenges, e), *s = NULL;
    if (!c) return -1;
    if (solutions && !(s = arc_json_load(solutions, e))) {
        json_decref(c);
        return -1;
    }
    int rc = arc_task_from_combined(t, c, challenges, s, solutions, id, e);
    json_decref(c);
    json_decref(s);
    return rc;
}

json_t *arc_task_to_json(const arc_task *t) {
    json_t *train = json_array(), *test = json_array();
    for (int i = 0; i < t->n_train; i++)
        json_array_append_new(train, json_pack("{s:o,s:o}", "input", arc_grid_to_json(&t->train[i].input), "output",
                                               arc_grid_to_json(&t->train[i].output)));
    for (int i = 0; i < t->n_test; i++) {
        json_t *p = json_pack("{s:o}", "input", arc_grid_to_json(&t->test_inputs[i]));
        if (t->test_outputs) json_object_set_new(p, "output", arc_grid_to_json(&t->test_outputs[i]));
        json_array_append_new(test, p);
    }
    return json_pack("{s:o,s:o}", "train", train, "test", test);
}

int arc_task_equal(const arc_task *a, const arc_task *b) {
    if (strcmp(a->id, b->id) || a->n_train != b->n_train || a->n_test != b->n_test) return 0;
    if (!a->test_outputs != !b->test_outputs) return 0;
    for (int i = 0; i < a->n_train; i++)
        if (!arc_grid_equal(&a->train[i].input, &b->train[i].input) ||
            !arc_grid_equal(&a->train[i].output, &b->train[i].output))
            return 0;
    for (int i = 0; i < a->n_test; i++)
        if (!arc_grid_equal(&a->test_inputs[i], &b->test_inputs[i]) ||
            (a->test_outputs && !arc_grid_equal(&a->test_outputs[i], &b->test_outputs[i])))
            return 0;
    return 1;
}

void arc_task_free(arc_task *t) {
    for (int i = 0; t->train && i < t->n_train; i++)
        arc_grid_free(&t->train[i].input), arc_grid_free(&t->train[i].output);
    for (int i = 0; t->test_inputs && i < t->n_test; i++) arc_grid_free(&t->test_inputs[i]);
    for (int i = 0; t->test_outputs && i < t->n_test; i++) arc_grid_free(&t->test_outputs[i]);
    free(t->train), free(t->test_inputs), free(t->test_outputs);
    memset(t, 0, sizeof *t);
}
