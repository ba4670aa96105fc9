// The ranks of a run and the few collectives the loop needs. With one process (no mpirun/srun) every call is a
// local no-op, so the single-process loop and the distributed one are the same code.
//
// Every rank runs the same search loop on a replica of the coordinator's state (archive, group, adapter): the
// replicas stay identical because each step's inputs are gathered to all ranks and every decision is a
// deterministic function of them. Roles divide the expensive work only:
//   rollout ranks   sample disjoint blocks of the iteration's completions and score disjoint blocks of its fresh
//                   candidates (CPU-heavy oracles spread out);
//   learner ranks   take fixed shards of the group (training.members_per_shard members each) and compute their
//                   gradients, which are summed exactly (int64 fixed point) so the sum does not depend on who
//                   computed what; every rank then applies the same AdamW step;
//   coordinator     rank 0: progress, metrics and checkpoints.
// Because sampling is batch-invariant and shards are fixed by the group, the archive and the adapter are
// bit-identical for any number of ranks and any layout.
#pragma once
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "kernels/backend.h"

typedef struct {
    int rank, size;         // size 1 without MPI
    int mpi;                // MPI_Init was called
    int is_rollout, is_learner, is_coordinator;
    int n_rollout, rollout_index;  // this rank's place among the rollout ranks (-1: not one)
    int n_learner, learner_index;
    int learner_leader;     // world rank of learner 0: it publishes the adapter and hands the optimizer to rank 0
    double timeout_s;       // longest wait in one collective before the job is aborted
    struct comm_device *dev;  // the learners' device collective (comm_join_device), or NULL: MPI on the host
} comm;

// Which ranks take part in a collective: all of them, or the learners only (the others return at once).
typedef enum { COMM_ALL = 0, COMM_LEARNERS } comm_scope;

// Starts MPI when the process was launched by mpirun or srun (else size 1, no MPI at all).
int comm_init(comm *c, int *argc, char ***argv, mg_err *e);
// Assigns roles. rollout/learner: how many ranks hold each role (0 = all compute ranks); coordinator_only: rank 0
// computes nothing. Rollout and learner ranks are either all the compute ranks (shared) or disjoint. A layout that
// does not fit the number of ranks is an error saying why.
int comm_layout(comm *c, int rollout, int learner, int coordinator_only, double timeout_s, mg_err *e);
void comm_finalize(comm *c);
// Ends the whole job now (every rank), after printing msg on this rank.
void comm_abort(const comm *c, const char *msg) __attribute__((noreturn));
const char *comm_role_name(const comm *c);
// Bytes this rank has put into collectives and seconds it has spent in them, since the start.
void comm_stats(double *bytes, double *seconds);  // "coordinator+rollout+learner", ...

// Names the compute step this rank is in (NULL: none), for the watchdog: a rank longer than distributed.timeout
// in one step ends the job naming itself. Each step and each collective is also a progress record sent to a
// watcher (rank 0; rank 1 for rank 0), so that a collective that does not complete within distributed.timeout
// ends the job naming the ranks that did not arrive (or went silent in it), with their iteration, their last
// step and how long ago it began. Names are for people: "sampling", "scoring", "gather completions"...
void comm_phase(const comm *c, const char *what);
// The search iteration this rank is in (1-based; 0: setup), for the watchdog's reports.
void comm_iteration(int iteration);
// The run's stop-signal flag (set by its SIGTERM/SIGUSR1/SIGINT handler): mpirun ends a job whose rank died with
// SIGTERM, then SIGKILL a second later, so on a signal the watchers at once name the ranks whose process on this
// host has exited or is stopped, and after 0.5 s in a collective the ranks that have not reached it.
void comm_watch_signal(const volatile sig_atomic_t *flag);

// [lo, hi) of n items for block b of nb (contiguous, in order).
static inline void comm_block(int n, int nb, int b, int *lo, int *hi) {
    *lo = (int)((long)n * b / nb);
    *hi = (int)((long)n * (b + 1) / nb);
}

// ---- collectives (every rank calls each, in the same order; `what` names the step for the watchdog) ----
// Concatenation, in rank order, of every rank's bytes. *out is malloc'd, *out_len its length.
void comm_allgather_bytes(const comm *c, const void *mine, size_t len, void **out, size_t *out_len, const char *what);
void comm_allreduce_i64(const comm *c, comm_scope g, int64_t *x, size_t n, const char *what);
void comm_allreduce_max(const comm *c, comm_scope g, double *x, size_t n, const char *what);
// Sum where each slot has at most one nonzero contributor: exact whatever the reduction order.
void comm_allreduce_disjoint(const comm *c, double *x, size_t n, const char *what);
void comm_bcast(const comm *c, void *buf, size_t len, int root, const char *what);
// 1 when some ranks are not learners (they receive each new adapter from the learner leader).
static inline int comm_has_non_learners(const comm *c) { return c->n_learner < c->size; }
// From the learner leader to every rank that is not a learner (learners have it already); no-op when there is
// none. Every rank calls it.
void comm_publish(const comm *c, void *buf, size_t len, const char *what);
// From the learner leader to rank 0 (the coordinator writes checkpoints); no-op when rank 0 is a learner. Every
// rank calls it.
void comm_to_coordinator(const comm *c, void *buf, size_t len, const char *what);
void comm_barrier(const comm *c, const char *what);

// ---- the learners' exact gradient sum (workers/learner.c): its two all-reduces, on the learners' devices when
//      they share a device collective (NCCL), else with MPI on the host ----
// Every rank calls it after comm_layout: the learner leader makes the id of be's device collective, a broadcast
// hands it out, the learners join, and a max over every rank tells all whether each learner got in, so that all
// sum the same way (never a mix). Returns 1 when the learners now sum on their devices; 0 when they sum with
// MPI, with why set when a learner could not join (this rank's own reason, or empty when it was another's). be
// must have coll_join. comm_finalize leaves the collective.
int comm_join_device(comm *c, const mg_backend *be, mg_err *why);
// The max of *amax (a host value) over the learners.
void comm_grad_max(const comm *c, const mg_backend *be, double *amax);
// acc (n values in be's memory) becomes the sum over the learners.
void comm_grad_sum_i64(const comm *c, const mg_backend *be, int64_t *acc, size_t n);
