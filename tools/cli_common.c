#include "tools/cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/run_job.h"
#include "model/peft.h"

int cli_int(const char *cmd, const char *opt, const char *value, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || errno || *end || end == value || v < lo || v > hi) {
        fprintf(stderr, "migrate %s: option %s: '%s' is not an integer in [%d, %d]\n", cmd, opt,
                value ? value : "(missing)", lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_float(const char *cmd, const char *opt, const char *value, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    float v = value ? strtof(value, &end) : 0;
    if (!value || errno || *end || end == value || !(v >= lo && v <= hi)) {
        fprintf(stderr, "migrate %s: option %s: '%s' is not a number in [%g, %g]\n", cmd, opt,
                value ? value : "(missing)", lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_load_model(const char *cmd, const char *dir, model *m, tokenizer **tok) {
    return cli_load_policy(cmd, dir, 1, m, tok);
}

int cli_load_policy(const char *cmd, const char *dir, int weights, model *m, tokenizer **tok) {
    mg_err e;
    if (run_load_policy(dir, weights, m, tok, &e)) {
        fprintf(stderr, "migrate %s: %s\n", cmd, e.msg);
        return -1;
    }
    return 0;
}

int cli_plain_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("_./,:=@+-", c));
}

char *cli_shell_word(const char *s) {
    size_t n = 0, quotes = 0;
    int plain = *s != '\0';
    for (; s[n]; n++) plain &= cli_plain_char((unsigned char)s[n]), quotes += s[n] == '\'';
    char *w = mallocCheck(n + 3 * quotes + 3), *o = w;
    if (plain) return memcpy(w, s, n + 1);
    *o++ = '\'';
    for (; *s; s++)
        if (*s == '\'') memcpy(o, "'\\''", 4), o += 4;  // close, an escaped quote, reopen
        else *o++ = *s;
    *o++ = '\'', *o = '\0';
    return w;
}

int cli_load_adapter(const char *cmd, model *m, const char *dir) {
    mg_err e;
    if (!dir || !peft_load(m, dir, &e)) return 0;
    fprintf(stderr, "migrate %s: %s\n", cmd, e.msg);
    return -1;
}
