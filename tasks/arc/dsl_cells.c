// ARC DSL primitives that combine two same-shape grids cell by cell, and the ones that crop to where a colour (or
// the largest 4-connected object) lies.
#include <string.h>

#include "tasks/arc/dsl_impl.h"

// out[k] = f(x[k], y[k], c) over two grids of one shape.
typedef uint8_t (*cell_fn)(uint8_t x, uint8_t y, uint8_t c);
static int combine(dsl_ctx *cx, const arc_grid *x, const arc_grid *y, uint8_t c, cell_fn f, arc_grid *o) {
    if (x->rows != y->rows || x->cols != y->cols)
        return dsl_fail(cx, "shapes %dx%d and %dx%d differ", x->rows, x->cols, y->rows, y->cols);
    if (dsl_out(cx, o, x->rows, x->cols)) return -1;
    int n = x->rows * x->cols;
    for (int k = 0; k < n; k++) o->cells[k] = f(x->cells[k], y->cells[k], c);
    return 0;
}

static uint8_t f_cellwise(uint8_t x, uint8_t y, uint8_t c) { return x == y ? x : c; }
static uint8_t f_overlay(uint8_t x, uint8_t y, uint8_t c) { return (void)c, y ? y : x; }
static uint8_t f_mask(uint8_t x, uint8_t y, uint8_t c) { return (void)c, y ? x : 0; }
static uint8_t f_and(uint8_t x, uint8_t y, uint8_t c) { return x && y ? c : 0; }
static uint8_t f_or(uint8_t x, uint8_t y, uint8_t c) { return x || y ? c : 0; }
static uint8_t f_xor(uint8_t x, uint8_t y, uint8_t c) { return !x != !y ? c : 0; }
static uint8_t f_nor(uint8_t x, uint8_t y, uint8_t c) { return !x && !y ? c : 0; }

// cellwise(a, b, c): a's cell where a and b agree, else c.
DSL_PRIM(cellwise) { return combine(cx, &a[0].g, &a[1].g, (uint8_t)a[2].i, f_cellwise, &out->g); }
// overlay(a, b): b's non-zero cells over a.
DSL_PRIM(overlay) { return combine(cx, &a[0].g, &a[1].g, 0, f_overlay, &out->g); }
// mask(a, m): a's cell where m is non-zero, else 0.
DSL_PRIM(mask) { return combine(cx, &a[0].g, &a[1].g, 0, f_mask, &out->g); }
// and/or/xor/nor(a, b, c): c where (a != 0) op (b != 0) holds, else 0.
DSL_PRIM(and) { return combine(cx, &a[0].g, &a[1].g, (uint8_t)a[2].i, f_and, &out->g); }
DSL_PRIM(or) { return combine(cx, &a[0].g, &a[1].g, (uint8_t)a[2].i, f_or, &out->g); }
DSL_PRIM(xor) { return combine(cx, &a[0].g, &a[1].g, (uint8_t)a[2].i, f_xor, &out->g); }
DSL_PRIM(nor) { return combine(cx, &a[0].g, &a[1].g, (uint8_t)a[2].i, f_nor, &out->g); }

// The smallest rectangle holding every cell whose (colour == c) equals `want`, cut out of g.
static int crop_box(dsl_ctx *cx, const arc_grid *g, int c, int want, arc_grid *o) {
    int r0 = g->rows, r1 = -1, c0 = g->cols, c1 = -1;
    for (int i = 0; i < g->rows; i++)
        for (int j = 0; j < g->cols; j++)
            if ((g->cells[i * g->cols + j] == c) == want) {
                if (i < r0) r0 = i;
                if (i > r1) r1 = i;
                if (j < c0) c0 = j;
                if (j > c1) c1 = j;
            }
    if (r1 < 0) return dsl_fail(cx, want ? "no cell has colour %d" : "every cell has colour %d", c);
    if (dsl_out(cx, o, r1 - r0 + 1, c1 - c0 + 1)) return -1;
    for (int i = 0; i < o->rows; i++)
        memcpy(&o->cells[i * o->cols], &g->cells[(r0 + i) * g->cols + c0], (size_t)o->cols);
    return 0;
}

// bbox(g, c): the bounding box of colour c (an error when c is absent).
DSL_PRIM(bbox) { return crop_box(cx, &a[0].g, a[1].i, 1, &out->g); }
// shrink(g, bg): the bounding box of the cells that are not bg (an error when all are bg).
DSL_PRIM(shrink) { return crop_box(cx, &a[0].g, a[1].i, 0, &out->g); }

// largest(g, bg): the bounding box of the largest 4-connected set of non-bg cells (colours may mix); ties go to
// the set whose first cell comes first in row-major order. An error when every cell is bg.
DSL_PRIM(largest) {
    const arc_grid *g = &a[0].g;
    int bg = a[1].i, n = g->rows * g->cols, best = 0, box[4] = {0};
    // The scratch space: a queue of cell indices (each queued once), then one byte per cell, set once queued.
    uint8_t *seen = (uint8_t *)(cx->scratch + ARC_DSL_MAX_SIDE * ARC_DSL_MAX_SIDE);
    int32_t *queue = cx->scratch;
    memset(seen, 0, (size_t)n);
    for (int s = 0; s < n; s++) {
        if (seen[s] || g->cells[s] == bg) continue;
        int head = 0, tail = 0, r0 = s / g->cols, r1 = r0, c0 = s % g->cols, c1 = c0;
        queue[tail++] = s, seen[s] = 1;
        while (head < tail) {
            int k = queue[head++], i = k / g->cols, j = k % g->cols;
            if (i < r0) r0 = i;
            if (i > r1) r1 = i;
            if (j < c0) c0 = j;
            if (j > c1) c1 = j;
            int nb[4] = {i > 0 ? k - g->cols : -1, i + 1 < g->rows ? k + g->cols : -1, j > 0 ? k - 1 : -1,
                         j + 1 < g->cols ? k + 1 : -1};
            for (int d = 0; d < 4; d++)
                if (nb[d] >= 0 && !seen[nb[d]] && g->cells[nb[d]] != bg) seen[nb[d]] = 1, queue[tail++] = nb[d];
        }
        if (tail > best) best = tail, box[0] = r0, box[1] = r1, box[2] = c0, box[3] = c1;
    }
    if (!best) return dsl_fail(cx, "every cell has colour %d", bg);
    cx->steps += n;  // the flood fill reads every cell once more
    int rows = box[1] - box[0] + 1, cols = box[3] - box[2] + 1;
    if (dsl_out(cx, &out->g, rows, cols)) return -1;
    for (int i = 0; i < rows; i++)
        memcpy(&out->g.cells[i * cols], &g->cells[(box[0] + i) * g->cols + box[2]], (size_t)cols);
    return 0;
}
