// One synthetic task: a candidate is (length, palette, input grids, program) drawn from the stream of (seed,
// index, attempt), the program drawn on the inputs (dsl_gen_prog.c) so that it runs on every one, changes some
// train input and every test input, and does not give one grid for all inputs. Duplicates across a run are the
// run's business (dsl_gen_run.c); here each task gets the hashes it is compared by.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "tasks/arc/dsl_gen_impl.h"

struct arc_gen {
    arc_gen_config cfg;
    gen_table tb;
    arc_dsl_vm *vm;
    gen_prog prog;  // the program being drawn (its values on the inputs)
};

void arc_gen_config_default(arc_gen_config *c) {
    *c = (arc_gen_config){.min_lines = 1, .max_lines = 3, .max_side = ARC_MAX_SIDE, .small_lo = 3, .small_hi = 10,
                          .small_prob = 0.85f, .n_train = 3, .n_test = 1, .max_attempts = 2000};
}

int arc_gen_config_check(const arc_gen_config *c, mg_err *e) {
    if (c->min_lines < 1 || c->max_lines > ARC_DSL_MAX_LINES || c->min_lines > c->max_lines)
        return mg_fail(e, "lines: %d-%d: want 1 <= MIN <= MAX <= %d", c->min_lines, c->max_lines, ARC_DSL_MAX_LINES);
    if (c->max_side < 1 || c->max_side > ARC_MAX_SIDE)
        return mg_fail(e, "max-side: %d is outside 1..%d", c->max_side, ARC_MAX_SIDE);
    if (c->small_lo < 1 || c->small_lo > c->small_hi || c->small_hi > ARC_MAX_SIDE)
        return mg_fail(e, "small sides: %d-%d: want 1 <= LO <= HI <= %d", c->small_lo, c->small_hi, ARC_MAX_SIDE);
    if (!(c->small_prob >= 0 && c->small_prob <= 1)) return mg_fail(e, "small-prob: %g is outside 0..1", c->small_prob);
    if (c->n_train < 1 || c->n_test < 1 || c->n_train + c->n_test > ARC_GEN_MAX_PAIRS)
        return mg_fail(e, "pairs: %d train + %d test: want at least 1 of each and at most %d in all", c->n_train,
                       c->n_test, ARC_GEN_MAX_PAIRS);
    if (c->max_attempts < 1) return mg_fail(e, "max-attempts: %d is below 1", c->max_attempts);
    return 0;
}

arc_gen *arc_gen_new(const arc_gen_config *c) {
    arc_gen *g = callocCheck(1, sizeof *g);
    g->cfg = *c;
    gen_table_init(&g->tb);
    g->vm = arc_dsl_vm_new();
    g->prog.tb = &g->tb, g->prog.vm = g->vm;
    g->prog.npairs = c->n_train + c->n_test, g->prog.n_train = c->n_train;
    return g;
}

void arc_gen_free(arc_gen *g) {
    if (!g) return;
    arc_dsl_vm_free(g->vm);
    free(g);
}

void arc_gen_task_free(arc_gen_task *t) {
    for (int i = 0; i < t->n_train + t->n_test; i++) arc_grid_free(&t->in[i]), arc_grid_free(&t->out[i]);
    for (int f = 0; f < 4; f++) free(t->json[f]), t->json[f] = NULL;
    t->n_train = t->n_test = 0;
}

// A keyed permutation of 32-bit numbers: xor with a key, multiplication by an odd number and xor with a right
// shift are each one-to-one, so distinct indices get distinct ids under one seed.
void arc_gen_id(uint64_t seed, uint64_t index, char id[9]) {
    uint64_t key = rng_mix(seed, 0x41524347ull);  // "ARCG"
    uint32_t x = (uint32_t)index;
    for (int round = 0; round < 4; round++) {
        x ^= (uint32_t)(key >> (16 * round));
        x *= 0x9E3779B1u;
        x ^= x >> 15;
        x *= 0x85EBCA77u;
        x ^= x >> 13;
    }
    snprintf(id, 9, "%08x", x);
}

// FNV-1a, 64 bits, continued from h.
static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}
#define FNV0 0xCBF29CE484222325ull

static uint64_t grid_hash(uint64_t h, const arc_grid *g) {
    int dims[2] = {g->rows, g->cols};
    h = fnv(h, dims, sizeof dims);
    return fnv(h, g->cells, (size_t)g->rows * g->cols);
}

static void free_grids(arc_grid *g, int n) {
    for (int i = 0; i < n; i++) arc_grid_free(&g[i]);
}

// The inputs of a candidate, all different from each other (a few redraws; a 1 x 1 grid has few choices).
static void draw_inputs(arc_gen *g, gen_rng *r, const gen_layout *lay, const gen_palette *pal, arc_grid *in, int n) {
    for (int i = 0; i < n; i++)
        for (int t = 0;; t++) {
            gen_grid_draw(r, &g->cfg, lay, pal, &in[i]);
            int dup = 0;
            for (int j = 0; j < i && !dup; j++) dup = arc_grid_equal(&in[i], &in[j]);
            if (!dup || t == 8) break;
            arc_grid_free(&in[i]);
        }
}

int arc_gen_make(arc_gen *g, uint64_t seed, uint64_t index, int first_attempt, int floor_lines, arc_gen_seen seen,
                 void *seen_ctx, arc_gen_task *t, arc_gen_stats *st, mg_err *e) {
    const arc_gen_config *c = &g->cfg;
    arc_gen_stats dummy;
    if (!st) st = memset(&dummy, 0, sizeof dummy);
    long dup0 = st->dup_program;
    int n = c->n_train + c->n_test;
    memset(t, 0, sizeof *t);
    for (int attempt = first_attempt; attempt - first_attempt < c->max_attempts; attempt++) {
        st->attempts++;
        gen_rng r = {.key = rng_mix(seed, index), .stream = (uint64_t)attempt};
        int lines = gen_int(&r, c->min_lines, c->max_lines);
        if (lines < floor_lines) lines = floor_lines < c->max_lines ? floor_lines : c->max_lines;
        gen_palette pal;
        gen_layout lay;
        gen_palette_draw(&r, &pal);
        gen_layout_draw(&r, c, &lay);
        draw_inputs(g, &r, &lay, &pal, t->in, n);
        gen_prog *gp = &g->prog;
        for (int i = 0; i < n; i++) gp->val[0][i] = t->in[i];
        gp->line_rejects = 0;
        int rc = gen_program(&r, gp, &pal, lines, &t->prog);
        st->line_rejects += gp->line_rejects;
        if (rc) {
            st->no_program++;
            free_grids(t->in, n);
            continue;
        }
        for (int i = 0; i < n; i++) t->out[i] = gp->val[lines][i], memset(&gp->val[lines][i], 0, sizeof(arc_grid));
        int len = arc_dsl_format(&t->prog, t->text, sizeof t->text);
        mgCheck(len > 0 && (size_t)len < sizeof t->text, "a generated program's text does not fit");
        // The program was built as instructions; the task keeps what its text parses to (the same, or a bug).
        mg_err pe;
        mgCheck(!arc_dsl_parse(&t->prog, t->text, (size_t)len, &pe), "a generated program does not parse");
        // gen_program refuses these on the last line already; kept as the task's own guarantee
        int same_train = 1, same_test = 0, constant = 1;
        for (int i = 0; i < c->n_train; i++) same_train &= arc_grid_equal(&t->in[i], &t->out[i]);
        for (int i = c->n_train; i < n; i++) same_test |= arc_grid_equal(&t->in[i], &t->out[i]);
        for (int i = 1; i < n; i++) constant &= arc_grid_equal(&t->out[0], &t->out[i]);
        int dup_prog = 0;
        if (!(same_train || same_test || constant)) {
            t->prog_hash = fnv(FNV0, t->text, (size_t)len);
            dup_prog = seen && seen(t->prog_hash, ARC_GEN_SEEN_PROGRAM, seen_ctx);
        }
        if (same_train || same_test || constant || dup_prog) {
            if (dup_prog) st->dup_program++, floor_lines = lines + 1;
            else if (constant) st->constant++;
            else st->identity++;
            free_grids(t->in, n);
            free_grids(t->out, n);
            continue;
        }
        uint64_t h = FNV0;
        for (int i = 0; i < n; i++) h = grid_hash(grid_hash(h, &t->in[i]), &t->out[i]);
        t->pairs_hash = h;
        t->index = index, t->attempt = attempt, t->lines = lines, t->n_train = c->n_train, t->n_test = c->n_test;
        t->floor_lines = floor_lines;
        arc_gen_id(seed, index, t->id);
        if (!seen || !seen(t->pairs_hash, ARC_GEN_SEEN_PAIRS, seen_ctx)) return 0;
        st->dup_pairs++;
        arc_gen_task_free(t);
    }
    return mg_fail(e, "task %llu: no candidate passed the checks in %d attempts (from attempt %d; %ld repeated an "
                   "earlier task's program: with few lines the distinct programs run out, allow longer ones)",
                   (unsigned long long)index, c->max_attempts, first_attempt, st->dup_program - dup0);
}

// A grid as a JSON list of rows, like arc_grid_to_json, but every cell a reference to one of the ten colour
// values made once per task: a task has hundreds of cells, and allocating a JSON integer for each was a fifth of
// the time it took to write one.
static json_t *grid_json(const arc_grid *g, json_t *const colour[ARC_COLOURS]) {
    json_t *rows = json_array();
    for (int i = 0; i < g->rows; i++) {
        json_t *row = json_array();
        for (int j = 0; j < g->cols; j++) json_array_append(row, colour[arc_at(g, i, j)]);
        json_array_append_new(rows, row);
    }
    return rows;
}

static json_t *pair_json(const arc_grid *in, const arc_grid *out, json_t *const colour[ARC_COLOURS]) {
    json_t *p = json_object();
    json_object_set_new(p, "input", grid_json(in, colour));
    if (out) json_object_set_new(p, "output", grid_json(out, colour));
    return p;
}

json_t *arc_gen_to_json(const arc_gen_task *t, int form) {
    int n = t->n_train + t->n_test;
    if (form == ARC_GEN_PROGRAM)
        return json_pack("{s:s, s:s, s:i}", "id", t->id, "program", t->text, "lines", t->lines);
    json_t *colour[ARC_COLOURS], *res;
    for (int c = 0; c < ARC_COLOURS; c++) colour[c] = json_integer(c);
    if (form == ARC_GEN_SOLUTION) {
        res = json_array();
        for (int i = t->n_train; i < n; i++) json_array_append_new(res, grid_json(&t->out[i], colour));
    } else {
        json_t *train = json_array(), *test = json_array();
        res = json_object();
        for (int i = 0; i < t->n_train; i++) json_array_append_new(train, pair_json(&t->in[i], &t->out[i], colour));
        for (int i = t->n_train; i < n; i++)
            json_array_append_new(test, pair_json(&t->in[i], form == ARC_GEN_TASK ? &t->out[i] : NULL, colour));
        json_object_set_new(res, "train", train);
        json_object_set_new(res, "test", test);
    }
    for (int c = 0; c < ARC_COLOURS; c++) json_decref(colour[c]);
    return res;
}

void arc_gen_serialise(arc_gen_task *t, unsigned forms) {
    for (int f = 0; f < 4; f++) {
        if (!(forms >> f & 1)) continue;
        free(t->json[f]);
        json_t *j = arc_gen_to_json(t, f);
        t->json[f] = json_dumps(j, 0);  // ARC's own spacing: ", " and ": "
        mgCheck(t->json[f] != NULL, "out of memory writing a task's JSON");
        json_decref(j);
    }
}
