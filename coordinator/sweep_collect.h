// migrate sweep --collect: every element's result, from DIR/i/summary.json (or, for an element that did not
// finish, the last line of DIR/i/metrics.jsonl), into DIR/results.csv and DIR/results.md.
#pragma once

// Returns the exit status: 0 when every element of DIR/manifest.tsv has its summary, 1 otherwise (the tables
// are still written, and each missing, failed or unfinished element is named on stderr).
int sweep_collect(const char *dir);
