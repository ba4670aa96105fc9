// A generation run. The rule: task k is the first candidate (seed, k, attempt = 0, 1, ...) that passes its own
// checks and whose program text and pairs no task j < k has. So task k depends on (seed, k) and on tasks 0..k-1
// only: the same whatever the count, the thread count, the window size or the scheduling.
//
// How the rule is kept with several threads: tasks go in windows of 256 per thread, pipelined. While the threads
// draw window w (each candidate a pure function of seed, index and attempt), skipping candidates that repeat a task
// of windows 0..w-2 (a set that no one changes meanwhile), one of them walks window w-1 in index order: it checks
// each task against every task before it (a second set, which only the walker touches), redraws one that repeats an
// earlier task from its next attempt, and hands the task to emit; then it joins the drawing. Both skips only drop
// candidates the rule drops, so the result is the rule's. Duplicates are compared by 64-bit hashes (FNV-1a of the
// canonical text, of the pairs' grids); a false match would only redraw a task, and is below one in 10^7 for a
// million tasks.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/arc/dsl_gen_impl.h"

typedef struct {
    uint64_t *slot;  // 0 = empty
    size_t cap, n;
} hset;

static size_t hset_find(const hset *s, uint64_t k) {
    size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
    while (s->slot[i] && s->slot[i] != k) i = (i + 1) & (s->cap - 1);
    return i;
}

static int hset_has(const hset *s, uint64_t k) { return s->cap && s->slot[hset_find(s, k ? k : 1)] != 0; }

static void hset_add(hset *s, uint64_t k) {
    k = k ? k : 1;
    if (2 * (s->n + 1) > s->cap) {  // keep at most half full
        hset old = *s;
        s->cap = old.cap ? 2 * old.cap : 1024;
        s->slot = callocCheck(s->cap, sizeof *s->slot);
        s->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slot[i]) s->slot[hset_find(s, old.slot[i])] = old.slot[i], s->n++;
        free(old.slot);
    }
    size_t i = hset_find(s, k);
    if (!s->slot[i]) s->slot[i] = k, s->n++;
}

typedef struct {
    hset progs, pairs;
} seen_sets;

static int seen_fn(uint64_t h, int kind, void *ctx) {
    const seen_sets *s = ctx;
    return hset_has(kind == ARC_GEN_SEEN_PROGRAM ? &s->progs : &s->pairs, h);
}

static void add_stats(arc_gen_stats *to, const arc_gen_stats *a) {
    to->attempts += a->attempts, to->no_program += a->no_program, to->identity += a->identity;
    to->constant += a->constant, to->line_rejects += a->line_rejects, to->dup_program += a->dup_program, to->dup_pairs += a->dup_pairs;
}

typedef struct {
    uint64_t seed;
    unsigned forms;
    arc_gen_emit emit;
    void *ctx;
    arc_gen *gen;          // the walker's own generator (redraws)
    arc_gen_stats *st;
    seen_sets *all;        // every task walked so far
} walker;

// Window tasks t[0..m) of indices base.. in order: checked against all earlier tasks (redrawn when they repeat
// one), recorded, emitted and freed. bad[i]: the drawing gave up on task i. Returns 0 or -1 with e set.
static int walk(walker *w, uint64_t base, arc_gen_task *t, const char *bad, long m, uint64_t *hp, uint64_t *hq,
                mg_err *e) {
    for (long i = 0; i < m; i++) {
        uint64_t k = base + (uint64_t)i;
        if (bad[i]) {  // the same error again, here, for its message
            int rc = arc_gen_make(w->gen, w->seed, k, 0, seen_fn, w->all, &t[i], NULL, e);
            mgCheck(rc, "a task failed when drawn but not when redrawn");
            return -1;
        }
        int dp = seen_fn(t[i].prog_hash, ARC_GEN_SEEN_PROGRAM, w->all);
        if (dp || seen_fn(t[i].pairs_hash, ARC_GEN_SEEN_PAIRS, w->all)) {  // repeats a task drawn meanwhile
            w->st->dup_program += dp, w->st->dup_pairs += !dp;
            int next = t[i].attempt + 1;
            arc_gen_task_free(&t[i]);
            if (arc_gen_make(w->gen, w->seed, k, next, seen_fn, w->all, &t[i], w->st, e)) return -1;
            arc_gen_serialise(&t[i], w->forms);
        }
        hset_add(&w->all->progs, hp[i] = t[i].prog_hash);
        hset_add(&w->all->pairs, hq[i] = t[i].pairs_hash);
        int rc = w->emit ? w->emit(&t[i], w->ctx, e) : 0;
        arc_gen_task_free(&t[i]);
        if (rc) return -1;
    }
    return 0;
}

int arc_gen_run(const arc_gen_config *c, uint64_t seed, uint64_t count, int threads, unsigned forms,
                arc_gen_emit emit, void *ctx, arc_gen_stats *st, mg_err *e) {
    if (arc_gen_config_check(c, e)) return -1;
    if (threads < 1) threads = 1;
    if (count > ((uint64_t)1 << 32))
        return mg_fail(e, "count: %llu is above 2^32 (ids would repeat)", (unsigned long long)count);
    size_t window = (size_t)256 * (size_t)threads;
    uint64_t nwin = (count + window - 1) / window;
    arc_gen **gens = callocCheck((size_t)threads, sizeof *gens);
    arc_gen_stats *tst = callocCheck((size_t)threads + 1, sizeof *tst);  // per drawing thread, then the walker's
    for (int i = 0; i < threads; i++) gens[i] = arc_gen_new(c);
    arc_gen_task *win[2] = {callocCheck(window, sizeof(arc_gen_task)), callocCheck(window, sizeof(arc_gen_task))};
    char *bad[2] = {callocCheck(window, 1), callocCheck(window, 1)};
    uint64_t *hp = callocCheck(window, sizeof *hp), *hq = callocCheck(window, sizeof *hq);
    seen_sets pub = {{0}, {0}}, all = {{0}, {0}};  // windows 0..w-2 (read by the drawing) / every task walked
    walker wk = {.seed = seed, .forms = forms, .emit = emit, .ctx = ctx, .gen = arc_gen_new(c), .st = &tst[threads],
                 .all = &all};
    int rc = 0;
    mg_err werr;
    for (uint64_t w = 0; w <= nwin && !rc; w++) {
        // step w: draw window w (if any) while walking window w-1 (if any)
        uint64_t base = w * window, pbase = base - window;
        long m = w < nwin ? (long)(count - base < window ? count - base : window) : 0;
        long pm = w ? (long)(count - pbase < window ? count - pbase : window) : 0;
        arc_gen_task *cur = win[w % 2], *prev = win[(w + 1) % 2];
        char *cbad = bad[w % 2], *pbad = bad[(w + 1) % 2];
#pragma omp parallel num_threads(threads)
        {
#pragma omp single nowait
            if (pm) rc = walk(&wk, pbase, prev, pbad, pm, hp, hq, &werr);
#pragma omp for schedule(dynamic, 4)
            for (long i = 0; i < m; i++) {
                int tid = omp_get_thread_num();
                mg_err te;
                cbad[i] = (char)(arc_gen_make(gens[tid], seed, base + (uint64_t)i, 0, seen_fn, &pub, &cur[i],
                                              &tst[tid], &te) != 0);
                if (!cbad[i]) arc_gen_serialise(&cur[i], forms);
            }
        }
        if (rc) *e = werr;
        for (long i = 0; i < pm && !rc; i++) hset_add(&pub.progs, hp[i]), hset_add(&pub.pairs, hq[i]);
        // a task is emptied when walked, and arc_gen_make zeroes one it could not fill: freeing the walked
        // window whole is safe wherever the walk stopped
        for (long i = 0; i < pm; i++) arc_gen_task_free(&prev[i]);
    }
    for (size_t i = 0; i < window; i++) arc_gen_task_free(&win[0][i]), arc_gen_task_free(&win[1][i]);
    if (st) {
        memset(st, 0, sizeof *st);
        for (int i = 0; i <= threads; i++) add_stats(st, &tst[i]);
    }
    for (int i = 0; i < threads; i++) arc_gen_free(gens[i]);
    arc_gen_free(wk.gen);
    free(gens), free(tst), free(win[0]), free(win[1]), free(bad[0]), free(bad[1]), free(hp), free(hq);
    free(pub.progs.slot), free(pub.pairs.slot), free(all.progs.slot), free(all.pairs.slot);
    return rc;
}
