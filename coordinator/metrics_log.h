// metrics.jsonl as a run writes it: one JSON object a line, appended after each iteration, with a copy in memory
// that every checkpoint carries. A resume can then repair the file whatever happened to it (cut short, deleted,
// edited), and a write that fails (a full disk, a file-size limit) is reported once and made good from memory
// at the end of the run instead of leaving a silent hole.
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

typedef struct metrics_log {
    FILE *f;                 // the file, appended to; NULL once a write to it failed
    char path[4224];
    char *text;              // every line of the run so far, the resumed part included
    size_t len, cap;
    int failed;              // a write to path failed and was not made good yet
    FILE *notes;             // where the one-line warnings go (stderr)
} metrics_log;

// A new run: path starts empty. A resume: path is made to hold exactly `kept` (the checkpoint's copy of the
// lines up to its iteration), keeping an existing file that already starts with it (its later lines, of iterations
// the resume redoes, are cut) and otherwise rewriting it from the copy; a file whose lines differ from the copy is
// moved to PATH.before-resume first, so nothing is lost. Says what it repaired on `notes`.
int metrics_log_open(metrics_log *l, const char *path, int resume, const char *kept, size_t kept_len, FILE *notes,
                     mg_err *e);
// Appends one line (without its newline) to memory and to the file.
void metrics_log_append(metrics_log *l, const char *line);
// After a failed write: tries once to write the whole file from memory (atomically). 0 when the file is whole.
int metrics_log_settle(metrics_log *l, mg_err *e);
void metrics_log_close(metrics_log *l);
