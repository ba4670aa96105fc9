// The schema engine behind every YAML configuration (common/run_config.c, tools/pretrain/pretrain_config.c): the
// config's table of keys drives defaults, the loader, --set overrides, range checks, suggestions and the dump.
// YAML is read with libyaml's event parser: a config is a two-level mapping, so a small recursive walk over events
// is all we need, and every error can point at the line of the key that caused it.
#include "common/yaml_schema_internal.h"

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
    ys_where w = {L->name, line, NULL};
    if (p->error == YAML_MEMORY_ERROR) return ys_fail_at(&w, L->e, "out of memory while parsing YAML");
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->context)
        return ys_fail_at(&w, L->e, "YAML syntax error: %s (%s on line %ld)", problem, p->context,
                       (long)p->context_mark.line + 1);
    return ys_fail_at(&w, L->e, "YAML syntax error: %s", problem);
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
    ys_where w = {L->name, key_line, NULL};
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
        if (alias) return ys_fail_at(&w, L->e, "key '%s': YAML aliases (*name) are not supported", k->key);
    }
    size_t from = byte_at(L, start.line, start.column), to = byte_at(L, end.line, end.column);
    while (to > from && isspace((unsigned char)L->text[to - 1])) to--;
    size_t pad = (long)start.line + 1 > key_line ? (size_t)((long)start.line + 1 - key_line) : 0;
    size_t n = pad + start.column + (to - from);
    if (n >= k->size)
        return ys_fail_at(&w, L->e, "key '%s' is too long (%zu bytes, at most %zu)", k->key, n, k->size - 1);
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
    ys_where w = {L->name, key_line, NULL};
    if (k->type == YS_NODE && (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT))
        return parse_node(L, k, key_line, ev);
    if (ev->type == YAML_SCALAR_EVENT) {
        int rc = ys_set_value(L->c, k, (const char *)ev->data.scalar.value, ev->data.scalar.length,
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
                return ys_list_store(L->c, k, buf, "[]", 2, &w, L->e);
            }
            ys_where iw = {L->name, line_of(&item), NULL};
            int rc = item.type == YAML_SCALAR_EVENT
                         ? ys_list_append(buf, k->size, k, (const char *)item.data.scalar.value,
                                       item.data.scalar.length, &iw, L->e)
                         : ys_fail_at(&iw, L->e, "key '%s' must be a list of names, got %s inside it", k->key,
                                   node_kind(&item));
            yaml_event_delete(&item);
            if (rc) return -1;
        }
    }
    const char *kind = node_kind(ev);
    int alias = ev->type == YAML_ALIAS_EVENT;
    yaml_event_delete(ev);
    if (alias) return ys_fail_at(&w, L->e, "key '%s': YAML aliases (*name) are not supported", k->key);
    static const char *const what[] = {
        [YS_INT] = "an integer", [YS_U64] = "an integer", [YS_FLOAT] = "a number", [YS_DOUBLE] = "a number",
        [YS_BOOL] = "true or false", [YS_STR] = "a string", [YS_ENUM] = "a name", [YS_CHOICE] = "a name",
        [YS_LIST] = "a list of names", [YS_NODE] = "a YAML value", [YS_GROUP] = "a mapping"};
    return ys_fail_at(&w, L->e, "key '%s' must be %s, got %s", k->key, what[k->type], kind);
}

// A group's value: a nested mapping, or nothing ("training:" alone).
static int parse_group(loader *L, const ys_key *k, long key_line, yaml_event_t *ev) {
    ys_where w = {L->name, key_line, NULL};
    if (ev->type == YAML_MAPPING_START_EVENT) {
        yaml_event_delete(ev);
        return parse_mapping(L, k->key);
    }
    int empty = ev->type == YAML_SCALAR_EVENT && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                ys_is_null((const char *)ev->data.scalar.value, ev->data.scalar.length);
    const char *kind = node_kind(ev);
    yaml_event_delete(ev);
    if (empty) return 0;
    return ys_fail_at(&w, L->e, "key '%s' must be a mapping of keys (indented 'key: value' lines), got %s", k->key,
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
        ys_where w = {L->name, line_of(&ev), NULL};
        if (ev.type != YAML_SCALAR_EVENT) {
            const char *kind = node_kind(&ev);
            yaml_event_delete(&ev);
            return ys_fail_at(&w, L->e, "keys must be plain names, got %s%s%s", kind, *prefix ? " in " : "", prefix);
        }
        char path[200];
        size_t plen = strlen(prefix), klen = ev.data.scalar.length;
        const char *key = (const char *)ev.data.scalar.value;
        int idx = -1;
        if (plen + 1 + klen < sizeof path && !memchr(key, 0, klen)) {
            snprintf(path, sizeof path, "%s%s%.*s", prefix, plen ? "." : "", (int)klen, key);
            idx = ys_find_key(L->s, path);
        } else {
            snprintf(path, sizeof path, "%s%s%.*s", prefix, plen ? "." : "", (int)(klen < 120 ? klen : 120), key);
        }
        yaml_event_delete(&ev);
        if (idx < 0) return ys_unknown_key(L->s, &w, path, strlen(path), L->e);
        if (L->seen[idx])
            return ys_fail_at(&w, L->e, "duplicate key '%s' (first set on line %ld)", path, L->seen[idx]);
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
        ys_where w = {L->name, line_of(&ev), NULL};
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (type != YAML_DOCUMENT_START_EVENT) {  // stream-start, document-end
            yaml_event_delete(&ev);
            continue;
        }
        yaml_event_delete(&ev);
        if (docs++) return ys_fail_at(&w, L->e, "a second YAML document ('---'); a %s is one mapping", L->s->what);
        if (next_event(L, &ev)) return -1;
        w.line = line_of(&ev);
        if (ev.type == YAML_MAPPING_START_EVENT) {
            yaml_event_delete(&ev);
            if (parse_mapping(L, "")) return -1;
            continue;
        }
        int empty = ev.type == YAML_SCALAR_EVENT && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                    ys_is_null((const char *)ev.data.scalar.value, ev.data.scalar.length);
        const char *kind = node_kind(&ev);
        yaml_event_delete(&ev);
        if (!empty)
            return ys_fail_at(&w, L->e, "a %s must be a mapping of keys ('key: value' lines), got %s", L->s->what,
                           kind);
    }
}

// ---- --set key=value ----

// seen[]: a key set here is marked -(index + 1), so checks across keys no longer cite its line in the file.
static int apply_override(const yaml_schema *s, void *c, const char *ov, const char *name, long *seen, int index,
                          mg_err *e) {
    ys_where w = {name, 0, ov};
    const char *eq = strchr(ov, '=');
    if (!eq) return ys_fail_at(&w, e, "expected key=value (e.g. --set training.learning_rate=1e-4)");
    const char *key = ov, *kend = eq;
    while (key < kend && isspace((unsigned char)*key)) key++;
    while (kend > key && isspace((unsigned char)kend[-1])) kend--;
    char path[200];
    size_t klen = (size_t)(kend - key);
    if (klen == 0) return ys_fail_at(&w, e, "expected key=value (e.g. --set training.learning_rate=1e-4)");
    if (klen >= sizeof path) return ys_unknown_key(s, &w, key, klen, e);
    memcpy(path, key, klen);
    path[klen] = 0;
    int idx = ys_find_key(s, path);
    if (idx < 0) return ys_unknown_key(s, &w, key, klen, e);
    const ys_key *k = &s->keys[idx];
    if (k->type == YS_GROUP) return ys_fail_at(&w, e, "'%s' is a group; set one of its keys (%s.KEY=VALUE)", path, path);
    // Typed values are YAML plain scalars (spaces around them dropped); strings are taken as written.
    const char *v = eq + 1;
    size_t vlen = strlen(v);
    if (k->type != YS_STR) {
        while (vlen > 0 && isspace((unsigned char)*v)) v++, vlen--;
        while (vlen > 0 && isspace((unsigned char)v[vlen - 1])) vlen--;
    }
    if (ys_set_value(c, k, v, vlen, 1, &w, e)) return -1;
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
    int i = ys_find_key(seen->s, key);
    return i >= 0 && seen->lines[i] > 0 ? seen->lines[i] : 0;
}

int ys_fail(const ys_seen *seen, long line, mg_err *e, const char *fmt, ...) {
    ys_where w = {seen->name, line, NULL};
    va_list ap;
    va_start(ap, fmt);
    ys_vfail_at(&w, e, fmt, ap);
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
    int ia = ys_find_key(seen->s, a), ib = ys_find_key(seen->s, b);
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
    ys_where w = {"defaults", 0, NULL};
    for (int i = 0; i < s->n_keys; i++) {
        const ys_key *k = &s->keys[i];
        if (k->type == YS_GROUP || !k->def) continue;
        mg_err e;
        int rc = ys_set_value(c, k, k->def, strlen(k->def), 1, &w, &e);
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
        // nested groups ("task.arc") are written indented under their parent, two blanks per level
        int depth = 0;
        for (const char *p = k->key; *p; p++) depth += *p == '.';
        const char *dot = strrchr(k->key, '.');
        fprintf(f, "%*s%s:%s", 2 * depth, "", dot ? dot + 1 : k->key, k->type == YS_GROUP ? "\n" : " ");
        if (k->type == YS_GROUP) continue;
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