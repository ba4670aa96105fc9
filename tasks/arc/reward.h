// Rewards of an ARC program: how close its outputs come to a task's training outputs (docs/arc.md).
//
// Partial credit (the MiGrATe authors' reward): per training pair a distance d in [0, 1],
//   d = 1 when the program failed on that input or its output is no valid grid (empty, over 30 x 30, a cell
//       outside 0..9) or has more cells than the expected grid;
//   else d = (cells that differ in the top-left overlap of the two grids + expected cells outside it) / expected
//       cells,
// and the reward is the mean of 1 - d. A too-small grid thus earns credit for what it gets right, a too-large one
// none. Strict (BARC's evaluation): a pair scores 1 when the output equals the expected grid, else 0; the reward
// is the mean.
#pragma once
#include "tasks/arc/grid.h"

// A program's result for one input: a grid when ok, else a failure (an exception, a timeout, a return value that
// is not a grid of integers; the executor says which in its own records).
typedef struct {
    int ok;
    arc_grid grid;  // meaningful when ok
} arc_output;

// A grid a submission may hold: 1..30 rows and columns, cells 0..9.
int arc_grid_valid(const arc_grid *g);
// ok and a valid grid.
int arc_output_valid(const arc_output *o);
// ok, valid and equal to want.
int arc_output_exact(const arc_output *o, const arc_grid *want);
// d above for one pair; want is a valid grid.
double arc_pair_distance(const arc_output *got, const arc_grid *want);
// Mean of 1 - d over n >= 1 pairs: got[i] against want[i].
double arc_reward_partial(const arc_output *got, const arc_grid *want, int n);
// Mean over n >= 1 pairs of 1 when exact, else 0.
double arc_reward_strict(const arc_output *got, const arc_grid *want, int n);
