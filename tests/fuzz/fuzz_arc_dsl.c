// libFuzzer target: ARC DSL program text (tasks/arc/dsl.h). A program that parses must print canonically, parse
// back to the same canonical text, and run on a few fixed grids within its budgets: success gives a grid of
// 1..30 x 1..30 colours, failure one line. A program that does not parse must say why in one line naming
// "line L, column C".
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tasks/arc/dsl.h"

#include "tests/fuzz/fuzz_require.h"

static arc_dsl_vm *vm;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!vm) vm = arc_dsl_vm_new();  // reused across inputs, as a search would
    arc_dsl_program p;
    mg_err e = {{0}};
    if (arc_dsl_parse(&p, (const char *)data, size, &e)) {
        require(e.msg[0] && !strchr(e.msg, '\n') && !strncmp(e.msg, "line ", 5) && strstr(e.msg, ", column "));
        require(p.n == 0);
        return 0;
    }
    require(p.n >= 1 && p.n <= ARC_DSL_MAX_LINES);
    char text[ARC_DSL_TEXT_MAX], again[ARC_DSL_TEXT_MAX];
    int n = arc_dsl_format(&p, text, sizeof text);
    require(n > 0 && n < ARC_DSL_TEXT_MAX && (size_t)n == strlen(text));
    arc_dsl_program q;
    mg_err e2 = {{0}};
    if (arc_dsl_parse(&q, text, (size_t)n, &e2)) fprintf(stderr, "canonical text does not parse: %s\n%s", e2.msg, text);
    require(q.n == p.n);
    require(arc_dsl_format(&q, again, sizeof again) == n && !strcmp(text, again));
    // Fixed inputs: one cell, a small ragged-looking pattern, and a full 30 x 30.
    static const int shapes[3][2] = {{1, 1}, {3, 5}, {30, 30}};
    for (int s = 0; s < 3; s++) {
        arc_grid in, out = {0};
        arc_grid_init(&in, shapes[s][0], shapes[s][1], 0);
        for (int k = 0; k < in.rows * in.cols; k++) in.cells[k] = (uint8_t)((k * 7 + k / in.cols) % 10 * (k % 3 != 0));
        arc_dsl_limits lim = {20000, ARC_DSL_MAX_SIDE};
        if (arc_dsl_run(vm, &p, &in, &lim, &out, &e) == 0) {
            require(out.rows >= 1 && out.rows <= ARC_MAX_SIDE && out.cols >= 1 && out.cols <= ARC_MAX_SIDE);
            for (int k = 0; k < out.rows * out.cols; k++) require(out.cells[k] < ARC_COLOURS);
            require(arc_dsl_vm_steps(vm) <= lim.max_steps);
            arc_grid_free(&out);
        } else {
            require(e.msg[0] && !strchr(e.msg, '\n'));
        }
        arc_grid_free(&in);
    }
    return 0;
}
