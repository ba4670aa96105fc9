// ARC grids (tasks/arc/grid.h): every shipped training task's grids read back and written out unchanged, and bad
// grids refused with one line naming the place: not a list, ragged rows, a cell outside 0..9 or not an integer,
// empty, or over 30 x 30.
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tasks/arc/grid.h"
#include "testing.h"

#define TRAINING "data/arc-agi-1/training"

// Each grid of one task file: parsed, written back to JSON and compared with the original.
static int round_trip_file(const char *path, int *grids) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) return 0;
    int ok = 1;
    const char *split[2] = {"train", "test"}, *side[2] = {"input", "output"};
    for (int s = 0; s < 2; s++) {
        json_t *pairs = json_object_get(root, split[s]);
        for (size_t i = 0; i < json_array_size(pairs); i++)
            for (int k = 0; k < 2; k++) {
                json_t *j = json_object_get(json_array_get(pairs, i), side[k]);
                arc_grid g;
                mg_err e;
                if (!j) continue;
                if (arc_grid_from_json(&g, j, path, &e)) {
                    CHECK(0, "%s", e.msg);
                    ok = 0;
                    continue;
                }
                json_t *back = arc_grid_to_json(&g);
                ok &= json_equal(back, j);
                json_decref(back);
                arc_grid_free(&g);
                (*grids)++;
            }
    }
    json_decref(root);
    return ok;
}

static void test_training_set(void) {
    DIR *d = opendir(TRAINING);
    CHECK(d != NULL, "%s is missing (run from the repository root)", TRAINING);
    if (!d) return;
    int files = 0, grids = 0, bad = 0;
    struct dirent *ent;
    char path[512];
    while ((ent = readdir(d))) {
        if (!strstr(ent->d_name, ".json")) continue;
        snprintf(path, sizeof path, "%s/%s", TRAINING, ent->d_name);
        files++;
        bad += !round_trip_file(path, &grids);
    }
    closedir(d);
    printf("  %d task files, %d grids read and written back unchanged\n", files, grids);
    CHECK(files == 400 && bad == 0, "%d of %d files did not round-trip", bad, files);
}

static void expect_bad(const char *json, const char *want) {
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
    CHECK(j != NULL, "test JSON '%s' does not parse", json);
    arc_grid g = {7, 7, NULL};
    mg_err e = {{0}};
    int rc = arc_grid_from_json(&g, j, "t.json: train[1].input", &e);
    CHECK(rc == -1 && strstr(e.msg, want) && !strchr(e.msg, '\n') && g.rows == 7,
          "%s: want '%s', got rc %d '%s'", json, want, rc, e.msg);
    json_decref(j);
}

static void test_bad_grids(void) {
    expect_bad("3", "t.json: train[1].input: a grid must be a list of rows");
    expect_bad("[]", "0 rows (a grid has 1 to 30)");
    expect_bad("[[]]", "row 0 has 0 cells");
    expect_bad("[[1,2],[3]]", "row 1 has 1 cells, row 0 has 2");
    expect_bad("[[1,2],7]", "row 1 is not a list");
    expect_bad("[[1,10]]", "row 0, column 1: a cell must be an integer 0..9");
    expect_bad("[[1,-1]]", "row 0, column 1");
    expect_bad("[[1,2.0]]", "row 0, column 1");
    expect_bad("[[\"1\"]]", "row 0, column 0");
    char wide[256] = "[[", *p = wide + 2;
    for (int i = 0; i < 31; i++) p += sprintf(p, i ? ",0" : "0");
    strcpy(p, "]]");
    expect_bad(wide, "row 0 has 31 cells");
}

static void test_equal_copy(void) {
    arc_grid a, b, c;
    arc_grid_init(&a, 2, 3, 4);
    arc_set(&a, 1, 2, 9);
    arc_grid_copy(&b, &a);
    arc_grid_init(&c, 3, 2, 4);
    CHECK(arc_grid_equal(&a, &b) && arc_at(&b, 1, 2) == 9 && arc_at(&b, 0, 0) == 4, "copy equals");
    CHECK(!arc_grid_equal(&a, &c), "a 2x3 grid is not a 3x2 grid");
    arc_set(&b, 0, 0, 5);
    CHECK(!arc_grid_equal(&a, &b), "one cell differs");
    arc_grid_free(&a), arc_grid_free(&b), arc_grid_free(&c);
}

int main(void) {
    test_training_set();
    test_bad_grids();
    test_equal_copy();
    return test_summary("test_arc_grid");
}
