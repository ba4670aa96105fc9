// The schema engine behind every YAML configuration (coordinator/config.c, workers/pretrain_config.c): the
// config's table of keys drives defaults, the loader, --set overrides, range checks, suggestions and the dump.
// YAML is read with libyaml's event parser: a config is a two-level mapping, so a small recursive walk over events
// is all we need, and every error can point at the line of the key that caused it.
#include "common/yaml_schema.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistr.h>
#include <yaml.h>

static int find_key(const yaml_schema *s, const char *path) {
    for (int i = 0; i < s->n_keys; i++)
        if (strcmp(s->keys[i].key, path) == 0) return i;
    return -1;
}

static const char *last_part(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

// ---- messages ----

// Where a value came from: a file line, or a --set argument.
typedef struct {
    const char *file;
    long line;        // 1-based; 0 = no line (cross-field checks of defaults)
    const char *set;  // the "key=value" override, or NULL
} where;

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
static int vfail_at(const where *w, mg_err *e, const char *fmt, va_list ap) {
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

__attribute__((format(printf, 3, 4))) static int fail_at(const where *w, mg_err *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail_at(w, e, fmt, ap);
    va_end(ap);
    return -1;
}

// A bad value: "key 'K' must be ..., got 'V'" from a file; just "must be ..." after "--set K=V: ".
static int bad_value(const where *w, const ys_key *k, const char *text, size_t len, int quote, mg_err *e,
                     const char *what) {
    if (w->set) return fail_at(w, e, "%s", what);
    char got[72];
    if (len == 0) return fail_at(w, e, "key '%s' %s, got an empty value", k->key, what);
    const char *q = quote ? "'" : "";
    return fail_at(w, e, "key '%s' %s, got %s%s%s", k->key, what, q, shown(got, sizeof got, text, len), q);
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

static int out_of_range(const where *w, const ys_key *k, const char *text, size_t len, mg_err *e) {
    char r[96], what[128];
    range_text(r, sizeof r, k);
    snprintf(what, sizeof what, "must be in %s", r);
    return bad_value(w, k, text, len, 0, e, what);
}

// ---- scalars ----

static int is_null(const char *s, size_t len) {  // YAML's null spellings (plain scalars only)
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
static int list_append(char *buf, size_t cap, const ys_key *k, const char *s, size_t len, const where *w,
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
                          const where *w, mg_err *e) {
    if (plain && is_null(s, len)) return 0;
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') s++, len -= 2;
    while (len > 0) {
        const char *comma = memchr(s, ',', len);
        size_t n = comma ? (size_t)(comma - s) : len;
        if (list_append(buf, cap, k, s, n, w, e)) return -1;
        if (!comma) break;
        s += n + 1, len -= n + 1;
        if (len == 0) return list_append(buf, cap, k, s, 0, w, e);  // trailing comma: an empty name
    }
    return 0;
}

static int list_store(void *c, const ys_key *k, const char *buf, const char *text, size_t len,
                      const where *w, mg_err *e) {
    if (!buf[0]) return bad_value(w, k, text, len, 1, e, "must name at least one module");
    char *dst = (char *)c + k->offset;
    memset(dst, 0, k->size);
    memcpy(dst, buf, strlen(buf));
    return 0;
}

// Sets key k from one scalar. plain: the YAML plain style, where "~" / "null" / nothing mean null.
static int set_value(void *c, const ys_key *k, const char *s, size_t len, int plain, const where *w,
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
        if (plain && is_null(s, len)) len = 0;
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
        return list_store(c, k, buf, s, len, w, e);
    }
    case YS_GROUP:
        break;
    }
    return fail_at(w, e, "key '%s' is a group of keys, not a value", k->key);
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

static int unknown_key(const yaml_schema *s, const where *w, const char *key, size_t len, mg_err *e) {
    char shown_key[96], path[200];
    shown(shown_key, sizeof shown_key, key, len);
    const char *hint = NULL;
    if (len < sizeof path && !memchr(key, 0, len)) {
        memcpy(path, key, len);
        path[len] = 0;
        hint = suggest(s, path);
    }
    if (hint) return fail_at(w, e, "unknown key '%s' (did you mean '%s'?)", shown_key, hint);
    return fail_at(w, e, "unknown key '%s' (%s lists the keys)", shown_key, s->docs);
}

// ---- the YAML walk ----

typedef struct {
    yaml_parser_t parser;
    const yaml_schema *s;
    const char *name, *text;
    size_t len;
    void *c;
    long *seen;  // [s->n_keys] line where the file set each key (and group); 0 = not yet
    mg_err *e;
} loader;

static const char *node_kind(const yaml_event_t *ev) {
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_START_EVENT: return "a list";
    case YAML_ALIAS_EVENT: return "an alias";
    default: return "a scalar";
    }
}

static long line_of(const yaml_event_t *ev) { return (long)ev->start_mark.line + 1; }

// The next event; a syntax error becomes "FILE:LINE: YAML syntax error: problem (context)".
static int next_event(loader *L, yaml_event_t *ev) {
    if (yaml_parser_parse(&L->parser, ev)) return 0;
    yaml_parser_t *p = &L->parser;
    long line = (long)p->problem_mark.line + 1;
    if (p->error == YAML_READER_ERROR) {  // the reader reports a byte offset, not a mark
        line = 1;
        for (size_t i = 0; i < p->problem_offset && i < L->len; i++) line += L->text[i] == '\n';
    }
    where w = {L->name, line, NULL};
    if (p->error == YAML_MEMORY_ERROR) return fail_at(&w, L->e, "out of memory while parsing YAML");
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->context)
        return fail_at(&w, L->e, "YAML syntax error: %s (%s on line %ld)", problem, p->context,
                       (long)p->context_mark.line + 1);
    return fail_at(&w, L->e, "YAML syntax error: %s", problem);
}

static int parse_mapping(loader *L, const char *prefix);

// The byte offset of a libyaml mark (0-based line, column in characters) in the text; lines end at '\n'.
static size_t byte_at(const loader *L, size_t line, size_t column) {
    size_t i = 0;
    for (size_t l = 0; l < line && i < L->len; i++) l += L->text[i] == '\n';
    for (size_t c = 0; c < column && i < L->len && L->text[i] != '\n'; c++)
        do i++;
        while (i < L->len && ((unsigned char)L->text[i] & 0xC0) == 0x80);
    return i;
}

// A YS_NODE's mapping or list (ev is its start event): the source from the node's start to its end, behind as many
// newlines as lines lie between the key and the node and the node's first column in spaces, so that the text
// parses alone with the file's indentation and its line N is the file's line key_line + N - 1.
static int parse_node(loader *L, const ys_key *k, long key_line, yaml_event_t *ev) {
    where w = {L->name, key_line, NULL};
    yaml_mark_t start = ev->start_mark, end = ev->end_mark;
    yaml_event_delete(ev);
    for (int depth = 1; depth > 0;) {
        yaml_event_t x;
        if (next_event(L, &x)) return -1;
        int alias = x.type == YAML_ALIAS_EVENT;
        depth += (x.type == YAML_MAPPING_START_EVENT || x.type == YAML_SEQUENCE_START_EVENT) -
                 (x.type == YAML_MAPPING_END_EVENT || x.type == YAML_SEQUENCE_END_EVENT);
        end = x.end_mark;
        yaml_event_delete(&x);
        if (alias) return fail_at(&w, L->e, "key '%s': YAML aliases (*name) are not supported", k->key);
    }
    size_t from = byte_at(L, start.line, start.column), to = byte_at(L, end.line, end.column);
    while (to > from && isspace((unsigned char)L->text[to - 1])) to--;
    size_t pad = (long)start.line + 1 > key_line ? (size_t)((long)start.line + 1 - key_line) : 0;
    size_t n = pad + start.column + (to - from);
    if (n >= k->size)
        return fail_at(&w, L->e, "key '%s' is too long (%zu bytes, at most %zu)", k->key, n, k->size - 1);
    char *dst = (char *)L->c + k->offset;
    memset(dst, 0, k->size);
    memset(dst, '\n', pad);
    memset(dst + pad, ' ', start.column);
    memcpy(dst + pad + start.column, L->text + from, to - from);
    return 0;
}

// The value of leaf key k (set on key_line), whose first event is ev (consumed here). Messages point at the key's
// line, except for a bad item of a block list, which has its own.
static int parse_leaf(loader *L, const ys_key *k, long key_line, yaml_event_t *ev) {
    where w = {L->name, key_line, NULL};
    if (k->type == YS_NODE && (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT))
        return parse_node(L, k, key_line, ev);
    if (ev->type == YAML_SCALAR_EVENT) {
        int rc = set_value(L->c, k, (const char *)ev->data.scalar.value, ev->data.scalar.length,
                           ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, &w, L->e);
        yaml_event_delete(ev);
        return rc;
    }
    if (ev->type == YAML_SEQUENCE_START_EVENT && k->type == YS_LIST) {
        yaml_event_delete(ev);
        char buf[1024] = {0};
        mgCheck(k->size <= sizeof buf, "a list key is longer than parse_leaf's buffer");
        for (;;) {
            yaml_event_t item;
            if (next_event(L, &item)) return -1;
            if (item.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&item);
                return list_store(L->c, k, buf, "[]", 2, &w, L->e);
            }
            where iw = {L->name, line_of(&item), NULL};
            int rc = item.type == YAML_SCALAR_EVENT
                         ? list_append(buf, k->size, k, (const char *)item.data.scalar.value,
                                       item.data.scalar.length, &iw, L->e)
                         : fail_at(&iw, L->e, "key '%s' must be a list of names, got %s inside it", k->key,
                                   node_kind(&item));
            yaml_event_delete(&item);
            if (rc) return -1;
        }
    }
    const char *kind = node_kind(ev);
    int alias = ev->type == YAML_ALIAS_EVENT;
    yaml_event_delete(ev);
    if (alias) return fail_at(&w, L->e, "key '%s': YAML aliases (*name) are not supported", k->key);
    static const char *const what[] = {
        [YS_INT] = "an integer", [YS_U64] = "an integer", [YS_FLOAT] = "a number", [YS_DOUBLE] = "a number",
        [YS_BOOL] = "true or false", [YS_STR] = "a string", [YS_ENUM] = "a name", [YS_CHOICE] = "a name",
        [YS_LIST] = "a list of names", [YS_NODE] = "a YAML value", [YS_GROUP] = "a mapping"};
    return fail_at(&w, L->e, "key '%s' must be %s, got %s", k->key, what[k->type], kind);
}

// A group's value: a nested mapping, or nothing ("training:" alone).
static int parse_group(loader *L, const ys_key *k, long key_line, yaml_event_t *ev) {
    where w = {L->name, key_line, NULL};
    if (ev->type == YAML_MAPPING_START_EVENT) {
        yaml_event_delete(ev);
        return parse_mapping(L, k->key);
    }
    int empty = ev->type == YAML_SCALAR_EVENT && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                is_null((const char *)ev->data.scalar.value, ev->data.scalar.length);
    const char *kind = node_kind(ev);
    yaml_event_delete(ev);
    if (empty) return 0;
    return fail_at(&w, L->e, "key '%s' must be a mapping of keys (indented 'key: value' lines), got %s", k->key,
                   kind);
}

// Key/value pairs until MAPPING_END; prefix "" is the top level, else the group's name.
static int parse_mapping(loader *L, const char *prefix) {
    for (;;) {
        yaml_event_t ev;
        if (next_event(L, &ev)) return -1;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        where w = {L->name, line_of(&ev), NULL};
        if (ev.type != YAML_SCALAR_EVENT) {
            const char *kind = node_kind(&ev);
            yaml_event_delete(&ev);
            return fail_at(&w, L->e, "keys must be plain names, got %s%s%s", kind, *prefix ? " in " : "", prefix);
        }
        char path[200];
        size_t plen = strlen(prefix), klen = ev.data.scalar.length;
        const char *key = (const char *)ev.data.scalar.value;
        int idx = -1;
        if (plen + 1 + klen < sizeof path && !memchr(key, 0, klen)) {
            snprintf(path, sizeof path, "%s%s%.*s", prefix, plen ? "." : "", (int)klen, key);
            idx = find_key(L->s, path);
        } else {
            snprintf(path, sizeof path, "%s%s%.*s", prefix, plen ? "." : "", (int)(klen < 120 ? klen : 120), key);
        }
        yaml_event_delete(&ev);
        if (idx < 0) return unknown_key(L->s, &w, path, strlen(path), L->e);
        if (L->seen[idx])
            return fail_at(&w, L->e, "duplicate key '%s' (first set on line %ld)", path, L->seen[idx]);
        L->seen[idx] = w.line;
        yaml_event_t val;
        if (next_event(L, &val)) return -1;
        const ys_key *k = &L->s->keys[idx];
        if ((k->type == YS_GROUP ? parse_group(L, k, w.line, &val) : parse_leaf(L, k, w.line, &val))) return -1;
    }
}

// stream-start, at most one document holding a mapping (or nothing), stream-end.
static int parse_stream(loader *L) {
    yaml_event_t ev;
    int docs = 0;
    for (;;) {
        if (next_event(L, &ev)) return -1;
        yaml_event_type_t type = ev.type;
        where w = {L->name, line_of(&ev), NULL};
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (type != YAML_DOCUMENT_START_EVENT) {  // stream-start, document-end
            yaml_event_delete(&ev);
            continue;
        }
        yaml_event_delete(&ev);
        if (docs++) return fail_at(&w, L->e, "a second YAML document ('---'); a %s is one mapping", L->s->what);
        if (next_event(L, &ev)) return -1;
        w.line = line_of(&ev);
        if (ev.type == YAML_MAPPING_START_EVENT) {
            yaml_event_delete(&ev);
            if (parse_mapping(L, "")) return -1;
            continue;
        }
        int empty = ev.type == YAML_SCALAR_EVENT && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                    is_null((const char *)ev.data.scalar.value, ev.data.scalar.length);
        const char *kind = node_kind(&ev);
        yaml_event_delete(&ev);
        if (!empty)
            return fail_at(&w, L->e, "a %s must be a mapping of keys ('key: value' lines), got %s", L->s->what,
                           kind);
    }
}

// ---- --set key=value ----

// seen[]: a key set here is marked -(index + 1), so checks across keys no longer cite its line in the file.
static int apply_override(const yaml_schema *s, void *c, const char *ov, const char *name, long *seen, int index,
                          mg_err *e) {
    where w = {name, 0, ov};
    const char *eq = strchr(ov, '=');
    if (!eq) return fail_at(&w, e, "expected key=value (e.g. --set training.learning_rate=1e-4)");
    const char *key = ov, *kend = eq;
    while (key < kend && isspace((unsigned char)*key)) key++;
    while (kend > key && isspace((unsigned char)kend[-1])) kend--;
    char path[200];
    size_t klen = (size_t)(kend - key);
    if (klen == 0) return fail_at(&w, e, "expected key=value (e.g. --set training.learning_rate=1e-4)");
    if (klen >= sizeof path) return unknown_key(s, &w, key, klen, e);
    memcpy(path, key, klen);
    path[klen] = 0;
    int idx = find_key(s, path);
    if (idx < 0) return unknown_key(s, &w, key, klen, e);
    const ys_key *k = &s->keys[idx];
    if (k->type == YS_GROUP) return fail_at(&w, e, "'%s' is a group; set one of its keys (%s.KEY=VALUE)", path, path);
    // Typed values are YAML plain scalars (spaces around them dropped); strings are taken as written.
    const char *v = eq + 1;
    size_t vlen = strlen(v);
    if (k->type != YS_STR) {
        while (vlen > 0 && isspace((unsigned char)*v)) v++, vlen--;
        while (vlen > 0 && isspace((unsigned char)v[vlen - 1])) vlen--;
    }
    if (set_value(c, k, v, vlen, 1, &w, e)) return -1;
    seen[idx] = -(long)index - 1;
    return 0;
}

// ---- what a parse saw, for checks across keys ----

struct ys_seen {
    const yaml_schema *s;
    const char *name;
    long *lines;  // [s->n_keys]: > 0 the file's line; < 0 the override -(index + 1); 0 not set
};

long ys_line(const ys_seen *seen, const char *key) {
    int i = find_key(seen->s, key);
    return i >= 0 && seen->lines[i] > 0 ? seen->lines[i] : 0;
}

int ys_fail(const ys_seen *seen, long line, mg_err *e, const char *fmt, ...) {
    where w = {seen->name, line, NULL};
    va_list ap;
    va_start(ap, fmt);
    vfail_at(&w, e, fmt, ap);
    va_end(ap);
    return -1;
}

// A numeric key's value (a uint64_t beyond 2^53 rounded).
static double number_at(const ys_key *k, const void *c) {
    const char *src = (const char *)c + k->offset;
    switch (k->type) {
    case YS_INT: return *(const int *)src;
    case YS_U64: {
        uint64_t u;
        memcpy(&u, src, sizeof u);
        return (double)u;
    }
    case YS_FLOAT: {
        float v;
        memcpy(&v, src, sizeof v);
        return v;
    }
    case YS_DOUBLE: {
        double v;
        memcpy(&v, src, sizeof v);
        return v;
    }
    default: break;
    }
    mgCheck(0, "number_at: not a numeric key");
    return 0;
}

int ys_check_order(const ys_seen *seen, const void *c, const char *a, const char *op, const char *b, mg_err *e) {
    int ia = find_key(seen->s, a), ib = find_key(seen->s, b);
    mgCheck(ia >= 0 && ib >= 0, "ys_check_order names a key the schema lacks");
    mgCheck(!strcmp(op, "<=") || !strcmp(op, ">="), "ys_check_order's op is \"<=\" or \">=\"");
    double va = number_at(&seen->s->keys[ia], c), vb = number_at(&seen->s->keys[ib], c);
    if (op[0] == '<' ? va <= vb : va >= vb) return 0;
    long line = ys_line(seen, a) ? ys_line(seen, a) : ys_line(seen, b);
    return ys_fail(seen, line, e, "key '%s' (%g) must be %s %s (%g)", a, va, op, b, vb);
}

// Absent required keys; a required key set to "" was already refused where it was set.
static int check_required(const ys_seen *seen, const void *c, mg_err *e) {
    for (int i = 0; i < seen->s->n_keys; i++) {
        const ys_key *k = &seen->s->keys[i];
        if ((k->flags & YS_REQUIRED) && k->type == YS_STR && !((const char *)c + k->offset)[0])
            return ys_fail(seen, 0, e, "key '%s' is required", k->key);
    }
    return 0;
}

// ---- public API ----

void ys_defaults(const yaml_schema *s, void *c) {
    memset(c, 0, s->size);
    where w = {"defaults", 0, NULL};
    for (int i = 0; i < s->n_keys; i++) {
        const ys_key *k = &s->keys[i];
        if (k->type == YS_GROUP || !k->def) continue;
        mg_err e;
        int rc = set_value(c, k, k->def, strlen(k->def), 1, &w, &e);
        mgCheck(rc == 0, "a default in a schema table fails its own checks");
    }
}

static char **text_field(const yaml_schema *s, void *c) { return (char **)((char *)c + s->text_offset); }

int ys_parse(const yaml_schema *s, void *c, const char *yaml, size_t len, const char *name,
             const char *const *overrides, int n_overrides, mg_err *e) {
    if (!name) name = "config";
    ys_defaults(s, c);
    snprintf((char *)c + s->path_offset, s->path_size, "%s", name);
    if (!yaml) yaml = "", len = 0;
    char *text = mallocCheck(len + 1);
    memcpy(text, yaml, len);
    text[len] = 0;
    *text_field(s, c) = text;

    loader *L = callocCheck(1, sizeof *L);  // the parser state is a few KB: keep it off the stack
    L->s = s, L->name = name, L->text = yaml, L->len = len, L->c = c, L->e = e;
    L->seen = callocCheck((size_t)s->n_keys, sizeof *L->seen);
    mgCheck(yaml_parser_initialize(&L->parser), "libyaml could not allocate a parser");
    yaml_parser_set_input_string(&L->parser, (const unsigned char *)yaml, len);
    int rc = parse_stream(L);
    yaml_parser_delete(&L->parser);
    for (int i = 0; rc == 0 && i < n_overrides; i++) rc = apply_override(s, c, overrides[i], name, L->seen, i, e);
    ys_seen seen = {s, name, L->seen};
    if (rc == 0) rc = check_required(&seen, c, e);
    if (rc == 0 && s->check) rc = s->check(c, &seen, e);
    free(L->seen);
    free(L);
    if (rc) ys_free(s, c);
    return rc;
}

#define MAX_CONFIG_BYTES ((long)16 << 20)

int ys_load(const yaml_schema *s, void *c, const char *path, const char *const *overrides, int n_overrides,
            mg_err *e) {
    ys_defaults(s, c);
    FILE *f = fopen(path, "rb");
    if (!f) return mg_fail(e, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n <= MAX_CONFIG_BYTES && fseek(f, 0, SEEK_SET) == 0) {
        buf = mallocCheck((size_t)n + 1);
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = -1;
    }
    fclose(f);
    if (n < 0 || n > MAX_CONFIG_BYTES) {
        free(buf);
        if (n > MAX_CONFIG_BYTES) return mg_fail(e, "%s: %ld bytes is too large for a %s", path, n, s->what);
        return mg_fail(e, "%s: cannot read (not a regular file?)", path);
    }
    int rc = ys_parse(s, c, buf, (size_t)n, path, overrides, n_overrides, e);
    free(buf);
    return rc;
}

void ys_free(const yaml_schema *s, void *c) {
    if (!c) return;
    char **text = text_field(s, c);
    free(*text);
    *text = NULL;
}

// ---- dump ----

// Shortest %g that reads back as the same value (so 5e-05, not 5.00000013e-05); whole numbers as "30.0" (YAML
// readers then see a float, and %g would write 3e+01); infinities in YAML's spelling.
static void write_number(FILE *f, double v, int is_float) {
    if (isinf(v)) {
        fputs(v < 0 ? "-.inf" : ".inf", f);
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        fprintf(f, "%.1f", v);
        return;
    }
    char buf[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (is_float ? (float)back == (float)v : back == v) break;
    }
    fputs(buf, f);
    if (!strpbrk(buf, ".e")) fputs(".0", f);
}

// A double-quoted YAML string. Escaped: quotes, backslashes, C0/C1 controls, and the characters YAML reads as
// line breaks (NEL, LS, PS) or a BOM; other UTF-8 is written as is.
static void write_string(FILE *f, const char *s) {
    fputc('"', f);
    const uint8_t *p = (const uint8_t *)s;
    size_t left = strlen(s);
    while (left > 0) {
        ucs4_t u;
        int n = u8_mbtouc(&u, p, left);
        if (n < 1) n = 1;
        if (u == '"' || u == '\\')
            fprintf(f, "\\%c", (char)u);
        else if (u == '\n')
            fputs("\\n", f);
        else if (u == '\t')
            fputs("\\t", f);
        else if (u < 0x20 || u == 0x7f)
            fprintf(f, "\\x%02x", (unsigned)u);
        else if (u >= 0x80 && (u < 0xa0 || u == 0x2028 || u == 0x2029 || u == 0xfeff || u == 0xfffe ||
                               u == 0xffff || (u >= 0xd800 && u <= 0xdfff)))
            fprintf(f, "\\u%04x", (unsigned)u);
        else
            fwrite(p, 1, (size_t)n, f);
        p += n, left -= (size_t)n;
    }
    fputc('"', f);
}

void ys_dump(const yaml_schema *s, const void *c, FILE *f) {
    for (int i = 0; i < s->n_keys; i++) {
        const ys_key *k = &s->keys[i];
        if (k->type == YS_GROUP) {
            fprintf(f, "%s:\n", k->key);
            continue;
        }
        const char *dot = strchr(k->key, '.');
        fprintf(f, "%s%s: ", dot ? "  " : "", dot ? dot + 1 : k->key);
        const char *src = (const char *)c + k->offset;
        switch (k->type) {
        case YS_INT: fprintf(f, "%d", *(const int *)src); break;
        case YS_U64: {
            uint64_t u;
            memcpy(&u, src, sizeof u);
            fprintf(f, "%" PRIu64, u);
            break;
        }
        case YS_FLOAT:
        case YS_DOUBLE: write_number(f, number_at(k, c), k->type == YS_FLOAT); break;
        case YS_BOOL: fputs(*(const int *)src ? "true" : "false", f); break;
        case YS_ENUM: {
            int v = *(const int *)src;
            int n = 0;
            while (k->names[n]) n++;
            fputs(v >= 0 && v < n ? k->names[v] : "unknown", f);
            break;
        }
        case YS_CHOICE: fputs(src, f); break;
        case YS_STR:
        case YS_NODE: write_string(f, src); break;
        case YS_LIST:  // names are [A-Za-z_][A-Za-z0-9_.]*: safe as plain flow scalars
            fputc('[', f);
            for (const char *p = src; *p; p++)
                if (*p == ',')
                    fputs(", ", f);
                else
                    fputc(*p, f);
            fputc(']', f);
            break;
        case YS_GROUP: break;
        }
        fputc('\n', f);
    }
}