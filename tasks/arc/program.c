// Programs out of completions (the last ```python block, else the last plain one) and their dedup key (comments,
// trailing blanks and blank lines removed, string literals untouched).
#include "tasks/arc/program.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"

// s with "\r\n" and "\r" made "\n". malloc'd.
static char *unix_lines(const char *s) {
    char *out = mallocCheck(strlen(s) + 1), *o = out;
    for (; *s; s++) {
        if (*s == '\r') {
            *o++ = '\n';
            if (s[1] == '\n') s++;
        } else
            *o++ = *s;
    }
    *o = 0;
    return out;
}

static const char *skip_blanks(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    return p;
}

char *arc_extract_program(const char *completion) {
    char *text = unix_lines(completion);
    // [start, end) of the body of the last python block and of the last plain block.
    const char *py_start = NULL, *py_end = NULL, *plain_start = NULL, *plain_end = NULL;
    const char *open_body = NULL;  // body start of the block being read, NULL outside blocks
    int open_kind = 0;             // 1 python, 2 plain, 0 other language
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        const char *next = eol ? eol + 1 : line + strlen(line);
        if (!eol) eol = next;
        const char *p = skip_blanks(line, eol);
        int fence = eol - p >= 3 && !strncmp(p, "```", 3);
        if (fence && !open_body) {
            const char *info = skip_blanks(p + 3, eol), *info_end = eol;
            while (info_end > info && (info_end[-1] == ' ' || info_end[-1] == '\t')) info_end--;
            size_t n = (size_t)(info_end - info);
            open_kind = n == 6 && !strncasecmp(info, "python", 6) ? 1 : n == 0 ? 2 : 0;
            open_body = next;
        } else if (fence && skip_blanks(p + 3, eol) == eol) {
            if (open_kind == 1) py_start = open_body, py_end = line;
            if (open_kind == 2) plain_start = open_body, plain_end = line;
            open_body = NULL;
        }
        line = next;
    }
    const char *start = py_start ? py_start : plain_start, *end = py_start ? py_end : plain_end;
    char *out = NULL;
    if (start) {
        out = mallocCheck((size_t)(end - start) + 1);
        memcpy(out, start, (size_t)(end - start));
        out[end - start] = 0;
    }
    free(text);
    return out;
}

// Appends the finished line out[line_start, *len) if it holds more than blanks, without its trailing blanks.
static void end_line(char *out, size_t *len, size_t line_start) {
    while (*len > line_start && (out[*len - 1] == ' ' || out[*len - 1] == '\t')) (*len)--;
    if (*len > line_start) out[(*len)++] = '\n';
}

char *arc_program_key(const char *program) {
    char *text = unix_lines(program);
    char *out = mallocCheck(strlen(text) + 2);
    size_t len = 0, line_start = 0;
    char quote = 0;  // the open string's quote character, 0 outside strings
    int triple = 0;  // the open string is triple-quoted
    for (const char *p = text; *p; p++) {
        if (!quote) {
            if (*p == '#') {
                while (p[1] && p[1] != '\n') p++;
                continue;
            }
            if (*p == '\n') {
                end_line(out, &len, line_start);
                line_start = len;
                continue;
            }
            if (*p == '\'' || *p == '"') {
                quote = *p;
                triple = p[1] == quote && p[2] == quote;
                out[len++] = *p;
                if (triple) out[len++] = *++p, out[len++] = *++p;
                continue;
            }
            out[len++] = *p;
            continue;
        }
        // Inside a string literal: copied as it is.
        out[len++] = *p;
        if (*p == '\\' && p[1]) {
            out[len++] = *++p;
        } else if (*p == quote && (!triple || (p[1] == quote && p[2] == quote))) {
            if (triple) out[len++] = *++p, out[len++] = *++p;
            quote = 0;
        } else if (*p == '\n' && !triple) {
            quote = 0;  // an unterminated one-line string (a syntax error): the line ends it
            len--;
            end_line(out, &len, line_start);
            line_start = len;
        }
    }
    end_line(out, &len, line_start);
    out[len] = 0;
    free(text);
    return out;
}
