// ARC rewards (tasks/arc/reward.h) on grids worked by hand: the distance d of one pair for outputs that are equal,
// one cell off, smaller, larger, wider but shorter, taller but narrower, failed or invalid, and the partial and
// strict rewards over several pairs.
#include <math.h>
#include <string.h>

#include "tasks/arc/reward.h"
#include "testing.h"

// "123;456" = the grid of rows "123" and "456".
static arc_grid grid(const char *s) {
    int rows = 1, cols = (int)strcspn(s, ";");
    for (const char *p = s; *p; p++) rows += *p == ';';
    arc_grid g;
    arc_grid_init(&g, rows, cols, 0);
    for (int r = 0, i = 0; r < rows; r++, i++)
        for (int c = 0; c < cols; c++, i++) arc_set(&g, r, c, (uint8_t)(s[i] - '0'));
    return g;
}

static arc_output ok(const char *s) { return (arc_output){1, grid(s)}; }

static void expect_d(const char *what, arc_output got, const arc_grid *want, double d) {
    double have = arc_pair_distance(&got, want);
    CHECK(fabs(have - d) < 1e-12, "%s: d = %.6f, want %.6f", what, have, d);
    arc_grid_free(&got.grid);
}

static void test_distance(void) {
    arc_grid want = grid("123;456;789");  // 9 expected cells
    expect_d("equal", ok("123;456;789"), &want, 0.0);
    // One of 9 cells differs: d = 1/9.
    expect_d("one cell off", ok("123;406;789"), &want, 1.0 / 9);
    // 2x2, right where it overlaps: 0 mismatches + 9 - 4 = 5 uncovered cells: d = 5/9.
    expect_d("smaller, right", ok("12;45"), &want, 5.0 / 9);
    // 2x2 with one wrong cell: (1 + 5) / 9 = 6/9.
    expect_d("smaller, one wrong", ok("12;40"), &want, 6.0 / 9);
    // 1x1 all wrong: (1 + 8) / 9 = 1.
    expect_d("1x1 wrong", ok("0"), &want, 1.0);
    // 4x4 = 16 cells > 9, though its top-left 3x3 is the expected grid: d = 1.
    expect_d("larger", ok("1230;4560;7890;0000"), &want, 1.0);
    // 2x4 = 8 cells <= 9: overlap 2x3 = 6 cells all right, 9 - 6 = 3 uncovered: d = 3/9.
    expect_d("wider but shorter, 8 cells", ok("1230;4560"), &want, 3.0 / 9);
    // 2x5 = 10 cells > 9: d = 1.
    expect_d("wider but shorter, 10 cells", ok("12300;45600"), &want, 1.0);
    // 4x2 = 8 cells: overlap 3x2 = 6 cells, one wrong (the 8 -> 0), 3 uncovered: (1 + 3) / 9 = 4/9.
    expect_d("taller but narrower", ok("12;45;70;99"), &want, 4.0 / 9);
    expect_d("failed", (arc_output){0, {0, 0, NULL}}, &want, 1.0);
    // A failure that still carries a grid counts as a failure.
    expect_d("failed with a grid", (arc_output){0, grid("123;456;789")}, &want, 1.0);
    expect_d("empty grid", (arc_output){1, {0, 0, NULL}}, &want, 1.0);
    arc_output bad = ok("123;456;789");
    arc_set(&bad.grid, 1, 1, 10);  // one cell out of 0..9: invalid, not "one cell off"
    expect_d("a cell of 10", bad, &want, 1.0);
    arc_grid_free(&want);
    // Expected 30x2 = 60 cells; a 31x1 output has fewer (31) but is over 30 rows, so invalid: d = 1 (a valid
    // 30x1 one with every cell right would get 30 / 60).
    arc_grid tall;
    arc_grid_init(&tall, 30, 2, 0);
    arc_output over = {1, {0}}, fits = {1, {0}};
    arc_grid_init(&over.grid, 31, 1, 0);
    arc_grid_init(&fits.grid, 30, 1, 0);
    expect_d("31 rows", over, &tall, 1.0);
    expect_d("30 rows, half the columns", fits, &tall, 0.5);
    arc_grid_free(&tall);
}

static void test_rewards(void) {
    arc_grid want[3] = {grid("12;34"), grid("123;456;789"), grid("5")};
    // Pair 0 exact (1 - 0 = 1); pair 1 a right 2x2 corner (1 - 5/9 = 4/9); pair 2 failed (0).
    // Partial = (1 + 4/9 + 0) / 3 = 13/27; strict = (1 + 0 + 0) / 3 = 1/3.
    arc_output got[3] = {ok("12;34"), ok("12;45"), {0, {0, 0, NULL}}};
    double partial = arc_reward_partial(got, want, 3), strict = arc_reward_strict(got, want, 3);
    CHECK(fabs(partial - 13.0 / 27) < 1e-12, "partial %.6f, want 13/27", partial);
    CHECK(fabs(strict - 1.0 / 3) < 1e-12, "strict %.6f, want 1/3", strict);
    // All exact: 1 and 1. One cell off in pair 1 of 2: partial (1 + 8/9) / 2 = 17/18, strict 1/2.
    arc_output all[2] = {ok("12;34"), ok("123;456;789")};
    CHECK(arc_reward_partial(all, want, 2) == 1.0 && arc_reward_strict(all, want, 2) == 1.0, "all exact");
    arc_set(&all[1].grid, 2, 2, 0);
    CHECK(fabs(arc_reward_partial(all, want, 2) - 17.0 / 18) < 1e-12 && arc_reward_strict(all, want, 2) == 0.5,
          "one cell off: partial %.6f strict %.6f", arc_reward_partial(all, want, 2), arc_reward_strict(all, want, 2));
    CHECK(arc_output_exact(&all[0], &want[0]) && !arc_output_exact(&all[1], &want[1]), "exact");
    for (int i = 0; i < 3; i++) arc_grid_free(&want[i]), arc_grid_free(&got[i].grid);
    for (int i = 0; i < 2; i++) arc_grid_free(&all[i].grid);
}

int main(void) {
    test_distance();
    test_rewards();
    return test_summary("arc_reward");
}
