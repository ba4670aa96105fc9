#include "coordinator/sweep_results.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

int sweep_split_list(char *s, char **out, int max) {
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == max) return -1;
        out[n++] = tok;
    }
    return n;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

void sweep_group_table(FILE *f, const char *const *groups, int n_groups, const sweep_result *r, int n) {
    fprintf(f, "| strategy | solved | median oracle calls to solve | mean best reward | mean wall time (s) |\n");
    fprintf(f, "|---|---|---|---|---|\n");
    long *calls = mallocCheck(((size_t)n + 1) * sizeof(long));
    for (int g = 0; g < n_groups; g++) {
        int solved = 0, runs = 0;
        double best = 0, secs = 0;
        for (int i = 0; i < n; i++) {
            if (r[i].group != g) continue;
            runs++, best += r[i].best, secs += r[i].seconds;
            if (r[i].solved) calls[solved++] = r[i].calls_to_solve;
        }
        qsort(calls, (size_t)solved, sizeof(long), cmp_long);
        char med[32] = "-";
        if (solved)  // the mean of the middle two for an even count: 279.5, not 279
            snprintf(med, sizeof med, "%.10g",
                     solved % 2 ? (double)calls[solved / 2] : 0.5 * (double)(calls[solved / 2 - 1] + calls[solved / 2]));
        fprintf(f, "| %s | %d/%d | %s | %.4f | %.1f |\n", groups[g], solved, runs, med, runs ? best / runs : 0.0,
                runs ? secs / runs : 0.0);
    }
    free(calls);
}
