// Reading small whole files (configs, JSON headers, tokenizers) safely: regular files only (a FIFO or a device
// must not hang or flood us), bounded in size, NUL-terminated.
#pragma once
#include <stddef.h>

#include "common/error.h"

// Returns a malloc'd buffer of *len bytes plus a NUL, or NULL with e set ("PATH: cannot open: ...",
// "PATH: not a regular file of at most N bytes"). With missing_ok, a file that does not exist returns NULL,
// sets *missing = 1 and is not an error.
char *read_small_file(const char *path, size_t limit, size_t *len, int missing_ok, int *missing, mg_err *e);
