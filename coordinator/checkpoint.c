// Snapshots of a search: taking, verifying, applying, and the background writer. The HDF5 side is
// checkpoint_h5.c.
#include "coordinator/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "coordinator/checkpoint_internal.h"
#include "common/file.h"

static char *dup_text(const char *s) {
    char *c = strdup(s ? s : "");
    mgCheck(c != NULL, "out of memory");
    return c;
}

static void *dup_bytes(const void *p, size_t n) {
    void *c = mallocCheck(n ? n : 1);
    if (n) memcpy(c, p, n);
    return c;
}

// 64-bit FNV-1a over 8-byte words (then bytes): fast enough for a few hundred MB of adapter and moments.
uint64_t checkpoint_hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 1099511628211ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

int checkpoint_model_hash(const char *model_dir, uint64_t *hash, mg_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    size_t len;
    char *text = read_small_file(path, 1 << 20, &len, 0, NULL, e);
    if (!text) return -1;
    *hash = checkpoint_hash_bytes(1469598103934665603ull, text, len);
    free(text);
    return 0;
}

uint64_t checkpoint_digest(const checkpoint *c) {
    uint64_t h = 1469598103934665603ull;
    int64_t counters[] = {c->iteration, c->oracle_calls, c->repeats, c->unparsable, c->best, c->solved,
                          c->budget_spent, c->solved_at_calls, c->new_tokens, (int64_t)c->seed, (int64_t)c->problem,
                          c->archive_max_entries, c->n_entries, c->has_adapter, c->n_adapter, c->opt_step,
                          (int64_t)c->model_hash, c->model_params, c->lora_rank};
    h = checkpoint_hash_bytes(h, counters, sizeof counters);
    if (c->best_info) h = checkpoint_hash_bytes(h, c->best_info, strlen(c->best_info));
    size_t n = (size_t)c->n_entries;
    h = checkpoint_hash_bytes(h, c->best_history, (size_t)c->iteration * sizeof(int64_t));
    h = checkpoint_hash_bytes(h, c->reward, n * sizeof(double));
    h = checkpoint_hash_bytes(h, c->entry_iteration, n * sizeof(int32_t));
    h = checkpoint_hash_bytes(h, c->origin, n);
    h = checkpoint_hash_bytes(h, c->valid, n);
    h = checkpoint_hash_bytes(h, c->dropped, n);
    h = checkpoint_hash_bytes(h, c->fingerprint, n * sizeof(uint64_t));
    h = checkpoint_hash_bytes(h, c->canonical_end, n * sizeof(int64_t));
    h = checkpoint_hash_bytes(h, c->completion_end, n * sizeof(int64_t));
    h = checkpoint_hash_bytes(h, c->canonical, (size_t)c->canonical_bytes);
    h = checkpoint_hash_bytes(h, c->completion, (size_t)c->completion_bytes);
    if (c->detail_bytes) {  // searches whose task keeps nothing hash as they did before details existed
        h = checkpoint_hash_bytes(h, c->detail_end, n * sizeof(int64_t));
        h = checkpoint_hash_bytes(h, c->detail, (size_t)c->detail_bytes);
    }
    if (c->has_adapter) {
        size_t na = (size_t)c->n_adapter * sizeof(float);
        h = checkpoint_hash_bytes(h, c->adapter, na);
        h = checkpoint_hash_bytes(h, c->exp_avg, na);
        h = checkpoint_hash_bytes(h, c->exp_avg_sq, na);
    }
    return checkpoint_digest_pending(h, c);
}

// A text field, with its length first so that moving bytes between neighbouring texts changes the hash.
static uint64_t hash_text(uint64_t h, const char *s) {
    uint64_t n = s ? strlen(s) : 0;
    h = checkpoint_hash_bytes(h, &n, sizeof n);
    return checkpoint_hash_bytes(h, s ? s : "", (size_t)n);
}

uint64_t checkpoint_file_digest(const checkpoint *c) {
    uint64_t h = checkpoint_hash_bytes(1469598103934665603ull, &c->digest, sizeof c->digest);
    int64_t fields[] = {c->format_version, c->metrics_bytes, c->n_tensors, c->oracle_invalid,
                        c->oracle_timeouts, c->oracle_crashes, c->train_skipped};
    h = checkpoint_hash_bytes(h, fields, sizeof fields);
    // What the run is and where it came from: a resume runs this config, the oracle's command line included.
    h = hash_text(h, c->config);
    h = hash_text(h, c->model_path);
    h = hash_text(h, c->created);
    h = checkpoint_hash_bytes(h, c->seconds, sizeof c->seconds);
    h = checkpoint_hash_bytes(h, c->metrics, c->metrics ? (size_t)c->metrics_bytes : 0);
    if (c->has_adapter) {
        h = checkpoint_hash_bytes(h, &c->lora_alpha, sizeof c->lora_alpha);
        h = hash_text(h, c->lora_targets);
        for (int64_t i = 0; i < c->n_tensors; i++) {
            const param_tensor *t = &c->tensors[i];
            int64_t shape[3] = {(int64_t)t->offset, t->rows, t->cols};
            h = hash_text(h, t->name);
            h = checkpoint_hash_bytes(h, shape, sizeof shape);
        }
    }
    return h;
}

static void take_archive(checkpoint *c, const archive *a) {
    size_t n = archive_size(a);
    c->n_entries = (int64_t)n;
    c->reward = mallocCheck((n ? n : 1) * sizeof(double));
    c->entry_iteration = mallocCheck((n ? n : 1) * sizeof(int32_t));
    c->origin = mallocCheck(n ? n : 1), c->valid = mallocCheck(n ? n : 1), c->dropped = mallocCheck(n ? n : 1);
    c->fingerprint = mallocCheck((n ? n : 1) * sizeof(uint64_t));
    c->canonical_end = mallocCheck((n ? n : 1) * sizeof(int64_t));
    c->completion_end = mallocCheck((n ? n : 1) * sizeof(int64_t));
    c->detail_end = mallocCheck((n ? n : 1) * sizeof(int64_t));
    size_t nc = 0, nk = 0, nd = 0;
    for (size_t i = 0; i < n; i++) {
        const archive_entry *x = archive_get(a, (long)i);
        if (!x->dropped) nc += strlen(x->canonical), nk += strlen(x->completion);
        if (x->detail) nd += strlen(x->detail);
    }
    c->canonical = mallocCheck(nc + 1), c->completion = mallocCheck(nk + 1), c->detail = mallocCheck(nd + 1);
    size_t oc = 0, ok = 0, od = 0;
    for (size_t i = 0; i < n; i++) {
        const archive_entry *x = archive_get(a, (long)i);
        c->reward[i] = x->reward, c->entry_iteration[i] = x->iteration, c->origin[i] = x->origin;
        c->valid[i] = x->valid, c->dropped[i] = x->dropped, c->fingerprint[i] = x->fingerprint;
        if (!x->dropped) {
            size_t l = strlen(x->canonical), m = strlen(x->completion);
            memcpy(c->canonical + oc, x->canonical, l), oc += l;
            memcpy(c->completion + ok, x->completion, m), ok += m;
        }
        if (x->detail) {
            size_t l = strlen(x->detail);
            memcpy(c->detail + od, x->detail, l), od += l;
        }
        c->canonical_end[i] = (int64_t)oc, c->completion_end[i] = (int64_t)ok, c->detail_end[i] = (int64_t)od;
    }
    c->canonical_bytes = (int64_t)oc, c->completion_bytes = (int64_t)ok, c->detail_bytes = (int64_t)od;
}

void checkpoint_take(checkpoint *c, const search_state *s, const char *config_text, const char *model_path,
                     uint64_t model_hash, const char *metrics, size_t metrics_len) {
    memset(c, 0, sizeof *c);
    c->format_version = CHECKPOINT_FORMAT_VERSION;
    search_activate(s);  // its adapter, not the one of another search sharing the model
    c->config = dup_text(config_text);
    c->model_path = dup_text(model_path);
    c->model_hash = model_hash;
    c->model_params = (int64_t)s->m->n_params;
    char when[32];
    mg_utc_now(when, sizeof when);
    c->created = dup_text(when);
    c->iteration = s->iteration, c->oracle_calls = s->oracle_calls, c->repeats = s->repeats;
    c->unparsable = s->unparsable, c->best = s->best, c->solved = s->solved, c->budget_spent = s->budget_spent;
    c->solved_at_calls = s->solved_at_calls, c->new_tokens = s->new_tokens;
    c->oracle_invalid = s->oracle_invalid, c->oracle_timeouts = s->oracle_timeouts;
    c->oracle_crashes = s->oracle_crashes, c->train_skipped = s->train_skipped;
    c->seed = s->cfg->seed, c->problem = s->problem;
    c->seconds[0] = s->time.sample, c->seconds[1] = s->time.score, c->seconds[2] = s->time.train;
    c->seconds[3] = s->time.total;
    c->best_info = dup_text(s->best_info);
    c->best_history = mallocCheck((size_t)(s->iteration ? s->iteration : 1) * sizeof(int64_t));
    for (int i = 0; i < s->iteration; i++) c->best_history[i] = s->best_history[i];
    c->metrics_bytes = (int64_t)metrics_len;
    c->metrics = mallocCheck(metrics_len + 1);
    if (metrics_len) memcpy(c->metrics, metrics, metrics_len);
    c->metrics[metrics_len] = '\0';
    c->archive_max_entries = s->cfg->archive_max_entries;
    take_archive(c, s->arc);
    const lora_adapter *la = s->m->lora;
    c->has_adapter = (la || s->weights) && s->opt.m != NULL;
    if (c->has_adapter && s->weights) {
        // Full training: /adapter holds every weight under its HF name, r = 0 (docs/checkpoint-formats.md).
        size_t n = s->m->n_params;
        c->lora_rank = 0, c->lora_alpha = 0;
        c->lora_targets = dup_text("all weights");
        c->n_tensors = model_weight_tensors(s->m, NULL);
        c->tensors = mallocCheck((size_t)c->n_tensors * sizeof(param_tensor));
        model_weight_tensors(s->m, c->tensors);
        c->n_adapter = (int64_t)n;
        mgCheck(s->opt.n == n, "the optimizer does not cover the weights");
        c->adapter = dup_bytes(s->weights, n * sizeof(float));
        c->exp_avg = dup_bytes(s->opt.m, n * sizeof(float));
        c->exp_avg_sq = dup_bytes(s->opt.v, n * sizeof(float));
        c->opt_step = s->opt.t;
    } else if (c->has_adapter) {
        c->lora_rank = la->cfg.rank, c->lora_alpha = la->cfg.alpha;
        c->lora_targets = dup_text(s->cfg->lora_target_modules);
        c->n_tensors = lora_tensors(s->m, NULL);
        c->tensors = mallocCheck((size_t)c->n_tensors * sizeof(param_tensor));
        lora_tensors(s->m, c->tensors);
        c->n_adapter = (int64_t)la->n_params;
        mgCheck(s->opt.n == la->n_params, "the optimizer does not cover the adapter");
        c->adapter = dup_bytes(la->params, la->n_params * sizeof(float));
        c->exp_avg = dup_bytes(s->opt.m, la->n_params * sizeof(float));
        c->exp_avg_sq = dup_bytes(s->opt.v, la->n_params * sizeof(float));
        c->opt_step = s->opt.t;
    }
    checkpoint_take_pending(c, s);
}

void checkpoint_free(checkpoint *c) {
    free(c->config), free(c->model_path), free(c->created), free(c->best_info), free(c->best_history), free(c->metrics);
    free(c->reward), free(c->entry_iteration), free(c->origin), free(c->valid), free(c->dropped);
    free(c->fingerprint), free(c->canonical), free(c->completion), free(c->canonical_end), free(c->completion_end);
    free(c->detail), free(c->detail_end);
    free(c->lora_targets), free(c->tensors), free(c->adapter), free(c->exp_avg), free(c->exp_avg_sq);
    checkpoint_free_pending(c);
    memset(c, 0, sizeof *c);
}

int checkpoint_apply(const checkpoint *c, search_state *s, mg_err *e) {
    if (archive_size(s->arc) != 0 || s->iteration != 0) return mg_fail(e, "checkpoint: the search is not fresh");
    int64_t start_c = 0, start_k = 0, start_d = 0;
    for (int64_t i = 0; i < c->n_entries; i++) {
        archive_entry x = {.reward = c->reward[i], .iteration = c->entry_iteration[i], .origin = c->origin[i],
                           .valid = c->valid[i], .dropped = c->dropped[i], .fingerprint = c->fingerprint[i]};
        char *canon = NULL, *comp = NULL, *detail = NULL;
        if (!x.dropped) {
            canon = strndup(c->canonical + start_c, (size_t)(c->canonical_end[i] - start_c));
            comp = strndup(c->completion + start_k, (size_t)(c->completion_end[i] - start_k));
            mgCheck(canon && comp, "out of memory");
        }
        int64_t end_d = c->detail_end ? c->detail_end[i] : 0;
        if (end_d > start_d) {  // an entry with no detail has none of the bytes
            detail = strndup(c->detail + start_d, (size_t)(end_d - start_d));
            mgCheck(detail != NULL, "out of memory");
        }
        x.canonical = canon, x.completion = comp, x.detail = detail;
        long idx = archive_restore_entry(s->arc, &x);
        free(canon), free(comp), free(detail);
        if (idx != (long)i) return mg_fail(e, "checkpoint: archive entry %lld contradicts itself", (long long)i);
        start_c = c->canonical_end[i], start_k = c->completion_end[i], start_d = end_d;
    }
    s->iteration = (int)c->iteration, s->oracle_calls = c->oracle_calls, s->repeats = c->repeats;
    s->unparsable = c->unparsable, s->best = c->best, s->solved = (int)c->solved;
    s->budget_spent = (int)c->budget_spent, s->solved_at_calls = c->solved_at_calls, s->new_tokens = c->new_tokens;
    s->oracle_invalid = c->oracle_invalid, s->oracle_timeouts = c->oracle_timeouts;
    s->oracle_crashes = c->oracle_crashes, s->train_skipped = c->train_skipped;
    s->time.sample = c->seconds[0], s->time.score = c->seconds[1], s->time.train = c->seconds[2];
    s->time.total = c->seconds[3];
    snprintf(s->best_info, sizeof s->best_info, "%s", c->best_info);
    s->history_cap = s->iteration > 0 ? s->iteration : 1;
    s->best_history = realloc(s->best_history, (size_t)s->history_cap * sizeof(long));
    mgCheck(s->best_history != NULL, "out of memory");
    for (int i = 0; i < s->iteration; i++) s->best_history[i] = (long)c->best_history[i];
    if (c->has_adapter && s->weights) {
        size_t n = s->m->n_params;
        if (c->lora_rank != 0 || c->n_adapter != (int64_t)n || s->opt.n != n)
            return mg_fail(e, "checkpoint: it holds %lld trained parameters (LoRA rank %lld), this run trains all %zu "
                              "weights", (long long)c->n_adapter, (long long)c->lora_rank, n);
        memcpy(s->weights, c->adapter, n * sizeof(float));
        memcpy(s->opt.m, c->exp_avg, n * sizeof(float));
        memcpy(s->opt.v, c->exp_avg_sq, n * sizeof(float));
        s->opt.t = (int)c->opt_step;
    } else if (c->has_adapter) {
        search_activate(s);
        lora_adapter *la = s->m->lora;
        if (!la || la->n_params != (size_t)c->n_adapter || s->opt.n != la->n_params)
            return mg_fail(e, "checkpoint: the adapter has %lld parameters, this run's has %zu", (long long)c->n_adapter,
                           la ? la->n_params : (size_t)0);
        memcpy(la->params, c->adapter, la->n_params * sizeof(float));
        lora_adapter_changed(la);
        memcpy(s->opt.m, c->exp_avg, la->n_params * sizeof(float));
        memcpy(s->opt.v, c->exp_avg_sq, la->n_params * sizeof(float));
        s->opt.t = (int)c->opt_step;
    }
    return checkpoint_apply_pending(c, s, e);
}

// ---- config compatibility ----

// Keys whose value does not change what the search does, only how long it runs, where it writes, how fast.
static const char *const k_free_keys[] = {"iterations", "oracle_budget", "output_dir", "log_every", "threads",
                                          "save_steps", "model", "task.workers", "task.timeout",
                                          "distributed.rollout_ranks", "distributed.learner_ranks",
                                          "distributed.coordinator_only", "distributed.timeout", "distributed.allreduce",
                                          "engine.backend",
                                          "engine.dtype", "engine.device", "engine.cuda_graphs", NULL};

// Walks a config dump ("key: value" lines, "group:" lines followed by "  key: value"): each call yields the next
// dotted key and its value, 0 at the end.
typedef struct {
    const char *p;
    char group[256];
} dump_cursor;

static int dump_next(dump_cursor *d, char *key, size_t cap, const char **value, size_t *vlen) {
    while (*d->p) {
        const char *line = d->p, *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);
        d->p += n + (eol ? 1 : 0);
        int nested = n > 2 && line[0] == ' ' && line[1] == ' ';
        const char *colon = memchr(line, ':', n);
        if (!colon) continue;
        const char *k = nested ? line + 2 : line;
        int kl = (int)(colon - k);
        if (nested) snprintf(key, cap, "%s.%.*s", d->group, kl, k);
        else snprintf(key, cap, "%.*s", kl, k), snprintf(d->group, sizeof d->group, "%.*s", kl < 200 ? kl : 200, k);
        const char *v = colon + 1;
        while (v < line + n && *v == ' ') v++;
        *value = v, *vlen = (size_t)(line + n - v);
        return 1;
    }
    return 0;
}

static const char *find_value(const char *dump, const char *want, size_t *len) {
    dump_cursor d = {dump, ""};
    char key[520];
    const char *v;
    while (dump_next(&d, key, sizeof key, &v, len))
        if (!strcmp(key, want)) return v;
    return NULL;
}

int checkpoint_config_compatible(const char *saved, const char *now, const char *path, mg_err *e) {
    dump_cursor d = {now, ""};
    char key[520];
    const char *v;
    size_t vl;
    run_config defaults;
    run_config_defaults(&defaults);
    char *fresh = run_config_text(&defaults);
    int rc = 0;
    while (!rc && dump_next(&d, key, sizeof key, &v, &vl)) {
        int free_key = 0;
        for (int i = 0; k_free_keys[i]; i++) free_key |= !strcmp(k_free_keys[i], key);
        size_t sl = 0;
        const char *sv = find_value(saved, key, &sl);
        if (!sv) sv = find_value(fresh, key, &sl);  // a key newer than the checkpoint: the run then had its default
        if (!free_key && vl && (!sv || sl != vl || strncmp(sv, v, vl)))
            rc = mg_fail(e, "%s: cannot resume with a different config: '%s' was %.*s when the checkpoint was "
                              "written, now %.*s (only iterations, oracle_budget, output_dir, log_every, threads, "
                              "save_steps, model, task.workers, task.timeout, distributed.* and engine.* may change)",
                           path, key, sv ? (int)(sl > 200 ? 200 : sl) : 7, sv ? sv : "not set",
                           (int)(vl > 200 ? 200 : vl), v);
    }
    free(fresh);
    run_config_free(&defaults);
    return rc;
}

// ---- background writer ----

static void *writer_main(void *arg) {
    checkpoint_writer *w = arg;
    double t0 = mg_seconds();
    w->rc = checkpoint_write(&w->snap, w->path, &w->err);
    w->seconds = mg_seconds() - t0;
    return NULL;
}

void checkpoint_writer_start(checkpoint_writer *w, checkpoint *snap, const char *path) {
    mgCheck(!w->running, "start a checkpoint writer only after waiting for the previous one");
    w->snap = *snap;
    memset(snap, 0, sizeof *snap);
    snprintf(w->path, sizeof w->path, "%s", path);
    w->rc = 0;
    w->running = 1;
    mgCheck(pthread_create(&w->thread, NULL, writer_main, w) == 0, "cannot start the checkpoint writer thread");
}

int checkpoint_writer_wait(checkpoint_writer *w, mg_err *e) {
    if (!w->running) return 0;
    pthread_join(w->thread, NULL);
    w->running = 0;
    checkpoint_free(&w->snap);
    if (w->rc && e) *e = w->err;
    return w->rc;
}
