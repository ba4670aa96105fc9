// The archive: dedup by canonical form, top-k in reward order (checked against a brute-force sort), invalid
// entries never offered, and the max_entries bound (worst entries dropped, their repeats still recognised).
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "coordinator/archive.h"
#include "testing.h"

typedef struct {
    long index;
    double reward;
} ranked;

static int by_reward(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->reward != y->reward) return x->reward < y->reward ? 1 : -1;
    return x->index < y->index ? -1 : 1;
}

int main(void) {
    enum { N = 5000 };
    archive *a = archive_create(0);
    ranked *all = malloc(N * sizeof(ranked));
    int n_valid = 0;
    char word[32], comp[48];
    for (int i = 0; i < N; i++) {
        snprintf(word, sizeof word, "w%d", i);
        snprintf(comp, sizeof comp, " W%d!", i);
        // coarse rewards so ties happen; every 7th candidate is invalid
        double r = (int)(rng_uniform(1, 2, (uint64_t)i) * 50) / 50.0;
        int valid = i % 7 != 0;
        CHECK(archive_find(a, word) == -1, "%s found before it was added", word);
        long idx = archive_add(a, word, comp, r, valid, i / 10, (origin_kind)(i % ORIGIN_COUNT));
        CHECK(idx == i, "index %ld", idx);
        if (valid) all[n_valid++] = (ranked){idx, r};
    }
    CHECK(archive_size(a) == N, "size %zu", archive_size(a));
    CHECK(archive_find(a, "w1234") == 1234, "find");
    CHECK(!strcmp(archive_completion(a, 1234), " W1234!"), "completion text");
    CHECK(archive_get(a, 7)->valid == 0 && archive_get(a, 7)->reward == 0.0, "invalid entries score 0");
    qsort(all, (size_t)n_valid, sizeof(ranked), by_reward);
    long top[200];
    int k = archive_top(a, 200, top), same = k == 200;
    for (int i = 0; i < k && same; i++) same = top[i] == all[i].index;
    CHECK(same, "top-200 differs from a brute-force sort");
    CHECK(archive_top(a, 1, top) == 1 && top[0] == all[0].index, "top-1");
    archive_free(a);

    // Bounded: keep the 100 best valid entries.
    a = archive_create(100);
    for (int i = 0; i < 1000; i++) {
        snprintf(word, sizeof word, "b%d", i);
        archive_add(a, word, word, (double)((i * 37) % 1000), 1, 0, ORIGIN_ON_POLICY);
    }
    long *keep = malloc(1000 * sizeof(long));
    k = archive_top(a, 1000, keep);
    CHECK(k == 100, "bounded archive holds %d live entries", k);
    CHECK(archive_get(a, keep[99])->reward == 900.0, "the 100th best is %g", archive_get(a, keep[99])->reward);
    long worst = -1;
    for (int i = 0; i < 1000; i++)
        if ((i * 37) % 1000 == 0) worst = i;
    CHECK(archive_get(a, worst)->dropped && archive_canonical(a, worst) == NULL, "worst entry not dropped");
    CHECK(archive_find(a, "b0") == worst, "a dropped entry's repeat is not recognised");
    free(keep);
    free(all);
    archive_free(a);
    return test_summary("test_archive");
}
