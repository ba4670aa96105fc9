// An ARC grid: rows x cols cells, each a colour 0..9 (0 black, 1 blue, 2 red, 3 green, 4 yellow, 5 gray, 6 pink,
// 7 orange, 8 purple, 9 brown), row-major. The ARC format caps a grid at 30 x 30; a grid held here may be larger
// while a program computes (a DSL's intermediate values), so the cap is checked where grids enter or leave
// (task files, program outputs), not by the type.
#pragma once
#include <jansson.h>
#include <stdint.h>

#include "common/error.h"

#define ARC_MAX_SIDE 30   // the ARC format's largest side
#define ARC_COLOURS 10

typedef struct {
    int rows, cols;
    uint8_t *cells;  // (rows, cols), values 0..9; NULL when rows * cols == 0
} arc_grid;

static inline uint8_t arc_at(const arc_grid *g, int r, int c) { return g->cells[(size_t)r * g->cols + c]; }
static inline void arc_set(arc_grid *g, int r, int c, uint8_t v) { g->cells[(size_t)r * g->cols + c] = v; }

// A grid of rows x cols cells, all `fill`. rows, cols >= 0.
void arc_grid_init(arc_grid *g, int rows, int cols, uint8_t fill);
void arc_grid_free(arc_grid *g);
void arc_grid_copy(arc_grid *dst, const arc_grid *src);
int arc_grid_equal(const arc_grid *a, const arc_grid *b);

// A JSON list of rows, each a list of integers 0..9, all rows of one length, 1..30 rows and columns. On bad input
// returns -1 with one line naming `where` (e.g. "data/x.json: train[2].output") and the place inside it ("row 3",
// "row 3, column 7"), and g untouched.
int arc_grid_from_json(arc_grid *g, const json_t *j, const char *where, mg_err *e);
// The grid as a JSON list of rows (a new reference).
json_t *arc_grid_to_json(const arc_grid *g);
