#include "coordinator/archive.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/rng.h"

const char *const origin_names[ORIGIN_COUNT] = {"on_policy", "greedy", "neighborhood", "opro"};

typedef struct {
    long left, right;  // treap children (-1 = none)
    uint64_t priority;
} order_node;

struct archive {
    size_t max_entries, live;
    archive_entry *entries;
    order_node *nodes;
    size_t n, cap;
    long root;
    // open-addressing hash of fingerprints -> entry index
    long *slots;
    size_t n_slots;
};

// FNV-1a, then mixed: canonical forms are short strings.
static uint64_t fingerprint(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return rng_mix(h, 0x5eed);
}

archive *archive_create(size_t max_entries) {
    archive *a = callocCheck(1, sizeof *a);
    a->max_entries = max_entries;
    a->root = -1;
    a->n_slots = 1024;
    a->slots = mallocCheck(a->n_slots * sizeof(long));
    for (size_t i = 0; i < a->n_slots; i++) a->slots[i] = -1;
    return a;
}

void archive_free(archive *a) {
    if (!a) return;
    for (size_t i = 0; i < a->n; i++)
        free(a->entries[i].canonical), free(a->entries[i].completion), free(a->entries[i].detail);
    free(a->entries);
    free(a->nodes);
    free(a->slots);
    free(a);
}

static char *copy_text(const char *s) {
    char *c = strdup(s);
    mgCheck(c != NULL, "out of memory storing an archive text");
    return c;
}

// Entries whose fingerprints collide are told apart by their text when it is still held; a dropped entry's
// fingerprint alone decides (a 64-bit collision between distinct solutions is negligible).
static int same(const archive *a, long i, const char *canonical, uint64_t fp) {
    const archive_entry *e = &a->entries[i];
    if (e->fingerprint != fp) return 0;
    return e->dropped || strcmp(e->canonical, canonical) == 0;
}

long archive_find(const archive *a, const char *canonical) {
    uint64_t fp = fingerprint(canonical);
    for (size_t s = fp & (a->n_slots - 1);; s = (s + 1) & (a->n_slots - 1)) {
        long i = a->slots[s];
        if (i < 0) return -1;
        if (same(a, i, canonical, fp)) return i;
    }
}

static void hash_insert(archive *a, long index) {
    if ((a->n + 1) * 2 > a->n_slots) {  // keep the load under one half
        size_t n_slots = a->n_slots * 2;
        long *slots = mallocCheck(n_slots * sizeof(long));
        for (size_t i = 0; i < n_slots; i++) slots[i] = -1;
        for (size_t s = 0; s < a->n_slots; s++) {
            long i = a->slots[s];
            if (i < 0) continue;
            size_t t = a->entries[i].fingerprint & (n_slots - 1);
            while (slots[t] >= 0) t = (t + 1) & (n_slots - 1);
            slots[t] = i;
        }
        free(a->slots);
        a->slots = slots;
        a->n_slots = n_slots;
    }
    size_t t = a->entries[index].fingerprint & (a->n_slots - 1);
    while (a->slots[t] >= 0) t = (t + 1) & (a->n_slots - 1);
    a->slots[t] = index;
}

// Treap order: better reward first; equal rewards keep insertion order.
static int before(const archive *a, long i, long j) {
    double ri = a->entries[i].reward, rj = a->entries[j].reward;
    return ri > rj || (ri == rj && i < j);
}

static long rotate_right(archive *a, long t) {
    long l = a->nodes[t].left;
    a->nodes[t].left = a->nodes[l].right;
    a->nodes[l].right = t;
    return l;
}

static long rotate_left(archive *a, long t) {
    long r = a->nodes[t].right;
    a->nodes[t].right = a->nodes[r].left;
    a->nodes[r].left = t;
    return r;
}

static long treap_insert(archive *a, long t, long x) {
    if (t < 0) return x;
    if (before(a, x, t)) {
        a->nodes[t].left = treap_insert(a, a->nodes[t].left, x);
        if (a->nodes[a->nodes[t].left].priority > a->nodes[t].priority) t = rotate_right(a, t);
    } else {
        a->nodes[t].right = treap_insert(a, a->nodes[t].right, x);
        if (a->nodes[a->nodes[t].right].priority > a->nodes[t].priority) t = rotate_left(a, t);
    }
    return t;
}

// Removes the last node in order (the worst entry) and returns its index.
static long treap_pop_worst(archive *a, long *t) {
    long *link = t;
    while (a->nodes[*link].right >= 0) link = &a->nodes[*link].right;
    long worst = *link;
    *link = a->nodes[worst].left;
    return worst;
}

static void drop_texts(archive_entry *e) {
    e->dropped = 1;
    free(e->canonical), free(e->completion), free(e->detail);
    e->canonical = e->completion = e->detail = NULL;
}

void archive_set_detail(archive *a, long i, char *detail) {
    mgCheck(i >= 0 && (size_t)i < a->n, "archive_set_detail: no such entry");
    archive_entry *e = &a->entries[i];
    free(e->detail);
    e->detail = NULL;
    if (e->dropped) free(detail);  // nothing of a dropped entry is kept
    else e->detail = detail;
}

static void grow(archive *a) {
    if (a->n < a->cap) return;
    a->cap = a->cap ? 2 * a->cap : 256;
    a->entries = realloc(a->entries, a->cap * sizeof *a->entries);
    a->nodes = realloc(a->nodes, a->cap * sizeof *a->nodes);
    mgCheck(a->entries && a->nodes, "out of memory growing the archive");
}

long archive_add(archive *a, const char *canonical, const char *completion, double reward, int valid, int iteration,
                 origin_kind origin) {
    grow(a);
    long i = (long)a->n;
    archive_entry *e = &a->entries[i];
    e->reward = valid ? reward : 0.0;
    e->iteration = iteration;
    e->origin = (uint8_t)origin;
    e->valid = (uint8_t)(valid != 0);
    e->dropped = 0;
    e->detail = NULL;
    e->fingerprint = fingerprint(canonical);
    e->canonical = copy_text(canonical);
    e->completion = copy_text(completion ? completion : canonical);
    a->nodes[i] = (order_node){-1, -1, rng_mix(0xa4c1, (uint64_t)i)};
    a->n++;
    hash_insert(a, i);
    if (!e->valid && a->max_entries) {  // bounded runs keep only the fingerprint of an invalid candidate
        drop_texts(e);
    }
    if (e->valid) {
        a->root = treap_insert(a, a->root, i);
        a->live++;
    }
    if (a->max_entries && a->live > a->max_entries) {
        long worst = treap_pop_worst(a, &a->root);
        archive_entry *w = &a->entries[worst];
        drop_texts(w);
        a->live--;
    }
    return i;
}

// The treap's shape is a function of the set of (order, priority) pairs it holds, and priorities are a function of
// the index, so re-inserting the live entries rebuilds the same order the uninterrupted run has.
long archive_restore_entry(archive *a, const archive_entry *saved) {
    if (saved->origin >= ORIGIN_COUNT || saved->valid > 1 || saved->dropped > 1) return -1;
    if (saved->dropped ? (saved->canonical || saved->completion || saved->detail)
                       : (!saved->canonical || !saved->completion || fingerprint(saved->canonical) != saved->fingerprint))
        return -1;
    if (!saved->valid && saved->reward != 0.0) return -1;
    grow(a);
    long i = (long)a->n;
    archive_entry *e = &a->entries[i];
    *e = *saved;
    e->canonical = saved->canonical ? copy_text(saved->canonical) : NULL;
    e->completion = saved->completion ? copy_text(saved->completion) : NULL;
    e->detail = saved->detail ? copy_text(saved->detail) : NULL;
    a->nodes[i] = (order_node){-1, -1, rng_mix(0xa4c1, (uint64_t)i)};
    a->n++;
    hash_insert(a, i);
    if (e->valid && !e->dropped) {
        a->root = treap_insert(a, a->root, i);
        a->live++;
    }
    return i;
}

size_t archive_size(const archive *a) { return a->n; }

const archive_entry *archive_get(const archive *a, long index) {
    return index >= 0 && (size_t)index < a->n ? &a->entries[index] : NULL;
}

const char *archive_canonical(const archive *a, long index) {
    const archive_entry *e = archive_get(a, index);
    return e ? e->canonical : NULL;
}

const char *archive_completion(const archive *a, long index) {
    const archive_entry *e = archive_get(a, index);
    return e ? e->completion : NULL;
}

// In-order walk from the best, stopping after k: O(depth + k).
static void collect(const archive *a, long t, int k, long *out, int *n) {
    if (t < 0 || *n >= k) return;
    collect(a, a->nodes[t].left, k, out, n);
    if (*n < k) out[(*n)++] = t;
    collect(a, a->nodes[t].right, k, out, n);
}

int archive_top(const archive *a, int k, long *out) {
    int n = 0;
    collect(a, a->root, k, out, &n);
    return n;
}
