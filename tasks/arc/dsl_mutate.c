// One-edit neighbours of a grid-language program (dsl_mutate.h).
#include "tasks/arc/dsl_mutate.h"

#include <string.h>

#include "common/rng.h"
#include "tasks/arc/dsl_impl.h"

static uint32_t draw(uint64_t key, uint64_t *counter, uint32_t n) {
    uint64_t r = rng_mix(key, (*counter)++);
    return (uint32_t)(r % n);
}

// Another primitive with op's signature, or -1 when op's is unique.
static int sibling(int op, uint64_t key, uint64_t *counter) {
    int same[64], n = 0;
    for (int k = 0; k < dsl_nprims && n < 64; k++)
        if (k != op && !strcmp(dsl_prims[k].sig, dsl_prims[op].sig)) same[n++] = k;
    return n ? same[draw(key, counter, (uint32_t)n)] : -1;
}

// Line i's literal argument a gets another value of its parameter's kind.
static void new_literal(arc_dsl_insn *x, int a, uint64_t key, uint64_t *counter) {
    char kind = dsl_prims[x->op].sig[2 + a];
    int v = x->arg[a], hi = kind == 'c' ? 9 : (v + 1 > 4 ? v + 1 : 4), lo = kind == 'c' || v == 0 ? 0 : 1;
    int w = lo + (int)draw(key, counter, (uint32_t)(hi - lo));  // hi - lo choices: lo..hi without v
    if (w >= v) w++;
    if (w > hi) w = lo;
    x->arg[a] = (int16_t)w;
}

static int same_program(const arc_dsl_program *a, const arc_dsl_program *b) {
    char ta[ARC_DSL_TEXT_MAX], tb[ARC_DSL_TEXT_MAX];
    arc_dsl_format(a, ta, sizeof ta);
    arc_dsl_format(b, tb, sizeof tb);
    return !strcmp(ta, tb);
}

int arc_dsl_mutate(const arc_dsl_program *p, uint64_t key, arc_dsl_program *out) {
    uint64_t counter = 0;
    for (int tries = 0; tries < 32 && p->n > 0; tries++) {
        arc_dsl_program q = *p;
        arc_dsl_insn *x = &q.code[draw(key, &counter, (uint32_t)p->n)];
        int lits[ARC_DSL_MAX_ARGS], nl = 0;
        for (int a = 0; a < x->nargs; a++)
            if (x->literal & (1u << a)) lits[nl++] = a;
        int op = -1;
        if (!nl || draw(key, &counter, 2)) op = sibling(x->op, key, &counter);
        if (op >= 0) x->op = (uint8_t)op;
        else if (nl) new_literal(x, lits[draw(key, &counter, (uint32_t)nl)], key, &counter);
        else continue;
        // The edit is checked as a program would be: printed, then parsed and type-checked again.
        char text[ARC_DSL_TEXT_MAX];
        mg_err e;
        arc_dsl_format(&q, text, sizeof text);
        if (arc_dsl_parse(out, text, strlen(text), &e) || same_program(out, p)) continue;
        return 0;
    }
    return -1;
}
