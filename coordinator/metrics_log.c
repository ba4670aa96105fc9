#include "coordinator/metrics_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"

static void keep_in_memory(metrics_log *l, const char *p, size_t n) {
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 4096;
        while (cap < l->len + n + 1) cap *= 2;
        l->text = realloc(l->text, cap);
        mgCheck(l->text != NULL, "out of memory (the metrics lines)");
        l->cap = cap;
    }
    memcpy(l->text + l->len, p, n);
    l->len += n;
    l->text[l->len] = '\0';
}

// 1 when the file at path exists and starts with kept; *size is its length (0 when missing).
static int starts_with(const char *path, const char *kept, size_t kept_len, long *size, int *missing) {
    *size = 0, *missing = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *missing = errno == ENOENT;
        return 0;
    }
    long n = lseek(fd, 0, SEEK_END);
    *size = n < 0 ? 0 : n;
    int same = n >= (long)kept_len;
    char buf[65536];
    for (size_t at = 0; same && at < kept_len;) {
        size_t want = kept_len - at < sizeof buf ? kept_len - at : sizeof buf;
        ssize_t got = pread(fd, buf, want, (off_t)at);
        if (got <= 0 || memcmp(buf, kept + at, (size_t)got)) same = 0;
        else at += (size_t)got;
    }
    close(fd);
    return same;
}

// Makes path hold exactly kept, for a resume.
static int restore(metrics_log *l, const char *kept, size_t kept_len, mg_err *e) {
    long size;
    int missing;
    if (starts_with(l->path, kept, kept_len, &size, &missing)) {
        int fd = open(l->path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && ftruncate(fd, (off_t)kept_len) == 0) return close(fd);
        if (fd >= 0) close(fd);
        return mg_fail(e, "%s: cannot cut it back to the checkpoint's %zu bytes: %s", l->path, kept_len, strerror(errno));
    }
    size_t lines = 0;
    for (size_t i = 0; i < kept_len; i++) lines += kept[i] == '\n';
    if (!missing) {  // whatever it holds is kept beside it: the lines after the checkpoint, or someone's edit
        char old[4352];
        snprintf(old, sizeof old, "%s.before-resume", l->path);
        if (rename(l->path, old)) return mg_fail(e, "%s: cannot move it aside to %s: %s", l->path, old, strerror(errno));
        if (l->notes)
            fprintf(l->notes, "migrate run: %s held %ld bytes that do not start with the checkpoint's %zu; moved to %s "
                              "and restored the %zu lines of the checkpoint\n", l->path, size, kept_len, old, lines);
    } else if (l->notes && kept_len) {
        fprintf(l->notes, "migrate run: %s was missing; restored the %zu lines of the checkpoint\n", l->path, lines);
    }
    return file_write_atomic(l->path, kept, kept_len, e);
}

int metrics_log_open(metrics_log *l, const char *path, int resume, const char *kept, size_t kept_len, FILE *notes,
                     mg_err *e) {
    memset(l, 0, sizeof *l);
    l->notes = notes;
    if (strlen(path) >= sizeof l->path) return mg_fail(e, "%.200s...: path too long", path);
    snprintf(l->path, sizeof l->path, "%s", path);
    keep_in_memory(l, kept ? kept : "", resume ? kept_len : 0);
    if (resume && restore(l, kept ? kept : "", kept_len, e)) return -1;
    l->f = file_open_nofollow(path, resume ? "a" : "w", e);
    return l->f ? 0 : -1;
}

void metrics_log_append(metrics_log *l, const char *line) {
    keep_in_memory(l, line, strlen(line));
    keep_in_memory(l, "\n", 1);
    if (!l->f) return;
    errno = 0;
    if (fputs(line, l->f) >= 0 && fputc('\n', l->f) != EOF && fflush(l->f) == 0) return;
    int err = errno ? errno : EIO;
    fclose(l->f);  // a half line may be in it: nothing more goes there until the whole file is written again
    l->f = NULL;
    l->failed = 1;
    if (l->notes)
        fprintf(l->notes, "migrate run: warning: cannot write %s: %s; its lines are kept in memory and in the "
                          "checkpoint, and written whole at the end if the disk allows\n", l->path, strerror(err));
}

int metrics_log_settle(metrics_log *l, mg_err *e) {
    if (!l->failed) return 0;
    if (file_write_atomic(l->path, l->text, l->len, e)) return -1;
    l->failed = 0;
    l->f = file_open_nofollow(l->path, "a", e);
    return l->f ? 0 : -1;
}

void metrics_log_close(metrics_log *l) {
    if (l->f) fclose(l->f);
    free(l->text);
    memset(l, 0, sizeof *l);
}
