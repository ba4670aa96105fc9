// What the ARC DSL's parser, interpreter and primitives share (not for callers: they use tasks/arc/dsl.h).
#pragma once
#include <stdint.h>

#include "tasks/arc/dsl.h"

// A value while running: a grid (cells point into the machine's memory or the input) or an integer.
typedef struct {
    arc_grid g;
    int i;
} dsl_val;

// One line's running context: where its output goes and the budgets it draws on.
typedef struct {
    uint8_t *buf;      // this line's output cells (ARC_DSL_MAX_SIDE^2 bytes)
    int32_t *scratch;  // flood fills: ARC_DSL_MAX_SIDE^2 ints, then as many bytes
    int max_side;
    long steps, max_steps;
    int line;
    const char *prim;
    mg_err *e;
} dsl_ctx;

// Makes out a rows x cols grid in this line's buffer, charging its cells to the step budget. Fails (returns -1)
// when a side is below 1 ("empty grid") or above max_side, or the budget is spent.
int dsl_out(dsl_ctx *cx, arc_grid *out, int rows, int cols);
// A failure of this line: "line L (prim): <fmt>". Returns -1.
int dsl_fail(dsl_ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef int (*dsl_fn)(dsl_ctx *cx, const dsl_val *a, dsl_val *out);
typedef struct {
    const char *name;
    const char *sig;  // "g:gi": result, then parameters (g grid, i integer, c colour)
    dsl_fn fn;
} dsl_prim;

extern const dsl_prim dsl_prims[];
extern const int dsl_nprims;

// The primitives, by family (dsl_geom.c, dsl_colour.c, dsl_cells.c).
#define DSL_PRIM(name) int dsl_##name(dsl_ctx *cx, const dsl_val *a, dsl_val *out)
DSL_PRIM(rot90); DSL_PRIM(rot180); DSL_PRIM(rot270); DSL_PRIM(flip_lr); DSL_PRIM(flip_ud);
DSL_PRIM(transpose); DSL_PRIM(antitranspose); DSL_PRIM(upscale); DSL_PRIM(hupscale); DSL_PRIM(vupscale);
DSL_PRIM(downscale); DSL_PRIM(tile); DSL_PRIM(hconcat); DSL_PRIM(vconcat); DSL_PRIM(tophalf);
DSL_PRIM(bottomhalf); DSL_PRIM(lefthalf); DSL_PRIM(righthalf); DSL_PRIM(hsplit); DSL_PRIM(vsplit);
DSL_PRIM(crop); DSL_PRIM(trim);
DSL_PRIM(replace); DSL_PRIM(swap); DSL_PRIM(recolor); DSL_PRIM(keep); DSL_PRIM(fill); DSL_PRIM(canvas);
DSL_PRIM(mostcolor); DSL_PRIM(leastcolor); DSL_PRIM(mostfg); DSL_PRIM(ncolors); DSL_PRIM(height);
DSL_PRIM(width);
DSL_PRIM(cellwise); DSL_PRIM(overlay); DSL_PRIM(mask); DSL_PRIM(and); DSL_PRIM(or); DSL_PRIM(xor);
DSL_PRIM(nor); DSL_PRIM(bbox); DSL_PRIM(shrink); DSL_PRIM(largest);
