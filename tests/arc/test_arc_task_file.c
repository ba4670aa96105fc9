// ARC task files (tasks/arc/task_file.h): every shipped training task loads and writes back to its own JSON; a
// Kaggle-style combined challenges/solutions pair written here loads to the same tasks; and each kind of bad file
// is refused with one line naming the file and the place.
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/arc/task_file.h"
#include "testing.h"

#define TRAINING "data/arc-agi-1/training"

static void test_training_set(void) {
    DIR *d = opendir(TRAINING);
    CHECK(d != NULL, "%s is missing (run from the repository root)", TRAINING);
    if (!d) return;
    int files = 0, ok = 0, pairs = 0, tests = 0;
    struct dirent *ent;
    char path[512];
    while ((ent = readdir(d))) {
        size_t n = strlen(ent->d_name);
        if (n < 6 || strcmp(ent->d_name + n - 5, ".json")) continue;
        snprintf(path, sizeof path, "%s/%s", TRAINING, ent->d_name);
        files++;
        arc_task t;
        mg_err e = {{0}};
        if (arc_task_load_file(&t, path, &e)) {
            CHECK(0, "%s", e.msg);
            continue;
        }
        // The repository's own JSON, minus keys the task does not hold (some files have a "name").
        json_t *orig = json_load_file(path, 0, NULL), *back = arc_task_to_json(&t);
        json_object_del(orig, "name");
        int same = json_equal(orig, back) && !strncmp(t.id, ent->d_name, n - 5) && strlen(t.id) == n - 5 &&
                   t.test_outputs != NULL;
        CHECK(same, "%s: written back differently (id '%s')", path, t.id);
        ok += same;
        pairs += t.n_train, tests += t.n_test;
        json_decref(orig), json_decref(back);
        arc_task_free(&t);
    }
    closedir(d);
    printf("  %d task files (%d training pairs, %d test inputs) loaded and written back unchanged\n", ok, pairs, tests);
    CHECK(files == 400 && ok == 400, "%d of %d files", ok, files);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

// Three training tasks packed into a challenges file (test outputs dropped) and a solutions file.
static void test_combined(void) {
    const char *ids[3] = {"007bbfb7", "0a938d79", "e9614598"};
    char dir[] = "/tmp/arc-combined-XXXXXX", chal[128], sol[128];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(chal, sizeof chal, "%s/challenges.json", dir);
    snprintf(sol, sizeof sol, "%s/solutions.json", dir);
    json_t *c = json_object(), *s = json_object();
    arc_task orig[3];
    for (int k = 0; k < 3; k++) {
        char path[256];
        mg_err e = {{0}};
        snprintf(path, sizeof path, "%s/%s.json", TRAINING, ids[k]);
        CHECK(arc_task_load_file(&orig[k], path, &e) == 0, "%s", e.msg);
        json_t *j = arc_task_to_json(&orig[k]), *outs = json_array();
        json_t *test = json_object_get(j, "test");
        for (size_t i = 0; i < json_array_size(test); i++) {
            json_t *p = json_array_get(test, i);
            json_array_append(outs, json_object_get(p, "output"));
            json_object_del(p, "output");
        }
        json_object_set_new(c, ids[k], j);
        json_object_set_new(s, ids[k], outs);
    }
    json_dump_file(c, chal, 0), json_dump_file(s, sol, 0);
    for (int k = 0; k < 3; k++) {
        arc_task t, bare;
        mg_err e = {{0}};
        CHECK(arc_task_load_combined(&t, chal, sol, ids[k], &e) == 0, "%s", e.msg);
        CHECK(arc_task_equal(&t, &orig[k]), "%s from the combined files differs from its own file", ids[k]);
        CHECK(arc_task_load_combined(&bare, chal, NULL, ids[k], &e) == 0, "%s", e.msg);
        CHECK(bare.test_outputs == NULL && bare.n_test == orig[k].n_test && !arc_task_equal(&bare, &orig[k]),
              "%s without solutions: the test outputs must be unknown", ids[k]);
        arc_task_free(&t), arc_task_free(&bare), arc_task_free(&orig[k]);
    }
    // An id that is not there, and solutions with the wrong number of grids.
    arc_task t = {.n_train = 5};
    mg_err e = {{0}};
    CHECK(arc_task_load_combined(&t, chal, sol, "ffffffff", &e) == -1 &&
              strstr(e.msg, "challenges.json: no task 'ffffffff'") && t.train == NULL,
          "got '%s'", e.msg);
    json_array_remove(json_object_get(s, "0a938d79"), 0);
    json_object_del(s, "e9614598");
    json_dump_file(s, sol, 0);
    CHECK(arc_task_load_combined(&t, chal, sol, "0a938d79", &e) == -1 &&
              strstr(e.msg, "solutions.json: task 0a938d79: has 0 grids, the task has 1 test inputs"),
          "got '%s'", e.msg);
    CHECK(arc_task_load_combined(&t, chal, sol, "e9614598", &e) == -1 &&
              strstr(e.msg, "solutions.json: no task 'e9614598'"),
          "got '%s'", e.msg);
    json_object_set_new(s, "007bbfb7", json_loads("[[[1,2],[3]]]", 0, NULL));
    json_dump_file(s, sol, 0);
    CHECK(arc_task_load_combined(&t, chal, sol, "007bbfb7", &e) == -1 &&
              strstr(e.msg, "solutions.json: task 007bbfb7[0]: row 1 has 1 cells"),
          "got '%s'", e.msg);
    write_file(sol, "[1, 2]");
    CHECK(arc_task_load_combined(&t, chal, sol, "007bbfb7", &e) == -1 &&
              strstr(e.msg, "a solutions file must be an object"),
          "got '%s'", e.msg);
    write_file(chal, "{\"007bbfb7\": {\"train\": [}");
    CHECK(arc_task_load_combined(&t, chal, NULL, "007bbfb7", &e) == -1 &&
              strstr(e.msg, "challenges.json: not JSON: line 1"),
          "got '%s'", e.msg);
    json_decref(c), json_decref(s);
    unlink(chal), unlink(sol);
    CHECK(rmdir(dir) == 0, "the folder %s is left behind", dir);
}

// text must be refused with a one-line message containing want.
static void expect_bad(const char *text, const char *want) {
    arc_task t;
    mg_err e = {{0}};
    int rc = arc_task_parse(&t, text, strlen(text), "x", "bad.json", &e);
    CHECK(rc == -1 && strstr(e.msg, want) && !strchr(e.msg, '\n') && !strncmp(e.msg, "bad.json: ", 10) &&
              t.train == NULL && t.test_inputs == NULL,
          "%s: want '%s', got rc %d '%s'", text, want, rc, e.msg);
    if (rc == 0) arc_task_free(&t);
}

#define P "{\"input\": [[1]], \"output\": [[2]]}"
static void test_bad_files(void) {
    expect_bad("{\"train\": [" P "],\n \"test\": [" P ",]}", "not JSON: line 2, column");
    expect_bad("", "not JSON: line 1, column 0");
    expect_bad("[1, 2]", "a task must be an object");
    expect_bad("{\"test\": [" P "]}", "no \"train\" list");
    expect_bad("{\"train\": [" P "]}", "no \"test\" list");
    expect_bad("{\"train\": {}, \"test\": [" P "]}", "\"train\" is not a list");
    expect_bad("{\"train\": [], \"test\": [" P "]}", "\"train\" is empty");
    expect_bad("{\"train\": [" P "], \"test\": []}", "\"test\" is empty");
    expect_bad("{\"train\": [" P ", 3], \"test\": [" P "]}", "train[1] is not an object");
    expect_bad("{\"train\": [" P ", {\"input\": [[1]]}], \"test\": [" P "]}", "train[1] has no \"output\"");
    expect_bad("{\"train\": [{\"output\": [[1]]}], \"test\": [" P "]}", "train[0] has no \"input\"");
    expect_bad("{\"train\": [" P "], \"test\": [{\"output\": [[1]]}]}", "test[0] has no \"input\"");
    expect_bad("{\"train\": [" P "], \"test\": [" P ", {\"input\": [[1]]}]}", "test[1] lacks an \"output\"");
    expect_bad("{\"train\": [" P "], \"test\": [{\"input\": [[1]]}, " P "]}", "test[1] has an \"output\"");
    expect_bad("{\"train\": [" P ", " P ", {\"input\": [[1]], \"output\": [[1, 2], [3]]}], \"test\": [" P "]}",
               "bad.json: train[2].output: row 1 has 1 cells, row 0 has 2");
    expect_bad("{\"train\": [" P "], \"test\": [{\"input\": [[1, 2], [3, 10]]}]}",
               "bad.json: test[0].input: row 1, column 1: a cell must be an integer 0..9");
    expect_bad("{\"train\": [{\"input\": [[1, -1]], \"output\": [[2]]}], \"test\": [" P "]}",
               "train[0].input: row 0, column 1");
    expect_bad("{\"train\": [{\"input\": [], \"output\": [[2]]}], \"test\": [" P "]}", "train[0].input: 0 rows");
    expect_bad("{\"train\": [{\"input\": [[]], \"output\": [[2]]}], \"test\": [" P "]}",
               "train[0].input: row 0 has 0 cells");
    // 31 rows.
    char big[512] = "{\"train\": [" P "], \"test\": [{\"input\": [[0]";
    for (int i = 1; i < 31; i++) strcat(big, ",[0]");
    strcat(big, "]}]}");
    expect_bad(big, "test[0].input: 31 rows (a grid has 1 to 30)");
    expect_bad("{\"train\": [" P "], \"train\": [" P "], \"test\": [" P "]}", "not JSON");  // a repeated key
}

static void test_load_errors(void) {
    arc_task t;
    mg_err e = {{0}};
    CHECK(arc_task_load_file(&t, "/tmp/arc-no-such-dir/abc.json", &e) == -1 &&
              strstr(e.msg, "/tmp/arc-no-such-dir/abc.json"),
          "got '%s'", e.msg);
    CHECK(arc_task_load_file(&t, "/tmp/arc-no-such-dir/.json", &e) == -1 && strstr(e.msg, "no task id"), "got '%s'",
          e.msg);
    char path[] = "/tmp/arc-task-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    const char *text = "{\"train\": [" P "], \"test\": [{\"input\": [[3]]}]}";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
    close(fd);
    CHECK(arc_task_load_file(&t, path, &e) == 0 && !strcmp(t.id, path + 5) && t.test_outputs == NULL &&
              t.n_train == 1 && arc_at(&t.test_inputs[0], 0, 0) == 3,
          "got '%s'", e.msg);
    arc_task_free(&t);
    unlink(path);
}

int main(void) {
    test_training_set();
    test_combined();
    test_bad_files();
    test_load_errors();
    return test_summary("arc_task_file");
}
