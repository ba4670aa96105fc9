// libFuzzer target: the input is a user's task.candidate_pattern, task.candidate_format and a completion, split
// at the first two NUL bytes (missing parts are empty). Nothing may crash, leak or hang; a refusal is one line
// and says which key was bad; a compiled pattern gives the same answer (no candidate, or one string) each time.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/candidate_pattern.h"

#include "tests/fuzz/fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;  // a config string holds at most 1023 bytes; longer completions add nothing new
    char *buf = malloc(size + 3);
    if (size) memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = 0;
    const char *pattern = buf, *format = pattern + strlen(pattern) + 1;
    if (format > buf + size) format = buf + size + 1;
    const char *completion = format + strlen(format) + 1;
    if (completion > buf + size + 1) completion = buf + size + 2;

    candidate_pattern *p = NULL;
    mg_err e = {{0}};
    int rc = candidate_pattern_compile(&p, pattern, format, &e);
    require(rc == 0 || rc == -1 || rc == -2);
    require(rc == 0 ? p != NULL : p == NULL && e.msg[0] && !strchr(e.msg, '\n'));
    if (p) {
        char *got = candidate_pattern_apply(p, completion), *again = candidate_pattern_apply(p, completion);
        require(got ? again && !strcmp(got, again) : !again);
        free(got), free(again);
        candidate_pattern_free(p);
    }
    free(buf);
    return 0;
}
