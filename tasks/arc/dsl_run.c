// The ARC DSL's interpreter: runs a parsed program on one grid. Every line's grid lives in its own slot of memory
// allocated with the machine (ARC_DSL_MAX_SIDE^2 bytes per line), so a run allocates nothing but the output, and
// no line can overwrite a value a later line reads.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tasks/arc/dsl_impl.h"

#define SLOT ((size_t)ARC_DSL_MAX_SIDE * ARC_DSL_MAX_SIDE)

struct arc_dsl_vm {
    uint8_t *arena;    // (ARC_DSL_MAX_LINES, SLOT): line k's grid in slot k
    int32_t *scratch;  // SLOT ints, then SLOT bytes (dsl_ctx.scratch)
    long steps;        // of the last run
};

const arc_dsl_limits arc_dsl_default_limits = {ARC_DSL_MAX_STEPS, ARC_DSL_MAX_SIDE};

arc_dsl_vm *arc_dsl_vm_new(void) {
    arc_dsl_vm *vm = callocCheck(1, sizeof *vm);
    vm->arena = mallocCheck(ARC_DSL_MAX_LINES * SLOT);
    vm->scratch = mallocCheck(SLOT * sizeof(int32_t) + SLOT);
    return vm;
}

void arc_dsl_vm_free(arc_dsl_vm *vm) {
    if (!vm) return;
    free(vm->arena);
    free(vm->scratch);
    free(vm);
}

long arc_dsl_vm_steps(const arc_dsl_vm *vm) { return vm->steps; }

int dsl_fail(dsl_ctx *cx, const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return mg_fail(cx->e, "line %d (%s): %s", cx->line, cx->prim, what);
}

static int charge(dsl_ctx *cx, long cells) {
    cx->steps += cells;
    if (cx->steps > cx->max_steps) return dsl_fail(cx, "step budget of %ld spent", cx->max_steps);
    return 0;
}

int dsl_out(dsl_ctx *cx, arc_grid *out, int rows, int cols) {
    if (rows < 1 || cols < 1) return dsl_fail(cx, "the result would be empty (%dx%d)", rows, cols);
    if (rows > cx->max_side || cols > cx->max_side)
        return dsl_fail(cx, "the result would be %dx%d, above the %dx%d size budget", rows, cols, cx->max_side,
                        cx->max_side);
    if (charge(cx, (long)rows * cols)) return -1;
    out->rows = rows, out->cols = cols, out->cells = cx->buf;
    return 0;
}

int arc_dsl_run(arc_dsl_vm *vm, const arc_dsl_program *p, const arc_grid *in, const arc_dsl_limits *lim,
                arc_grid *out, mg_err *e) {
    if (!lim) lim = &arc_dsl_default_limits;
    dsl_ctx cx = {.scratch = vm->scratch, .max_steps = lim->max_steps, .e = e,
                  .max_side = lim->max_side < ARC_DSL_MAX_SIDE ? lim->max_side : ARC_DSL_MAX_SIDE};
    vm->steps = 0;
    if (p->n < 1 || p->n > ARC_DSL_MAX_LINES) return mg_fail(e, "program: not a parsed program (%d lines)", p->n);
    if (in->rows < 1 || in->cols < 1 || in->rows > cx.max_side || in->cols > cx.max_side)
        return mg_fail(e, "input: a %dx%d grid is outside 1x1..%dx%d", in->rows, in->cols, cx.max_side, cx.max_side);
    dsl_val vals[ARC_DSL_MAX_LINES + 1];  // vals[0] = I, vals[k] = line k
    vals[0].g = *in, vals[0].i = 0;
    for (int k = 0; k < p->n; k++) {
        const arc_dsl_insn *insn = &p->code[k];
        const dsl_prim *prim = &dsl_prims[insn->op];
        dsl_val args[ARC_DSL_MAX_ARGS];
        long cells = 1;
        cx.line = insn->src_line, cx.prim = prim->name, cx.buf = vm->arena + (size_t)k * SLOT;
        for (int a = 0; a < insn->nargs; a++) {
            char want = prim->sig[2 + a];
            if (insn->literal >> a & 1) {
                args[a].i = insn->arg[a];
                continue;
            }
            args[a] = vals[insn->arg[a]];
            if (want == 'g') cells += (long)args[a].g.rows * args[a].g.cols;
            if (want == 'c' && (args[a].i < 0 || args[a].i >= ARC_COLOURS)) {
                vm->steps = cx.steps;
                return dsl_fail(&cx, "argument %d is %d, not a colour 0..9", a + 1, args[a].i);
            }
        }
        int rc = charge(&cx, cells);
        if (!rc) rc = prim->fn(&cx, args, &vals[k + 1]);
        if (!rc && cx.steps > cx.max_steps) rc = dsl_fail(&cx, "step budget of %ld spent", cx.max_steps);
        if (rc) {
            vm->steps = cx.steps;
            return -1;
        }
    }
    vm->steps = cx.steps;
    const arc_grid *g = &vals[p->n].g;
    if (g->rows > ARC_MAX_SIDE || g->cols > ARC_MAX_SIDE)
        return mg_fail(e, "output: %dx%d is larger than ARC's %dx%d", g->rows, g->cols, ARC_MAX_SIDE, ARC_MAX_SIDE);
    arc_grid_init(out, g->rows, g->cols, 0);
    memcpy(out->cells, g->cells, (size_t)g->rows * g->cols);
    return 0;
}
