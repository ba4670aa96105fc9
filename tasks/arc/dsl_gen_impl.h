// What the task generator's files share (callers use tasks/arc/dsl_gen.h): a counter-based random stream and the
// program and grid drawers.
#pragma once
#include <stdint.h>

#include "common/philox.h"
#include "tasks/arc/dsl_gen.h"

// Draws of one candidate: Philox4x32 (common/philox.h) under key = rng_mix(seed, index), stream = attempt, the
// counter advancing one block per four 32-bit draws. A candidate's draws depend on (seed, index, attempt) only.
typedef struct {
    uint64_t key, stream, ctr;
    uint32_t buf[4];
    int left;
} gen_rng;

static inline uint32_t gen_u32(gen_rng *r) {
    if (!r->left) {
        mg_philox4x32(r->key, r->stream, r->ctr++, r->buf);
        r->left = 4;
    }
    return r->buf[--r->left];
}
// Uniform in lo..hi (inclusive; hi >= lo), by multiply-shift (bias below 2^-32 * span: irrelevant here).
static inline int gen_int(gen_rng *r, int lo, int hi) {
    return lo + (int)(((uint64_t)gen_u32(r) * (uint64_t)(hi - lo + 1)) >> 32);
}
// True with probability p.
static inline int gen_chance(gen_rng *r, float p) { return (float)(gen_u32(r) >> 8) * (1.0f / 16777216.0f) < p; }

// The colours a task's grids use: a background and 1..4 others.
typedef struct {
    int bg;
    int nfg;
    int fg[4];
} gen_palette;

void gen_palette_draw(gen_rng *r, gen_palette *pal);
// A colour literal for a program: mostly the task's colours, so colour primitives find something to act on.
int gen_colour(gen_rng *r, const gen_palette *pal);

// The primitive table as the program drawer sees it (filled once per arc_gen).
typedef struct {
    int nprims;
    char res[64];         // 'g' or 'i'
    int nargs[64];
    char par[64][ARC_DSL_MAX_ARGS];  // 'g', 'i', 'c'
    int kind[64];         // literal policy (dsl_gen_prog.c)
} gen_table;

void gen_table_init(gen_table *tb);
// A program being drawn on a task's inputs: the values of its lines on every input.
typedef struct {
    const gen_table *tb;
    arc_dsl_vm *vm;
    int npairs, n_train;
    char vtype[ARC_DSL_MAX_LINES + 1], vcol[ARC_DSL_MAX_LINES + 1];  // per value: 'g'/'i'; an integer is a colour
    arc_grid val[ARC_DSL_MAX_LINES + 1][ARC_GEN_MAX_PAIRS];  // grid value v on input i; v = 0: the inputs (borrowed)
    long line_rejects;                                       // lines drawn and thrown away (failed or useless)
} gen_prog;

// A random program of `lines` lines with no dead line and no useless line, for the inputs in g->val[0]. On
// success val[lines] holds its outputs (the caller takes them) and every other value is freed. Returns -1 when no
// such program was found in a bounded number of tries (the caller draws a new candidate); then nothing is held.
int gen_program(gen_rng *r, gen_prog *g, const gen_palette *pal, int lines, arc_dsl_program *p);

// The shape of a task's inputs: one style and size rule for all its grids.
typedef struct {
    int style;          // GEN_NOISE, GEN_RECTS, GEN_BLOBS, GEN_MIXED
    int same_size;      // all inputs one size
    int rows, cols;     // that size
    int small;          // sides from the favoured range
} gen_layout;

void gen_layout_draw(gen_rng *r, const arc_gen_config *c, gen_layout *lay);
// One input grid (allocated into g) in the task's layout and palette: background with sparse content, never only
// background.
void gen_grid_draw(gen_rng *r, const arc_gen_config *c, const gen_layout *lay, const gen_palette *pal, arc_grid *g);
