#include "workers/comm.h"

#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

// ---- the watchdog: a rank that stays in one step (computing, or waiting for the others in a collective) longer
// than timeout_s ends the job with a message naming itself, its role and the step ----
static struct {
    pthread_t thread;
    int running;
    const comm *c;
    volatile double since;  // start of the current step, 0 when in none
    const char *volatile what;
    volatile int waiting;   // in a collective (vs computing)
} g_watch;

static void *watch_main(void *arg) {
    (void)arg;
    for (;;) {
        sleep(1);
        double since = g_watch.since;
        if (since > 0 && mg_seconds() - since > g_watch.c->timeout_s) {
            if (g_watch.waiting)
                fprintf(stderr, "migrate: rank %d (%s) waited %.0f s in '%s' for the other ranks: one of them died or "
                                "hangs (distributed.timeout); ending the job, the last checkpoint is kept\n",
                        g_watch.c->rank, comm_role_name(g_watch.c), mg_seconds() - since, g_watch.what);
            else
                fprintf(stderr, "migrate: rank %d (%s) has been in '%s' for %.0f s, longer than distributed.timeout: "
                                "it hangs; ending the job, the last checkpoint is kept\n",
                        g_watch.c->rank, comm_role_name(g_watch.c), g_watch.what, mg_seconds() - since);
            fflush(stderr);
            _exit(3);  // mpirun/srun then stop every other rank
        }
    }
    return NULL;
}

typedef struct {
    double since;
    const char *what;
    int waiting;
} watch_mark;

// What this rank put into collectives, and how long it spent in them (metrics: comm/bytes, time/comm).
static double g_comm_bytes, g_comm_seconds, g_comm_t0;

void comm_stats(double *bytes, double *seconds) {
    *bytes = g_comm_bytes, *seconds = g_comm_seconds;
}

static watch_mark wait_begin(const comm *c, const char *what) {
    g_comm_t0 = mg_seconds();
    watch_mark saved = {g_watch.since, g_watch.what, g_watch.waiting};
    (void)c;
    if (g_watch.running) g_watch.since = 0, g_watch.what = what, g_watch.waiting = 1, g_watch.since = mg_seconds();
    return saved;
}

// Back to the step the collective was part of; its clock restarts, since the wait was not its own time.
static void wait_end(watch_mark m) {
    g_comm_seconds += mg_seconds() - g_comm_t0;
    if (!g_watch.running) return;
    g_watch.since = 0;
    g_watch.what = m.what, g_watch.waiting = m.waiting;
    g_watch.since = m.since > 0 ? mg_seconds() : 0;
}

void comm_phase(const comm *c, const char *what) {
    (void)c;
    if (!g_watch.running) return;
    g_watch.since = 0;
    g_watch.what = what, g_watch.waiting = 0;
    g_watch.since = what ? mg_seconds() : 0;
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
    int k = c->rank - first;  // index among compute ranks
    c->is_coordinator = c->rank == 0;
    c->rollout_index = c->learner_index = -1;
    if (k >= 0) {
        if (shared) c->rollout_index = k, c->learner_index = k;
        else if (k < R) c->rollout_index = k;
        else if (k < R + L) c->learner_index = k - R;
    }
    c->is_rollout = c->rollout_index >= 0, c->is_learner = c->learner_index >= 0;
    c->learner_leader = first + (shared ? 0 : R);
    if (c->mpi) split_groups(c);
    if (c->size > 1 && !g_watch.running) {
        g_watch.c = c;
        g_watch.running = 1;
        pthread_create(&g_watch.thread, NULL, watch_main, NULL);
        pthread_detach(g_watch.thread);
    }
    return 0;
}

void comm_finalize(comm *c) {
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

const char *comm_role_name(const comm *c) {
    static const char *const names[8] = {"idle", "coordinator", "rollout", "coordinator+rollout", "learner",
                                         "coordinator+learner", "rollout+learner", "coordinator+rollout+learner"};
    return names[(c->is_coordinator ? 1 : 0) | (c->is_rollout ? 2 : 0) | (c->is_learner ? 4 : 0)];
}

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
    watch_mark mark = wait_begin(c, what);
    MPI_Allgather(&n, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    size_t total = 0;
    for (int r = 0; r < c->size; r++) displs[r] = (int)total, total += (size_t)counts[r];
    mgCheck(total < (1u << 31), "a gather exceeds 2 GiB");
    *out = mallocCheck(total ? total : 1);
    MPI_Allgatherv(mine, n, MPI_BYTE, *out, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    wait_end(mark);
    *out_len = total;
    free(counts), free(displs);
}

// MPI counts are int: long buffers go in pieces.
#define PIECE ((size_t)1 << 28)

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
    watch_mark mark = wait_begin(c, what);
    for (size_t o = 0; o < n; o += PIECE)
        MPI_Allreduce(MPI_IN_PLACE, x + o, (int)(n - o < PIECE ? n - o : PIECE), MPI_INT64_T, MPI_SUM, w);
    wait_end(mark);
}

void comm_allreduce_max(const comm *c, comm_scope g, double *x, size_t n, const char *what) {
    MPI_Comm w = scope_comm(c, g);
    if (w == MPI_COMM_NULL) return;
    g_comm_bytes += (double)n * sizeof *x;
    watch_mark mark = wait_begin(c, what);
    MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_MAX, w);
    wait_end(mark);
}

void comm_publish(const comm *c, void *buf, size_t len, const char *what) {
    if (c->size == 1 || !comm_has_non_learners(c) || g_publish == MPI_COMM_NULL) return;
    if (c->rank == c->learner_leader) {
        int n;
        MPI_Comm_size(g_publish, &n);
        g_comm_bytes += (double)len * (n - 1);
    }
    watch_mark mark = wait_begin(c, what);
    for (size_t o = 0; o < len; o += PIECE)
        MPI_Bcast((char *)buf + o, (int)(len - o < PIECE ? len - o : PIECE), MPI_BYTE, 0, g_publish);
    wait_end(mark);
}

void comm_to_coordinator(const comm *c, void *buf, size_t len, const char *what) {
    if (c->size == 1 || c->learner_leader == 0 || (c->rank != 0 && c->rank != c->learner_leader)) return;
    if (c->rank == c->learner_leader) g_comm_bytes += (double)len;
    watch_mark mark = wait_begin(c, what);
    for (size_t o = 0; o < len; o += PIECE) {
        int n = (int)(len - o < PIECE ? len - o : PIECE);
        if (c->rank == 0) MPI_Recv((char *)buf + o, n, MPI_BYTE, c->learner_leader, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        else MPI_Send((char *)buf + o, n, MPI_BYTE, 0, 7, MPI_COMM_WORLD);
    }
    wait_end(mark);
}

void comm_allreduce_disjoint(const comm *c, double *x, size_t n, const char *what) {
    if (c->size == 1) return;
    g_comm_bytes += (double)n * sizeof *x;
    watch_mark mark = wait_begin(c, what);
    MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    wait_end(mark);
}

void comm_bcast(const comm *c, void *buf, size_t len, int root, const char *what) {
    if (c->size == 1) return;
    if (c->rank == root) g_comm_bytes += (double)len;
    watch_mark mark = wait_begin(c, what);
    for (size_t o = 0; o < len; o += PIECE)
        MPI_Bcast((char *)buf + o, (int)(len - o < PIECE ? len - o : PIECE), MPI_BYTE, root, MPI_COMM_WORLD);
    wait_end(mark);
}

void comm_barrier(const comm *c, const char *what) {
    if (c->size == 1) return;
    watch_mark mark = wait_begin(c, what);
    MPI_Barrier(MPI_COMM_WORLD);
    wait_end(mark);
}
