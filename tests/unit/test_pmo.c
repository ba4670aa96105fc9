// PMO's AUC of the top-k average (tools/sweep_pmo.c) against values worked out by hand from mol_opt's top_auc, and
// against a direct transcription of it (re-sorting every prefix) on random data. The tools are not part of
// migrate_core, so the source is compiled in here.
#include <math.h>
#include <stdlib.h>

#include "testing.h"
#include "tools/sweep_pmo.c"

// mol_opt's top_auc as written there: sort each prefix, average its top_n.
static double naive_auc(const double *s, long n, int top_n, int finish, int freq, long max_calls) {
    double sum = 0, prev = 0;
    long called = 0, stop = n < max_calls ? n : max_calls;
    for (long idx = freq; idx < stop; idx += freq) {
        double now = pmo_top_mean(s, idx, top_n);
        sum += freq * (now + prev) / 2, prev = now, called = idx;
    }
    double now = pmo_top_mean(s, n, top_n);
    sum += (double)(n - called) * (now + prev) / 2;
    if (finish && n < max_calls) sum += (double)(max_calls - n) * now;
    return sum / (double)max_calls;
}

int main(void) {
    // Early finish: 5 molecules of a 10-call budget, curve every 2 calls, top 2.
    //   after 2: top-2 of {.1 .4} = .25     area 2 (.25 + 0) / 2   = .25
    //   after 4: top-2 of {.., .2 .8} = .6  area 2 (.6 + .25) / 2  = .85
    //   after 5: .6                          area 1 (.6 + .6) / 2   = .6
    //   fill 5 calls at .6                   area 3      -> 4.7 / 10
    const double a[] = {0.1, 0.4, 0.2, 0.8, 0.3};
    CHECK(fabs(pmo_top_auc(a, 5, 2, 1, 2, 10) - 0.47) < 1e-12, "got %.15f", pmo_top_auc(a, 5, 2, 1, 2, 10));
    CHECK(fabs(pmo_top_auc(a, 5, 2, 0, 2, 10) - 0.17) < 1e-12, "got %.15f", pmo_top_auc(a, 5, 2, 0, 2, 10));

    // The whole budget used, top 1: points .3 (2 calls), .5 (4), .9 (6): (.3 + .8 + 1.4) / 6.
    const double b[] = {0.3, 0.1, 0.5, 0.2, 0.9, 0.0};
    CHECK(fabs(pmo_top_auc(b, 6, 1, 1, 2, 6) - 2.5 / 6) < 1e-12, "got %.15f", pmo_top_auc(b, 6, 1, 1, 2, 6));
    CHECK(fabs(pmo_top_auc(b, 6, 1, 0, 2, 6) - 2.5 / 6) < 1e-12, "finish changes nothing at the budget");

    // One molecule of PMO's 10,000: a half-call triangle, then 9,999 calls at its score.
    const double c[] = {0.7};
    CHECK(fabs(pmo_top_auc(c, 1, 10, 1, PMO_FREQ_LOG, PMO_BUDGET) - 0.699965) < 1e-12, "got %.15f",
          pmo_top_auc(c, 1, 10, 1, PMO_FREQ_LOG, PMO_BUDGET));
    CHECK(pmo_top_auc(c, 0, 10, 1, PMO_FREQ_LOG, PMO_BUDGET) == 0.0, "an empty buffer scores 0");

    // A perfect optimizer scores 0.995 in PMO, not 1: the first 100 calls are a triangle from 0.
    double *ones = malloc(PMO_BUDGET * sizeof *ones);
    for (int i = 0; i < PMO_BUDGET; i++) ones[i] = 1.0;
    CHECK(fabs(pmo_top_auc(ones, PMO_BUDGET, 10, 1, PMO_FREQ_LOG, PMO_BUDGET) - 0.995) < 1e-12, "got %.15f",
          pmo_top_auc(ones, PMO_BUDGET, 10, 1, PMO_FREQ_LOG, PMO_BUDGET));
    free(ones);

    // Top-k means: fewer molecules than k average what is there (np.mean of a shorter list).
    CHECK(fabs(pmo_top_mean(b, 6, 2) - 0.7) < 1e-12, "top-2");
    CHECK(fabs(pmo_top_mean(b, 3, 10) - 0.3) < 1e-12, "top-10 of 3");
    CHECK(pmo_top_mean(b, 0, 10) == 0.0, "top of nothing");

    // The kept-top-k implementation against the re-sorting one, with ties, every buffer length around the
    // logging points, and a buffer longer than the budget (PMO's last point then uses all of it).
    srand(7);
    double *r = malloc(2600 * sizeof *r);
    for (int i = 0; i < 2600; i++) r[i] = (rand() % 50) / 49.0;
    double worst = 0;
    for (long n = 1; n <= 2600; n += (n < 250 ? 1 : 37))
        for (int fin = 0; fin < 2; fin++)
            for (int k = 1; k <= 100; k *= 10) {
                double d = fabs(pmo_top_auc(r, n, k, fin, 100, 2500) - naive_auc(r, n, k, fin, 100, 2500));
                if (d > worst) worst = d;
            }
    CHECK(worst < 1e-12, "max difference to the transcription %.3g", worst);
    free(r);

    CHECK(pmo_published_find("median1") && fabs(pmo_published_find("median1")->reinvent - 0.356) < 1e-12,
          "the paper's REINVENT median1");
    CHECK(pmo_published_find("sitagliptin_mpo") && pmo_published_find("sitagliptin_mpo")->graph_ga == 0.433,
          "the paper's Graph GA sitagliptin");
    CHECK(pmo_published_find("no_such_task") == NULL, "unknown task");
    return test_summary("test_pmo");
}
