// Files in and out. Reading small whole files (configs, JSON headers, tokenizers) safely: regular files only (a
// FIFO or a device must not hang or flood us), bounded in size, NUL-terminated. Writing so that a crash, a full
// disk or a link planted in the output folder cannot leave a half file or redirect the write elsewhere.
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

// Returns a malloc'd buffer of *len bytes plus a NUL, or NULL with e set ("PATH: cannot open: ...",
// "PATH: not a regular file of at most N bytes"). With missing_ok, a file that does not exist returns NULL,
// sets *missing = 1 and is not an error.
char *read_small_file(const char *path, size_t limit, size_t *len, int missing_ok, int *missing, mg_err *e);

// A file written whole or not at all: file_atomic_open creates a new temporary beside path (O_CREAT | O_EXCL, so
// never an existing file and never through a symbolic link); file_atomic_commit flushes, fsyncs, closes and
// renames it over path, then fsyncs the folder. On any failure (ENOSPC, EFBIG, EIO) the temporary is removed,
// path keeps its old content, e says "PATH: ...: why" and errno is the cause.
typedef struct {
    FILE *f;
    char tmp[4352];
    char path[4224];
} file_atomic;

FILE *file_atomic_open(file_atomic *a, const char *path, mg_err *e);
int file_atomic_commit(file_atomic *a, mg_err *e);
void file_atomic_abort(file_atomic *a);  // removes the temporary; path is untouched
// The two steps for a buffer in memory.
int file_write_atomic(const char *path, const void *buf, size_t n, mg_err *e);

// Opens path to write ("w": truncate or create, "a": append or create) without following a symbolic link at its
// last component (O_NOFOLLOW): for files written as they grow (metrics.jsonl, logs). NULL with e set.
FILE *file_open_nofollow(const char *path, const char *mode, mg_err *e);
// fsync of a folder, so that a rename in it is durable. 0 or -1 with errno.
int file_sync_dir(const char *dir);
// Removes the temporaries (NAME.tmp.PID) that writers killed mid-way left in dir, other than this process's. Only
// for a folder this process holds the lock of: then no other writer can be using one. Returns how many went.
int file_remove_stale_temps(const char *dir);

// Copies a regular file of at most `limit` bytes to `to`, written atomically. With missing_ok, a missing `from` is
// skipped (returns 1). 0, or -1 with e set.
int file_copy(const char *from, const char *to, size_t limit, int missing_ok, mg_err *e);

// mkdir -p: creates dir and its missing parents (existing ones are fine; a real failure shows at the first write).
void file_mkdir_p(const char *dir);
