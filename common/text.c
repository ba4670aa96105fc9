// Strings built in memory: a printf that allocates, and "{key}" templates (prompts and the tasks' texts).
#include "common/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

char *text_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *out = mallocCheck((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}

char *text_render(const char *tmpl, int n, const char *const *keys, const char *const *values) {
    size_t cap = strlen(tmpl) + 1, len = 0;
    for (int k = 0; k < n; k++) cap += 4 * strlen(values[k]) + 16;
    char *out = mallocCheck(cap);
    for (const char *p = tmpl; *p;) {
        int matched = 0;
        if (*p == '{') {
            for (int k = 0; k < n && !matched; k++) {
                size_t kl = strlen(keys[k]);
                if (!strncmp(p + 1, keys[k], kl) && p[1 + kl] == '}') {
                    size_t vl = strlen(values[k]);
                    if (len + vl + 1 > cap) out = realloc(out, cap = 2 * (len + vl + 1));
                    mgCheck(out != NULL, "out of memory rendering a template");
                    memcpy(out + len, values[k], vl);
                    len += vl;
                    p += kl + 2;
                    matched = 1;
                }
            }
        }
        if (matched) continue;
        if (len + 2 > cap) out = realloc(out, cap *= 2);
        mgCheck(out != NULL, "out of memory rendering a template");
        out[len++] = *p++;
    }
    out[len] = '\0';
    return out;
}

static char *copy_bytes(const char *s, size_t n) {
    char *d = mallocCheck(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int text_split_words(const char *cmd, char ***out, mg_err *e) {
    *out = NULL;
    size_t n = strlen(cmd);
    char **argv = callocCheck(n / 2 + 2, sizeof(char *));  // words are separated, so at most (n + 1) / 2
    char *buf = mallocCheck(n + 1);
    int argc = 0;
    const char *p = cmd;
    while (*p) {
        while (is_blank(*p)) p++;
        if (!*p) break;
        size_t len = 0;
        char quote = 0;
        for (; *p && (quote || !is_blank(*p)); p++) {
            if (!quote && (*p == '"' || *p == '\'')) quote = *p;
            else if (quote && *p == quote) quote = 0;
            else buf[len++] = *p;
        }
        if (quote) {  // a typo that would otherwise run something else than what was meant
            free(buf);
            text_free_words(argv);
            return mg_fail(e, "unbalanced %c quote in '%s'", quote, cmd);
        }
        argv[argc++] = copy_bytes(buf, len);
    }
    free(buf);
    if (argc == 0) {
        text_free_words(argv);
        return mg_fail(e, "the command is empty");
    }
    *out = argv;
    return 0;
}

void text_free_words(char **argv) {
    for (int i = 0; argv && argv[i]; i++) free(argv[i]);
    free(argv);
}
