#include "tools/rank_tap.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

typedef struct {
    task *inner;
    int *rank;  // (n) per scored candidate: N of "rank N/M", INT_MAX for the target, 0 for any other info
    long n, cap;
} rank_tap;

static task *inner_of(task *t) { return ((rank_tap *)t->state)->inner; }

static char *tap_prompt(task *t) { return inner_of(t)->prompt(inner_of(t)); }
static char *tap_ns_prompt(task *t, const char *solution, double reward) {
    return inner_of(t)->ns_prompt(inner_of(t), solution, reward);
}
static char *tap_parse(task *t, const char *completion) { return inner_of(t)->parse(inner_of(t), completion); }
static char *tap_canonical(task *t, const char *candidate) {
    return inner_of(t)->canonical(inner_of(t), candidate);
}
static int tap_solved(task *t, double reward, const char *candidate) {
    return inner_of(t)->solved(inner_of(t), reward, candidate);
}
static int tap_report(task *t, const task_outcome *o, int print, mg_err *e) {
    return inner_of(t)->report(inner_of(t), o, print, e);
}

static int tap_score(task *t, int n, const char *const *candidates, task_score *out, mg_err *e) {
    rank_tap *r = t->state;
    if (r->inner->score(r->inner, n, candidates, out, e)) return -1;
    if (r->n + n > r->cap) {
        r->cap = 2 * (r->n + n);
        r->rank = reallocCheck(r->rank, (size_t)r->cap * sizeof(int));
    }
    for (int i = 0; i < n; i++) {
        int rank = 0;
        if (!strcmp(out[i].info, "found")) rank = INT_MAX;
        else if (sscanf(out[i].info, "rank %d/", &rank) != 1) rank = 0;
        r->rank[r->n++] = rank;
    }
    return 0;
}

static void tap_destroy(task *t) {
    rank_tap *r = t->state;
    r->inner->destroy(r->inner);
    free(r->rank);
    free(r);
    free(t);
}

task *rank_tap_wrap(task *inner) {
    rank_tap *r = callocCheck(1, sizeof *r);
    r->inner = inner;
    task *t = callocCheck(1, sizeof *t);
    // An entry the inner task leaves NULL (optional, or filled by config templates) stays NULL.
    *t = (task){inner->name, r, inner->prompt ? tap_prompt : NULL, inner->ns_prompt ? tap_ns_prompt : NULL,
                tap_parse, tap_canonical, tap_score, tap_solved, inner->report ? tap_report : NULL, tap_destroy};
    return t;
}

long rank_tap_calls_to(const task *tap, int rank) {
    const rank_tap *r = tap->state;
    for (long i = 0; i < r->n; i++)
        if (r->rank[i] >= rank) return i + 1;
    return -1;
}
