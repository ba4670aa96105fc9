// A small grid language for ARC (docs/arc-dsl.md): straight-line programs, one binding per line,
//   x1 = rot90(I)
//   x2 = hconcat(I, x1)
//   O = replace(x2, 0, 5)
// each line a primitive applied to earlier names, the input grid I, or small integer literals; the last line's
// value is the output. Two types, grid and integer (a colour is an integer 0..9). A program is parsed and
// type-checked once into a fixed-size array of instructions, then run on any number of grids by a machine whose
// memory is allocated once: no recursion, no allocation while running but the output grid.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "tasks/arc/grid.h"

#define ARC_DSL_MAX_LINES 32     // instruction lines in a program (blank and comment lines are free)
#define ARC_DSL_MAX_NAME 16      // characters in a bound name
#define ARC_DSL_MAX_LITERAL 60   // integer literals are 0..60, written without leading zeros
#define ARC_DSL_MAX_ARGS 5       // the most arguments a primitive takes (crop)
#define ARC_DSL_MAX_SIDE 60      // no value computed while running may have a side above this
#define ARC_DSL_MAX_STEPS 200000 // default step budget (see arc_dsl_limits)
#define ARC_DSL_TEXT_MAX 4096    // the canonical text of any program fits in this many bytes

typedef struct {
    uint8_t op;      // index into the primitive table
    uint8_t nargs;
    uint8_t literal; // bit a set: arg[a] is a literal integer; clear: a value index (0 = I, k = line k's value)
    uint8_t pad;
    int16_t arg[ARC_DSL_MAX_ARGS];
    int16_t src_line; // the line of the source text it came from (runtime errors name it)
} arc_dsl_insn;

typedef struct {
    int n;  // instructions, 1..ARC_DSL_MAX_LINES
    arc_dsl_insn code[ARC_DSL_MAX_LINES];
} arc_dsl_program;

// Parses and type-checks `len` bytes of program text. On error returns -1 with one line
// "line L, column C: what" and p left empty (n = 0).
int arc_dsl_parse(arc_dsl_program *p, const char *text, size_t len, mg_err *e);

// The canonical text: line k bound to xk, the last line to O, "name = prim(a, b)" with ", " between arguments,
// one '\n' after each line. Two programs are the same program exactly when their canonical texts are equal.
// Writes at most cap bytes (NUL included, snprintf-style) and returns the full length (< ARC_DSL_TEXT_MAX).
int arc_dsl_format(const arc_dsl_program *p, char *buf, size_t cap);

// Budgets of one run. steps: every line costs 1 + the cells of the grids it reads + the cells of the grid it
// makes; a run that goes past max_steps fails. max_side: no grid (input or computed) may have more rows or
// columns than this (at most ARC_DSL_MAX_SIDE). The output must also fit ARC's 30 x 30.
typedef struct {
    long max_steps;
    int max_side;
} arc_dsl_limits;
extern const arc_dsl_limits arc_dsl_default_limits;  // {ARC_DSL_MAX_STEPS, ARC_DSL_MAX_SIDE}

typedef struct arc_dsl_vm arc_dsl_vm;  // the memory for running programs (about 130 KB), reused across runs
arc_dsl_vm *arc_dsl_vm_new(void);
void arc_dsl_vm_free(arc_dsl_vm *vm);

// Runs p on `in`. On success returns 0 with *out a new grid (free with arc_grid_free). On failure returns -1
// with one line "line L (prim): why" (or "input: why" / "output: why") and *out untouched. lim NULL = defaults.
int arc_dsl_run(arc_dsl_vm *vm, const arc_dsl_program *p, const arc_grid *in, const arc_dsl_limits *lim,
                arc_grid *out, mg_err *e);
// The number of steps the last run took (for budgets in benchmarks and tests).
long arc_dsl_vm_steps(const arc_dsl_vm *vm);

// The primitive table, for documentation and tests: name and signature "r:ps" (result type, then one letter per
// parameter; g grid, i integer, c colour = integer 0..9).
int arc_dsl_prim_count(void);
const char *arc_dsl_prim_name(int op);
const char *arc_dsl_prim_sig(int op);
