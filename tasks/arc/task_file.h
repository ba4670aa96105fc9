// ARC tasks read from disk, in the two layouts ARC data ships in (docs/arc.md):
//  * the ARC-AGI repository: one file per task, {"train": [{"input": G, "output": G}, ...],
//    "test": [{"input": G, "output": G}, ...]}, the task id being the file name without ".json";
//  * Kaggle's combined files: a challenges file {id: {"train": [...], "test": [{"input": G}, ...]}, ...} and,
//    optionally, a solutions file {id: [G per test input], ...}.
// Every grid goes through arc_grid_from_json, so a bad one is refused with the file, the place ("train[2].output")
// and the row and column. Keys other than "train" and "test" (some files carry a "name") are ignored.
#pragma once
#include <jansson.h>

#include "common/error.h"
#include "tasks/arc/grid.h"

#define ARC_ID_MAX 128

typedef struct {
    arc_grid input, output;
} arc_pair;

typedef struct {
    char id[ARC_ID_MAX];
    int n_train;
    arc_pair *train;  // (n_train), n_train >= 1
    int n_test;
    arc_grid *test_inputs;   // (n_test), n_test >= 1
    arc_grid *test_outputs;  // (n_test) when the answers are known, else NULL
} arc_task;

// A task object {"train": ..., "test": ...}. Test outputs are known for every test input or for none (a mix is
// refused: a scorer must not silently skip some). `where` names the object in errors ("data/x.json").
int arc_task_from_json(arc_task *t, const json_t *obj, const char *id, const char *where, mg_err *e);
// The same from the bytes of a file; text that is not JSON is refused with jansson's line and column.
int arc_task_parse(arc_task *t, const char *text, size_t len, const char *id, const char *where, mg_err *e);
// One repository-format file; the id is its name without the folder and ".json".
int arc_task_load_file(arc_task *t, const char *path, mg_err *e);
// Task `id` of Kaggle-style combined files; solutions may be NULL (test outputs then unknown). With solutions,
// the id must be there with one grid per test input. The *_json form takes files already parsed (a caller that
// loads many tasks reads each file once); the names are for the errors.
int arc_task_load_combined(arc_task *t, const char *challenges, const char *solutions, const char *id, mg_err *e);
int arc_task_from_combined(arc_task *t, const json_t *challenges, const char *challenges_name, const json_t *solutions,
                           const char *solutions_name, const char *id, mg_err *e);
// A JSON file read whole (up to 256 MiB), with one-line errors: "PATH: not JSON: line L, column C: why".
json_t *arc_json_load(const char *path, mg_err *e);

// The repository form of the task (a new reference): outputs in "test" only when known.
json_t *arc_task_to_json(const arc_task *t);
// Same id, grids and knowledge of the test outputs.
int arc_task_equal(const arc_task *a, const arc_task *b);
void arc_task_free(arc_task *t);
