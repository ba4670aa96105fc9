#include "tools/sweep_search.h"

#include <math.h>
#include <stdlib.h>

#include "common/clock.h"
#include "tools/sweep_pmo.h"

#define SWEEP_PROGRESS_SECONDS 60.0

// Valid entries among archive[from..size): the archive only grows, so counting what is new each step keeps the
// check O(new entries).
static long count_valid(const archive *a, size_t *from) {
    long n = 0;
    for (size_t size = archive_size(a); *from < size; (*from)++) n += archive_get(a, (long)*from)->valid != 0;
    return n;
}

int sweep_search_run(search_state *st, const run_config *cfg, model *m, const tokenizer *tok, task *tk,
                     long valid_budget, mg_err *e) {
    if (search_attach_adapter(m, cfg, e) || search_init(st, cfg, m, tok, tk, 0, NULL, NULL, e)) return -1;
    size_t seen = 0;
    long valid = 0;
    int step;
    // A run of a grid can take many minutes (a 10,000-molecule PMO run at a high learning rate, where the policy
    // repeats itself): a line every minute says it is alive and how far it is. Short runs print nothing.
    double t0 = mg_seconds(), next_line = t0 + SWEEP_PROGRESS_SECONDS;
    while ((step = search_step(st, e)) == 0) {
        valid += count_valid(st->arc, &seen);
        if (valid_budget > 0 && valid >= valid_budget) break;
        double now = mg_seconds();
        if (now >= next_line) {
            next_line = now + SWEEP_PROGRESS_SECONDS;
            const archive_entry *b = st->best >= 0 ? archive_get(st->arc, st->best) : NULL;
            fprintf(stderr, "  ... iteration %d, %ld oracle calls", st->iteration, st->oracle_calls);
            if (valid_budget > 0) fprintf(stderr, ", %ld/%ld valid distinct", valid, valid_budget);
            fprintf(stderr, ", %ld repeats, best %.4f, %.0f s\n", st->repeats, b ? b->reward : 0.0, now - t0);
        }
    }
    if (step < 0) {
        search_free(st);
        return -1;
    }
    return 0;
}

long sweep_valid_rewards(const archive *a, long max, double **out) {
    size_t size = archive_size(a);
    *out = mallocCheck((size ? size : 1) * sizeof(double));
    long n = 0;
    for (size_t i = 0; i < size && n < max; i++) {
        const archive_entry *x = archive_get(a, (long)i);
        if (x->valid) (*out)[n++] = x->reward;
    }
    return n;
}

long sweep_valid_rewards_count(const archive *a) {
    size_t from = 0;
    return count_valid(a, &from);
}

void sweep_curves_header(FILE *f) { fputs("strategy,settings,seed,problem,calls,value\n", f); }

static void curve_row(FILE *f, const char *strategy, const char *settings, const char *seed, const char *problem,
                      long calls, double value) {
    fprintf(f, "%s,%s,%s,%s,%ld,%.6f\n", strategy, settings, seed, problem, calls, value);
}

void sweep_curves_best(FILE *f, const char *strategy, const char *settings, const char *seed, const char *problem,
                       const archive *a) {
    size_t n = archive_size(a);
    double best = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double r = archive_get(a, (long)i)->reward;
        if (r > best || i + 1 == n) curve_row(f, strategy, settings, seed, problem, (long)i + 1, best = fmax(best, r));
    }
}

void sweep_curves_top10(FILE *f, const char *strategy, const char *settings, const char *seed, const char *problem,
                        const double *scores, long n) {
    for (long k = PMO_FREQ_LOG; k < n + PMO_FREQ_LOG; k += PMO_FREQ_LOG) {
        long m = k < n ? k : n;
        if (m > 0) curve_row(f, strategy, settings, seed, problem, m, pmo_top_mean(scores, m, 10));
    }
}
