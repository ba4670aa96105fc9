// Error reporting for migrate.
//
// Two kinds of failure, handled differently:
//  * Bad input a caller can recover from (a corrupt file, a malformed reply): library functions take an
//    `mg_err*`, fill it with one line "what: why" and return -1. The caller decides whether to exit.
//  * Broken invariants and failed system resources (out of memory, a BLAS shape bug): the xxxCheck macros
//    print file, line and a hint and exit(1). These are never triggered by user input.
#pragma once
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define MG_ERRLEN 1024
typedef struct {
    char msg[MG_ERRLEN];
} mg_err;

// Formats the message into e (if e is not NULL) and returns -1, so callers can `return mg_fail(e, ...)`.
// Messages often quote text from a file (a tensor name, a YAML key); control characters in it are replaced by
// '?', so every message stays one line.
int mg_fail(mg_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// The same replacement, for messages assembled by hand.
void mg_err_one_line(mg_err *e);

// Prints "migrate: <msg>" to stderr and exits with status 1. For command-line front ends only.
void mg_die(const mg_err *e) __attribute__((noreturn));

void *malloc_check(size_t size, const char *file, int line);
void *calloc_check(size_t n, size_t size, const char *file, int line);
void *realloc_check(void *p, size_t size, const char *file, int line);  // p is kept on failure (and we exit)
// Zeroed and 64-byte aligned (free() releases it): weights and activations that vector kernels read whole rows of,
// so that no 64-byte load straddles two cache lines.
void *aligned_calloc_check(size_t n, size_t size, const char *file, int line);
// The same alignment, not zeroed.
void *aligned_malloc_check(size_t bytes, const char *file, int line);
// The same alignment, or NULL when the memory is not there: large buffers whose failure the caller reports as its
// own one-line error (a KV cache).
void *aligned_try_alloc(size_t bytes);
FILE *fopen_check(const char *path, const char *mode, const char *file, int line);
void check_failed(const char *cond, const char *file, int line, const char *hint) __attribute__((noreturn));

#define mallocCheck(size) malloc_check((size), __FILE__, __LINE__)
#define callocCheck(n, size) calloc_check((n), (size), __FILE__, __LINE__)
#define reallocCheck(p, size) realloc_check((p), (size), __FILE__, __LINE__)
#define alignedCallocCheck(n, size) aligned_calloc_check((n), (size), __FILE__, __LINE__)
#define alignedMallocCheck(bytes) aligned_malloc_check((bytes), __FILE__, __LINE__)
#define fopenCheck(path, mode) fopen_check((path), (mode), __FILE__, __LINE__)
// Internal invariant: `cond` must hold whatever the input; `hint` says what is probably wrong.
#define mgCheck(cond, hint)                                                                                  \
    do {                                                                                                     \
        if (!(cond)) check_failed(#cond, __FILE__, __LINE__, (hint));                                        \
    } while (0)
