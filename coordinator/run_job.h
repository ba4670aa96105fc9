// One search as `migrate run` runs it: its config, task, search state, metrics file and checkpoints. A run is one
// job; a multiplexed run (a config with a sweep: section) is several jobs sharing one model and the same ranks,
// each with its own adapter, archive, output folder and checkpoint.
#pragma once
#include <stdio.h>

#include "coordinator/checkpoint.h"
#include "coordinator/metrics_log.h"
#include "coordinator/search.h"
#include "tasks/semantle.h"
#include "workers/comm.h"

typedef struct {
    char path[4200];       // OUTPUT_DIR/checkpoint.h5
    char *config;          // effective config text
    const char *model_dir;
    uint64_t model_hash;
    checkpoint_writer writer;
    int failures;
} run_saver;

typedef struct {
    run_config cfg;
    task *t;
    word_vectors *wv;
    search_state s;
    run_saver sv;
    metrics_log metrics;   // coordinator: OUTPUT_DIR/metrics.jsonl
    int lock_fd, locked;   // coordinator: the lock on OUTPUT_DIR
    int open;              // run_job_open succeeded
    int status;            // 0 running, 1 over (solved, budget, iterations), -1 stopped by an error
    mg_err err;            // the error, when status is -1
} run_job;

// SIGTERM, SIGUSR1, SIGINT (Slurm preemption, Ctrl-C): noted, so the run ends after the current iteration with a
// checkpoint; a second SIGINT ends the process at once.
void run_install_signal_handlers(void);
// Every rank stops after the same iteration: the first at whose end any rank had seen a signal (a collective).
int run_stop_requested(const comm *world);
// The signal that stopped the run (0: none), and its name.
int run_stop_signal(void);
const char *run_signal_name(int sig);

// run_config_load / run_config_parse and the checks that need the tasks (a molecule objective compiled): a bad
// objective is refused with its FILE:LINE before any model is loaded or job submitted.
int run_config_read(run_config *c, const char *path, const char *const *overrides, int n_overrides, mg_err *e);
int run_config_read_text(run_config *c, const char *yaml, size_t len, const char *name,
                         const char *const *overrides, int n_overrides, mg_err *e);

// The molecule task of a config (task.type molecule): task.objective, and task.solved_reward when finite, else 1.0.
int run_molecule_task(task **out, const run_config *c, mg_err *e);
// The external oracle of c (task.type oracle) with each {target} in task.command replaced by task.target (a
// {target} with no task.target is an error), its failures appended to OUTPUT_DIR/oracle.log.
int run_oracle_task(task **out, const run_config *c, mg_err *e);
// Loads the policy a rank of `migrate run` needs from an HF folder: weights and tokenizer, or with weights 0 the
// shape only (a coordinator-only rank keeps adapters and their optimizer but never runs the model).
int run_load_policy(const char *dir, int weights, model *m, tokenizer **tok, mg_err *e);

// Moves m to the backend the config names (engine.backend) on a rank that runs the model (rollout or learner),
// and gives the learners their device collective (distributed.allreduce: NCCL) when the backend has one; the CPU
// needs nothing. A one-line error when this migrate was built without that backend or the GPU is unusable.
int run_attach_backend(model *m, const run_config *c, comm *world, mg_err *e);

// Before a resume: the checkpoint at resume_path must hold a run of this config (up to the keys that may change,
// checkpoint_config_compatible) on this model (config.json hash).
int run_job_check_resume(const run_config *cfg, uint64_t model_hash, const char *resume_path, mg_err *e);
// The same for a checkpoint already read whole and verified (h, from resume_path).
int run_job_check_saved(const run_config *cfg, uint64_t model_hash, const checkpoint *h, const char *resume_path,
                        mg_err *e);

// Takes the lock of an output folder for this process's life (or until run_unlock_dir): a second run into the
// same folder, from this host or another sharing the file system, fails at once, naming the holder's pid and host.
// Returns the lock's descriptor, or -1 with e set.
int run_lock_dir(const char *dir, mg_err *e);
void run_unlock_dir(int fd);
// The first-time rule for an output folder: a checkpoint already there is another run's result, kept unless the
// user asked to start over (overwrite). 0 when the folder may be written.
int run_check_fresh_dir(const char *dir, int overwrite, mg_err *e);

// Sets up the search cfg describes (j takes cfg over) on m, resumed from resume_path when not NULL. The job's
// adapter is left attached to m (search_activate re-attaches it before each step). progress: the stream for the
// per-iteration line (NULL: none); label prefixes that line. Only the coordinator rank writes files: it locks
// OUTPUT_DIR, and a fresh run refuses one that holds a checkpoint unless overwrite.
int run_job_open(run_job *j, run_config *cfg, model *m, const tokenizer *tok, uint64_t model_hash, const comm *world,
                 const char *resume_path, int overwrite, FILE *progress, const char *label, mg_err *e);
// One iteration, then the periodic checkpoint (coordinator). Sets and returns j->status.
int run_job_step(run_job *j, const comm *world);
// The last checkpoint (coordinator); when the search is over also summary.json and the PEFT adapter; metrics.jsonl
// made whole if a write to it failed. summary: print the summary lines to stdout. Returns 0 when every output was
// written, -1 when any is incomplete (each failure was reported on stderr).
int run_job_finish(run_job *j, const comm *world, int summary);
// Frees the job (not the model; with own_adapter also the job's adapter, which must then not be attached).
void run_job_close(run_job *j, int own_adapter);
