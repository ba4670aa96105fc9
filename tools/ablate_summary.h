// migrate ablate --summarize CSV... : the tables of migrate ablate from ablation.csv files already written.
#pragma once
#include <stdio.h>

#include "coordinator/ablation_stats.h"
#include "coordinator/sweep_results.h"

// ablation.md's tables, for a run of migrate ablate and for --summarize alike: per row the solved rate and mean
// best reward, the medians with intervals and the Semantle rank thresholds against row `baseline`, and the matrix
// of paired wins. res[i] and runs[i] describe the same search.
void ablate_print_tables(FILE *f, const char *const *rows, int n_rows, const sweep_result *res,
                         const ablation_run *runs, int n, int baseline);

// argv[0] is "--summarize"; returns the exit status (0, 1 on unreadable input, 2 on bad options).
int ablate_summarize(int argc, char **argv);
