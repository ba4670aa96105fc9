#include "common/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *read_small_file(const char *path, size_t limit, size_t *len, int missing_ok, int *missing, mg_err *e) {
    *len = 0;
    if (missing) *missing = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // O_NONBLOCK: opening a FIFO must not hang
    if (fd < 0) {
        if (missing_ok && errno == ENOENT) {
            if (missing) *missing = 1;
            return NULL;
        }
        mg_fail(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > limit) {
        close(fd);
        mg_fail(e, "%s: not a regular file of at most %zu bytes", path, limit);
        return NULL;
    }
    char *buf = mallocCheck((size_t)sb.st_size + 1);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;  // the file shrank under us: keep what was there
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

int file_sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

FILE *file_atomic_open(file_atomic *a, const char *path, mg_err *e) {
    memset(a, 0, sizeof *a);
    if (strlen(path) >= sizeof a->path) return mg_fail(e, "%.200s...: path too long", path), NULL;
    snprintf(a->path, sizeof a->path, "%s", path);
    // One name per process: a leftover can only be from a dead process that had our pid, so it may go; O_EXCL
    // then refuses anything put there between the unlink and the open, a link included.
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid());
    unlink(a->tmp);
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return mg_fail(e, "%s: cannot create %s: %s", path, a->tmp, strerror(errno)), NULL;
    a->f = fdopen(fd, "w");
    mgCheck(a->f != NULL, "fdopen of a fresh descriptor failed (out of memory)");
    return a->f;
}

void file_atomic_abort(file_atomic *a) {
    if (!a->f) return;
    fclose(a->f);
    a->f = NULL;
    unlink(a->tmp);
}

int file_atomic_commit(file_atomic *a, mg_err *e) {
    if (!a->f) return mg_fail(e, "%s: not open", a->path);
    errno = 0;
    int bad = ferror(a->f) || fflush(a->f) != 0 || fsync(fileno(a->f)) != 0;
    int err = bad ? (errno ? errno : EIO) : 0;
    if (fclose(a->f) != 0 && !bad) bad = 1, err = errno;
    a->f = NULL;
    if (!bad && rename(a->tmp, a->path) != 0) bad = 1, err = errno;
    if (bad) {
        unlink(a->tmp);
        mg_fail(e, "%s: not written (the previous file, if any, is kept): %s", a->path, strerror(err));
        errno = err;
        return -1;
    }
    char dir[sizeof a->path];
    snprintf(dir, sizeof dir, "%s", a->path);
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
    file_sync_dir(slash ? dir : ".");  // the rename is durable once its folder is
    return 0;
}

int file_write_atomic(const char *path, const void *buf, size_t n, mg_err *e) {
    file_atomic a;
    FILE *f = file_atomic_open(&a, path, e);
    if (!f) return -1;
    if (n && fwrite(buf, 1, n, f) != n) {
        int err = errno ? errno : EIO;
        file_atomic_abort(&a);
        mg_fail(e, "%s: not written (the previous file, if any, is kept): %s", path, strerror(err));
        errno = err;
        return -1;
    }
    return file_atomic_commit(&a, e);
}

FILE *file_open_nofollow(const char *path, const char *mode, mg_err *e) {
    int append = mode[0] == 'a';
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0) {
        if (errno == ELOOP) return mg_fail(e, "%s: is a symbolic link; refusing to write through it", path), NULL;
        return mg_fail(e, "%s: cannot write: %s", path, strerror(errno)), NULL;
    }
    FILE *f = fdopen(fd, append ? "a" : "w");
    mgCheck(f != NULL, "fdopen of a fresh descriptor failed (out of memory)");
    return f;
}

int file_remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char mine[32];
    snprintf(mine, sizeof mine, ".tmp.%ld", (long)getpid());
    int removed = 0;
    for (struct dirent *ent; (ent = readdir(d));) {
        const char *tag = strstr(ent->d_name, ".tmp.");
        if (!tag || tag == ent->d_name) continue;
        const char *digits = tag + 5;
        if (!*digits || digits[strspn(digits, "0123456789")] || !strcmp(tag, mine)) continue;
        if (unlinkat(dirfd(d), ent->d_name, 0) == 0) removed++;
    }
    closedir(d);
    return removed;
}

void file_mkdir_p(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') *p = '\0', mkdir(path, 0755), *p = '/';
    mkdir(path, 0755);
}

int file_copy(const char *from, const char *to, size_t limit, int missing_ok, mg_err *e) {
    size_t n;
    int missing = 0;
    char *buf = read_small_file(from, limit, &n, missing_ok, &missing, e);
    if (!buf) return missing ? 1 : -1;
    int rc = file_write_atomic(to, buf, n, e);
    free(buf);
    return rc;
}
