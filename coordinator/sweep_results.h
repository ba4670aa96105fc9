// What `migrate ablate` and `migrate sweep --collect` share: comma lists, and the per-strategy summary table.
#pragma once
#include <stdio.h>

// Splits a comma list in place ("a,b,,c" -> a b c; empty items are dropped). Returns the count, or -1 when it holds
// more than max items.
int sweep_split_list(char *s, char **out, int max);

// One finished search, as the tables count it.
typedef struct {
    int group;             // index into the table's group names (the strategy)
    int solved;
    long calls;            // oracle calls spent
    long calls_to_solve;   // oracle calls when solved, -1 if not
    double best, seconds;  // best reward, wall time
} sweep_result;

// The markdown table of README.md: per group, solved/runs, median oracle calls to solve, mean best reward and mean
// wall time over the results of that group.
void sweep_group_table(FILE *f, const char *const *groups, int n_groups, const sweep_result *r, int n);
