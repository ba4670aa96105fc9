// Shared by the external oracle's two files: oracle.c (the pool, the protocol, the task interface) and
// oracle_process.c (starting, guarding and reaping its worker processes).
#pragma once
#include <limits.h>
#include <poll.h>
#include <sys/types.h>
#include <time.h>
#include <errno.h>

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
    int nworkers;
    double timeout_s, solved_reward;
    char *prompt, *ns_template, *log_path;
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
// "oracle exited with status N" / "oracle was killed by signal N (NAME)".
void oracle_describe_exit(char *dst, size_t cap, int status);
// One line in the oracle's log (OUTPUT_DIR/oracle.log): a failed call (candidate set), a start or a death.
void oracle_log_failure(const oracle *o, int wi, pid_t pid, const char *candidate, const char *reason);
