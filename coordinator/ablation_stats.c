#include "coordinator/ablation_stats.h"

#include <math.h>
#include <stdlib.h>

#include "common/error.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// P(Binomial(n, 1/2) <= k), summed in log space so that n in the thousands does not underflow a term early.
static double binom_half_cdf(int n, int k) {
    if (k < 0) return 0.0;
    if (k >= n) return 1.0;
    double sum = 0.0;
    for (int i = 0; i <= k; i++) sum += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - n * log(2.0));
    return sum < 1.0 ? sum : 1.0;
}

double ablation_median_ci(double *x, int n, double *lo, double *hi) {
    mgCheck(n > 0, "a median needs at least one value");
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    int k = 0;  // the interval [x_(k), x_(n+1-k)] (1-based) covers the median with probability >= 95%
    while (k + 1 <= n / 2 && binom_half_cdf(n, k) <= 0.025) k++;
    if (k == 0) {
        *lo = -INFINITY, *hi = INFINITY;
    } else {
        *lo = x[k - 1], *hi = x[n - k];
    }
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

double ablation_sign_test(int wins, int losses) {
    int n = wins + losses, k = wins < losses ? wins : losses;
    if (n == 0) return 1.0;
    double p = 2.0 * binom_half_cdf(n, k);
    return p < 1.0 ? p : 1.0;
}

// Best-reward wins / ties / losses of group a against group b over the pairs both ran (the first run of b on each).
static void paired_counts(const ablation_run *r, int n, int a, int b, int c[3]) {
    c[0] = c[1] = c[2] = 0;
    for (int i = 0; i < n && a != b; i++) {
        if (r[i].group != a) continue;
        for (int j = 0; j < n; j++)
            if (r[j].group == b && r[j].pair == r[i].pair) {
                c[r[i].best > r[j].best ? 0 : r[i].best < r[j].best ? 2 : 1]++;
                break;
            }
    }
}

static void print_value(FILE *f, double v) {
    if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", f);
    else fprintf(f, "%.4g", v);
}

void ablation_stats_table(FILE *f, const char *const *groups, int n_groups, const ablation_run *r, int n,
                          const char *const threshold_names[2], int baseline) {
    fprintf(f, "| strategy | runs | solved | median best reward [95%% CI] | mean best reward |");
    for (int t = 0; t < 2; t++) fprintf(f, " median calls to %s (reached) |", threshold_names[t]);
    if (baseline >= 0) fprintf(f, " best reward vs %s: wins / ties / losses (sign test p) |", groups[baseline]);
    fprintf(f, "\n|---|---|---|---|---|---|---|%s\n", baseline >= 0 ? "---|" : "");
    double *x = mallocCheck(((size_t)n + 1) * sizeof(double));
    for (int g = 0; g < n_groups; g++) {
        int runs = 0, solved = 0;
        double mean = 0.0;
        for (int i = 0; i < n; i++)
            if (r[i].group == g) x[runs++] = r[i].best, solved += r[i].solved, mean += r[i].best;
        if (!runs) continue;
        double lo, hi, med = ablation_median_ci(x, runs, &lo, &hi);
        fprintf(f, "| %s | %d | %d | %.4f [", groups[g], runs, solved, med);
        print_value(f, lo), fputs(", ", f), print_value(f, hi);
        fprintf(f, "] | %.4f |", mean / runs);
        for (int t = 0; t < 2; t++) {
            int m = 0, reached = 0;
            for (int i = 0; i < n; i++)
                if (r[i].group == g && r[i].calls_to[t] != -2) {
                    x[m++] = r[i].calls_to[t] >= 0 ? (double)r[i].calls_to[t] : INFINITY;
                    reached += r[i].calls_to[t] >= 0;
                }
            if (!m) {
                fprintf(f, " n/a |");
                continue;
            }
            double l2, h2, med_calls = ablation_median_ci(x, m, &l2, &h2);
            fputc(' ', f), print_value(f, med_calls), fprintf(f, " (%d/%d) |", reached, m);
        }
        if (baseline >= 0) {
            int c[3];
            paired_counts(r, n, g, baseline, c);
            if (g == baseline) fprintf(f, " - |");
            else fprintf(f, " %d / %d / %d (%.3g) |", c[0], c[1], c[2], ablation_sign_test(c[0], c[2]));
        }
        fputc('\n', f);
    }
    free(x);
}

void ablation_paired_matrix(FILE *f, const char *const *groups, int n_groups, const ablation_run *r, int n,
                            const char *measure) {
    fprintf(f, "%s of the row against the column on the same pairs: wins / ties / losses (sign test p)\n\n", measure);
    fprintf(f, "| |");
    for (int b = 0; b < n_groups; b++) fprintf(f, " %s |", groups[b]);
    fprintf(f, "\n|---|");
    for (int b = 0; b < n_groups; b++) fprintf(f, "---|");
    fputc('\n', f);
    for (int a = 0; a < n_groups; a++) {
        fprintf(f, "| %s |", groups[a]);
        for (int b = 0; b < n_groups; b++) {
            int c[3];
            paired_counts(r, n, a, b, c);
            if (a == b || c[0] + c[1] + c[2] == 0) fprintf(f, " - |");
            else fprintf(f, " %d / %d / %d (%.3g) |", c[0], c[1], c[2], ablation_sign_test(c[0], c[2]));
        }
        fputc('\n', f);
    }
}
