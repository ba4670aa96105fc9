// The statistics of `migrate ablate --draw` tables: the median's distribution-free 95% interval (order statistics
// of Binomial(n, 1/2), worked by hand below), the exact two-sided sign test, and the table's paired counts and
// threshold medians on a crafted set of runs.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/ablation_stats.h"
#include "testing.h"

static void medians(void) {
    double x[10] = {7, 3, 10, 1, 9, 2, 8, 4, 6, 5}, lo, hi;
    // n = 10: P(B <= 1) = 11/1024 <= 0.025 < P(B <= 2) = 56/1024, so k = 2: [x_(2), x_(9)]
    double m = ablation_median_ci(x, 10, &lo, &hi);
    CHECK(m == 5.5 && lo == 2 && hi == 9, "n = 10: median %g [%g, %g], want 5.5 [2, 9]", m, lo, hi);
    double y[5] = {5, 1, 4, 2, 3};
    m = ablation_median_ci(y, 5, &lo, &hi);  // P(B <= 0) = 1/32 > 0.025: no interval
    CHECK(m == 3 && isinf(lo) && lo < 0 && isinf(hi) && hi > 0, "n = 5: median %g [%g, %g]", m, lo, hi);
    double z[6] = {6, 5, 4, 3, 2, 1};
    m = ablation_median_ci(z, 6, &lo, &hi);  // P(B <= 0) = 1/64: k = 1, the range
    CHECK(m == 3.5 && lo == 1 && hi == 6, "n = 6: median %g [%g, %g]", m, lo, hi);
    double w[3] = {INFINITY, 4, INFINITY};
    m = ablation_median_ci(w, 3, &lo, &hi);
    CHECK(isinf(m) && m > 0, "runs that never reached count as +inf: median %g", m);
}

static void sign_tests(void) {
    double p = ablation_sign_test(16, 6);  // 2 * P(B(22) <= 6) = 2 * 110056 / 2^22
    CHECK(fabs(p - 110056.0 / 2097152.0) < 1e-12, "16 vs 6: p %.10f", p);
    CHECK(ablation_sign_test(0, 0) == 1.0, "no decided pair: p 1");
    CHECK(fabs(ablation_sign_test(5, 0) - 0.0625) < 1e-12, "5 vs 0: p %g", ablation_sign_test(5, 0));
    CHECK(ablation_sign_test(3, 3) == 1.0, "3 vs 3: p %g", ablation_sign_test(3, 3));
}

static void table(void) {
    // two strategies on four (seed, target) pairs: b beats a on pairs 0, 1, ties on 2, loses on 3
    ablation_run r[8] = {
        {0, 0, 0, 0.5, 100, {40, -1}}, {0, 1, 0, 0.6, 100, {-1, -1}}, {0, 2, 1, 1.0, 50, {10, 20}},
        {0, 3, 0, 0.9, 100, {30, 90}}, {1, 0, 0, 0.7, 100, {20, -1}}, {1, 1, 0, 0.8, 100, {60, -1}},
        {1, 2, 1, 1.0, 70, {15, 30}},  {1, 3, 0, 0.4, 100, {-1, -1}},
    };
    const char *groups[2] = {"random", "migrate"}, *names[2] = {"rank >= 950", "rank >= 990"};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ablation_stats_table(f, groups, 2, r, 8, names, 0);
    fclose(f);
    CHECK(strstr(text, "| migrate | 4 | 1 | 0.75") != NULL, "migrate's row: runs, solved, median best 0.75:\n%s",
          text);
    CHECK(strstr(text, " 2 / 1 / 1 (1) |") != NULL, "migrate vs random: 2 wins, 1 tie, 1 loss, p 1:\n%s", text);
    // random's calls to rank 950: 10, 30, 40, inf -> median 35 (3/4 reached); to 990: 20, 90, inf, inf -> inf
    CHECK(strstr(text, "| random | 4 | 1 | 0.75") && strstr(text, " 35 (3/4) | inf (2/4) |"),
          "random's threshold medians:\n%s", text);
    free(text);
}

int main(void) {
    medians();
    sign_tests();
    table();
    return test_summary("test_ablation_stats");
}
