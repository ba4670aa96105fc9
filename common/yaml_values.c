// The schema engine's values: parsing one scalar into a key's type (integers, floats, booleans, names, module
// lists, strings) with its range check, and the one-line messages that name the file, line and key, with a
// suggestion for a misspelt key. The YAML walk that calls these is in yaml_schema.c.
#include "common/yaml_schema_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistr.h>

int ys_find_key(const yaml_schema *s, const char *path) {
    for (int i = 0; i < s->n_keys; i++)
        if (strcmp(s->keys[i].key, path) == 0) return i;
    return -1;
}

static const char *last_part(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

// ---- messages ----

// Text from the input shown in a message: at most `cap - 4` bytes (cut on a UTF-8 boundary), then "...";
// control characters (NUL included) become '?'.
static const char *shown(char *out, size_t cap, const char *s, size_t len) {
    size_t n = len < cap - 4 ? len : cap - 4;
    if (n < len)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    for (size_t i = 0; i < n; i++) out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    strcpy(out + n, n < len ? "..." : "");
    return out;
}

// "FILE:LINE: msg" or "--set k=v: msg", one line whatever the input held.
int ys_vfail_at(const ys_where *w, mg_err *e, const char *fmt, va_list ap) {
    if (!e) return -1;
    char ov[96];
    if (w->set)
        snprintf(e->msg, sizeof e->msg, "--set %s: ", shown(ov, sizeof ov, w->set, strlen(w->set)));
    else if (w->line > 0)
        snprintf(e->msg, sizeof e->msg, "%s:%ld: ", w->file, w->line);
    else
        snprintf(e->msg, sizeof e->msg, "%s: ", w->file);
    size_t n = strlen(e->msg);
    vsnprintf(e->msg + n, sizeof e->msg - n, fmt, ap);
    mg_err_one_line(e);
    return -1;
}

int ys_fail_at(const ys_where *w, mg_err *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ys_vfail_at(w, e, fmt, ap);
    va_end(ap);
    return -1;
}

// A bad value: "key 'K' must be ..., got 'V'" from a file; just "must be ..." after "--set K=V: ".
static int bad_value(const ys_where *w, const ys_key *k, const char *text, size_t len, int quote, mg_err *e,
                     const char *what) {
    if (w->set) return ys_fail_at(w, e, "%s", what);
    char got[72];
    if (len == 0) return ys_fail_at(w, e, "key '%s' %s, got an empty value", k->key, what);
    const char *q = quote ? "'" : "";
    return ys_fail_at(w, e, "key '%s' %s, got %s%s%s", k->key, what, q, shown(got, sizeof got, text, len), q);
}

static void names_list(char *out, size_t cap, const char *const *names) {
    out[0] = 0;
    for (int i = 0; names[i]; i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", i ? ", " : "", names[i]);
    }
}

// "[1, 4096]", "(0, 1]": integers without a fraction, floats as %g.
static void range_text(char *out, size_t cap, const ys_key *k) {
    const char *fmt = k->type == YS_INT ? "%s%.0f, %.0f%s" : "%s%g, %g%s";
    snprintf(out, cap, fmt, k->flags & YS_OPEN_MIN ? "(" : "[", k->min, k->max, k->flags & YS_OPEN_MAX ? ")" : "]");
}

static int in_range(const ys_key *k, double v) {
    if (k->flags & YS_NO_RANGE) return 1;
    int lo = k->flags & YS_OPEN_MIN ? v > k->min : v >= k->min;
    int hi = k->flags & YS_OPEN_MAX ? v < k->max : v <= k->max;
    return lo && hi;
}

static int out_of_range(const ys_where *w, const ys_key *k, const char *text, size_t len, mg_err *e) {
    char r[96], what[128];
    range_text(r, sizeof r, k);
    snprintf(what, sizeof what, "must be in %s", r);
    return bad_value(w, k, text, len, 0, e, what);
}

// ---- scalars ----

int ys_is_null(const char *s, size_t len) {  // YAML's null spellings (plain scalars only)
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

// Copies a scalar for strtoX: numbers are short, so anything long (or holding a NUL) is not one.
static int number_text(char *buf, size_t cap, const char *s, size_t len) {
    if (len == 0 || len >= cap || memchr(s, 0, len)) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    return 0;
}

// [-+]?digits. 1: an integer; 0: not one. *overflow set when it does not fit in long long / uint64_t.
static int parse_int(const char *s, size_t len, int is_unsigned, long long *v, uint64_t *u, int *overflow) {
    char buf[96];
    if (number_text(buf, sizeof buf, s, len)) return 0;
    const char *p = buf + (buf[0] == '+' || buf[0] == '-');
    if (!*p) return 0;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return 0;
    errno = 0;
    *overflow = 0;
    if (is_unsigned) {
        if (buf[0] == '-') {
            *overflow = strspn(p, "0") != strlen(p);  // "-0" is zero; any other negative is out of range
            *u = 0;
            return 1;
        }
        *u = strtoull(buf, NULL, 10);
    } else {
        *v = strtoll(buf, NULL, 10);
    }
    if (errno == ERANGE) *overflow = 1;
    return 1;
}

// YAML 1.2 core floats ([-+]?(.5|5|5.|5.5)([eE][-+]?5)?, [-+]?.inf, .nan) plus the spellings inf / nan.
static int parse_float(const char *s, size_t len, double *v) {
    char buf[256];
    if (number_text(buf, sizeof buf, s, len)) return 0;
    const char *p = buf + (buf[0] == '+' || buf[0] == '-');
    const char *word = p + (*p == '.');
    if (!strcasecmp(word, "inf") || !strcasecmp(word, "infinity")) {
        *v = buf[0] == '-' ? -INFINITY : INFINITY;
        return 1;
    }
    if (!strcasecmp(word, "nan")) {
        *v = NAN;
        return 1;
    }
    int digits = 0;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++, digits++;
    }
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += *p == '+' || *p == '-';
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p) return 0;
    *v = strtod(buf, NULL);  // overflow gives +-inf, which the range check then rejects
    return 1;
}

static int match_name(const char *const *names, const char *s, size_t len) {
    for (int i = 0; names[i]; i++) {
        if (strlen(names[i]) != len) continue;
        size_t j = 0;
        while (j < len && (names[i][j] == s[j] || (names[i][j] == '-' && s[j] == '_') ||
                           (names[i][j] == '_' && s[j] == '-')))
            j++;
        if (j == len) return i;
    }
    return -1;
}

// A YS_LIST item: a module name as PEFT matches them (q_proj, model.layers.0.mlp.up_proj), or PEFT's shorthand
// "all-linear".
static int module_name_ok(const char *s, size_t len) {
    if (len == 10 && !strncmp(s, "all-linear", 10)) return 1;
    if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.')) return 0;
    return 1;
}

// Appends one list item (spaces around it trimmed) to the comma-joined buf.
int ys_list_append(char *buf, size_t cap, const ys_key *k, const char *s, size_t len, const ys_where *w,
                       mg_err *e) {
    while (len > 0 && (s[0] == ' ' || s[0] == '\t')) s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (!module_name_ok(s, len))
        return bad_value(w, k, s, len, 1, e, "must be a list of module names (letters, digits, '_', '.')");
    size_t n = strlen(buf);
    if (n + (n > 0) + len >= cap) {
        char what[96];
        snprintf(what, sizeof what, "is too long (at most %zu bytes joined by commas)", cap - 1);
        return bad_value(w, k, s, len, 1, e, what);
    }
    if (n > 0) buf[n++] = ',';
    memcpy(buf + n, s, len);
    buf[n + len] = 0;
    return 0;
}

// A comma string ("q_proj, v_proj"), optionally in [ ] as a --set value may be.
static int list_from_text(char *buf, size_t cap, const ys_key *k, const char *s, size_t len, int plain,
                          const ys_where *w, mg_err *e) {
    if (plain && ys_is_null(s, len)) return 0;
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') s++, len -= 2;
    while (len > 0) {
        const char *comma = memchr(s, ',', len);
        size_t n = comma ? (size_t)(comma - s) : len;
        if (ys_list_append(buf, cap, k, s, n, w, e)) return -1;
        if (!comma) break;
        s += n + 1, len -= n + 1;
        if (len == 0) return ys_list_append(buf, cap, k, s, 0, w, e);  // trailing comma: an empty name
    }
    return 0;
}

int ys_list_store(void *c, const ys_key *k, const char *buf, const char *text, size_t len,
                      const ys_where *w, mg_err *e) {
    if (!buf[0]) return bad_value(w, k, text, len, 1, e, "must name at least one module");
    char *dst = (char *)c + k->offset;
    memset(dst, 0, k->size);
    memcpy(dst, buf, strlen(buf));
    return 0;
}

// Sets key k from one scalar. plain: the YAML plain style, where "~" / "null" / nothing mean null.
int ys_set_value(void *c, const ys_key *k, const char *s, size_t len, int plain, const ys_where *w,
                     mg_err *e) {
    char *dst = (char *)c + k->offset;
    switch (k->type) {
    case YS_INT: {
        long long v = 0;
        uint64_t u = 0;
        int overflow = 0;
        if (!parse_int(s, len, 0, &v, &u, &overflow)) return bad_value(w, k, s, len, 1, e, "must be an integer");
        if (overflow || !in_range(k, (double)v)) return out_of_range(w, k, s, len, e);
        *(int *)dst = (int)v;
        return 0;
    }
    case YS_U64: {
        long long v = 0;
        uint64_t u = 0;
        int overflow = 0;
        if (!parse_int(s, len, 1, &v, &u, &overflow)) return bad_value(w, k, s, len, 1, e, "must be an integer");
        if (overflow) return bad_value(w, k, s, len, 0, e, "must be in [0, 18446744073709551615]");
        memcpy(dst, &u, sizeof u);
        return 0;
    }
    case YS_FLOAT:
    case YS_DOUBLE: {
        double v = 0;
        if (!parse_float(s, len, &v)) return bad_value(w, k, s, len, 1, e, "must be a number");
        if (isnan(v)) return bad_value(w, k, s, len, 1, e, "must be a number, not NaN");
        // A float key is checked as stored: 1e-60 becomes 0 and 0.99999999999 becomes 1.
        if (k->type == YS_FLOAT) v = (float)v;
        if (!in_range(k, v)) return out_of_range(w, k, s, len, e);
        if (k->type == YS_FLOAT) {
            float f = (float)v;
            memcpy(dst, &f, sizeof f);
        } else {
            memcpy(dst, &v, sizeof v);
        }
        return 0;
    }
    case YS_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", NULL}, *const no[] = {"false", "no", "off", NULL};
        int v = -1;
        for (int i = 0; yes[i] && v < 0; i++) {
            if (strlen(yes[i]) == len && !strncasecmp(s, yes[i], len)) v = 1;
            if (strlen(no[i]) == len && !strncasecmp(s, no[i], len)) v = 0;
        }
        if (v < 0) return bad_value(w, k, s, len, 1, e, "must be true or false");
        *(int *)dst = v;
        return 0;
    }
    case YS_ENUM:
    case YS_CHOICE: {
        int i = match_name(k->names, s, len);
        if (i < 0) {
            char list[160], what[200];
            names_list(list, sizeof list, k->names);
            snprintf(what, sizeof what, "must be one of %s", list);
            return bad_value(w, k, s, len, 1, e, what);
        }
        if (k->type == YS_ENUM) {
            *(int *)dst = i;
        } else {
            memset(dst, 0, k->size);
            memcpy(dst, k->names[i], strlen(k->names[i]));
        }
        return 0;
    }
    case YS_STR:
    case YS_NODE: {
        if (plain && ys_is_null(s, len)) len = 0;
        if (memchr(s, 0, len)) return bad_value(w, k, s, len, 1, e, "must not contain a NUL character");
        if (u8_check((const uint8_t *)s, len)) return bad_value(w, k, s, len, 1, e, "must be valid UTF-8");
        if (len >= k->size) {
            char what[96];
            snprintf(what, sizeof what, "is too long (%zu bytes, at most %zu)", len, k->size - 1);
            return bad_value(w, k, s, len, 1, e, what);
        }
        if (len == 0 && (k->flags & (YS_NONEMPTY | YS_REQUIRED)))
            return bad_value(w, k, s, len, 1, e, "must not be empty");
        memset(dst, 0, k->size);
        memcpy(dst, s, len);
        return 0;
    }
    case YS_LIST: {
        char buf[1024] = {0};
        mgCheck(k->size <= sizeof buf, "a list key is longer than list_from_text's buffer");
        if (list_from_text(buf, k->size, k, s, len, plain, w, e)) return -1;
        return ys_list_store(c, k, buf, s, len, w, e);
    }
    case YS_GROUP:
        break;
    }
    return ys_fail_at(w, e, "key '%s' is a group of keys, not a value", k->key);
}

// ---- unknown keys: the closest known key, when one is close ----

static int edit_distance(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na > 96 || nb > 96) return 1000;
    int row[97];
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ||
                       (strchr("-_", a[i - 1]) && strchr("-_", b[j - 1]));
            int best = diag + !same;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

// "lr" for "learning_rate", "mcl" for "max_completion_length".
static int initials_match(const char *word, const char *name) {
    char ini[32];
    size_t n = 0;
    for (const char *p = name; *p && n < sizeof ini - 1; p++)
        if (p == name || p[-1] == '_') ini[n++] = *p;
    ini[n] = 0;
    return n >= 2 && !strcasecmp(ini, word);
}

static const char *suggest(const yaml_schema *s, const char *path) {
    const char *last = last_part(path);
    size_t group_len = (size_t)(last - path);  // "training." or ""
    for (int i = 0; i < s->n_hints; i++) {
        const ys_hint *h = &s->hints[i];
        if (!strcmp(h->from, path) || (!strchr(h->from, '.') && !strcmp(h->from, last))) return h->to;
    }
    // The right name in the wrong group ("temperature" at the top level).
    for (int i = 0; i < s->n_keys; i++)
        if (!strcmp(last_part(s->keys[i].key), last)) return s->keys[i].key;
    // A typo anywhere in the path.
    int best = -1, best_d = 1000, len = (int)strlen(path);
    for (int i = 0; i < s->n_keys; i++) {
        int d = edit_distance(path, s->keys[i].key);
        if (d < best_d) best = i, best_d = d;
    }
    int limit = len / 4 > 2 ? len / 4 : 2;
    if (best >= 0 && best_d <= limit && best_d < len) return s->keys[best].key;
    // Within the same group: initials, a part of the name, or a typo in the last part.
    best = -1, best_d = 1000;
    size_t last_len = strlen(last);
    for (int i = 0; i < s->n_keys; i++) {
        const char *key = s->keys[i].key, *kl = last_part(key);
        if (group_len && ((size_t)(kl - key) != group_len || strncmp(key, path, group_len))) continue;
        int d = edit_distance(last, kl);
        if (initials_match(last, kl) || (last_len >= 3 && strstr(kl, last)) || (strlen(kl) >= 3 && strstr(last, kl)))
            d = 0;
        int lim = (int)last_len / 3 > 1 ? (int)last_len / 3 : 1;
        if (d <= lim && d < (int)last_len && d < best_d) best = i, best_d = d;
    }
    return best >= 0 ? s->keys[best].key : NULL;
}

int ys_unknown_key(const yaml_schema *s, const ys_where *w, const char *key, size_t len, mg_err *e) {
    char shown_key[96], path[200];
    shown(shown_key, sizeof shown_key, key, len);
    const char *hint = NULL;
    if (len < sizeof path && !memchr(key, 0, len)) {
        memcpy(path, key, len);
        path[len] = 0;
        hint = suggest(s, path);
    }
    if (hint) return ys_fail_at(w, e, "unknown key '%s' (did you mean '%s'?)", shown_key, hint);
    return ys_fail_at(w, e, "unknown key '%s' (%s lists the keys)", shown_key, s->docs);
}

