// One search of `migrate ablate` / `migrate pmo`, in this process, with the model already loaded: a fresh adapter
// (or none, for the baselines), then iterations until the search ends or, for PMO, until `valid_budget` valid
// distinct candidates have been scored.
#pragma once
#include <stdio.h>

#include "coordinator/search.h"

// On success st holds the finished search (the caller reads it, then search_free(st) and
// model_set_train_mode(m, TRAIN_NONE)); on failure st is freed. valid_budget 0 = no such stop.
int sweep_search_run(search_state *st, const run_config *cfg, model *m, const tokenizer *tok, task *tk,
                     long valid_budget, mg_err *e);

// Rewards of the first max valid entries of the archive, in scoring order (what PMO's buffer holds). *out
// malloc'd; returns how many.
long sweep_valid_rewards(const archive *a, long max, double **out);
// Valid entries in the whole archive.
long sweep_valid_rewards_count(const archive *a);

// The curves `migrate report` draws, one CSV per folder (strategy,settings,seed,problem,calls,value): the best
// reward so far at each oracle call that raised it (and at the last call), or PMO's top-10 mean every 100 valid
// molecules. The header goes first (sweep_curves_header).
void sweep_curves_header(FILE *f);
void sweep_curves_best(FILE *f, const char *strategy, const char *settings, const char *seed, const char *problem,
                       const archive *a);
void sweep_curves_top10(FILE *f, const char *strategy, const char *settings, const char *seed, const char *problem,
                        const double *scores, long n);
