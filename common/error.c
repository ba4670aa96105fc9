#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int mg_fail(mg_err *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        mg_err_one_line(e);
    }
    return -1;
}

void mg_err_one_line(mg_err *e) {
    for (char *p = e->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
}

void mg_die(const mg_err *e) {
    fprintf(stderr, "migrate: %s\n", e && e->msg[0] ? e->msg : "unknown error");
    exit(1);
}

// The message every failed allocation prints (n x size bytes, or size bytes for malloc), then exit 1.
static _Noreturn void out_of_memory(int counted, size_t n, size_t size, const char *file, int line) {
    if (counted) fprintf(stderr, "migrate: out of memory allocating %zu x %zu bytes at %s:%d\n", n, size, file, line);
    else fprintf(stderr, "migrate: out of memory allocating %zu bytes at %s:%d\n", size, file, line);
    fprintf(stderr, "  hint: a smaller batch or model\n");
    exit(1);
}

void *malloc_check(size_t size, const char *file, int line) {
    void *p = malloc(size ? size : 1);
    if (!p) out_of_memory(0, 0, size, file, line);
    return p;
}

void *calloc_check(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) out_of_memory(1, n, size, file, line);
    return p;
}

void *realloc_check(void *p, size_t size, const char *file, int line) {
    void *q = realloc(p, size ? size : 1);
    if (!q) out_of_memory(1, 1, size, file, line);
    return q;
}

void *aligned_try_alloc(size_t bytes) {
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 1) ? NULL : p;
}

void *aligned_malloc_check(size_t bytes, const char *file, int line) {
    void *p = aligned_try_alloc(bytes);
    if (!p) out_of_memory(0, 0, bytes, file, line);
    return p;
}

void *aligned_calloc_check(size_t n, size_t size, const char *file, int line) {
    size_t bytes = (n ? n : 1) * (size ? size : 1);
    void *p = NULL;
    if (n && size && bytes / n != size) bytes = 0;  // overflow: fail below
    if (!bytes || !(p = aligned_try_alloc(bytes))) out_of_memory(1, n, size, file, line);
    return memset(p, 0, bytes);
}

FILE *fopen_check(const char *path, const char *mode, const char *file, int line) {
    FILE *f = fopen(path, mode);
    if (!f) {
        fprintf(stderr, "migrate: cannot open %s (mode %s): %s at %s:%d\n", path, mode, strerror(errno), file, line);
        exit(1);
    }
    return f;
}

void check_failed(const char *cond, const char *file, int line, const char *hint) {
    fprintf(stderr, "migrate: internal check failed: %s at %s:%d\n  hint: %s\n", cond, file, line, hint);
    exit(1);
}
