#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
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
