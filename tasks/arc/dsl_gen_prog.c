// Random grid-DSL programs for the task generator. A program of n lines is drawn line by line from the primitive
// table's signatures. Every line's value must be read by a later line (no dead lines, so a program's length is the
// work it does): the values made but not yet read ("pending") are at most two after any line, each line reads at
// least all but one of them, and the last line reads every one left. Literals are drawn per primitive so that
// they usually make sense: scale factors 2..3, split counts 2..3 with a part below them, small crop windows,
// colours mostly from the task's palette, replace/swap with two different colours.
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
    K_SAMEOK,   // hconcat, vconcat: the same grid twice is a real task (mirror/double)
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
             {"swap", K_TWO},        {"hconcat", K_SAMEOK}, {"vconcat", K_SAMEOK},    {"mostcolor", K_INTCOL},
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

// Draws line k (value k + 1) of an n-line program into p. pending: values not yet read (updated). Returns -1
// when no primitive fitted in a few tries.
static int draw_line(gen_rng *r, const gen_table *tb, const gen_palette *pal, arc_dsl_program *p, int k, int n,
                     const char *vtype, const char *vcol, int *pending, int *npending) {
    int final = k == n - 1;
    for (int tries = 0; tries < 64; tries++) {
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
        int slot_val[ARC_DSL_MAX_ARGS], lit[ARC_DSL_MAX_ARGS], free_g = 0, free_i = 0;
        for (int a = 0; a < na; a++) slot_val[a] = -1, lit[a] = -1, free_g += par[a] == 'g', free_i += par[a] != 'g';
        int ok = 1;
        for (int i = 0; i < *npending && ok; i++) {
            if (!take[i]) continue;
            int v = pending[i], is_g = vtype[v] == 'g';
            if (is_g ? !free_g : !free_i) {
                ok = 0;
                break;
            }
            // a random free slot of the value's type; a count or size goes to an 'i' slot when there is one
            int cand[ARC_DSL_MAX_ARGS], nc = 0;
            for (int a = 0; a < na; a++)
                if (slot_val[a] < 0 && (is_g ? par[a] == 'g' : par[a] != 'g')) cand[nc++] = a;
            int pref[ARC_DSL_MAX_ARGS], np = 0;
            for (int j = 0; j < nc; j++)
                if (is_g || par[cand[j]] == (vcol[v] ? 'c' : 'i')) pref[np++] = cand[j];
            int a = np ? pref[gen_int(r, 0, np - 1)] : cand[gen_int(r, 0, nc - 1)];
            slot_val[a] = v;
            if (is_g) free_g--;
            else free_i--;
        }
        if (!ok) continue;
        // The other slots: grids from earlier grid values (I half the time), integers as literals (now and then
        // an earlier integer value of the right sort).
        for (int a = 0; a < na; a++) {
            if (slot_val[a] >= 0) continue;
            if (par[a] == 'g') {
                int v = 0;
                if (!gen_chance(r, 0.5f)) {
                    int cand[ARC_DSL_MAX_LINES + 1], nc = 0;
                    for (int u = 0; u <= k; u++)
                        if (vtype[u] == 'g') cand[nc++] = u;
                    v = cand[gen_int(r, 0, nc - 1)];
                }
                slot_val[a] = v;
                continue;
            }
            int cand[ARC_DSL_MAX_LINES + 1], nc = 0;
            for (int u = 1; u <= k; u++)
                if (vtype[u] == 'i' && (par[a] == 'i' || vcol[u])) cand[nc++] = u;
            if (nc && gen_chance(r, 0.1f)) slot_val[a] = cand[gen_int(r, 0, nc - 1)];
            else lit[a] = literal(r, kind, par[a], a, lit, pal);
        }
        // Two grid arguments that are one value: xor, overlay, mask, cellwise... of a grid with itself are
        // trivial; hconcat and vconcat of one grid are not.
        int g0 = -1, same = 0;
        for (int a = 0; a < na; a++)
            if (par[a] == 'g') {
                if (g0 >= 0 && slot_val[a] == g0) same = 1;
                g0 = slot_val[a];
            }
        if (same && kind != K_SAMEOK) continue;
        arc_dsl_insn *in = &p->code[k];
        memset(in, 0, sizeof *in);
        in->op = (uint8_t)op, in->nargs = (uint8_t)na, in->src_line = (int16_t)(k + 1);
        for (int a = 0; a < na; a++) {
            if (lit[a] >= 0) in->literal |= (uint8_t)(1u << a), in->arg[a] = (int16_t)lit[a];
            else in->arg[a] = (int16_t)slot_val[a];
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

int gen_program(gen_rng *r, const gen_table *tb, const gen_palette *pal, int lines, char *text, size_t cap) {
    arc_dsl_program p;
    char vtype[ARC_DSL_MAX_LINES + 1], vcol[ARC_DSL_MAX_LINES + 1];  // per value: 'g'/'i'; integer is a colour
    int pending[3], npending = 0;
    vtype[0] = 'g', vcol[0] = 0;
    p.n = lines;
    for (int k = 0; k < lines; k++) {
        if (draw_line(r, tb, pal, &p, k, lines, vtype, vcol, pending, &npending)) return -1;
        int op = p.code[k].op;
        vtype[k + 1] = tb->res[op];
        vcol[k + 1] = tb->kind[op] == K_INTCOL;
    }
    int len = arc_dsl_format(&p, text, cap);
    mgCheck(len > 0 && (size_t)len < cap, "a generated program's text does not fit");
    return 0;
}
