// Random grid-DSL programs for the task generator, drawn line by line on the task's input grids: after each grid
// line the program so far runs on every input, so a line that fails (a crop window outside a grid, a colour that
// is absent), or gives a value the program already had (rot90 after rot270, replace of an absent colour), or, on
// the last line, gives one grid for every input or leaves the inputs unchanged, is redrawn on the spot instead of
// sinking the whole candidate;
// and a two-grid primitive is only given grids whose shapes fit (the same shape, or the same rows for hconcat and
// columns for vconcat) on every input. Every line's value is read by a later line (no dead lines, so a program's
// length is the work it does): the values made but not yet read ("pending") are at most two after any line, each
// line reads at least all but one of them, and the last line reads every one left. Literals are drawn per
// primitive so that they usually make sense: scale factors 2..3, split counts 2..3 with a part below them, small
// crop windows, colours mostly from the task's palette, replace/swap with two different colours.
#include <string.h>

#include "tasks/arc/dsl_gen_impl.h"

// Literal policies, by primitive.
enum {
    K_PLAIN,    // grid and colour parameters only
    K_SCALE,    // upscale, hupscale, vupscale: factor 2..3 (sometimes 4)
    K_DOWN,     // downscale: 2..3
    K_TILE,     // tile: 1..3 down and across, not both 1
    K_SPLIT,    // hsplit, vsplit: 2..3 parts, part below the count
    K_CROP,     // crop: corner 0..3, size 1..5
    K_CANVAS,   // canvas: colour, size 1..6
    K_BG,       // shrink, largest: the colour parameter is a background
    K_TWO,      // replace, swap: two different colours
    K_HCAT,     // hconcat: the same rows; the same grid twice is a real task
    K_VCAT,     // vconcat: the same columns; likewise
    K_INTCOL,   // integer result that is a colour (mostcolor, leastcolor, mostfg)
    K_INTNUM,   // integer result that is a count or size (ncolors, height, width)
};

static int kind_of(const char *name) {
    static const struct {
        const char *name;
        int kind;
    } k[] = {{"upscale", K_SCALE},   {"hupscale", K_SCALE}, {"vupscale", K_SCALE},    {"downscale", K_DOWN},
             {"tile", K_TILE},       {"hsplit", K_SPLIT},   {"vsplit", K_SPLIT},      {"crop", K_CROP},
             {"canvas", K_CANVAS},   {"shrink", K_BG},      {"largest", K_BG},        {"replace", K_TWO},
             {"swap", K_TWO},        {"hconcat", K_HCAT},   {"vconcat", K_VCAT},    {"mostcolor", K_INTCOL},
             {"leastcolor", K_INTCOL}, {"mostfg", K_INTCOL}, {"ncolors", K_INTNUM},   {"height", K_INTNUM},
             {"width", K_INTNUM}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(k[i].name, name)) return k[i].kind;
    return K_PLAIN;
}

void gen_table_init(gen_table *tb) {
    tb->nprims = arc_dsl_prim_count();
    mgCheck(tb->nprims <= 64, "gen_table holds 64 primitives: enlarge it");
    for (int op = 0; op < tb->nprims; op++) {
        const char *sig = arc_dsl_prim_sig(op);  // "r:ps..."
        tb->res[op] = sig[0];
        tb->nargs[op] = (int)strlen(sig) - 2;
        mgCheck(tb->nargs[op] >= 1 && tb->nargs[op] <= ARC_DSL_MAX_ARGS, "a primitive signature out of range");
        memcpy(tb->par[op], sig + 2, (size_t)tb->nargs[op]);
        tb->kind[op] = kind_of(arc_dsl_prim_name(op));
    }
}

void gen_palette_draw(gen_rng *r, gen_palette *pal) {
    pal->bg = gen_chance(r, 0.6f) ? 0 : gen_int(r, 1, 9);  // ARC backgrounds are mostly black
    pal->nfg = gen_int(r, 1, 4);
    int used = 1 << pal->bg;
    for (int i = 0; i < pal->nfg; i++) {
        int c;
        do c = gen_int(r, 0, 9);
        while (used >> c & 1);
        used |= 1 << c;
        pal->fg[i] = c;
    }
}

int gen_colour(gen_rng *r, const gen_palette *pal) {
    if (gen_chance(r, 0.15f)) return gen_int(r, 0, 9);   // a colour the inputs may lack
    if (gen_chance(r, 0.25f)) return pal->bg;
    return pal->fg[gen_int(r, 0, pal->nfg - 1)];
}

// A literal for parameter a of a primitive of this kind, given the literals already drawn (lit[], -1 = a value).
static int literal(gen_rng *r, int kind, char par, int a, const int *lit, const gen_palette *pal) {
    switch (kind) {
    case K_SCALE: return gen_chance(r, 0.1f) ? 4 : gen_int(r, 2, 3);
    case K_DOWN: return gen_int(r, 2, 3);
    case K_TILE: {
        int v = gen_int(r, 1, 3);
        return a == 2 && v == 1 && lit[1] == 1 ? gen_int(r, 2, 3) : v;
    }
    case K_SPLIT:
        if (a == 1) return gen_int(r, 2, 3);
        return gen_int(r, 0, (lit[1] > 0 ? lit[1] : 2) - 1);
    case K_CROP: return a <= 2 ? gen_int(r, 0, 3) : gen_int(r, 1, 5);
    case K_CANVAS: return a == 0 ? gen_colour(r, pal) : gen_int(r, 1, 6);
    case K_BG: return gen_chance(r, 0.8f) ? pal->bg : gen_colour(r, pal);
    case K_TWO: {
        int v = gen_colour(r, pal);
        for (int t = 0; a == 2 && v == lit[1] && t < 8; t++) v = gen_colour(r, pal);
        if (a == 2 && v == lit[1]) v = (v + 1) % ARC_COLOURS;
        return v;
    }
    default: return par == 'c' ? gen_colour(r, pal) : gen_int(r, 1, 3);
    }
}

// Whether grid values u and v may be the two grid arguments of a primitive of this kind on every pair.
static int fits(const gen_prog *g, int kind, int u, int v) {
    if (u == v) return kind == K_HCAT || kind == K_VCAT;  // xor, overlay, mask... of a grid with itself: trivial
    for (int i = 0; i < g->npairs; i++) {
        const arc_grid *a = &g->val[u][i], *b = &g->val[v][i];
        if (kind == K_HCAT ? a->rows != b->rows : kind == K_VCAT ? a->cols != b->cols
                                                                 : a->rows != b->rows || a->cols != b->cols)
            return 0;
    }
    return 1;
}

// Runs line k + 1 of p on every input; on success val[k + 1] holds the results. Returns -1 when a run failed.
// Every prefix of the program is a program whose output is its last value, so that value must fit ARC's 30 x 30;
// with that as the size budget, a line that would make a larger grid fails before it fills one. A line that reads
// one grid value and literals only runs alone on that value (as its I), the rest of the program already being
// known; any other runs the whole prefix. Both give what running the whole program gives (the step budget cannot
// bind: 32 lines of grids within 30 x 30 cost under 100,000 steps).
static int run_prefix(gen_prog *g, arc_dsl_program *p, int k) {
    static const arc_dsl_limits lim = {ARC_DSL_MAX_STEPS, ARC_MAX_SIDE};
    const arc_dsl_insn *in = &p->code[k];
    int src = -1, alone = 1;
    for (int a = 0; a < in->nargs; a++) {
        if (in->literal >> a & 1) continue;
        alone &= src < 0 && g->vtype[in->arg[a]] == 'g';
        src = in->arg[a];
    }
    arc_dsl_program one;
    if (alone && src > 0) {
        one.n = 1;
        one.code[0] = *in;
        for (int a = 0; a < in->nargs; a++)
            if (!(in->literal >> a & 1)) one.code[0].arg[a] = 0;
    } else src = 0;
    p->n = k + 1;
    const arc_dsl_program *run = src > 0 ? &one : p;
    for (int i = 0; i < g->npairs; i++) {
        mg_err e;
        if (arc_dsl_run(g->vm, run, &g->val[src][i], &lim, &g->val[k + 1][i], &e)) {
            for (int j = 0; j < i; j++) arc_grid_free(&g->val[k + 1][j]);
            return -1;
        }
    }
    return 0;
}

// Whether value k + 1 (just run) repeats an earlier grid value on every pair, or, on the last line, gives one grid
// for all inputs or leaves the inputs unchanged (every train input, or some test input).
static int useless(const gen_prog *g, int k, int final) {
    for (int u = 0; u <= k; u++) {
        if (g->vtype[u] != 'g') continue;
        int same = 1;
        for (int i = 0; i < g->npairs && same; i++) same = arc_grid_equal(&g->val[u][i], &g->val[k + 1][i]);
        if (same) return 1;
    }
    if (!final) return 0;
    // the output: not one grid for all inputs, not every train input unchanged, no test input unchanged
    int constant = 1, same_train = 1, same_test = 0;
    for (int i = 1; i < g->npairs; i++) constant &= arc_grid_equal(&g->val[k + 1][0], &g->val[k + 1][i]);
    for (int i = 0; i < g->npairs; i++) {
        int same = arc_grid_equal(&g->val[0][i], &g->val[k + 1][i]);
        if (i < g->n_train) same_train &= same;
        else same_test |= same;
    }
    return constant || same_train || same_test;
}

static void drop_value(gen_prog *g, int v) {
    if (v > 0 && g->vtype[v] == 'g')
        for (int i = 0; i < g->npairs; i++) arc_grid_free(&g->val[v][i]);
}

// Draws line k (value k + 1) of an n-line program into p, running it when it gives a grid. pending: values not
// yet read (updated). Returns -1 when no line fitted in a bounded number of tries.
static int draw_line(gen_rng *r, gen_prog *g, const gen_palette *pal, arc_dsl_program *p, int k, int n,
                     int *pending, int *npending) {
    const gen_table *tb = g->tb;
    int final = k == n - 1;
    for (int tries = 0; tries < 96; tries++) {
        int op = gen_int(r, 0, tb->nprims - 1);
        char res = tb->res[op];
        if (final && res != 'g') continue;
        if (res == 'i' && gen_chance(r, 0.5f)) continue;  // integer lines only matter when read: fewer of them
        int na = tb->nargs[op], kind = tb->kind[op];
        const char *par = tb->par[op];
        // Which pending values this line reads: all on the last line; otherwise each with probability 0.8, and
        // at least all but one so that at most two stay pending.
        int take[2] = {0, 0}, ntake = 0;
        for (int i = 0; i < *npending; i++) take[i] = final || gen_chance(r, 0.8f), ntake += take[i];
        if (!final && *npending == 2 && ntake == 0) take[gen_int(r, 0, 1)] = 1;
        int slot_val[ARC_DSL_MAX_ARGS], lit[ARC_DSL_MAX_ARGS], free_g = 0, free_i = 0, ng = 0;
        for (int a = 0; a < na; a++)
            slot_val[a] = -1, lit[a] = -1, free_g += par[a] == 'g', free_i += par[a] != 'g', ng += par[a] == 'g';
        int ok = 1;
        for (int i = 0; i < *npending && ok; i++) {
            if (!take[i]) continue;
            int v = pending[i], is_g = g->vtype[v] == 'g';
            if (is_g ? !free_g : !free_i) {
                ok = 0;
                break;
            }
            // a random free slot of the value's type; a count or size goes to an 'i' slot when there is one
            int cand[ARC_DSL_MAX_ARGS], nc = 0, pref[ARC_DSL_MAX_ARGS], np = 0;
            for (int a = 0; a < na; a++)
                if (slot_val[a] < 0 && (is_g ? par[a] == 'g' : par[a] != 'g')) cand[nc++] = a;
            for (int j = 0; j < nc; j++)
                if (is_g || par[cand[j]] == (g->vcol[v] ? 'c' : 'i')) pref[np++] = cand[j];
            int a = np ? pref[gen_int(r, 0, np - 1)] : cand[gen_int(r, 0, nc - 1)];
            slot_val[a] = v;
            if (is_g) free_g--;
            else free_i--;
        }
        if (!ok) continue;
        // The other slots: grids from earlier grid values (I half the time; for a second grid argument, one
        // whose shape fits the first), integers as literals (now and then an earlier integer of the right sort).
        for (int a = 0; a < na && ok; a++) {
            if (slot_val[a] >= 0) continue;
            if (par[a] == 'g') {
                int other = -1;  // the other grid argument, when it is already chosen
                for (int b = 0; b < na; b++)
                    if (b != a && par[b] == 'g' && slot_val[b] >= 0) other = slot_val[b];
                int cand[ARC_DSL_MAX_LINES + 1], nc = 0;
                for (int u = 0; u <= k; u++)
                    if (g->vtype[u] == 'g' && (other < 0 || fits(g, kind, other, u))) cand[nc++] = u;
                if (!nc) ok = 0;
                else slot_val[a] = other < 0 && gen_chance(r, 0.5f) ? 0 : cand[gen_int(r, 0, nc - 1)];
                continue;
            }
            int cand[ARC_DSL_MAX_LINES + 1], nc = 0;
            for (int u = 1; u <= k; u++)
                if (g->vtype[u] == 'i' && (par[a] == 'i' || g->vcol[u])) cand[nc++] = u;
            if (nc && gen_chance(r, 0.1f)) slot_val[a] = cand[gen_int(r, 0, nc - 1)];
            else lit[a] = literal(r, kind, par[a], a, lit, pal);
        }
        if (!ok) continue;
        if (ng == 2) {  // both grid arguments were forced (pending values): their shapes must fit too
            int u = -1, v = -1;
            for (int a = 0; a < na; a++)
                if (par[a] == 'g') {
                    if (u < 0) u = slot_val[a];
                    else v = slot_val[a];
                }
            if (!fits(g, kind, u, v)) continue;
        }
        arc_dsl_insn *in = &p->code[k];
        memset(in, 0, sizeof *in);
        in->op = (uint8_t)op, in->nargs = (uint8_t)na, in->src_line = (int16_t)(k + 1);
        for (int a = 0; a < na; a++) {
            if (lit[a] >= 0) in->literal |= (uint8_t)(1u << a), in->arg[a] = (int16_t)lit[a];
            else in->arg[a] = (int16_t)slot_val[a];
        }
        g->vtype[k + 1] = res;
        g->vcol[k + 1] = kind == K_INTCOL;
        if (res == 'g') {  // integer lines are checked by the line that reads them
            if (run_prefix(g, p, k)) {
                g->line_rejects++;
                continue;
            }
            if (useless(g, k, final)) {
                drop_value(g, k + 1);
                g->line_rejects++;
                continue;
            }
        }
        // pending: drop every value this line reads, add this line's unless it is the last
        int np = 0;
        for (int i = 0; i < *npending; i++) {
            int read = 0;
            for (int a = 0; a < na; a++) read |= lit[a] < 0 && slot_val[a] == pending[i];
            if (!read) pending[np++] = pending[i];
        }
        if (!final) pending[np++] = k + 1;
        mgCheck(np <= 2 && (!final || np == 0), "the pending rule of gen_program was broken");
        *npending = np;
        return 0;
    }
    return -1;
}

int gen_program(gen_rng *r, gen_prog *g, const gen_palette *pal, int lines, arc_dsl_program *p) {
    int pending[3], npending = 0, rc = 0, k = 0;
    g->vtype[0] = 'g', g->vcol[0] = 0;
    for (; k < lines && !rc; k++) rc = draw_line(r, g, pal, p, k, lines, pending, &npending);
    // every value but the output is freed; on failure the output too (line k - 1 drew nothing)
    for (int v = 1; v <= (rc ? k - 1 : lines - 1); v++) drop_value(g, v);
    p->n = rc ? 0 : lines;
    return rc;
}
