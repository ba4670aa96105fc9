#include "tools/sweep_pmo.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

double pmo_top_mean(const double *scores, long n, int k) {
    if (n <= 0 || k <= 0) return 0.0;
    double *s = mallocCheck((size_t)n * sizeof *s);
    memcpy(s, scores, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_desc);
    long m = n < k ? n : k;
    double sum = 0;
    for (long i = 0; i < m; i++) sum += s[i];
    free(s);
    return sum / (double)m;
}

// The curve is evaluated at every freq_log-th prefix; keeping the top_n best in a small sorted array as the prefix
// grows makes the whole AUC O(n top_n) instead of PMO's re-sort of each prefix (same numbers).
typedef struct {
    double *best;  // [top_n] descending
    int n, cap;
} top_keeper;

static void top_push(top_keeper *t, double x) {
    if (t->n == t->cap && x <= t->best[t->n - 1]) return;  // ties with the worst kept change nothing
    int i = t->n < t->cap ? t->n++ : t->n - 1;
    while (i > 0 && t->best[i - 1] < x) t->best[i] = t->best[i - 1], i--;
    t->best[i] = x;
}

static double top_avg(const top_keeper *t) {
    double s = 0;
    for (int i = 0; i < t->n; i++) s += t->best[i];
    return t->n ? s / t->n : 0.0;
}

double pmo_top_auc(const double *scores, long n, int top_n, int finish, int freq_log, long max_calls) {
    if (n <= 0 || top_n <= 0 || freq_log <= 0 || max_calls <= 0) return 0.0;
    top_keeper t = {mallocCheck((size_t)top_n * sizeof(double)), 0, top_n};
    double sum = 0, prev = 0;
    long called = 0, pushed = 0, stop = n < max_calls ? n : max_calls;
    for (long idx = freq_log; idx < stop; idx += freq_log) {
        while (pushed < idx) top_push(&t, scores[pushed++]);
        double now = top_avg(&t);
        sum += freq_log * (now + prev) / 2;
        prev = now;
        called = idx;
    }
    while (pushed < n) top_push(&t, scores[pushed++]);  // PMO's last point uses the whole buffer
    double now = top_avg(&t);
    sum += (double)(n - called) * (now + prev) / 2;
    if (finish && n < max_calls) sum += (double)(max_calls - n) * now;
    free(t.best);
    return sum / (double)max_calls;
}

// Gao et al. 2022, the main results table (AUC top-10, mean +- std of 5 runs, 10,000 calls).
static const pmo_published PUBLISHED[] = {
    {"albuterol_similarity", 0.882, 0.006, 0.838, 0.016},
    {"amlodipine_mpo", 0.635, 0.035, 0.661, 0.020},
    {"celecoxib_rediscovery", 0.713, 0.067, 0.630, 0.097},
    {"deco_hop", 0.666, 0.044, 0.619, 0.004},
    {"drd2", 0.945, 0.007, 0.964, 0.012},
    {"fexofenadine_mpo", 0.784, 0.006, 0.760, 0.011},
    {"gsk3b", 0.865, 0.043, 0.788, 0.070},
    {"isomers_c7h8n2o2", 0.852, 0.036, 0.862, 0.065},
    {"isomers_c9h10n2o2pf2cl", 0.642, 0.054, 0.719, 0.047},
    {"jnk3", 0.783, 0.023, 0.553, 0.136},
    {"median1", 0.356, 0.009, 0.294, 0.021},
    {"median2", 0.276, 0.008, 0.273, 0.019},
    {"mestranol_similarity", 0.618, 0.048, 0.579, 0.022},
    {"osimertinib_mpo", 0.837, 0.009, 0.831, 0.005},
    {"perindopril_mpo", 0.537, 0.016, 0.538, 0.009},
    {"qed", 0.941, 0.000, 0.940, 0.000},
    {"ranolazine_mpo", 0.760, 0.009, 0.728, 0.012},
    {"scaffold_hop", 0.560, 0.019, 0.517, 0.007},
    {"sitagliptin_mpo", 0.021, 0.003, 0.433, 0.075},
    {"thiothixene_rediscovery", 0.534, 0.013, 0.479, 0.025},
    {"troglitazone_rediscovery", 0.441, 0.032, 0.390, 0.016},
    {"valsartan_smarts", 0.178, 0.358, 0.000, 0.000},
    {"zaleplon_mpo", 0.358, 0.062, 0.346, 0.032},
};

const pmo_published *pmo_published_at(int i) {
    return i >= 0 && i < (int)(sizeof PUBLISHED / sizeof PUBLISHED[0]) ? &PUBLISHED[i] : NULL;
}

const pmo_published *pmo_published_find(const char *task) {
    for (size_t i = 0; task && i < sizeof PUBLISHED / sizeof PUBLISHED[0]; i++)
        if (!strcmp(PUBLISHED[i].task, task)) return &PUBLISHED[i];
    return NULL;
}
