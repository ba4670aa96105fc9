// The external-oracle task: a pool of child processes scoring candidates over JSON lines (protocol and failure
// rules in tasks/oracle.h and docs/oracle.md).
//
// Each worker has at most one request in flight, so timeout_s is a true per-call deadline (a queue behind a slow
// call cannot eat it) and a failure is always blamed on the call that was running; parallelism comes from the
// number of workers. Whatever goes wrong with a call (deadline, exit, a reply that is not a JSON object answering
// the asked id) invalidates that call only: the worker is killed with its process group, reaped, and a
// replacement is started at once so that it boots while the caller is busy generating the next batch.
//
// Starting, guarding and reaping the worker processes: tasks/oracle_process.c.
#include "tasks/oracle.h"
#include "common/clock.h"
#include "common/file.h"
#include "tasks/oracle_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPLY_BYTES (1 << 20)  // a longer line is garbage, never a bigger buffer
#define DESTROY_GRACE_S 0.5        // at destroy, how long workers get to exit after their stdin closes
#define MAX_WORKERS 1024
#define TEXT_OF_(x) #x
#define TEXT_OF(x) TEXT_OF_(x)  // a macro's value as a string literal

// One run in progress.
typedef struct {
    oracle *o;
    const oracle_hooks *h;
    int n, next, done;
    json_t *pending;  // item `next`'s request, made but not yet sent (no worker was free)
} batch;

// ---- small helpers ----

static char *dup_bytes(const char *s, size_t n) {
    char *d = mallocCheck(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *dup_string(const char *s) { return dup_bytes(s, strlen(s)); }

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Length of the well-formed UTF-8 sequence at s (at most n bytes available), or 0 if there is none.
static int utf8_seq_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    int len;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte (excludes overlongs and surrogates)
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (n < (size_t)len || s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

// Copies src[0..n) into dst as one printable line: control characters become spaces, bytes that are not UTF-8
// become '?', and a cut (at a character boundary) is marked with "..." when `mark_cut` is set.
static void copy_line(char *dst, size_t cap, const char *src, size_t n, int mark_cut) {
    size_t o = 0, room = cap - 1 - (mark_cut ? 3 : 0);
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0;
    while (i < n) {
        int k = utf8_seq_len(s + i, n - i);
        if (o + (k ? k : 1) > room) break;
        if (k == 0) dst[o++] = '?', i++;
        else if (k == 1) dst[o++] = (s[i] < 0x20 || s[i] == 0x7F) ? ' ' : (char)s[i], i++;
        else memcpy(dst + o, s + i, k), o += k, i += k;
    }
    if (i < n && mark_cut) memcpy(dst + o, "...", 3), o += 3;
    dst[o] = '\0';
}

// The candidate as sent: ill-formed UTF-8 becomes U+FFFD, as Python's bytes.decode(errors="replace") would make
// it, because JSON strings must be UTF-8.
static char *utf8_repair(const char *s) {
    size_t n = strlen(s);
    char *d = mallocCheck(3 * n + 1), *p = d;
    for (size_t i = 0; i < n;) {
        int k = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (k) memcpy(p, s + i, k), p += k, i += k;
        else memcpy(p, "\xEF\xBF\xBD", 3), p += 3, i++;
    }
    *p = '\0';
    return d;
}

void oracle_log_failure(const oracle *o, int wi, pid_t pid, const char *candidate, const char *reason) {
    if (!o->log_path) return;
    mg_err ignored;
    FILE *f = file_open_nofollow(o->log_path, "a", &ignored);
    if (!f) return;  // a log we cannot write must not stop the search
    char when[32] = "", cand[EXCERPT_BYTES + 4] = "";
    time_t t = time(NULL);
    struct tm tm;
    if (localtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    char who[64];
    if (pid > 0) snprintf(who, sizeof who, "worker %d (pid %d)", wi, (int)pid);
    else snprintf(who, sizeof who, "worker %d (not started)", wi);
    if (candidate) {
        copy_line(cand, sizeof cand, candidate, strlen(candidate), 1);
        fprintf(f, "%s %s: '%s': %s\n", when, who, cand, reason);
    } else {  // not about a call: a start, or a worker that died between calls
        fprintf(f, "%s %s: %s\n", when, who, reason);
    }
    fclose(f);
}

// ---- one run of the pool (oracle_run) ----

// The running call on w failed: the item gets the reason, and the slot gets a fresh process. w's old process
// (pid) has been reaped already.
static void fail_reaped(batch *b, worker *w, pid_t pid, oracle_failure kind, const char *reason) {
    oracle *o = b->o;
    w->busy = 0;
    b->done++;
    o->stats.invalid++;
    if (kind == ORACLE_FAIL_TIMEOUT) o->stats.timeouts++;
    else if (kind == ORACLE_FAIL_CRASH) o->stats.crashes++;
    else o->stats.garbage++;
    b->h->failed(b->h->ctx, w->slot, kind, reason);
    oracle_log_failure(o, (int)(w - o->w), pid, b->h->label ? b->h->label(b->h->ctx, w->slot) : NULL, reason);
    if (oracle_spawn_worker(o, w) == 0) o->stats.restarts++;
}

// The call failed while the process may still run (a deadline, a bad reply): kill it first.
static void fail_call(batch *b, worker *w, oracle_failure kind, const char *reason) {
    pid_t pid = w->pid;
    oracle_reap_worker(w, 0, NULL);
    fail_reaped(b, w, pid, kind, reason);
}

// w closed its output or stopped reading its input while a call was running. A process that is exiting gets a
// moment to do so, because its exit status is the useful reason.
static void worker_gone(batch *b, worker *w, const char *what) {
    pid_t pid = w->pid;
    int own_exit, status = oracle_reap_worker(w, EXIT_GRACE_S, &own_exit);
    char reason[128];
    if (own_exit) oracle_describe_exit(b->o, reason, sizeof reason, status);
    else snprintf(reason, sizeof reason, "%s %s without replying", b->o->name, what);
    fail_reaped(b, w, pid, ORACLE_FAIL_CRASH, reason);
}

// Checks one reply line against the request w is running and hands it to the user. 0, or -1 and the reason in
// `why`.
static int parse_reply(batch *b, const worker *w, const char *line, size_t len, char *why, size_t cap) {
    const char *name = b->o->name;
    char excerpt[EXCERPT_BYTES + 4], bad[TASK_INFO_LEN];
    copy_line(excerpt, sizeof excerpt, line, len, 1);
    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    json_t *id = json_is_object(root) ? json_object_get(root, "id") : NULL;
    if (!root) snprintf(bad, sizeof bad, "%s reply is not JSON", name);
    else if (!json_is_object(root)) snprintf(bad, sizeof bad, "%s reply is not a JSON object", name);
    else if (!json_is_integer(id)) snprintf(bad, sizeof bad, "%s reply has no integer \"id\"", name);
    else if (json_integer_value(id) != w->id)
        snprintf(bad, sizeof bad, "%s reply answers id %lld, which was not asked (expected %lld)", name,
                 (long long)json_integer_value(id), w->id);
    else if (b->h->reply(b->h->ctx, w->slot, root, bad, sizeof bad) == 0) {
        json_decref(root);
        return 0;
    }
    snprintf(why, cap, "%s: '%s'", bad, excerpt);
    json_decref(root);
    return -1;
}

// Consumes complete lines from w's buffer while its call is running. Blank lines are skipped; the first other
// line decides the call.
static void take_lines(batch *b, worker *w) {
    while (w->busy) {
        char *nl = w->len > w->scanned ? memchr(w->buf + w->scanned, '\n', w->len - w->scanned) : NULL;
        if (!nl) {
            w->scanned = w->len;
            if (w->len > MAX_REPLY_BYTES) {
                char reason[96];
                snprintf(reason, sizeof reason, "%s reply is longer than %d bytes", b->o->name, MAX_REPLY_BYTES);
                fail_call(b, w, ORACLE_FAIL_GARBAGE, reason);
            }
            return;
        }
        size_t n = (size_t)(nl - w->buf), start = 0;
        while (start < n && is_space(w->buf[start])) start++;
        char why[TASK_INFO_LEN + EXCERPT_BYTES + 8];
        int rc = start == n ? 1 : parse_reply(b, w, w->buf, n, why, sizeof why);
        memmove(w->buf, nl + 1, w->len - n - 1);
        w->len -= n + 1;
        w->scanned = 0;
        if (rc < 0) {
            fail_call(b, w, ORACLE_FAIL_GARBAGE, why);
        } else if (rc == 0) {
            w->busy = 0;
            b->done++;
        }
    }
}

static void read_replies(batch *b, worker *w) {
    while (w->busy) {
        if (w->len == w->cap) {
            mgCheck(w->cap <= MAX_REPLY_BYTES, "take_lines must fail a line before it outgrows the buffer");
            size_t cap = w->cap ? w->cap * 2 : 4096;
            if (cap > MAX_REPLY_BYTES + 1) cap = MAX_REPLY_BYTES + 1;
            char *grown = realloc(w->buf, cap);
            mgCheck(grown, "out of memory reading a worker's reply");
            w->buf = grown, w->cap = cap;
        }
        ssize_t k = read(w->from_child, w->buf + w->len, w->cap - w->len);
        if (k > 0) {
            w->len += (size_t)k;
            take_lines(b, w);
        } else if (k == 0) {
            worker_gone(b, w, "closed its output");
        } else if (errno != EINTR) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) worker_gone(b, w, "broke its output");
            return;
        }
    }
}

static void write_request(batch *b, worker *w) {
    while (w->req) {
        ssize_t k = write(w->to_child, w->req + w->req_off, w->req_len - w->req_off);
        if (k > 0) {
            w->req_off += (size_t)k;
            if (w->req_off == w->req_len) free(w->req), w->req = NULL;
        } else if (k < 0 && errno == EINTR) {
            continue;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {  // EPIPE: its stdin is closed, so it is gone or going
            worker_gone(b, w, "stopped reading its input");
            return;
        }
    }
}

// A worker that died between calls is replaced without blaming any call.
static void replace_if_dead(oracle *o, worker *w) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (w->pid < 0 || waitid(P_PID, w->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid != w->pid) return;
    pid_t pid = w->pid;
    int status = oracle_reap_worker(w, 0, NULL);
    char reason[160];
    oracle_describe_exit(o, reason, sizeof reason, status);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) o->stats.crashes++;
    strcat(reason, " between calls");
    oracle_log_failure(o, (int)(w - o->w), pid, NULL, reason);
    if (oracle_spawn_worker(o, w) == 0) o->stats.restarts++;
}

// Sends b->pending (item b->next's request) to w.
static void send_request(batch *b, worker *w) {
    oracle *o = b->o;
    json_t *req = b->pending;
    b->pending = NULL;
    json_object_set_new(req, "id", json_integer(o->next_id));
    // ASCII-only output: \u escapes decode the same in every child, whatever its locale's encoding is
    char *line = json_dumps(req, JSON_COMPACT | JSON_ENSURE_ASCII);
    mgCheck(line, "out of memory encoding a worker's request");
    json_decref(req);
    size_t n = strlen(line);
    w->req = mallocCheck(n + 2);
    memcpy(w->req, line, n);
    w->req[n] = '\n', w->req[n + 1] = '\0';
    free(line);
    w->req_len = n + 1, w->req_off = 0;
    w->id = o->next_id++;
    w->slot = b->next++;
    w->busy = 1;
    w->deadline = mg_seconds() + o->timeout_s;
    o->stats.calls++;
    write_request(b, w);
    take_lines(b, w);  // output that was already buffered is this call's reply
}

// One poll round over the busy workers: writes pending requests, reads replies, enforces deadlines.
static int wait_for_replies(batch *b, mg_err *e) {
    oracle *o = b->o;
    int np = 0;
    double first = INFINITY;
    for (int i = 0; i < o->nworkers; i++) {
        worker *w = &o->w[i];
        if (!w->busy) continue;
        o->pfd[np] = (struct pollfd){.fd = w->from_child, .events = POLLIN};
        o->pfd_owner[np] = i, o->pfd_id[np++] = w->id;
        if (w->req) {
            o->pfd[np] = (struct pollfd){.fd = w->to_child, .events = POLLOUT};
            o->pfd_owner[np] = i, o->pfd_id[np++] = w->id;
        }
        if (w->deadline < first) first = w->deadline;
    }
    double wait = first - mg_seconds();
    int ms = wait <= 0 ? 0 : wait > 60 ? 60000 : (int)ceil(wait * 1000);
    if (poll(o->pfd, (nfds_t)np, ms) < 0) {
        if (errno == EINTR) return 0;
        return mg_fail(e, "%s: poll failed: %s", o->name, strerror(errno));
    }
    for (int k = 0; k < np; k++) {
        worker *w = &o->w[o->pfd_owner[k]];
        // a worker replaced earlier in this round may reuse the fd numbers: act only on the call polled for
        if (!o->pfd[k].revents || !w->busy || w->id != o->pfd_id[k]) continue;
        if (o->pfd[k].fd == w->to_child) write_request(b, w);
        else read_replies(b, w);
    }
    double now = mg_seconds();
    for (int i = 0; i < o->nworkers; i++) {
        worker *w = &o->w[i];
        if (!w->busy || now < w->deadline) continue;
        char reason[64];
        snprintf(reason, sizeof reason, "%s timed out after %.1f s", o->name, o->timeout_s);
        fail_call(b, w, ORACLE_FAIL_TIMEOUT, reason);
    }
    return 0;
}

// SIGPIPE from writing to a dead worker must not kill the program, and a library must not change the process's
// signal dispositions: block it in this thread while scoring, and consume one that our writes raised.
static void sigpipe_block(sigset_t *old, int *was_pending) {
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, old);
    sigpending(&pending);
    *was_pending = sigismember(&pending, SIGPIPE) == 1;
}

static void sigpipe_restore(const sigset_t *old, int was_pending) {
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pending);
    if (!was_pending && sigismember(&pending, SIGPIPE) == 1) {
        struct timespec zero = {0, 0};
        sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

int oracle_run(oracle *o, int n, const oracle_hooks *h, mg_err *e) {
    for (int i = 0; i < o->nworkers; i++) o->w[i].tried = 0;
    batch b = {.o = o, .h = h, .n = n};
    sigset_t old;
    int was_pending, rc = 0;
    sigpipe_block(&old, &was_pending);
    while (b.done < n) {
        for (int i = 0; i < o->nworkers; i++) {
            worker *w = &o->w[i];
            while (b.next < n && !b.pending && !(b.pending = h->request(h->ctx, b.next)))
                b.next++, b.done++;  // nothing to ask
            if (b.next == n || w->busy) continue;
            replace_if_dead(o, w);
            if (w->pid < 0) {  // its last start failed: one more try per run
                if (w->tried || oracle_spawn_worker(o, w) < 0) continue;
                o->stats.restarts++;
            }
            send_request(&b, w);
        }
        if (b.done == n) break;
        int busy = 0, alive = 0;
        for (int i = 0; i < o->nworkers; i++) busy += o->w[i].busy, alive += o->w[i].pid > 0;
        if (!busy && !alive) {  // every slot is down and would not restart: the rest of the batch is lost
            rc = mg_fail(e, "%s", o->spawn_error);
            break;
        }
        if (!busy) continue;  // the calls just sent all failed at once; their replacements take the next ones
        if (wait_for_replies(&b, e) < 0) {
            rc = -1;
            break;
        }
    }
    json_decref(b.pending);
    sigpipe_restore(&old, was_pending);
    return rc;
}

// ---- the oracle protocol on the pool ----

typedef struct {
    oracle *o;
    const char *const *cands;
    task_score *out;
} score_call;

static json_t *score_request(void *ctx, int slot) {
    score_call *c = ctx;
    if (!c->cands[slot]) return NULL;
    char *text = utf8_repair(c->cands[slot]);
    json_t *req = json_object();
    json_object_set_new(req, "candidate", json_string(text));
    free(text);
    return req;
}

static const char *score_label(void *ctx, int slot) { return ((score_call *)ctx)->cands[slot]; }

static void score_failed(void *ctx, int slot, oracle_failure kind, const char *reason) {
    task_score *r = &((score_call *)ctx)->out[slot];
    r->reward = 0, r->valid = 0;
    r->failure = kind == ORACLE_FAIL_TIMEOUT ? TASK_FAIL_TIMEOUT
               : kind == ORACLE_FAIL_CRASH   ? TASK_FAIL_CRASH
                                             : TASK_FAIL_INVALID;
    copy_line(r->info, sizeof r->info, reason, strlen(reason), 1);
}

// The fields of one reply: 0 and the item's score filled, or -1 and what is wrong in `bad`.
static int score_reply(void *ctx, int slot, json_t *root, char *bad, size_t cap) {
    score_call *c = ctx;
    json_t *reward = json_object_get(root, "reward");
    json_t *valid = json_object_get(root, "valid"), *info = json_object_get(root, "info");
    const char *why = NULL;
    if (valid && !json_is_null(valid) && !json_is_boolean(valid)) why = "oracle reply has a non-boolean \"valid\"";
    int ok = !valid || json_is_null(valid) || json_is_true(valid);
    double value = 0;
    if (why) {
    } else if (reward && !json_is_null(reward)) {
        value = json_is_number(reward) ? json_number_value(reward) : 0;
        if (!json_is_number(reward)) why = "oracle reply has a non-numeric \"reward\"";
        else if (!isfinite(value)) why = "oracle reply has a non-finite \"reward\"";
        else if (fabs(value) > ORACLE_MAX_REWARD)
            why = "oracle reply has a \"reward\" outside [-" TEXT_OF(ORACLE_MAX_REWARD) ", " TEXT_OF(ORACLE_MAX_REWARD) "]";
    } else if (ok) {  // an invalid verdict needs no reward: it scores 0 anyway
        why = "oracle reply has no \"reward\"";
    }
    if (!why && info && !json_is_null(info) && !json_is_string(info)) why = "oracle reply has a non-string \"info\"";
    if (why) {
        snprintf(bad, cap, "%s", why);
        return -1;
    }
    task_score *r = &c->out[slot];
    r->valid = ok;
    r->failure = TASK_OK;  // a verdict of invalid is an answer, not a failed call
    r->reward = ok ? value : 0;
    r->info[0] = '\0';
    if (json_is_string(info)) copy_line(r->info, sizeof r->info, json_string_value(info), json_string_length(info), 1);
    if (!ok) c->o->stats.invalid++;
    return 0;
}

static int oracle_score(task *t, int n, const char *const *cands, task_score *out, mg_err *e) {
    oracle *o = t->state;
    if (n < 0 || (n > 0 && (!cands || !out))) return mg_fail(e, "oracle: score called with n = %d", n);
    for (int i = 0; i < n; i++) {
        out[i].reward = 0, out[i].valid = 0, out[i].failure = TASK_OK;
        snprintf(out[i].info, sizeof out[i].info, "%s", cands[i] ? "not scored" : "no candidate");
    }
    score_call c = {.o = o, .cands = cands, .out = out};
    oracle_hooks h = {.ctx = &c, .request = score_request, .reply = score_reply, .failed = score_failed,
                      .label = score_label};
    return oracle_run(o, n, &h, e);
}

// ---- the rest of the task interface ----

static char *oracle_prompt(task *t) { return dup_string(((oracle *)t->state)->prompt); }

// Replaces every "{solution}" and "{reward}" (3 decimals) in the template.
static char *oracle_ns_prompt(task *t, const char *solution, double reward) {
    const char *tpl = ((oracle *)t->state)->ns_template;
    char score[64];
    snprintf(score, sizeof score, "%.3f", reward);
    if (!solution) solution = "";
    size_t ns = strlen(solution), nr = strlen(score), n = 0;
    for (const char *p = tpl; *p;) {  // measure, then fill
        if (!strncmp(p, "{solution}", 10)) n += ns, p += 10;
        else if (!strncmp(p, "{reward}", 8)) n += nr, p += 8;
        else n++, p++;
    }
    char *s = mallocCheck(n + 1), *q = s;
    for (const char *p = tpl; *p;) {
        if (!strncmp(p, "{solution}", 10)) memcpy(q, solution, ns), q += ns, p += 10;
        else if (!strncmp(p, "{reward}", 8)) memcpy(q, score, nr), q += nr, p += 8;
        else *q++ = *p++;
    }
    *q = '\0';
    return s;
}

static char *trimmed(const char *s, size_t n) {
    while (n && is_space(*s)) s++, n--;
    while (n && is_space(s[n - 1])) n--;
    return dup_bytes(s, n);
}

// What candidate_pattern finds, or else the first line of the completion that is not blank; trimmed either way.
static char *oracle_parse(task *t, const char *completion) {
    if (!completion) return NULL;
    const candidate_pattern *pick = ((oracle *)t->state)->pick;
    if (pick) {
        char *found = candidate_pattern_apply(pick, completion);
        if (!found) return NULL;
        char *candidate = trimmed(found, strlen(found));
        free(found);
        if (candidate[0]) return candidate;
        free(candidate);
        return NULL;
    }
    for (const char *p = completion; *p;) {
        size_t n = strcspn(p, "\n");
        char *line = trimmed(p, n);
        if (line[0]) return line;
        free(line);
        p += n + (p[n] == '\n');
    }
    return NULL;
}

static char *oracle_canonical(task *t, const char *candidate) {
    return candidate ? trimmed(candidate, strlen(candidate)) : dup_string("");
}

static int oracle_solved(task *t, double reward, const char *candidate) {
    return reward >= ((oracle *)t->state)->solved_reward;  // false for a NaN threshold: never solved
}

void oracle_pool_free(oracle *o) {
    if (o->w) {
        // Closing stdin is the polite stop; whoever is still running after the grace period is killed.
        for (int i = 0; i < o->nworkers; i++)
            if (o->w[i].pid > 0) close(o->w[i].to_child), o->w[i].to_child = -1;
        double until = mg_seconds() + DESTROY_GRACE_S;
        for (int i = 0; i < o->nworkers; i++) {
            worker *w = &o->w[i];
            if (w->pid > 0) {
                double left = until - mg_seconds();
                oracle_reap_worker(w, left > 0 ? left : 0, NULL);
            }
            free(w->buf);
            free(w->req);
        }
        free(o->w);
        o->w = NULL;
    }
    if (o->lifeline[1] >= 0) close(o->lifeline[0]), close(o->lifeline[1]);
    o->lifeline[0] = o->lifeline[1] = -1;
    for (int k = 0; k < 2; k++) {
        char **v = k ? o->envp : o->argv;
        if (v)
            for (int i = 0; v[i]; i++) free(v[i]);
        free(v);
    }
    o->argv = o->envp = NULL;
    free(o->log_path);
    free(o->pfd);
    free(o->pfd_owner);
    free(o->pfd_id);
    o->log_path = NULL, o->pfd = NULL, o->pfd_owner = NULL, o->pfd_id = NULL;
}

static void oracle_free(oracle *o) {
    if (!o) return;
    oracle_pool_free(o);
    free(o->prompt);
    free(o->ns_template);
    candidate_pattern_free(o->pick);
    free(o);
}

static void oracle_destroy(task *t) {
    if (!t) return;
    oracle_free(t->state);
    free(t);
}

void oracle_get_stats(task *t, oracle_stats *s) { *s = ((oracle *)t->state)->stats; }

static char **dup_vector(char *const *v) {
    int n = 0;
    while (v[n]) n++;
    char **d = callocCheck((size_t)n + 1, sizeof *d);
    for (int i = 0; i < n; i++) d[i] = dup_string(v[i]);
    return d;
}

int oracle_pool_init(oracle *o, char *const *argv, char *const *envp, int nworkers, double timeout_s,
                     const char *name, const char *log_path, mg_err *e) {
    o->lifeline[0] = o->lifeline[1] = -1;
    snprintf(o->name, sizeof o->name, "%s", name);
    if (oracle_make_pipe(o->lifeline) < 0) return mg_fail(e, "%s: cannot create a pipe: %s", name, strerror(errno));
    o->argv = dup_vector(argv);
    o->envp = envp ? dup_vector(envp) : NULL;
    o->nworkers = nworkers;
    o->timeout_s = timeout_s;
    o->log_path = log_path ? dup_string(log_path) : NULL;
    o->w = callocCheck((size_t)o->nworkers, sizeof *o->w);
    o->pfd = callocCheck(2 * (size_t)o->nworkers, sizeof *o->pfd);
    o->pfd_owner = callocCheck(2 * (size_t)o->nworkers, sizeof *o->pfd_owner);
    o->pfd_id = callocCheck(2 * (size_t)o->nworkers, sizeof *o->pfd_id);
    for (int i = 0; i < o->nworkers; i++)
        o->w[i].pid = o->w[i].guard = -1, o->w[i].to_child = o->w[i].from_child = -1;
    // Start them all now: a wrong command is reported before the work begins, and the workers load what they
    // need (models, libraries) while the caller does the same.
    for (int i = 0; i < o->nworkers; i++) {
        if (oracle_spawn_worker(o, &o->w[i]) < 0) {
            mg_fail(e, "%s", o->spawn_error);
            oracle_pool_free(o);
            return -1;
        }
    }
    return 0;
}

int oracle_create(task **out, const oracle_config *cfg, mg_err *e) {
    *out = NULL;
    if (!cfg || !cfg->argv || !cfg->argv[0] || !cfg->argv[0][0]) return mg_fail(e, "oracle: no command given");
    if (!cfg->prompt) return mg_fail(e, "oracle: a prompt is required (the oracle program knows nothing about prompts)");
    if (cfg->workers < 0 || cfg->workers > MAX_WORKERS)
        return mg_fail(e, "oracle: workers must be between 1 and %d, got %d", MAX_WORKERS, cfg->workers);
    if (isnan(cfg->timeout_s) || cfg->timeout_s < 0)
        return mg_fail(e, "oracle: timeout must be positive, got %g", cfg->timeout_s);
    if (cfg->log_path) {  // fail now rather than silently lose every failure line later
        mg_err why;
        FILE *f = file_open_nofollow(cfg->log_path, "a", &why);
        if (!f) return mg_fail(e, "oracle: cannot open its log: %s", why.msg);
        fclose(f);
    }
    oracle *o = callocCheck(1, sizeof *o);
    if (cfg->candidate_pattern && cfg->candidate_pattern[0]) {
        mg_err why;
        int bad = candidate_pattern_compile(&o->pick, cfg->candidate_pattern, cfg->candidate_format, &why);
        if (bad) {
            free(o);
            return mg_fail(e, "oracle: candidate_%s: %s", bad == -2 ? "format" : "pattern", why.msg);
        }
    }
    o->solved_reward = cfg->solved_reward;
    o->prompt = dup_string(cfg->prompt);
    if (cfg->ns_prompt) {
        o->ns_template = dup_string(cfg->ns_prompt);
    } else {
        static const char tail[] = "\n\nAn earlier answer scored {reward}:\n{solution}\n\nPropose a new answer close "
                                   "to this one that may score higher. Give the answer alone on the first line.";
        size_t np = strlen(cfg->prompt);
        o->ns_template = mallocCheck(np + sizeof tail);
        memcpy(o->ns_template, cfg->prompt, np);
        memcpy(o->ns_template + np, tail, sizeof tail);
    }
    double timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 30;
    if (timeout_s > 1e6) timeout_s = 1e6;
    if (oracle_pool_init(o, cfg->argv, NULL, cfg->workers ? cfg->workers : 1, timeout_s, "oracle", cfg->log_path,
                         e) < 0) {
        oracle_free(o);
        return -1;
    }
    task *t = callocCheck(1, sizeof *t);
    t->name = "oracle";
    t->state = o;
    t->prompt = oracle_prompt;
    t->ns_prompt = oracle_ns_prompt;
    t->parse = oracle_parse;
    t->canonical = oracle_canonical;
    t->score = oracle_score;
    t->solved = oracle_solved;
    t->destroy = oracle_destroy;
    *out = t;
    return 0;
}
