// Candidates pulled out of completions by a PCRE2 pattern and written by a PCRE2 replacement (tasks/candidate_pattern.h).
#include "tasks/candidate_pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

// A pattern written by a user runs on every completion: a catastrophic backtrack must end as "no candidate",
// not as a search that hangs (the tokenizer uses the same bound).
#define MATCH_LIMIT 10000000

struct candidate_pattern {
    pcre2_code *re;
    pcre2_match_context *limits;
    char *format;
};

static const uint32_t k_substitute = PCRE2_SUBSTITUTE_REPLACEMENT_ONLY | PCRE2_SUBSTITUTE_EXTENDED |
                                     PCRE2_SUBSTITUTE_UNSET_EMPTY | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH;

static pcre2_code *compile(const char *pattern, mg_err *e) {
    int code;
    PCRE2_SIZE offset;
    // MATCH_INVALID_UTF: a sampled completion may end inside a multi-byte character; that part cannot match,
    // the rest still can.
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C, &code,
                                   &offset, NULL);
    if (!re && e) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        mg_fail(e, "at character %zu: %s", (size_t)offset + 1, (const char *)msg);
    }
    return re;
}

// A replacement's mistakes (an unknown group, a bad escape) show only when it is used, and a pattern need not
// match anything we could offer it. So the format is tried once on "" with the pattern made to match there: the
// same groups, each unset, behind an alternative that matches the empty string. Patterns that cannot be wrapped
// (a leading (*VERB)) go unchecked and fail later as "no candidate".
static int check_format(const char *pattern, const char *format, uint32_t groups, mg_err *e) {
    size_t n = strlen(pattern);
    char *wrapped = mallocCheck(n + 8);
    memcpy(wrapped, "(?:", 3);
    memcpy(wrapped + 3, pattern, n);
    memcpy(wrapped + 3 + n, "\n)|", 4);  // the newline ends a (?x) comment before our ")"
    pcre2_code *re = compile(wrapped, NULL);
    free(wrapped);
    if (!re) return 0;
    PCRE2_UCHAR out[8];
    PCRE2_SIZE len = sizeof out;
    int rc = pcre2_substitute(re, (PCRE2_SPTR) "", 0, 0, k_substitute, NULL, NULL, (PCRE2_SPTR)format,
                              PCRE2_ZERO_TERMINATED, out, &len);
    pcre2_code_free(re);
    if (rc >= 0 || rc == PCRE2_ERROR_NOMEMORY) return 0;  // too long for `out` is no error of the format's
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return mg_fail(e, "'%s': %s (the pattern has %u capture group%s)", format, (const char *)msg, groups,
                   groups == 1 ? "" : "s");
}

int candidate_pattern_compile(candidate_pattern **out, const char *pattern, const char *format, mg_err *e) {
    *out = NULL;
    pcre2_code *re = compile(pattern, e);
    if (!re) return -1;
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    const char *fmt = format && format[0] ? format : groups ? "$1" : "$0";
    if (check_format(pattern, fmt, groups, e)) {
        pcre2_code_free(re);
        return -2;
    }
    candidate_pattern *p = callocCheck(1, sizeof *p);
    p->re = re;
    p->limits = pcre2_match_context_create(NULL);
    if (!p->limits) {
        candidate_pattern_free(p);
        return mg_fail(e, "out of memory");
    }
    pcre2_set_match_limit(p->limits, MATCH_LIMIT);
    p->format = mallocCheck(strlen(fmt) + 1);
    strcpy(p->format, fmt);
    *out = p;
    return 0;
}

char *candidate_pattern_apply(const candidate_pattern *p, const char *completion) {
    if (!completion) return NULL;
    size_t n = strlen(completion);
    PCRE2_SIZE cap = n + 64;  // most answers are a part of the completion; a longer one is measured and redone
    for (int attempt = 0; attempt < 2; attempt++) {
        char *buf = mallocCheck(cap);
        PCRE2_SIZE len = cap;
        int rc = pcre2_substitute(p->re, (PCRE2_SPTR)completion, n, 0, k_substitute, NULL, p->limits,
                                  (PCRE2_SPTR)p->format, PCRE2_ZERO_TERMINATED, (PCRE2_UCHAR *)buf, &len);
        if (rc == 1) return buf;
        free(buf);
        if (rc != PCRE2_ERROR_NOMEMORY) return NULL;  // 0: no match; else a limit or an error of the match
        cap = len;  // OVERFLOW_LENGTH: the length it needs, its terminating zero included
    }
    return NULL;
}

void candidate_pattern_free(candidate_pattern *p) {
    if (!p) return;
    pcre2_code_free(p->re);
    pcre2_match_context_free(p->limits);
    free(p->format);
    free(p);
}
