// ARC DSL primitives about colours: recolouring cell by cell, blank grids, and colour counts (integers).
#include <string.h>

#include "tasks/arc/dsl_impl.h"

// out[k] = map[g[k]] for a 10-entry colour map.
static int remap(dsl_ctx *cx, const arc_grid *g, const uint8_t map[ARC_COLOURS], arc_grid *o) {
    if (dsl_out(cx, o, g->rows, g->cols)) return -1;
    int n = g->rows * g->cols;
    for (int k = 0; k < n; k++) o->cells[k] = map[g->cells[k]];
    return 0;
}

static void identity(uint8_t map[ARC_COLOURS]) {
    for (int c = 0; c < ARC_COLOURS; c++) map[c] = (uint8_t)c;
}

// replace(g, a, b): every a becomes b.
DSL_PRIM(replace) {
    uint8_t map[ARC_COLOURS];
    identity(map);
    map[a[1].i] = (uint8_t)a[2].i;
    return remap(cx, &a[0].g, map, &out->g);
}

// swap(g, a, b): a becomes b and b becomes a.
DSL_PRIM(swap) {
    uint8_t map[ARC_COLOURS];
    identity(map);
    map[a[1].i] = (uint8_t)a[2].i, map[a[2].i] = (uint8_t)a[1].i;
    return remap(cx, &a[0].g, map, &out->g);
}

// recolor(g, c): every non-zero cell becomes c.
DSL_PRIM(recolor) {
    uint8_t map[ARC_COLOURS];
    memset(map, a[1].i, sizeof map);
    map[0] = 0;
    return remap(cx, &a[0].g, map, &out->g);
}

// keep(g, c): cells of colour c stay, all others become 0.
DSL_PRIM(keep) {
    uint8_t map[ARC_COLOURS] = {0};
    map[a[1].i] = (uint8_t)a[1].i;
    return remap(cx, &a[0].g, map, &out->g);
}

// fill(g, c): g's shape, every cell c.
DSL_PRIM(fill) {
    if (dsl_out(cx, &out->g, a[0].g.rows, a[0].g.cols)) return -1;
    memset(out->g.cells, a[1].i, (size_t)out->g.rows * out->g.cols);
    return 0;
}

// canvas(c, h, w): h x w cells of colour c.
DSL_PRIM(canvas) {
    if (dsl_out(cx, &out->g, a[1].i, a[2].i)) return -1;
    memset(out->g.cells, a[0].i, (size_t)out->g.rows * out->g.cols);
    return 0;
}

static void histogram(const arc_grid *g, int count[ARC_COLOURS]) {
    memset(count, 0, ARC_COLOURS * sizeof *count);
    int n = g->rows * g->cols;
    for (int k = 0; k < n; k++) count[g->cells[k]]++;
}

// The most frequent colour; ties go to the smallest colour.
DSL_PRIM(mostcolor) {
    (void)cx;
    int count[ARC_COLOURS], best = 0;
    histogram(&a[0].g, count);
    for (int c = 1; c < ARC_COLOURS; c++)
        if (count[c] > count[best]) best = c;
    out->i = best;
    return 0;
}

// The least frequent colour among those present; ties go to the smallest colour.
DSL_PRIM(leastcolor) {
    (void)cx;
    int count[ARC_COLOURS], best = -1;
    histogram(&a[0].g, count);
    for (int c = 0; c < ARC_COLOURS; c++)
        if (count[c] && (best < 0 || count[c] < count[best])) best = c;
    out->i = best;  // a grid has at least one cell, so some colour is present
    return 0;
}

// The most frequent colour other than 0 (ties to the smallest); 0 when every cell is 0.
DSL_PRIM(mostfg) {
    (void)cx;
    int count[ARC_COLOURS], best = 0;
    histogram(&a[0].g, count);
    for (int c = 1; c < ARC_COLOURS; c++)
        if (count[c] && (best == 0 || count[c] > count[best])) best = c;
    out->i = best;
    return 0;
}

// The number of distinct colours (1..10).
DSL_PRIM(ncolors) {
    (void)cx;
    int count[ARC_COLOURS], n = 0;
    histogram(&a[0].g, count);
    for (int c = 0; c < ARC_COLOURS; c++) n += count[c] > 0;
    out->i = n;
    return 0;
}

DSL_PRIM(height) {
    (void)cx;
    out->i = a[0].g.rows;
    return 0;
}

DSL_PRIM(width) {
    (void)cx;
    out->i = a[0].g.cols;
    return 0;
}
