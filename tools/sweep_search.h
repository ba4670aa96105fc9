// One search of `migrate ablate` / `migrate pmo`, in this process, with the model already loaded: a fresh adapter
// (or none, for the baselines), then iterations until the search ends or, for PMO, until `valid_budget` valid
// distinct candidates have been scored.
#pragma once
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
