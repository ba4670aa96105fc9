// What an ARC search keeps of each program, and the answers it leaves at its end (docs/arc.md, "Answers").
//
// Each scored program keeps its outputs on the task's test inputs as its archive entry's detail text (in memory
// and in checkpoints), so the answers can be chosen again after a resume without running anything: a JSON array
// with one item per test input, the output grid or {"error": "why it failed"}.
#pragma once
#include "tasks/arc/answers.h"
#include "tasks/task.h"

// The detail text of one program (malloc'd). why[i] (may be NULL) is the reason output i failed.
char *arc_detail_encode(const arc_output *test, const char *const *why, int n_test);
// Reads a detail text back into out[0..n_test) (free the grids with arc_outputs_free). -1 with e set when the text
// is not such an array of n_test items.
int arc_detail_decode(const char *detail, int n_test, arc_output *out, mg_err *e);
void arc_outputs_free(arc_output *o, int n);

// The end of a search on task t: the two attempts per test input (answers.h) from the valid programs of the
// outcome, written as OUTPUT_DIR/submission.json (Kaggle's format, this one task) and OUTPUT_DIR/arc_result.json
// (the attempts, the counts, and the scores when t's test outputs are known). print: one line on stdout.
int arc_write_results(const arc_task *t, const task_outcome *o, int print, mg_err *e);
