// ARC rewards: the partial credit the search climbs (too-small outputs earn some, too-large none) and the strict
// exact-or-nothing score.
#include "tasks/arc/reward.h"

int arc_grid_valid(const arc_grid *g) {
    if (g->rows < 1 || g->cols < 1 || g->rows > ARC_MAX_SIDE || g->cols > ARC_MAX_SIDE || !g->cells) return 0;
    for (int i = 0; i < g->rows * g->cols; i++)
        if (g->cells[i] > 9) return 0;
    return 1;
}

int arc_output_valid(const arc_output *o) { return o->ok && arc_grid_valid(&o->grid); }

int arc_output_exact(const arc_output *o, const arc_grid *want) {
    return arc_output_valid(o) && arc_grid_equal(&o->grid, want);
}

double arc_pair_distance(const arc_output *got, const arc_grid *want) {
    mgCheck(arc_grid_valid(want), "arc_pair_distance: the expected grid is not a valid ARC grid");
    if (!arc_output_valid(got)) return 1.0;
    const arc_grid *g = &got->grid;
    long expected = (long)want->rows * want->cols;
    if ((long)g->rows * g->cols > expected) return 1.0;
    int rows = g->rows < want->rows ? g->rows : want->rows;
    int cols = g->cols < want->cols ? g->cols : want->cols;
    long wrong = expected - (long)rows * cols;  // expected cells the output does not cover
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) wrong += arc_at(g, r, c) != arc_at(want, r, c);
    return (double)wrong / (double)expected;
}

double arc_reward_partial(const arc_output *got, const arc_grid *want, int n) {
    mgCheck(n >= 1, "arc_reward_partial: a task has at least one training pair");
    double sum = 0;
    for (int i = 0; i < n; i++) sum += 1.0 - arc_pair_distance(&got[i], &want[i]);
    return sum / n;
}

double arc_reward_strict(const arc_output *got, const arc_grid *want, int n) {
    mgCheck(n >= 1, "arc_reward_strict: a task has at least one training pair");
    int exact = 0;
    for (int i = 0; i < n; i++) exact += arc_output_exact(&got[i], &want[i]);
    return (double)exact / n;
}
