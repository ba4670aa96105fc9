#include "workers/comm.h"

#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

// The learners' device collective (comm_join_device).
struct comm_device {
    const mg_backend *be;
    void *coll;
    double *dmax;  // one double in the backend's memory: the scale's all-reduce
};

// ---- the watchdog ----
// Every rank sends a small progress record (its step, its iteration, how many collectives it has entered in each
// group of ranks) to a watcher when it enters a step, and once a second while it waits in a collective: the other
// ranks send theirs to rank 0, rank 0 sends its own to rank 1. The collectives are non-blocking requests that the
// waiting rank tests, reading the records that arrive meanwhile; so a watcher whose collective does not complete
// knows which ranks did not arrive (or went silent inside it) and what they were last doing, without any answer
// from them. A watchdog thread on every rank enforces distributed.timeout = T:
//   a rank in one compute step for T names itself and ends the job (a hung oracle, a GPU collective);
//   rank 0 waiting T in a collective names the ranks that did not arrive and ends the job;
//   rank 1 waiting T does so for rank 0 once rank 0 looks stopped (silent, or in one step past T: its own
//   watchdog would have fired), and any rank waiting 2T + 10 s ends it without names (both watchers stuck);
//   on SIGTERM (mpirun ends the job that way when a rank dies, SIGKILL 1 s later) the watchers name the ranks
//   whose process on this host is gone or stopped, and after 0.5 s in a collective, the ranks that did not arrive.
// Ages are read on the watcher's wall clock against the sender's: across hosts they are as good as clock sync.
// Cost: one message of 128 bytes per step and rank (and one a second while waiting), to one rank; the collectives'
// results are the same bits as blocking ones.
enum { SCOPE_WORLD, SCOPE_LEARNERS, SCOPE_PUBLISH, SCOPE_PAIR, N_SCOPES };

typedef struct {
    double since, beat;  // wall clock (comparable across hosts): start of the step, when the record was sent
    int32_t iteration, waiting, scope, valid;
    int32_t count[N_SCOPES];  // collectives entered in each scope, the current one included
    int32_t ending;           // its watchdog is ending the job (and says why): no need to name it
    char what[76];
} progress;

typedef struct {
    int32_t pid;
    char host[60];
} identity;

#define BEAT_S 1.0          // a waiting rank's record is refreshed this often
#define SILENT_S 3.5        // a waiting rank not heard of for this long has stopped
#define SIGNAL_GRACE_S 0.5  // after a stop signal, a wait this long names whom it waits for
#define RING 64             // records in flight from one rank

static struct {
    pthread_t thread;
    int running, on;  // on: records travel (MPI with several ranks)
    volatile int done;         // the job finalized: the thread returns
    const comm *c;             // a copy the thread owns: the caller's comm may be gone before the thread
    comm c_copy;
    pthread_mutex_t lock;      // guards mine, what, since, peers
    progress mine;             // this rank's step
    const char *what;          // its name (a literal), NULL when in none
    double since;              // mg_seconds() at its start, 0 when in none
    int iteration;
    const volatile sig_atomic_t *stop;
    progress *peers;           // rank 0: every rank's last record; rank 1: rank 0's; NULL elsewhere
    identity *who;             // every rank's pid and host
    char program[64];          // this process's name in /proc/self/stat, "(migrate)"
    MPI_Comm wc;               // the records' own communicator
    MPI_Request ring[RING];
    progress sent[RING];
    int next;
    double last_post;
    volatile int ending, ending_sent;  // the watchdog asks the waiting main thread for a last record
} g_watch = {.lock = PTHREAD_MUTEX_INITIALIZER};

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void comm_iteration(int iteration) { g_watch.iteration = iteration; }

void comm_watch_signal(const volatile sig_atomic_t *flag) { g_watch.stop = flag; }

// Sends this rank's record to its watcher (main thread only: MPI is FUNNELED). A ring slot is reused long after
// its small message left, so the wait on it returns at once.
static void post(void) {
    if (!g_watch.on) return;
    int slot = g_watch.next;
    g_watch.next = (slot + 1) % RING;
    if (g_watch.ring[slot] != MPI_REQUEST_NULL) MPI_Wait(&g_watch.ring[slot], MPI_STATUS_IGNORE);
    pthread_mutex_lock(&g_watch.lock);
    g_watch.sent[slot] = g_watch.mine;
    pthread_mutex_unlock(&g_watch.lock);
    g_watch.sent[slot].beat = wall_seconds();
    MPI_Isend(&g_watch.sent[slot], sizeof(progress), MPI_BYTE, g_watch.c->rank == 0 ? 1 : 0, 0, g_watch.wc,
              &g_watch.ring[slot]);
    g_watch.last_post = mg_seconds();
}

// A watcher keeps the last record of each rank it watches.
static void drain(void) {
    if (!g_watch.peers) return;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, 0, g_watch.wc, &flag, &st);
        if (!flag) return;
        progress p;
        MPI_Recv(&p, sizeof p, MPI_BYTE, st.MPI_SOURCE, 0, g_watch.wc, MPI_STATUS_IGNORE);
        p.valid = 1, p.what[sizeof p.what - 1] = '\0';
        pthread_mutex_lock(&g_watch.lock);
        g_watch.peers[st.MPI_SOURCE] = p;
        pthread_mutex_unlock(&g_watch.lock);
    }
}

// Enters a step: computing `what` (waiting 0), or waiting in a collective of `scope`. Its clock starts now.
static void enter(const char *what, int waiting, int scope) {
    pthread_mutex_lock(&g_watch.lock);
    g_watch.what = what, g_watch.since = what ? mg_seconds() : 0;
    progress *p = &g_watch.mine;
    p->waiting = waiting, p->scope = scope, p->iteration = g_watch.iteration, p->since = wall_seconds();
    snprintf(p->what, sizeof p->what, "%s", what ? what : "");
    pthread_mutex_unlock(&g_watch.lock);
    if (what) post();
    drain();
}

// ---- what the watchers print ----
static int g_first, g_shared;  // the layout: first compute rank, whether the roles are shared

static void roles_of(const comm *c, int r, int *rollout_index, int *learner_index) {
    int k = r - g_first, R = c->n_rollout, L = c->n_learner;
    *rollout_index = *learner_index = -1;
    if (k < 0) return;
    if (g_shared) *rollout_index = k, *learner_index = k;
    else if (k < R) *rollout_index = k;
    else if (k < R + L) *learner_index = k - R;
}

static const char *role_name(int coordinator, int rollout, int learner) {
    static const char *const names[8] = {"idle", "coordinator", "rollout", "coordinator+rollout", "learner",
                                         "coordinator+learner", "rollout+learner", "coordinator+rollout+learner"};
    return names[(coordinator ? 1 : 0) | (rollout ? 2 : 0) | (learner ? 4 : 0)];
}

static const char *role_of(const comm *c, int r) {
    int ri, li;
    roles_of(c, r, &ri, &li);
    return role_name(r == 0, ri >= 0, li >= 0);
}

// Whether rank r takes part in the collectives of a scope.
static int member(const comm *c, int scope, int r) {
    int ri, li;
    roles_of(c, r, &ri, &li);
    switch (scope) {
    case SCOPE_LEARNERS: return li >= 0;
    case SCOPE_PUBLISH: return li < 0 || r == c->learner_leader;
    case SCOPE_PAIR: return r == 0 || r == c->learner_leader;
    default: return 1;
    }
}

// What /proc says of rank r's process when it runs on this host: "is stopped", "has exited", or NULL (running, or not
// known: another host, another program under that pid).
static const char *process_state(int r) {
    if (!g_watch.program[0] || strcmp(g_watch.who[g_watch.c->rank].host, g_watch.who[r].host)) return NULL;
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)g_watch.who[r].pid);
    FILE *f = fopen(path, "r");
    if (!f) return "has exited";
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    // "PID (name) S ...": the same program's name, then the state letter
    const char *a = strchr(line, '('), *b = strrchr(line, ')');
    if (!a || !b || b[1] != ' ' || (size_t)(b + 1 - a) != strlen(g_watch.program) ||
        strncmp(a, g_watch.program, (size_t)(b + 1 - a)))
        return NULL;
    return b[2] == 'T' || b[2] == 't' ? "is stopped" : b[2] == 'Z' || b[2] == 'X' ? "has exited" : NULL;
}

// "(name)" from /proc/self/stat, to recognise the other ranks' processes by; "" without /proc.
static void read_program_name(void) {
    char line[512];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *a = strchr(line, '('), *b = strrchr(line, ')');
    if (a && b && (size_t)(b + 1 - a) < sizeof g_watch.program)
        memcpy(g_watch.program, a, (size_t)(b + 1 - a)), g_watch.program[b + 1 - a] = '\0';
}

// "rank 2 (rollout+learner, host h, pid 7)"
static void describe(char *buf, size_t n, const comm *c, int r) {
    snprintf(buf, n, "rank %d (%s, host %s, pid %d)", r, role_of(c, r), g_watch.who[r].host, (int)g_watch.who[r].pid);
}

// "iteration 4, 'sampling' (started 6.2 s ago)", or waiting in a collective, with when it was last heard of.
static void last_progress(char *buf, size_t n, const progress *p, double now) {
    char it[32];
    if (p->iteration > 0) snprintf(it, sizeof it, "iteration %d", (int)p->iteration);
    else snprintf(it, sizeof it, "setup");
    if (!p->valid) snprintf(buf, n, "none reported (it has not reached its first step)");
    else if (p->waiting)
        snprintf(buf, n, "%s, waiting in '%s' (entered %.1f s ago, last heard %.1f s ago)", it, p->what,
                 now - p->since, now - p->beat);
    else snprintf(buf, n, "%s, '%s' (started %.1f s ago)", it, p->what, now - p->since);
}

static const char *signal_name(int sig) {
    return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : sig == SIGINT ? "SIGINT" : "a signal";
}

// Rank r's place with respect to the collective this watcher waits in (scope, the k-th there): 0 arrived and
// answering, 1 did not arrive, 2 arrived but went silent in it.
static int lagging(const comm *c, int r, int scope, int k, double now) {
    if (r == c->rank || !member(c, scope, r)) return 0;
    const progress *p = &g_watch.peers[r];
    if (!p->valid || p->count[scope] < k) return 1;
    if (p->count[scope] == k && p->waiting && p->scope == scope && now - p->beat > SILENT_S) return 2;
    return 0;
}

// One line per rank (all, or `only`) that did not arrive in this watcher's collective (arrival: also check that), went
// silent in it, or whose process on this host is stopped or gone; `reason` starts each line. Returns how many.
// Under the lock.
static int name_lagging(const comm *c, int only, const char *reason, double waited, int arrival) {
    double now = wall_seconds();
    const progress *me = &g_watch.mine;
    int named = 0;
    for (int r = 0; r < c->size; r++) {
        if (r == c->rank || (only >= 0 && r != only) || g_watch.peers[r].ending) continue;
        int why = arrival ? lagging(c, r, me->scope, me->count[me->scope], now) : 0;
        const char *ps = process_state(r);
        if (!why && !ps) continue;
        char who[160], last[256], state[64] = "";
        describe(who, sizeof who, c, r);
        last_progress(last, sizeof last, &g_watch.peers[r], now);
        const progress *p = &g_watch.peers[r];
        if (ps) snprintf(state, sizeof state, "; its process %s", ps);
        else if (why == 1 && p->waiting && now - p->beat <= SILENT_S)
            snprintf(state, sizeof state, "; it waits for other ranks itself");
        if (why == 2)
            fprintf(stderr, "migrate: watchdog (rank %d): %s%s reached '%s' but has been silent in it for %.1f s; "
                    "its last progress: %s%s\n", c->rank, reason, who, me->what, now - g_watch.peers[r].beat, last,
                    state);
        else if (why == 1)  // a step's collectives may share a name ("mixed group": its size, then its bytes)
            fprintf(stderr, "migrate: watchdog (rank %d): %s%s did not reach '%s'%s within %.0f s; its last progress: "
                    "%s%s\n", c->rank, reason, who, me->what,
                    p->valid && p->waiting && !strcmp(p->what, me->what) ? " (it is still in the one before)" : "",
                    waited, last, state);
        else
            fprintf(stderr, "migrate: watchdog (rank %d): %s%s %s; its last progress: %s\n", c->rank, reason, who, ps,
                    last);
        named++;
    }
    return named;
}

static void end_job(const comm *c, double waited) __attribute__((noreturn));
// Called under the lock, from a wait: the main thread, testing its request, sends a last record saying so (the
// other watcher then does not name this rank as one that vanished), then the process ends.
static void end_job(const comm *c, double waited) {
    fprintf(stderr, "migrate: rank %d (%s) waited %.0f s in '%s' (iteration %d) for the other ranks "
                    "(distributed.timeout); ending the job, the last checkpoint is kept\n",
            c->rank, comm_role_name(c), waited, g_watch.mine.what, (int)g_watch.mine.iteration);
    fflush(stderr);
    pthread_mutex_unlock(&g_watch.lock);
    g_watch.ending = 1;
    for (int i = 0; i < 50 && !g_watch.ending_sent; i++) {
        struct timespec t = {0, 10 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    _exit(3);  // mpirun/srun then stop every other rank
}

// Rank 0 as rank 1 last heard of it: stopped when silent in a wait, past the timeout in one step (its own watchdog
// would have ended the job), gone from this host, or never heard of.
static int leader_stuck(const comm *c) {
    const progress *p = &g_watch.peers[0];
    double now = wall_seconds();
    if (process_state(0)) return 1;
    if (!p->valid) return 1;
    return p->waiting ? now - p->beat > SILENT_S : now - p->since > c->timeout_s + SILENT_S;
}

static void watch_timeouts(const comm *c) {
    pthread_mutex_lock(&g_watch.lock);
    double in = g_watch.since > 0 ? mg_seconds() - g_watch.since : 0, T = c->timeout_s;
    if (in > T && !g_watch.mine.waiting) {
        fprintf(stderr, "migrate: rank %d (%s) has been in '%s' for %.0f s (iteration %d), longer than "
                        "distributed.timeout: it hangs; ending the job, the last checkpoint is kept\n",
                c->rank, comm_role_name(c), g_watch.what, in, (int)g_watch.mine.iteration);
        fflush(stderr);
        _exit(3);
    }
    int watcher = g_watch.peers != NULL;
    if (in > T && c->rank == 0 && watcher) {
        if (!name_lagging(c, -1, "", in, 1))
            fprintf(stderr, "migrate: watchdog (rank 0): every rank reached '%s' and answers: one of them hangs "
                            "inside it\n", g_watch.mine.what);
        end_job(c, in);
    }
    if (in > T && c->rank == 1 && watcher && g_watch.peers[0].ending) end_job(c, in);  // rank 0 said why
    if (in > T && c->rank == 1 && watcher && leader_stuck(c)) {
        if (!name_lagging(c, 0, "", in, 1)) {
            char who[160], last[256];
            describe(who, sizeof who, c, 0);
            last_progress(last, sizeof last, &g_watch.peers[0], wall_seconds());
            fprintf(stderr, "migrate: watchdog (rank 1): %s, which names the others, has stopped; its last "
                            "progress: %s\n", who, last);
        }
        end_job(c, in);
    }
    if (in > 2 * T + 10 || (in > T && !watcher && c->rank <= 1)) {
        fprintf(stderr, "migrate: rank %d (%s): neither watcher (rank 0, rank 1) named the rank that keeps '%s' "
                        "from completing\n", c->rank, comm_role_name(c), g_watch.mine.what);
        end_job(c, in);
    }
    pthread_mutex_unlock(&g_watch.lock);
}

// After a stop signal (for several seconds; a graceful stop goes on): the watched ranks whose process is gone or
// stopped at once, and after SIGNAL_GRACE_S in a collective, those that did not arrive. Once.
static int watch_signal(const comm *c, double signal_at) {
    if (!g_watch.peers) return 1;
    pthread_mutex_lock(&g_watch.lock);
    int sig = *g_watch.stop, named = 0;
    char reason[160];
    snprintf(reason, sizeof reason, "on %s (in '%s'): ", signal_name(sig), g_watch.mine.what[0] ? g_watch.mine.what
             : "its loop");
    int only = c->rank == 0 ? -1 : 0;
    double now = mg_seconds(), in = g_watch.since > 0 ? now - g_watch.since : 0;
    int waiting = g_watch.mine.waiting && in > 0;
    if (waiting && now - signal_at >= SIGNAL_GRACE_S && in >= SIGNAL_GRACE_S) named = name_lagging(c, only, reason, in, 1);
    else named = name_lagging(c, only, reason, in, 0);  // only processes gone or stopped on this host
    pthread_mutex_unlock(&g_watch.lock);
    if (named) fflush(stderr);
    return named;
}

static void *watch_main(void *arg) {
    (void)arg;
    double signal_at = 0, last = mg_seconds(), quiet_until = 0;
    int told = 0;
    for (;;) {
        struct timespec tick = {0, 100 * 1000 * 1000};
        nanosleep(&tick, NULL);
        if (g_watch.done) return NULL;
        const comm *c = g_watch.c;
        double now = mg_seconds();
        // A thread that did not run for a second was stopped with its process (SIGSTOP, then SIGCONT): its step's
        // clock ran meanwhile and its records are stale; it judges again 2 s later (mpirun's SIGKILL comes first)
        if (now - last > 1.0) quiet_until = now + 2.0;
        last = now;
        if (now < quiet_until) continue;
        watch_timeouts(c);
        if (!told && g_watch.stop && *g_watch.stop) {
            if (!signal_at) signal_at = now;
            told = watch_signal(c, signal_at) || now - signal_at > 3;
        }
    }
    return NULL;
}

typedef struct {
    double since;
    const char *what;
    int waiting, scope;
} watch_mark;

// What this rank put into collectives, and how long it spent in them (metrics: comm/bytes, time/comm).
static double g_comm_bytes, g_comm_seconds, g_comm_t0;

void comm_stats(double *bytes, double *seconds) {
    *bytes = g_comm_bytes, *seconds = g_comm_seconds;
}

static watch_mark wait_begin(const comm *c, int scope, const char *what) {
    (void)c;
    g_comm_t0 = mg_seconds();
    watch_mark saved = {g_watch.since, g_watch.what, g_watch.mine.waiting, g_watch.mine.scope};
    if (!g_watch.running) return saved;
    pthread_mutex_lock(&g_watch.lock);
    g_watch.mine.count[scope]++;
    pthread_mutex_unlock(&g_watch.lock);
    enter(what, 1, scope);
    return saved;
}

// Back to the step the collective was part of; its clock restarts, since the wait was not its own time.
static void wait_end(watch_mark m) {
    g_comm_seconds += mg_seconds() - g_comm_t0;
    if (!g_watch.running) return;
    if (m.since > 0 && m.what) enter(m.what, m.waiting, m.scope);
    else {
        pthread_mutex_lock(&g_watch.lock);
        g_watch.since = 0, g_watch.what = NULL, g_watch.mine.waiting = 0;
        pthread_mutex_unlock(&g_watch.lock);
    }
}

// Completes a collective's request, reading the records that arrive meanwhile and refreshing this rank's own.
static void await(MPI_Request *r) {
    for (;;) {
        int done = 0;
        MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (done) return;
        drain();
        if (g_watch.ending && !g_watch.ending_sent && g_watch.on) {
            pthread_mutex_lock(&g_watch.lock);
            g_watch.mine.ending = 1;
            pthread_mutex_unlock(&g_watch.lock);
            post();
            MPI_Waitall(RING, g_watch.ring, MPI_STATUSES_IGNORE);
            g_watch.ending_sent = 1;
        }
        if (mg_seconds() - g_watch.last_post >= BEAT_S) post();
    }
}

void comm_phase(const comm *c, const char *what) {
    (void)c;
    if (!g_watch.running) return;
    if (what) enter(what, 0, 0);
    else {
        pthread_mutex_lock(&g_watch.lock);
        g_watch.since = 0, g_watch.what = NULL;
        pthread_mutex_unlock(&g_watch.lock);
    }
}

// The learners alone (gradient sums), and the learner leader with every non-learner (adapter publication): made
// by comm_layout, MPI_COMM_NULL on ranks outside them.
static MPI_Comm g_learners = MPI_COMM_NULL, g_publish = MPI_COMM_NULL;

static void split_groups(const comm *c) {
    if (g_learners != MPI_COMM_NULL) MPI_Comm_free(&g_learners);
    if (g_publish != MPI_COMM_NULL) MPI_Comm_free(&g_publish);
    MPI_Comm_split(MPI_COMM_WORLD, c->is_learner ? 0 : MPI_UNDEFINED, c->rank, &g_learners);
    int in_publish = !c->is_learner || c->rank == c->learner_leader;
    // key 0 puts the leader first: it is rank 0 of g_publish, the root of every publication
    MPI_Comm_split(MPI_COMM_WORLD, in_publish ? 0 : MPI_UNDEFINED, c->rank == c->learner_leader ? 0 : c->rank + 1,
                   &g_publish);
}

// The watchdog's communicator, every rank's pid and host (for the watchers' reports), and the watchers' tables.
static void watch_init(const comm *c) {
    if (c->size < 2) return;
    MPI_Comm_dup(MPI_COMM_WORLD, &g_watch.wc);
    identity me;
    memset(&me, 0, sizeof me);
    me.pid = (int32_t)getpid();
    if (gethostname(me.host, sizeof me.host)) snprintf(me.host, sizeof me.host, "?");
    me.host[sizeof me.host - 1] = '\0';
    g_watch.who = callocCheck((size_t)c->size, sizeof(identity));
    MPI_Allgather(&me, sizeof me, MPI_BYTE, g_watch.who, sizeof me, MPI_BYTE, MPI_COMM_WORLD);
    if (c->rank <= 1) g_watch.peers = callocCheck((size_t)c->size, sizeof(progress));
    for (int i = 0; i < RING; i++) g_watch.ring[i] = MPI_REQUEST_NULL;
    read_program_name();
    g_watch.on = 1;
}

static int launched_by_mpi(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int comm_init(comm *c, int *argc, char ***argv, mg_err *e) {
    memset(c, 0, sizeof *c);
    c->size = 1;
    c->timeout_s = 3600;
    if (launched_by_mpi()) {
        int provided = 0;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return mg_fail(e, "MPI_Init failed (launched by mpirun/srun, but MPI could not start)");
        c->mpi = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c->size);
        watch_init(c);
    }
    return comm_layout(c, 0, 0, 0, c->timeout_s, e);
}

int comm_layout(comm *c, int rollout, int learner, int coordinator_only, double timeout_s, mg_err *e) {
    int first = coordinator_only ? 1 : 0, compute = c->size - first;
    if (compute < 1)
        return mg_fail(e, "distributed.coordinator_only needs at least 2 ranks (1 coordinator + compute ranks), got %d",
                       c->size);
    int R = rollout ? rollout : compute, L = learner ? learner : compute;
    int shared = R == compute && L == compute;
    if (R > compute || L > compute || (!shared && R + L > compute))
        return mg_fail(e, "distributed layout does not fit %d ranks: %d compute rank%s%s, rollout_ranks %d and "
                          "learner_ranks %d must either both be all compute ranks (0) or be disjoint (sum <= %d)",
                       c->size, compute, compute == 1 ? "" : "s", coordinator_only ? " after the coordinator" : "",
                       rollout, learner, compute);
    c->timeout_s = timeout_s;
    c->n_rollout = R, c->n_learner = L;
    g_first = first, g_shared = shared;
    c->is_coordinator = c->rank == 0;
    roles_of(c, c->rank, &c->rollout_index, &c->learner_index);
    c->is_rollout = c->rollout_index >= 0, c->is_learner = c->learner_index >= 0;
    c->learner_leader = first + (shared ? 0 : R);
    if (c->mpi) split_groups(c);
    // The watchdog reads a copy, refreshed at each layout (comm_init lays out once with the default timeout, the
    // run again with its own): the detached thread outlives cmd_run's frame, and the caller's comm in it, at exit,
    // where it once read a garbage timeout and ended a finished rank with status 3 while LSan checked for leaks.
    pthread_mutex_lock(&g_watch.lock);
    g_watch.c_copy = *c;
    pthread_mutex_unlock(&g_watch.lock);
    if (c->size > 1 && !g_watch.running) {
        g_watch.c = &g_watch.c_copy;
        g_watch.running = 1;
        pthread_create(&g_watch.thread, NULL, watch_main, NULL);
        pthread_detach(g_watch.thread);
    }
    return 0;
}

void comm_finalize(comm *c) {
    if (g_watch.on) {  // the records still in flight are small and sent: completing them takes no answer
        MPI_Waitall(RING, g_watch.ring, MPI_STATUSES_IGNORE);
        g_watch.on = 0;
        pthread_mutex_lock(&g_watch.lock);
        g_watch.since = 0;  // finalizing waits for every rank; the watchdog has nothing more to time
        g_watch.done = 1;
        free(g_watch.peers), g_watch.peers = NULL;
        pthread_mutex_unlock(&g_watch.lock);
        MPI_Comm_free(&g_watch.wc);
    }
    if (c->dev) {
        c->dev->be->free(c->dev->dmax);
        c->dev->be->coll_free(c->dev->coll);
        free(c->dev), c->dev = NULL;
    }
    if (g_learners != MPI_COMM_NULL) MPI_Comm_free(&g_learners);
    if (g_publish != MPI_COMM_NULL) MPI_Comm_free(&g_publish);
    if (c->mpi) MPI_Finalize();
    c->mpi = 0;
}

void comm_abort(const comm *c, const char *msg) {
    fprintf(stderr, "migrate: rank %d: %s\n", c->rank, msg);
    fflush(stderr);
    if (c->mpi) MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

const char *comm_role_name(const comm *c) { return role_name(c->is_coordinator, c->is_rollout, c->is_learner); }

void comm_allgather_bytes(const comm *c, const void *mine, size_t len, void **out, size_t *out_len, const char *what) {
    if (c->size == 1) {
        *out = mallocCheck(len ? len : 1);
        if (len) memcpy(*out, mine, len);
        *out_len = len;
        return;
    }
    mgCheck(len < (1u << 31), "one rank's share of a gather exceeds 2 GiB");
    int n = (int)len, *counts = mallocCheck((size_t)c->size * sizeof(int)), *displs = mallocCheck((size_t)c->size * sizeof(int));
    g_comm_bytes += (double)len;
    watch_mark mark = wait_begin(c, SCOPE_WORLD, what);
    MPI_Request rq;
    MPI_Iallgather(&n, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD, &rq);
    await(&rq);
    size_t total = 0;
    for (int r = 0; r < c->size; r++) displs[r] = (int)total, total += (size_t)counts[r];
    mgCheck(total < (1u << 31), "a gather exceeds 2 GiB");
    *out = mallocCheck(total ? total : 1);
    MPI_Iallgatherv(mine, n, MPI_BYTE, *out, counts, displs, MPI_BYTE, MPI_COMM_WORLD, &rq);
    await(&rq);
    wait_end(mark);
    *out_len = total;
    free(counts), free(displs);
}

// MPI counts are int: long buffers go in pieces.
#define PIECE ((size_t)1 << 28)

// MPI_Allreduce in place, through a request the watchdog waits on. Large sums go from a copy: in place, Open MPI's
// MPI_Iallreduce always takes a binomial tree (log2 p rounds of the whole buffer), from a copy on 4+ ranks it takes
// reduce-scatter + allgather as the blocking MPI_Allreduce does. Not inlined: gcc would otherwise see the copy's
// branch on a one-element caller and warn of bounds that the size test rules out.
__attribute__((noinline)) static void allreduce(void *x, int n, MPI_Datatype t, MPI_Op op, MPI_Comm w) {
    int size;
    MPI_Type_size(t, &size);
    size_t bytes = (size_t)n * (size_t)size;
    void *in = bytes >= 65536 ? mallocCheck(bytes) : NULL;
    if (in) memcpy(in, x, bytes);
    MPI_Request rq;
    MPI_Iallreduce(in ? in : MPI_IN_PLACE, x, n, t, op, w, &rq);
    await(&rq);
    free(in);
}

static void bcast(void *buf, int n, int root, MPI_Comm w) {
    MPI_Request rq;
    MPI_Ibcast(buf, n, MPI_BYTE, root, w, &rq);
    await(&rq);
}

// The communicator of a scope on this rank; MPI_COMM_NULL when the rank takes no part (or there is nobody else).
static MPI_Comm scope_comm(const comm *c, comm_scope g) {
    if (c->size == 1) return MPI_COMM_NULL;
    if (g == COMM_ALL) return MPI_COMM_WORLD;
    return c->is_learner && c->n_learner > 1 ? g_learners : MPI_COMM_NULL;
}

void comm_allreduce_i64(const comm *c, comm_scope g, int64_t *x, size_t n, const char *what) {
    MPI_Comm w = scope_comm(c, g);
    if (w == MPI_COMM_NULL) return;
    g_comm_bytes += (double)n * sizeof *x;
    watch_mark mark = wait_begin(c, g == COMM_ALL ? SCOPE_WORLD : SCOPE_LEARNERS, what);
    for (size_t o = 0; o < n; o += PIECE)
        allreduce(x + o, (int)(n - o < PIECE ? n - o : PIECE), MPI_INT64_T, MPI_SUM, w);
    wait_end(mark);
}

void comm_allreduce_max(const comm *c, comm_scope g, double *x, size_t n, const char *what) {
    MPI_Comm w = scope_comm(c, g);
    if (w == MPI_COMM_NULL) return;
    g_comm_bytes += (double)n * sizeof *x;
    watch_mark mark = wait_begin(c, g == COMM_ALL ? SCOPE_WORLD : SCOPE_LEARNERS, what);
    allreduce(x, (int)n, MPI_DOUBLE, MPI_MAX, w);
    wait_end(mark);
}

void comm_publish(const comm *c, void *buf, size_t len, const char *what) {
    if (c->size == 1 || !comm_has_non_learners(c) || g_publish == MPI_COMM_NULL) return;
    if (c->rank == c->learner_leader) {
        int n;
        MPI_Comm_size(g_publish, &n);
        g_comm_bytes += (double)len * (n - 1);
    }
    watch_mark mark = wait_begin(c, SCOPE_PUBLISH, what);
    for (size_t o = 0; o < len; o += PIECE) bcast((char *)buf + o, (int)(len - o < PIECE ? len - o : PIECE), 0, g_publish);
    wait_end(mark);
}

void comm_to_coordinator(const comm *c, void *buf, size_t len, const char *what) {
    if (c->size == 1 || c->learner_leader == 0 || (c->rank != 0 && c->rank != c->learner_leader)) return;
    if (c->rank == c->learner_leader) g_comm_bytes += (double)len;
    watch_mark mark = wait_begin(c, SCOPE_PAIR, what);
    for (size_t o = 0; o < len; o += PIECE) {
        int n = (int)(len - o < PIECE ? len - o : PIECE);
        MPI_Request rq;
        if (c->rank == 0) MPI_Irecv((char *)buf + o, n, MPI_BYTE, c->learner_leader, 7, MPI_COMM_WORLD, &rq);
        else MPI_Isend((char *)buf + o, n, MPI_BYTE, 0, 7, MPI_COMM_WORLD, &rq);
        await(&rq);
    }
    wait_end(mark);
}

void comm_allreduce_disjoint(const comm *c, double *x, size_t n, const char *what) {
    if (c->size == 1) return;
    g_comm_bytes += (double)n * sizeof *x;
    watch_mark mark = wait_begin(c, SCOPE_WORLD, what);
    allreduce(x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    wait_end(mark);
}

void comm_bcast(const comm *c, void *buf, size_t len, int root, const char *what) {
    if (c->size == 1) return;
    if (c->rank == root) g_comm_bytes += (double)len;
    watch_mark mark = wait_begin(c, SCOPE_WORLD, what);
    for (size_t o = 0; o < len; o += PIECE) bcast((char *)buf + o, (int)(len - o < PIECE ? len - o : PIECE), root, MPI_COMM_WORLD);
    wait_end(mark);
}

void comm_barrier(const comm *c, const char *what) {
    if (c->size == 1) return;
    watch_mark mark = wait_begin(c, SCOPE_WORLD, what);
    MPI_Request rq;
    MPI_Ibarrier(MPI_COMM_WORLD, &rq);
    await(&rq);
    wait_end(mark);
}

// ---- the learners' gradient sum on their devices ----
int comm_join_device(comm *c, const mg_backend *be, mg_err *why) {
    struct {
        int32_t failed;
        unsigned char id[MG_COLL_ID_BYTES];
    } msg;
    memset(&msg, 0, sizeof msg);
    why->msg[0] = '\0';
    if (c->rank == c->learner_leader && be->coll_unique_id(msg.id, why)) msg.failed = 1;
    comm_bcast(c, &msg, sizeof msg, c->learner_leader, "NCCL unique id");
    int failed = msg.failed;
    void *coll = NULL;
    if (!failed && c->is_learner && !(coll = be->coll_join(msg.id, c->n_learner, c->learner_index, why))) failed = 1;
    double any = failed;
    comm_allreduce_max(c, COMM_ALL, &any, 1, "NCCL communicator");
    if (any) {  // back to MPI on the host, a learner that got in too
        if (coll) be->coll_free(coll);
        return 0;
    }
    if (!c->is_learner) return 0;
    c->dev = callocCheck(1, sizeof *c->dev);
    c->dev->be = be, c->dev->coll = coll;
    return 1;
}

void comm_grad_max(const comm *c, const mg_backend *be, double *amax) {
    if (!c->dev) {
        comm_allreduce_max(c, COMM_LEARNERS, amax, 1, "gradient scale");
        return;
    }
    // Device collectives block on the device's stream, out of MPI's sight: the phase names the step for the watchdog.
    struct comm_device *d = c->dev;
    mg_err e;
    if (!d->dmax) d->dmax = be->alloc(sizeof(double));
    comm_phase(c, "gradient all-reduce on the GPUs");
    be->upload(d->dmax, amax, sizeof *amax);
    if (be->coll_max_f64(d->coll, d->dmax, 1, &e)) check_failed("device all-reduce (gradient scale)", __FILE__, __LINE__, e.msg);
    be->download(amax, d->dmax, sizeof *amax);
    comm_phase(c, NULL);
}

void comm_grad_sum_i64(const comm *c, const mg_backend *be, int64_t *acc, size_t n) {
    if (c->dev) {
        mg_err e;
        comm_phase(c, "gradient all-reduce on the GPUs");
        if (be->coll_sum_i64(c->dev->coll, acc, n, &e)) check_failed("device all-reduce (gradients)", __FILE__, __LINE__, e.msg);
        be->sync();
        comm_phase(c, NULL);
        return;
    }
    if (be == &mg_backend_cpu) {  // host memory already
        comm_allreduce_i64(c, COMM_LEARNERS, acc, n, "gradient all-reduce");
        return;
    }
    int64_t *host = mallocCheck((n ? n : 1) * sizeof(int64_t));
    be->download(host, acc, n * sizeof(int64_t));
    comm_allreduce_i64(c, COMM_LEARNERS, host, n, "gradient all-reduce");
    be->upload(acc, host, n * sizeof(int64_t));
    free(host);
}
