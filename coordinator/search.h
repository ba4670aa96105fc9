// One MiGrATe search: the loop of sample -> score -> archive -> mixed group -> GRPO update, for one problem.
// Every strategy draws num_on_policy + num_neighborhood new samples per iteration, so strategies compare at
// equal oracle cost; they differ in where samples come from and whether the policy trains:
//   random       base prompt, no training          ns      neighborhood prompts only, no training
//   opro         prompt with the top past answers   grpo    base prompt, GRPO on the samples
//   grpo-greedy  grpo + num_greedy archive tops     migrate on-policy + greedy + neighborhood (alpha/beta/gamma)
#pragma once
#include <stdio.h>

#include "common/run_config.h"
#include "coordinator/archive.h"
#include "coordinator/prompts.h"
#include "model/optimizer.h"
#include "tasks/task.h"
#include "workers/comm.h"

typedef struct {
    double sample, score, train, total;  // seconds
} phase_times;

// A mixed group formed but not learned yet (training.staleness > 0): the learner's inputs, as they were formed.
typedef struct {
    packed_batch b;  // one sequence per member: on-policy prompt + completion (b.n_seqs = 0: no update to make)
    float *old;      // (b.n_tokens) sampling-time log-probs of on-policy members, NaN elsewhere
    float *adv;      // (b.n_seqs) advantages
} pending_group;

typedef struct search_state {
    const run_config *cfg;
    model *m;
    lora_adapter *adapter;  // this search's own (NULL for the baselines): several searches can share one model
    float *weights;         // full training (lora.use_peft false): this search's copy of every weight, trained
    const tokenizer *tok;
    task *t;
    archive *arc;
    prompt_encoder pe;
    adamw_state opt;
    uint64_t problem;     // keys the RNG together with the seed, iteration and sample index
    int iteration;        // iterations completed
    long oracle_calls, repeats, unparsable;
    // Calls that failed as calls (task_score.failure) and GRPO steps skipped for non-finite values, since the
    // search began: summary.json's totals. Each iteration's share is in its metrics.jsonl line.
    long oracle_invalid, oracle_timeouts, oracle_crashes, train_skipped;
    long iter_failed[TASK_FAIL_COUNT];  // this iteration's failed calls by kind (index TASK_OK unused)
    int all_failed_said;  // the last iteration's calls all failed, and a warning said so (repeated only after a
                          // better iteration)
    long best;            // archive index of the best entry, -1 before any
    char best_info[TASK_INFO_LEN];  // the task's note on the best entry (Semantle: its rank among the 1,000 nearest)
    int solved, budget_spent;
    long solved_at_calls; // oracle calls when solved
    phase_times time;
    long new_tokens;
    struct metrics_log *metrics;  // JSON lines (coordinator/metrics_log.h), or NULL
    FILE *progress;       // one line per iteration, or NULL
    const comm *comm;     // the ranks sharing this search; NULL = this process alone
    double comm_bytes0, comm_seconds0;  // comm_stats at the start of the iteration
    long *best_history;   // (iteration) archive index of the best entry after each iteration, -1 before any
    int history_cap;
    char label[48];       // prefix of the progress line when several searches share the output ("" = none)
    pending_group pending[MAX_STALENESS];  // oldest first: the groups of the last n_pending iterations
    int n_pending;
    // Several searches on the same ranks (coordinator/run_multiplex.c): with defer_update, an exact search (staleness 0)
    // keeps its group for search_flush instead of learning it at the end of its step; a step of another search
    // whose `overlap` points here runs that update between its own sampling and gather, so learner ranks train
    // one search while rollout ranks sample the next. The update still lands before this search's next step, so
    // the result is the one of the search alone. The iteration's metrics line waits for the update.
    int defer_update;
    struct search_state *overlap;
    struct deferred_metrics *deferred;  // the metrics line of the iteration whose update waits
} search_state;

// Gives m the adapter the config describes when the strategy trains (a fresh one, seeded from the config's seed),
// and frees an existing adapter when it does not (the baselines sample from the base policy).
int search_attach_adapter(model *m, const run_config *c, mg_err *e);
// m must have its adapter already (for training strategies: see search_attach_adapter); the search takes m->lora
// as its own adapter (s->adapter) and attaches it again whenever it runs (search_activate), so the caller may
// detach it (m->lora = NULL) and set up another search on the same model. metrics/progress may be NULL.
int search_init(search_state *s, const run_config *cfg, model *m, const tokenizer *tok, task *t, uint64_t problem,
                struct metrics_log *metrics, FILE *progress, mg_err *e);
// Runs one iteration. Returns 1 when the search is over (solved, budget or iterations spent), 0 to go on, -1 on
// an error that stops it (the archive so far is kept).
int search_step(search_state *s, mg_err *e);
// Runs the update a deferred step left (defer_update), then writes that iteration's metrics line; nothing when
// none waits. Every rank calls it; before a checkpoint of s and when s is over, the caller must.
void search_flush(search_state *s);
// 1 when s holds a deferred update.
int search_update_waits(const search_state *s);
// Attaches this search's adapter to its model (m->lora = s->adapter): before anything reads or trains it.
void search_activate(const search_state *s);
// 1 when the search is over: solved, the oracle budget spent or the configured iterations done.
int search_finished(const search_state *s);
void search_free(search_state *s);
