// Random input grids for the task generator: a background colour with sparse content in the task's other colours,
// in one of four styles per task (scattered noise, rectangles filled or outlined, 4-connected blobs, rectangles
// over noise), so that colour primitives find colours to change and object primitives (shrink, largest, bbox)
// find objects. Sides come from the favoured range (3..10 by default) with probability small_prob, else from
// 1..max_side; a task's inputs all share one size with probability 0.35 (splits and two-grid primitives then
// work on every pair).
#include <string.h>

#include "tasks/arc/dsl_gen_impl.h"

enum { GEN_NOISE, GEN_RECTS, GEN_BLOBS, GEN_MIXED };

static int side(gen_rng *r, const arc_gen_config *c, int small) {
    int hi = c->small_hi < c->max_side ? c->small_hi : c->max_side;
    int lo = c->small_lo < hi ? c->small_lo : hi;
    return small ? gen_int(r, lo, hi) : gen_int(r, 1, c->max_side);
}

void gen_layout_draw(gen_rng *r, const arc_gen_config *c, gen_layout *lay) {
    float u = (float)gen_int(r, 0, 99) / 100.0f;
    lay->style = u < 0.25f ? GEN_NOISE : u < 0.55f ? GEN_RECTS : u < 0.85f ? GEN_BLOBS : GEN_MIXED;
    lay->small = gen_chance(r, c->small_prob);
    lay->same_size = gen_chance(r, 0.35f);
    lay->rows = side(r, c, lay->small);
    lay->cols = side(r, c, lay->small);
}

static uint8_t fg(gen_rng *r, const gen_palette *pal) { return (uint8_t)pal->fg[gen_int(r, 0, pal->nfg - 1)]; }

static void noise(gen_rng *r, const gen_palette *pal, arc_grid *g, float density) {
    for (int i = 0; i < g->rows * g->cols; i++)
        if (gen_chance(r, density)) g->cells[i] = fg(r, pal);
}

static void rects(gen_rng *r, const gen_palette *pal, arc_grid *g) {
    int n = gen_int(r, 1, 4);
    for (int k = 0; k < n; k++) {
        int h = gen_int(r, 1, (g->rows + 1) / 2), w = gen_int(r, 1, (g->cols + 1) / 2);
        int r0 = gen_int(r, 0, g->rows - h), c0 = gen_int(r, 0, g->cols - w);
        int outline = h > 2 && w > 2 && gen_chance(r, 0.3f);
        uint8_t col = fg(r, pal);
        for (int i = r0; i < r0 + h; i++)
            for (int j = c0; j < c0 + w; j++)
                if (!outline || i == r0 || i == r0 + h - 1 || j == c0 || j == c0 + w - 1) arc_set(g, i, j, col);
    }
}

// Blobs: from a random cell, a random walk over 4-neighbours painting cells, 1..cells/6 + 1 steps.
static void blobs(gen_rng *r, const gen_palette *pal, arc_grid *g) {
    int n = gen_int(r, 1, 4), cells = g->rows * g->cols;
    static const int dr[4] = {-1, 1, 0, 0}, dc[4] = {0, 0, -1, 1};
    for (int k = 0; k < n; k++) {
        int i = gen_int(r, 0, g->rows - 1), j = gen_int(r, 0, g->cols - 1), steps = gen_int(r, 1, cells / 6 + 1);
        uint8_t col = fg(r, pal);
        for (int s = 0; s < steps; s++) {
            arc_set(g, i, j, col);
            int d = gen_int(r, 0, 3), ni = i + dr[d], nj = j + dc[d];
            if (ni >= 0 && ni < g->rows && nj >= 0 && nj < g->cols) i = ni, j = nj;
        }
    }
}

void gen_grid_draw(gen_rng *r, const arc_gen_config *c, const gen_layout *lay, const gen_palette *pal, arc_grid *g) {
    int rows = lay->same_size ? lay->rows : side(r, c, lay->small);
    int cols = lay->same_size ? lay->cols : side(r, c, lay->small);
    arc_grid_init(g, rows, cols, (uint8_t)pal->bg);
    switch (lay->style) {
    case GEN_NOISE: noise(r, pal, g, 0.05f + 0.35f * (float)gen_int(r, 0, 99) / 100.0f); break;
    case GEN_RECTS: rects(r, pal, g); break;
    case GEN_BLOBS: blobs(r, pal, g); break;
    default:
        noise(r, pal, g, 0.1f);
        rects(r, pal, g);
        break;
    }
    int any = 0;
    for (int i = 0; i < rows * cols && !any; i++) any = g->cells[i] != pal->bg;
    if (!any) g->cells[gen_int(r, 0, rows * cols - 1)] = fg(r, pal);  // never only background
}
