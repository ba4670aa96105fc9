// A generation run. The rule: task k is the first candidate (seed, k, attempt = 0, 1, ...) that passes its own
// checks and whose program text and pairs no task j < k has, where an attempt after one whose program repeated an
// earlier task's is at least one line longer (arc_gen_make). So task k depends on (seed, k) and on tasks 0..k-1
// only: the same whatever the count, the thread count or the scheduling.
//
// How the rule is kept with several threads: `threads` drawing threads claim indices in order and draw task k
// (each candidate a pure function of seed, index, attempt and length floor) into slot k of a ring, skipping
// candidates that repeat a task already walked (the set `pub`, read under a read lock); the calling thread walks
// the ring in index order: it checks each task against every task before it (the set `all`, which only it
// touches), redraws one that repeats an earlier task from its next attempt with the floor the rule gives, hands
// the task to emit and frees its slot. A task is walked only after it was drawn, so every task in `pub` while task
// k is drawn has an index below k: a drawing thread's skips are skips of the rule (with the same effect on the
// floor), and the result is the rule's. A task none of whose max_attempts candidates passes ends the run with the
// drawing thread's error. Threads wait on condition variables, never spin: on a machine shared with other jobs a
// spinning waiter takes the core the thread it waits for needs. Duplicates are compared by 64-bit hashes (FNV-1a
// of the canonical text, of the pairs' grids); a false match would only redraw a task, and is below one in 10^7
// for a million tasks.
#include <pthread.h>
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

static int seen_in(const seen_sets *s, uint64_t h, int kind) {
    return hset_has(kind == ARC_GEN_SEEN_PROGRAM ? &s->progs : &s->pairs, h);
}

static void add_stats(arc_gen_stats *to, const arc_gen_stats *a) {
    to->attempts += a->attempts, to->no_program += a->no_program, to->identity += a->identity;
    to->constant += a->constant, to->line_rejects += a->line_rejects, to->dup_program += a->dup_program;
    to->dup_pairs += a->dup_pairs;
}

enum { SLOT_FREE, SLOT_BUSY, SLOT_READY, SLOT_BAD };

typedef struct run run;
typedef struct {
    run *r;
    arc_gen *gen;
    arc_gen_stats st;
    pthread_t thread;
} drawer;

struct run {
    const arc_gen_config *cfg;
    uint64_t seed, count;
    unsigned forms;
    size_t ring;          // slots: task k lives in slot k % ring
    arc_gen_task *task;   // (ring)
    char *state;          // (ring) SLOT_*
    char **err;           // (ring) why a BAD slot's task could not be drawn (malloc'd)
    pthread_mutex_t mu;
    pthread_cond_t drawn, freed;  // a slot became READY/BAD; the walker moved on
    uint64_t next;        // the next index to claim
    uint64_t walked;      // tasks 0..walked-1 are walked (their slots free)
    int stop;
    int walker_waits;     // the walker sleeps on `drawn`
    int drawers_wait;     // drawing threads sleeping on `freed` (wake-ups are syscalls: only when someone sleeps)
    pthread_rwlock_t pub_lock;
    seen_sets pub;        // tasks walked so far, for the drawing threads
};

static int seen_pub(uint64_t h, int kind, void *ctx) {
    run *r = ctx;
    pthread_rwlock_rdlock(&r->pub_lock);
    int dup = seen_in(&r->pub, h, kind);
    pthread_rwlock_unlock(&r->pub_lock);
    return dup;
}

static int seen_all(uint64_t h, int kind, void *ctx) { return seen_in(ctx, h, kind); }

static void *draw_main(void *arg) {
    drawer *d = arg;
    run *r = d->r;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->stop && r->next < r->count && r->next >= r->walked + r->ring) {
            r->drawers_wait++;
            pthread_cond_wait(&r->freed, &r->mu);
            r->drawers_wait--;
        }
        if (r->stop || r->next >= r->count) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        uint64_t k = r->next++;
        size_t s = (size_t)(k % r->ring);
        r->state[s] = SLOT_BUSY;
        pthread_mutex_unlock(&r->mu);
        mg_err e;
        int bad = arc_gen_make(d->gen, r->seed, k, 0, 0, seen_pub, r, &r->task[s], &d->st, &e) != 0;
        if (!bad) arc_gen_serialise(&r->task[s], r->forms);
        else r->err[s] = strdup(e.msg);
        pthread_mutex_lock(&r->mu);
        r->state[s] = bad ? SLOT_BAD : SLOT_READY;
        if (r->walker_waits) pthread_cond_signal(&r->drawn);
        pthread_mutex_unlock(&r->mu);
    }
}

// The walk, on the calling thread: tasks in index order, as the rule says; 0 or -1 with e set.
static int walk(run *r, arc_gen *gen, arc_gen_stats *st, arc_gen_emit emit, void *ctx, mg_err *e) {
    seen_sets all = {{0}, {0}};
    enum { BATCH = 256 };  // tasks walked before `pub` learns them: fewer write locks
    uint64_t hp[BATCH], hq[BATCH];
    int nb = 0, rc = 0;
    for (uint64_t k = 0; k < r->count && !rc; k++) {
        size_t s = (size_t)(k % r->ring);
        pthread_mutex_lock(&r->mu);
        while (r->state[s] != SLOT_READY && r->state[s] != SLOT_BAD) {
            r->walker_waits = 1;
            pthread_cond_wait(&r->drawn, &r->mu);
            r->walker_waits = 0;
        }
        int bad = r->state[s] == SLOT_BAD;
        pthread_mutex_unlock(&r->mu);
        arc_gen_task *t = &r->task[s];
        if (bad) {  // a task no candidate of which passed: the run ends here
            rc = mg_fail(e, "%s", r->err[s] ? r->err[s] : "out of memory");
            break;
        }
        int dp = seen_in(&all, t->prog_hash, ARC_GEN_SEEN_PROGRAM);
        if (dp || seen_in(&all, t->pairs_hash, ARC_GEN_SEEN_PAIRS)) {  // repeats a task walked meanwhile
            st->dup_program += dp, st->dup_pairs += !dp;
            int next = t->attempt + 1, floor = dp ? t->lines + 1 : t->floor_lines;
            arc_gen_task_free(t);
            if ((rc = arc_gen_make(gen, r->seed, k, next, floor, seen_all, &all, t, st, e))) break;
            arc_gen_serialise(t, r->forms);
        }
        hset_add(&all.progs, hp[nb] = t->prog_hash);
        hset_add(&all.pairs, hq[nb] = t->pairs_hash);
        nb++;
        rc = emit ? emit(t, ctx, e) : 0;
        arc_gen_task_free(t);
        if (nb == BATCH || k + 1 == r->count) {
            pthread_rwlock_wrlock(&r->pub_lock);
            for (int i = 0; i < nb; i++) hset_add(&r->pub.progs, hp[i]), hset_add(&r->pub.pairs, hq[i]);
            pthread_rwlock_unlock(&r->pub_lock);
            nb = 0;
        }
        pthread_mutex_lock(&r->mu);
        r->state[s] = SLOT_FREE;
        r->walked = k + 1;
        if (r->drawers_wait) pthread_cond_broadcast(&r->freed);
        pthread_mutex_unlock(&r->mu);
    }
    free(all.progs.slot), free(all.pairs.slot);
    return rc;
}

int arc_gen_run(const arc_gen_config *c, uint64_t seed, uint64_t count, int threads, unsigned forms,
                arc_gen_emit emit, void *ctx, arc_gen_stats *st, mg_err *e) {
    if (arc_gen_config_check(c, e)) return -1;
    if (threads < 1) threads = 1;
    if (count > ((uint64_t)1 << 32))
        return mg_fail(e, "count: %llu is above 2^32 (ids would repeat)", (unsigned long long)count);
    run r = {.cfg = c, .seed = seed, .count = count, .forms = forms, .ring = (size_t)512 * (size_t)threads};
    r.task = callocCheck(r.ring, sizeof *r.task);
    r.state = callocCheck(r.ring, 1);
    r.err = callocCheck(r.ring, sizeof *r.err);
    mgCheck(!pthread_mutex_init(&r.mu, NULL) && !pthread_cond_init(&r.drawn, NULL) &&
                !pthread_cond_init(&r.freed, NULL) && !pthread_rwlock_init(&r.pub_lock, NULL),
            "cannot make the generator's locks");
    drawer *d = callocCheck((size_t)threads, sizeof *d);
    for (int i = 0; i < threads; i++) {
        d[i].r = &r, d[i].gen = arc_gen_new(c);
        mgCheck(pthread_create(&d[i].thread, NULL, draw_main, &d[i]) == 0, "cannot start a generator thread");
    }
    arc_gen *gen = arc_gen_new(c);
    arc_gen_stats wst = {0};
    int rc = walk(&r, gen, &wst, emit, ctx, e);
    pthread_mutex_lock(&r.mu);
    r.stop = 1;
    pthread_cond_broadcast(&r.freed);
    pthread_mutex_unlock(&r.mu);
    if (st) *st = wst;
    for (int i = 0; i < threads; i++) {
        pthread_join(d[i].thread, NULL);
        if (st) add_stats(st, &d[i].st);
        arc_gen_free(d[i].gen);
    }
    // a walked task is emptied, and arc_gen_make zeroes one it could not fill: every slot can be freed
    for (size_t i = 0; i < r.ring; i++) arc_gen_task_free(&r.task[i]), free(r.err[i]);
    arc_gen_free(gen);
    pthread_mutex_destroy(&r.mu), pthread_cond_destroy(&r.drawn), pthread_cond_destroy(&r.freed);
    pthread_rwlock_destroy(&r.pub_lock);
    free(r.pub.progs.slot), free(r.pub.pairs.slot), free(r.task), free(r.state), free(r.err), free(d);
    return rc;
}
