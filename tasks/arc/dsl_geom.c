// ARC DSL primitives that move cells without looking at colours: rotations, mirrors, scaling, tiling,
// concatenation, halves, splits and crops. Each writes out[r][c] from one input cell (docs/arc-dsl.md has the
// definitions; `rows x cols` below is the input's shape).
#include <string.h>

#include "tasks/arc/dsl_impl.h"

#define IN(k) (&a[k].g)
#define GET(g, r, c) ((g)->cells[(r) * (g)->cols + (c)])

// out (cols x rows): out[i][j] = g[rows-1-j][i] (clockwise).
DSL_PRIM(rot90) {
    const arc_grid *g = IN(0);
    if (dsl_out(cx, &out->g, g->cols, g->rows)) return -1;
    for (int i = 0; i < g->cols; i++)
        for (int j = 0; j < g->rows; j++) GET(&out->g, i, j) = GET(g, g->rows - 1 - j, i);
    return 0;
}

DSL_PRIM(rot180) {
    const arc_grid *g = IN(0);
    if (dsl_out(cx, &out->g, g->rows, g->cols)) return -1;
    int n = g->rows * g->cols;
    for (int k = 0; k < n; k++) out->g.cells[k] = g->cells[n - 1 - k];
    return 0;
}

// out (cols x rows): out[i][j] = g[j][cols-1-i] (counter-clockwise).
DSL_PRIM(rot270) {
    const arc_grid *g = IN(0);
    if (dsl_out(cx, &out->g, g->cols, g->rows)) return -1;
    for (int i = 0; i < g->cols; i++)
        for (int j = 0; j < g->rows; j++) GET(&out->g, i, j) = GET(g, j, g->cols - 1 - i);
    return 0;
}

// Each row reversed.
DSL_PRIM(flip_lr) {
    const arc_grid *g = IN(0);
    if (dsl_out(cx, &out->g, g->rows, g->cols)) return -1;
    for (int i = 0; i < g->rows; i++)
        for (int j = 0; j < g->cols; j++) GET(&out->g, i, j) = GET(g, i, g->cols - 1 - j);
    return 0;
}

// The order of the rows reversed.
DSL_PRIM(flip_ud) {
    const arc_grid *g = IN(0);
    if (dsl_out(cx, &out->g, g->rows, g->cols)) return -1;
    for (int i = 0; i < g->rows; i++) memcpy(&GET(&out->g, i, 0), &GET(g, g->rows - 1 - i, 0), (size_t)g->cols);
    return 0;
}

// Mirror in the main diagonal: out[i][j] = g[j][i].
DSL_PRIM(transpose) {
    const arc_grid *g = IN(0);
    if (dsl_out(cx, &out->g, g->cols, g->rows)) return -1;
    for (int i = 0; i < g->cols; i++)
        for (int j = 0; j < g->rows; j++) GET(&out->g, i, j) = GET(g, j, i);
    return 0;
}

// Mirror in the anti-diagonal: out[i][j] = g[rows-1-j][cols-1-i].
DSL_PRIM(antitranspose) {
    const arc_grid *g = IN(0);
    if (dsl_out(cx, &out->g, g->cols, g->rows)) return -1;
    for (int i = 0; i < g->cols; i++)
        for (int j = 0; j < g->rows; j++) GET(&out->g, i, j) = GET(g, g->rows - 1 - j, g->cols - 1 - i);
    return 0;
}

// out[i][j] = g[i / kr][j / kc], shape (rows*kr, cols*kc); a factor below 1 is an error.
static int scale(dsl_ctx *cx, const arc_grid *g, int kr, int kc, arc_grid *o) {
    if (kr < 1 || kc < 1) return dsl_fail(cx, "factor %d is below 1", kr < 1 ? kr : kc);
    if (kr > cx->max_side || kc > cx->max_side) return dsl_fail(cx, "factor %d is above %d", kr > kc ? kr : kc,
                                                                  cx->max_side);
    if (dsl_out(cx, o, g->rows * kr, g->cols * kc)) return -1;
    for (int i = 0; i < o->rows; i++)
        for (int j = 0; j < o->cols; j++) GET(o, i, j) = GET(g, i / kr, j / kc);
    return 0;
}
DSL_PRIM(upscale) { return scale(cx, IN(0), a[1].i, a[1].i, &out->g); }
DSL_PRIM(hupscale) { return scale(cx, IN(0), 1, a[1].i, &out->g); }
DSL_PRIM(vupscale) { return scale(cx, IN(0), a[1].i, 1, &out->g); }

// out[i][j] = g[i*k][j*k]: the top-left cell of each k x k block, shape (ceil(rows/k), ceil(cols/k)).
DSL_PRIM(downscale) {
    const arc_grid *g = IN(0);
    int k = a[1].i;
    if (k < 1) return dsl_fail(cx, "factor %d is below 1", k);
    if (dsl_out(cx, &out->g, (g->rows + k - 1) / k, (g->cols + k - 1) / k)) return -1;
    for (int i = 0; i < out->g.rows; i++)
        for (int j = 0; j < out->g.cols; j++) GET(&out->g, i, j) = GET(g, i * k, j * k);
    return 0;
}

// The grid repeated n times down and m times across: out[i][j] = g[i % rows][j % cols].
DSL_PRIM(tile) {
    const arc_grid *g = IN(0);
    int n = a[1].i, m = a[2].i;
    if (n < 1 || m < 1) return dsl_fail(cx, "repeat count %d is below 1", n < 1 ? n : m);
    if (n > cx->max_side || m > cx->max_side) return dsl_fail(cx, "repeat count above %d", cx->max_side);
    if (dsl_out(cx, &out->g, g->rows * n, g->cols * m)) return -1;
    for (int i = 0; i < out->g.rows; i++)
        for (int j = 0; j < out->g.cols; j++) GET(&out->g, i, j) = GET(g, i % g->rows, j % g->cols);
    return 0;
}

// The rows x cols window of g at (r0, c0), which must lie inside g.
static int window(dsl_ctx *cx, const arc_grid *g, int r0, int c0, int rows, int cols, arc_grid *o) {
    if (rows < 1 || cols < 1) return dsl_fail(cx, "empty crop %dx%d", rows, cols);
    if (r0 < 0 || c0 < 0 || r0 + rows > g->rows || c0 + cols > g->cols)
        return dsl_fail(cx, "window %dx%d at (%d, %d) leaves the %dx%d grid", rows, cols, r0, c0, g->rows, g->cols);
    if (dsl_out(cx, o, rows, cols)) return -1;
    for (int i = 0; i < rows; i++) memcpy(&GET(o, i, 0), &GET(g, r0 + i, c0), (size_t)cols);
    return 0;
}

// b to the right of a (same number of rows).
DSL_PRIM(hconcat) {
    const arc_grid *x = IN(0), *y = IN(1);
    if (x->rows != y->rows) return dsl_fail(cx, "%d rows beside %d rows", x->rows, y->rows);
    if (dsl_out(cx, &out->g, x->rows, x->cols + y->cols)) return -1;
    for (int i = 0; i < x->rows; i++) {
        memcpy(&GET(&out->g, i, 0), &GET(x, i, 0), (size_t)x->cols);
        memcpy(&GET(&out->g, i, x->cols), &GET(y, i, 0), (size_t)y->cols);
    }
    return 0;
}

// b below a (same number of columns).
DSL_PRIM(vconcat) {
    const arc_grid *x = IN(0), *y = IN(1);
    if (x->cols != y->cols) return dsl_fail(cx, "%d columns above %d columns", x->cols, y->cols);
    if (dsl_out(cx, &out->g, x->rows + y->rows, x->cols)) return -1;
    memcpy(out->g.cells, x->cells, (size_t)x->rows * x->cols);
    memcpy(out->g.cells + x->rows * x->cols, y->cells, (size_t)y->rows * y->cols);
    return 0;
}

// Halves: floor(rows/2) rows (or columns) from one side; an odd middle row (column) belongs to neither.
DSL_PRIM(tophalf) { return window(cx, IN(0), 0, 0, IN(0)->rows / 2, IN(0)->cols, &out->g); }
DSL_PRIM(bottomhalf) {
    const arc_grid *g = IN(0);
    return window(cx, g, g->rows - g->rows / 2, 0, g->rows / 2, g->cols, &out->g);
}
DSL_PRIM(lefthalf) { return window(cx, IN(0), 0, 0, IN(0)->rows, IN(0)->cols / 2, &out->g); }
DSL_PRIM(righthalf) {
    const arc_grid *g = IN(0);
    return window(cx, g, 0, g->cols - g->cols / 2, g->rows, g->cols / 2, &out->g);
}

// Part i of n equal parts of a side of length len: either n parts of len/n, or, when len = n*w + (n-1), n parts
// of w with one-cell separators between them. *start and *size the part; -1 when len splits neither way.
static int part(dsl_ctx *cx, int len, int n, int i, int *start, int *size) {
    if (n < 1 || i >= n) return dsl_fail(cx, "part %d of %d does not exist", i, n);
    int gap;
    if (len % n == 0) gap = 0;
    else if (len > n - 1 && (len - (n - 1)) % n == 0) gap = 1;
    else return dsl_fail(cx, "a side of %d does not split into %d parts", len, n);
    *size = (len - gap * (n - 1)) / n;
    *start = i * (*size + gap);
    return 0;
}

DSL_PRIM(hsplit) {
    int c0 = 0, w = 0;
    if (part(cx, IN(0)->cols, a[1].i, a[2].i, &c0, &w)) return -1;
    return window(cx, IN(0), 0, c0, IN(0)->rows, w, &out->g);
}
DSL_PRIM(vsplit) {
    int r0 = 0, h = 0;
    if (part(cx, IN(0)->rows, a[1].i, a[2].i, &r0, &h)) return -1;
    return window(cx, IN(0), r0, 0, h, IN(0)->cols, &out->g);
}

// crop(g, r, c, h, w): the h x w window at row r, column c; it must lie inside g.
DSL_PRIM(crop) { return window(cx, IN(0), a[1].i, a[2].i, a[3].i, a[4].i, &out->g); }

// The grid without its outermost ring of cells (needs at least 3 x 3).
DSL_PRIM(trim) {
    const arc_grid *g = IN(0);
    if (g->rows < 3 || g->cols < 3) return dsl_fail(cx, "a %dx%d grid has no inside to keep", g->rows, g->cols);
    return window(cx, g, 1, 1, g->rows - 2, g->cols - 2, &out->g);
}
