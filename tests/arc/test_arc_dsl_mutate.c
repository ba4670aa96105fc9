// One-edit neighbours of grid-language programs (tasks/arc/dsl_mutate.h): for many keys, each neighbour parses,
// differs from its program in exactly one line, has as many lines, and is the same for the same key.
#include <stdio.h>
#include <string.h>

#include "tasks/arc/dsl_mutate.h"
#include "testing.h"

static int differing_lines(const char *a, const char *b) {
    int n = 0;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        n += la != lb || strncmp(a, b, la);
        a += la + (a[la] == '\n'), b += lb + (b[lb] == '\n');
    }
    return n;
}

int main(void) {
    static const char *const progs[] = {
        "O = rot90(I)\n",
        "x1 = replace(I, 0, 5)\nO = flip_lr(x1)\n",
        "x1 = mostcolor(I)\nx2 = upscale(I, 2)\nO = fill(x2, x1)\n",
        "x1 = crop(I, 0, 0, 2, 2)\nx2 = hconcat(x1, x1)\nO = vconcat(x2, I)\n",
    };
    int edits_op = 0, edits_lit = 0;
    for (size_t k = 0; k < sizeof progs / sizeof progs[0]; k++) {
        arc_dsl_program p, q, r;
        mg_err e;
        CHECK(arc_dsl_parse(&p, progs[k], strlen(progs[k]), &e) == 0, "%s", e.msg);
        char tp[ARC_DSL_TEXT_MAX], tq[ARC_DSL_TEXT_MAX], tr[ARC_DSL_TEXT_MAX];
        arc_dsl_format(&p, tp, sizeof tp);
        for (uint64_t key = 0; key < 200; key++) {
            CHECK(arc_dsl_mutate(&p, key, &q) == 0, "program %zu key %llu: no neighbour", k, (unsigned long long)key);
            arc_dsl_format(&q, tq, sizeof tq);
            CHECK(q.n == p.n && differing_lines(tp, tq) == 1, "program %zu key %llu:\n%s->\n%s", k,
                  (unsigned long long)key, tp, tq);
            CHECK(arc_dsl_mutate(&p, key, &r) == 0, "again");
            arc_dsl_format(&r, tr, sizeof tr);
            CHECK(!strcmp(tq, tr), "key %llu gave two neighbours", (unsigned long long)key);
            int diff_op = 0;
            for (int i = 0; i < p.n; i++) diff_op |= p.code[i].op != q.code[i].op;
            diff_op ? edits_op++ : edits_lit++;
        }
    }
    CHECK(edits_op > 100 && edits_lit > 100, "edits: %d of a primitive, %d of a literal", edits_op, edits_lit);
    printf("800 neighbours: %d change a primitive, %d a literal\n", edits_op, edits_lit);
    return test_summary("arc_dsl_mutate");
}
