// Shared by the external oracle's two files, oracle.c (the pool, the protocol, the task interface) and
// oracle_process.c (starting, guarding and reaping its worker processes), and by other tasks that run their own
// JSON-lines protocol on the same pool (tasks/arc/sandbox.c): oracle_pool_init, oracle_run and oracle_pool_free
// with a set of oracle_hooks.
#pragma once
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sys/types.h>
#include <time.h>
#include <errno.h>

#include "tasks/candidate_pattern.h"
#include "tasks/oracle.h"

#define EXIT_GRACE_S 0.2           // a worker that closed its output gets this long to report its exit status
#define EXCERPT_BYTES 80           // how much of a bad reply or candidate goes into messages

typedef struct {
    pid_t pid;       // -1: not running
    pid_t guard;     // the /bin/sh in its process group that kills the group once we are gone; -1: none
    int to_child;    // our end of its stdin (non-blocking)
    int from_child;  // our end of its stdout (non-blocking)
    int tried;       // a spawn was attempted for this slot during the current score call
    // the request in flight
    int busy;
    int slot;        // index into the batch
    long long id;
    char *req;       // the unwritten request line, NULL once all of it is written
    size_t req_len, req_off;
    double deadline;
    // reply bytes read so far; `scanned` bytes are known to hold no newline
    char *buf;
    size_t len, cap, scanned;
} worker;

typedef struct {
    char **argv;
    char **envp;            // the workers' environment; NULL: ours
    char name[32];          // how messages name a worker ("oracle")
    int nworkers;
    double timeout_s, solved_reward;
    char *prompt, *ns_template, *log_path;
    candidate_pattern *pick;  // NULL: the candidate is the completion's first non-blank line
    worker *w;              // (nworkers)
    struct pollfd *pfd;     // (2 * nworkers)
    int *pfd_owner;         // (2 * nworkers) worker index of each pollfd
    long long *pfd_id;      // (2 * nworkers) the request id it was polled for, to skip stale entries
    long long next_id;
    oracle_stats stats;
    int lifeline[2];        // the guards read [0] (stdin); we alone hold [1], so they see EOF when we are gone
    char spawn_error[512];  // the last failed start, for the -1 message
    char exe[PATH_MAX];     // argv[0] as found on PATH, for the next start
} oracle;

typedef enum { ORACLE_FAIL_TIMEOUT, ORACLE_FAIL_CRASH, ORACLE_FAIL_GARBAGE } oracle_failure;

// What one run of the pool asks of its user. The pool numbers the requests, sends each to an idle worker (one in
// flight per worker), enforces o->timeout_s per call, checks that a reply is a JSON object answering the asked
// id, and on any failure kills the worker with its process group and starts a replacement.
typedef struct {
    void *ctx;
    // Item `slot`'s request: a JSON object the pool adds "id" to (a new reference), or NULL when there is nothing
    // to ask for this item.
    json_t *(*request)(void *ctx, int slot);
    // Takes item `slot`'s reply (an object with the asked id; borrowed). 0, or -1 with what is wrong in `why`
    // (the call then fails as garbage, the excerpt of the line appended).
    int (*reply)(void *ctx, int slot, json_t *reply, char *why, size_t cap);
    // Item `slot`'s call failed; `reason` is one line.
    void (*failed)(void *ctx, int slot, oracle_failure kind, const char *reason);
    // For the log: the text of item `slot`, or NULL. May itself be NULL.
    const char *(*label)(void *ctx, int slot);
} oracle_hooks;

// Sets up o (zeroed by the caller) and starts its workers: argv[0] looked up on PATH, envp NULL for our own
// environment, `name` for messages, log_path optional. 0, or -1 with the message in e and o freed.
int oracle_pool_init(oracle *o, char *const *argv, char *const *envp, int nworkers, double timeout_s,
                     const char *name, const char *log_path, mg_err *e);
// Runs items 0..n-1 through the pool; returns when each has been answered or has failed. -1 only when no worker
// can be started at all (or poll fails): the items not yet answered are left to the caller.
int oracle_run(oracle *o, int n, const oracle_hooks *h, mg_err *e);
// Stops the workers (stdin closed, a grace period, then SIGKILL) and frees what oracle_pool_init allocated.
void oracle_pool_free(oracle *o);

static inline void oracle_sleep(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

// A pipe whose ends are close-on-exec and numbered 3 or above. 0, or -1 with errno.
int oracle_make_pipe(int fd[2]);
// Starts w (and the guard of its process group); 0, or -1 with o->spawn_error set and the failure logged.
int oracle_spawn_worker(oracle *o, worker *w);
// Ends w's process: up to grace_s for it to exit by itself, then SIGKILL to its process group (guard included).
// Returns the wait status; *own_exit: whether it had ended before the kill.
int oracle_reap_worker(worker *w, double grace_s, int *own_exit);
// "NAME exited with status N" / "NAME was killed by signal N (SIGNAME)", NAME being o->name.
void oracle_describe_exit(const oracle *o, char *dst, size_t cap, int status);
// One line in the oracle's log (OUTPUT_DIR/oracle.log): a failed call (candidate set), a start or a death.
void oracle_log_failure(const oracle *o, int wi, pid_t pid, const char *candidate, const char *reason);
