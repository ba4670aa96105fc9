// The statistics of a strategy table over problems drawn at random (`migrate ablate --draw`): medians with
// distribution-free confidence intervals, paired wins against a baseline with a two-sided sign test, and the
// oracle calls to reach a quality threshold, where runs that never reach it count as "not within the budget".
#pragma once
#include <stdio.h>

// One search of the table.
typedef struct {
    int group;               // the strategy's index
    int pair;                // the (seed, problem) it ran on: runs of two strategies with one pair are paired
    int solved;
    double best;             // best reward at the budget
    long calls;              // oracle calls spent
    long calls_to[2];        // calls when the best first reached each threshold, -1 when it never did, -2 unknown
                             // (a table written before the thresholds were recorded)
} ablation_run;

// The median of x[0..n) (sorted in place), and its 95% confidence interval from order statistics: the k-th
// smallest and k-th largest values, k the largest with P(Binomial(n, 1/2) < k) <= 0.025 (no interval below n = 6:
// *lo = -inf, *hi = +inf). n > 0.
double ablation_median_ci(double *x, int n, double *lo, double *hi);
// Two-sided exact sign test of wins against losses (ties dropped): P(a split at least this uneven | p = 1/2).
double ablation_sign_test(int wins, int losses);
// The markdown table: per strategy, runs, solved, median best reward [95% CI], mean best reward, for each
// threshold the median calls to reach it (runs that did not: +inf; n/a where no run of the strategy recorded it)
// and how many reached it, and best-reward wins / ties / losses against group `baseline` on the same pairs with
// the sign test's p (baseline < 0: none).
void ablation_stats_table(FILE *f, const char *const *groups, int n_groups, const ablation_run *r, int n,
                          const char *const threshold_names[2], int baseline);
// Every strategy against every other on the same pairs: a markdown matrix whose cell (row A, column B) is A's
// wins / ties / losses against B on `measure` (the runs' best) with the sign test's p, so that e.g. MiGrATe against
// GRPO-greedy is read off directly.
void ablation_paired_matrix(FILE *f, const char *const *groups, int n_groups, const ablation_run *r, int n,
                            const char *measure);
