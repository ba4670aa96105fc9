// The messages the model reads for an ARC task (docs/arc.md). The BARC induction model was trained on grids
// written one row per line with cells as colour names separated by single spaces (ARC_CELLS_NAMES); the digits
// form (ARC_CELLS_DIGITS: each cell one digit 0..9, no separator, so a 30-wide row is 30 characters) is for
// models trained on it, e.g. a small one pretrained here, where it keeps prompts about five times shorter.
#pragma once
#include "tasks/arc/grid.h"
#include "tasks/arc/task_file.h"

typedef enum { ARC_CELLS_NAMES, ARC_CELLS_DIGITS } arc_cell_format;

// "Black" .. "Brown" for 0..9.
const char *arc_colour_name(int colour);
// The grid's rows, one per line, each line ending in '\n'. malloc'd.
char *arc_grid_text(const arc_grid *g, arc_cell_format f);
// The system message: a one-sentence persona.
const char *arc_system_prompt(void);
// The user message for test input `test_index`: how grids are written, the training pairs as "Example {i}"
// (from 1) with "Input:" and "Output:" grids, the test input, and the request for `transform`. malloc'd.
char *arc_user_prompt(const arc_task *t, int test_index, arc_cell_format f);
// The same asking for a grid-language program (grid_language 1) instead of a Python function.
char *arc_user_prompt_as(const arc_task *t, int test_index, arc_cell_format f, int grid_language);
// The neighborhood prompt: the same introduction and training pairs, then `program` in a ```python block as a
// guess, and a request for a variation of it that could be the right rule. malloc'd.
char *arc_neighbor_prompt(const arc_task *t, const char *program, arc_cell_format f);
// The same for a grid-language program (grid_language 1): "my guess for the program" in a plain ``` block.
char *arc_neighbor_prompt_as(const arc_task *t, const char *program, arc_cell_format f, int grid_language);
