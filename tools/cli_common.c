#include "tools/cli_common.h"

#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    if (weights ? model_load(m, dir, &e) : model_load_shape(m, dir, &e)) {
        fprintf(stderr, "migrate %s: %s\n", cmd, e.msg);
        return -1;
    }
    if (tokenizer_load(tok, dir, &e)) {
        fprintf(stderr, "migrate %s: %s\n", cmd, e.msg);
        model_free(m);
        return -1;
    }
    return 0;
}

void cli_set_threads(int n) {
    if (n <= 0) return;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

void cli_mkdir_p(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') *p = '\0', mkdir(path, 0755), *p = '/';
    mkdir(path, 0755);
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
