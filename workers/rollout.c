#include "workers/rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// A growing byte buffer for what one rank sends.
typedef struct {
    char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *x, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        mgCheck(b->p != NULL, "out of memory");
    }
    memcpy(b->p + b->n, x, n);
    b->n += n;
}

static void put_i32(bytes *b, int32_t v) { put(b, &v, sizeof v); }

typedef struct {
    const char *p, *end;
} reader;

static int32_t get_i32(reader *r) {
    int32_t v;
    mgCheck(r->p + sizeof v <= r->end, "a gathered rollout message is short");
    memcpy(&v, r->p, sizeof v);
    r->p += sizeof v;
    return v;
}

static void get(reader *r, void *x, size_t n) {
    mgCheck(r->p + n <= r->end, "a gathered rollout message is short");
    memcpy(x, r->p, n);
    r->p += n;
}

// Each rank's message starts with (status, count); a failed rank sends its error text instead of results.
static void put_status(bytes *b, int rc, int count, const mg_err *e) {
    put_i32(b, rc ? -1 : 0);
    put_i32(b, count);
    if (rc) {
        int32_t l = (int32_t)strlen(e->msg);
        put_i32(b, l);
        put(b, e->msg, (size_t)l);
    }
}

// Reads one rank's header; returns its count, or -1 (with e set from the rank's message) when it failed.
static int get_status(reader *r, int rank, mg_err *e) {
    int32_t status = get_i32(r), count = get_i32(r);
    if (status == 0) return count;
    int32_t l = get_i32(r);
    char msg[MG_ERRLEN];
    int keep = l < (int32_t)sizeof msg - 1 ? l : (int32_t)sizeof msg - 1;
    get(r, msg, (size_t)keep);
    r->p += l - keep;
    msg[keep] = '\0';
    mg_fail(e, "rank %d: %s", rank, msg);
    return -1;
}

// Fault injection for the tests: MIGRATE_FAULT=hang:RANK:CALL or crash:RANK:CALL makes rank RANK hang (or abort)
// in its CALL-th generation step (1-based).
static void maybe_fault(const comm *c) {
    static int calls;
    const char *f = getenv("MIGRATE_FAULT");
    calls++;
    if (!f) return;
    char kind[8] = "";
    int rank = -1, call = -1;
    if (sscanf(f, "%7[a-z]:%d:%d", kind, &rank, &call) != 3 || rank != c->rank || call != calls) return;
    if (!strcmp(kind, "crash")) abort();
    if (!strcmp(kind, "hang"))
        for (;;) pause();
}

// The coordinator's generation request: count, adapter version and sampling settings, then per sample its RNG
// key (sequence id) and prompt ids. Rank 0 sends it to every rank before sampling; each rank samples from the
// request, after checking that it equals what its own replica of the search state asks (replicas that drifted
// apart would make every later step wrong) and that it holds the adapter version named.
typedef struct {
    int32_t n, version, top_k, max_new_tokens;
    float temperature, top_p, min_p;
    uint64_t seed;
} request_head;

static void pack_request(bytes *b, int n, const int *const *prompts, const int *lens, const uint64_t *seq_ids,
                         const sampling_params *p, int version) {
    request_head h;
    memset(&h, 0, sizeof h);  // the padding too: ranks compare requests byte for byte
    h.n = n, h.version = version, h.top_k = p->top_k, h.max_new_tokens = p->max_new_tokens;
    h.temperature = p->temperature, h.top_p = p->top_p, h.min_p = p->min_p, h.seed = p->seed;
    put(b, &h, sizeof h);
    for (int j = 0; j < n; j++) {
        put(b, &seq_ids[j], sizeof seq_ids[j]);
        put_i32(b, lens[j]);
        put(b, prompts[j], (size_t)lens[j] * sizeof(int));
    }
}

// Rank 0's request to every rank (a collective); returns it packed, in a malloc'd buffer, on every rank.
static char *share_request(const comm *c, int n, const int *const *prompts, const int *lens, const uint64_t *seq_ids,
                           const sampling_params *p, int version, size_t *len) {
    bytes b = {0};
    pack_request(&b, n, prompts, lens, seq_ids, p, version);
    uint64_t sent = c->rank == 0 ? (uint64_t)b.n : 0;
    comm_bcast(c, &sent, sizeof sent, 0, "generation request");
    char *req = mallocCheck((size_t)sent + 1);
    if (c->rank == 0) memcpy(req, b.p, b.n);
    comm_bcast(c, req, (size_t)sent, 0, "generation request");
    request_head h;
    memcpy(&h, req, sent >= sizeof h ? sizeof h : 0);
    if (c->rank != 0 && sent >= sizeof h && h.version != version) {
        char hint[160];
        snprintf(hint, sizeof hint, "rank %d holds adapter version %d, the request names %d", c->rank, version,
                 h.version);
        check_failed("every rank holds the adapter version the request names", __FILE__, __LINE__, hint);
    }
    if (c->rank != 0 && (sent != b.n || memcmp(req, b.p, b.n))) {
        char hint[200];
        snprintf(hint, sizeof hint, "rank %d's replica asks for other samples (%zu bytes) than rank 0's request "
                 "(%llu bytes)", c->rank, b.n, (unsigned long long)sent);
        check_failed("every rank's replica of the search state equals the coordinator's", __FILE__, __LINE__, hint);
    }
    free(b.p);
    *len = (size_t)sent;
    return req;
}

int rollout_sample(const comm *c, model *m, const tokenizer *tok, int n, const int *const *prompts,
                   const int *prompt_lens, const uint64_t *seq_ids, const sampling_params *p, int version,
                   rollout_part *part) {
    memset(part, 0, sizeof *part);
    part->version = version;
    if (c->size == 1) part->hi = n;
    else if (c->is_rollout) comm_block(n, c->n_rollout, c->rollout_index, &part->lo, &part->hi);
    part->mine = callocCheck((size_t)(part->hi - part->lo + 1), sizeof(completion));
    int k = part->hi - part->lo;
    if (c->size == 1) {
        if (k > 0) part->rc = generate(m, tok, k, prompts, prompt_lens, seq_ids, p, 0, part->mine, &part->err);
        return part->rc;
    }
    size_t len;
    char *req = share_request(c, n, prompts, prompt_lens, seq_ids, p, version, &len);
    comm_phase(c, "sampling");
    maybe_fault(c);
    if (k > 0) {  // this rank's block, read from the request
        reader r = {req, req + len};
        request_head h;
        get(&r, &h, sizeof h);
        sampling_params sp = *p;
        sp.temperature = h.temperature, sp.top_k = h.top_k, sp.top_p = h.top_p, sp.min_p = h.min_p;
        sp.max_new_tokens = h.max_new_tokens, sp.seed = h.seed;
        const int **pr = mallocCheck((size_t)k * sizeof(int *));
        int *pl = mallocCheck((size_t)k * sizeof(int));
        uint64_t *ids = mallocCheck((size_t)k * sizeof(uint64_t));
        for (int j = 0; j < part->hi; j++) {
            uint64_t id;
            get(&r, &id, sizeof id);
            int32_t l = get_i32(&r);
            mgCheck(r.p + (size_t)l * sizeof(int) <= r.end, "a generation request is short");
            if (j >= part->lo) pr[j - part->lo] = (const int *)r.p, pl[j - part->lo] = l, ids[j - part->lo] = id;
            r.p += (size_t)l * sizeof(int);
        }
        part->rc = generate(m, tok, k, pr, pl, ids, &sp, 0, part->mine, &part->err);
        free(pr), free(pl), free(ids);
    }
    comm_phase(c, NULL);
    free(req);
    return part->rc;
}

static void part_free(rollout_part *part) {
    for (int j = 0; part->mine && j < part->hi - part->lo; j++) completion_free(&part->mine[j]);
    free(part->mine);
    part->mine = NULL;
}

int rollout_gather(const comm *c, rollout_part *part, int n, completion *out, mg_err *e) {
    int version = part->version, rc = part->rc;
    if (c->size == 1) {
        if (rc) *e = part->err;
        else memcpy(out, part->mine, (size_t)n * sizeof(completion));
        if (!rc) free(part->mine), part->mine = NULL;
        else part_free(part);
        return rc;
    }
    int lo = part->lo, hi = part->hi;
    bytes b = {0};
    put_status(&b, rc, rc ? 0 : hi - lo, &part->err);
    if (!rc) put_i32(&b, version);
    for (int j = 0; !rc && j < hi - lo; j++) {
        const completion *x = &part->mine[j];
        int32_t tl = (int32_t)strlen(x->text ? x->text : "");
        put_i32(&b, x->n), put_i32(&b, (int32_t)x->finish), put_i32(&b, tl);
        put(&b, x->ids, (size_t)x->n * sizeof(int)), put(&b, x->logp, (size_t)x->n * sizeof(float));
        put(&b, x->text ? x->text : "", (size_t)tl);
    }
    part_free(part);
    void *all;
    size_t len;
    comm_allgather_bytes(c, b.p, b.n, &all, &len, "gather completions");
    free(b.p);
    reader r = {all, (const char *)all + len};
    int next = 0, failed = 0;
    for (int rank = 0; rank < c->size; rank++) {
        int count = get_status(&r, rank, e);
        if (count < 0) {
            failed = 1;
            break;
        }
        int32_t v = get_i32(&r);  // a rank that missed an adapter publication would sample from another policy
        if (v != version) {
            char hint[160];
            snprintf(hint, sizeof hint, "rank %d sampled with adapter version %d, this rank holds %d", rank, v, version);
            check_failed("every sampling rank holds the same adapter version", __FILE__, __LINE__, hint);
        }
        for (int j = 0; j < count; j++, next++) {
            completion *x = &out[next];
            x->n = get_i32(&r), x->finish = (finish_reason)get_i32(&r);
            int32_t tl = get_i32(&r);
            x->ids = mallocCheck((size_t)(x->n ? x->n : 1) * sizeof(int));
            x->logp = mallocCheck((size_t)(x->n ? x->n : 1) * sizeof(float));
            x->text = mallocCheck((size_t)tl + 1);
            get(&r, x->ids, (size_t)x->n * sizeof(int)), get(&r, x->logp, (size_t)x->n * sizeof(float));
            get(&r, x->text, (size_t)tl);
            x->text[tl] = '\0';
        }
    }
    free(all);
    if (failed) {
        for (int j = 0; j < next; j++) completion_free(&out[j]);
        return -1;
    }
    mgCheck(next == n, "the rollout ranks did not cover every sample");
    return 0;
}

int rollout_score(const comm *c, task *t, int n, const char *const *candidates, task_score *out, mg_err *e) {
    if (c->size == 1) return t->score(t, n, candidates, out, e);
    int lo = 0, hi = 0, rc = 0;
    if (c->is_rollout) comm_block(n, c->n_rollout, c->rollout_index, &lo, &hi);
    mg_err err = {{0}};
    comm_phase(c, "scoring");
    if (hi > lo) rc = t->score(t, hi - lo, candidates + lo, out + lo, &err);
    comm_phase(c, NULL);
    bytes b = {0};
    put_status(&b, rc, rc ? 0 : hi - lo, &err);
    // A score travels as its struct, then its detail text (length -1: none); the pointer in the struct is stale
    // on arrival and every rank gets its own copy of the text.
    for (int i = lo; !rc && i < hi; i++) {
        put(&b, &out[i], sizeof(task_score));
        int32_t dl = out[i].detail ? (int32_t)strlen(out[i].detail) : -1;
        put_i32(&b, dl);
        if (dl > 0) put(&b, out[i].detail, (size_t)dl);
    }
    if (hi > lo) task_score_free_details(out + lo, hi - lo);
    void *all;
    size_t len;
    comm_allgather_bytes(c, b.p, b.n, &all, &len, "gather scores");
    free(b.p);
    reader r = {all, (const char *)all + len};
    int next = 0, failed = 0;
    for (int rank = 0; rank < c->size && !failed; rank++) {
        int count = get_status(&r, rank, e);
        if (count < 0) failed = 1;
        for (int j = 0; j < count; j++, next++) {
            get(&r, &out[next], sizeof(task_score));
            int32_t dl = get_i32(&r);
            out[next].detail = NULL;
            if (dl < 0) continue;
            out[next].detail = mallocCheck((size_t)dl + 1);
            get(&r, out[next].detail, (size_t)dl);
            out[next].detail[dl] = '\0';
        }
    }
    free(all);
    if (failed) {
        task_score_free_details(out, next);
        return -1;
    }
    mgCheck(next == n, "the rollout ranks did not cover every candidate");
    return 0;
}
