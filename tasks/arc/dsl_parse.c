// The ARC DSL's parser and canonical printer. One instruction per line:
//   line  := ws* [ NAME ws* '=' ws* PRIM ws* '(' ws* arg (ws* ',' ws* arg)* ws* ')' ws* ] [ '#' comment ]
//   arg   := NAME | 'I' | INTEGER            (INTEGER: 0..60, no sign, no leading zero)
//   NAME  := [A-Za-z_][A-Za-z0-9_]*, at most 16 characters, not 'I', bound once
// ws is space, tab or carriage return; lines end at '\n'. Types are checked here, so a parsed program runs
// without type errors; the values of computed integers (a colour out of 0..9, a factor of 0) are checked when it
// runs.
#include <stdio.h>
#include <string.h>

#include "tasks/arc/dsl_impl.h"

enum { T_GRID, T_INT };

typedef struct {
    const char *s;  // this line
    size_t n, i;    // its length, the cursor
    int line;
    mg_err *e;
} cursor;

typedef struct {
    char name[ARC_DSL_MAX_NAME + 1];
    uint8_t type;
    int line;
} binding;

static int fail_at(const cursor *c, size_t col, const char *fmt, const char *a, const char *b) {
    char what[256];
    snprintf(what, sizeof what, fmt, a, b);
    return mg_fail(c->e, "line %d, column %zu: %s", c->line, col + 1, what);
}

static void skip_ws(cursor *c) {
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\r')) c->i++;
}

static int is_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

// An identifier at the cursor: its length (0 when there is none).
static size_t ident(const cursor *c) {
    size_t k = c->i;
    if (k >= c->n || !is_alpha(c->s[k])) return 0;
    while (k < c->n && (is_alpha(c->s[k]) || is_digit(c->s[k]))) k++;
    return k - c->i;
}

// The text at the cursor, quoted in messages: up to 24 bytes of the next token.
static const char *near(const cursor *c, char buf[32]) {
    size_t k = 0;
    while (c->i + k < c->n && k < 24 && c->s[c->i + k] != ' ' && c->s[c->i + k] != ',' && c->s[c->i + k] != ')')
        k++;
    if (c->i >= c->n) return "end of line";
    memcpy(buf, c->s + c->i, k ? k : 1);
    buf[k ? k : 1] = 0;
    return buf;
}

static const char *type_name(char t) { return t == 'g' ? "a grid" : t == 'c' ? "a colour" : "an integer"; }

static int lookup(const binding *b, int n, const char *s, size_t len) {
    for (int k = 0; k < n; k++)
        if (strlen(b[k].name) == len && !memcmp(b[k].name, s, len)) return k;
    return -1;
}

// One argument at the cursor for parameter `want` of prim; fills insn->arg[a].
static int parse_arg(cursor *c, const binding *b, int nb, const dsl_prim *prim, int a, arc_dsl_insn *insn) {
    char buf[32], tmp[64];
    char want = prim->sig[2 + a];
    size_t col = c->i, len = ident(c);
    if (c->i < c->n && is_digit(c->s[c->i])) {
        size_t k = c->i;
        long v = 0;
        for (; k < c->n && is_digit(c->s[k]); k++)
            if (v <= 1000) v = v * 10 + (c->s[k] - '0');  // stops growing once it is too large anyway
        if ((k < c->n && (is_alpha(c->s[k]) || is_digit(c->s[k]))) || (c->s[c->i] == '0' && k - c->i > 1))
            return fail_at(c, col, "bad literal '%s' (integers are 0..60, no leading zeros)", near(c, buf), "");
        if (v > ARC_DSL_MAX_LITERAL)
            return fail_at(c, col, "literal %s is above 60", near(c, buf), "");
        if (want == 'g') return fail_at(c, col, "%s wants a grid here, not the integer %s", prim->name, near(c, buf));
        if (want == 'c' && v > 9) return fail_at(c, col, "colour %s is outside 0..9", near(c, buf), "");
        insn->literal |= (uint8_t)(1u << a);
        insn->arg[a] = (int16_t)v;
        c->i = k;
        return 0;
    }
    if (!len) return fail_at(c, col, "expected an argument, found '%s'", near(c, buf), "");
    int type;
    if (len == 1 && c->s[c->i] == 'I') {
        insn->arg[a] = 0, type = T_GRID;
    } else {
        int k = lookup(b, nb, c->s + c->i, len);
        if (k < 0) {
            snprintf(tmp, sizeof tmp, "%.*s", (int)(len < 40 ? len : 40), c->s + c->i);
            return fail_at(c, col, "'%s' is used before it is defined", tmp, "");
        }
        insn->arg[a] = (int16_t)(k + 1), type = b[k].type;
    }
    if ((want == 'g') != (type == T_GRID)) {
        snprintf(tmp, sizeof tmp, "%s wants %s here", prim->name, type_name(want));
        return fail_at(c, col, "%s, not %s", tmp, type == T_GRID ? "a grid" : "an integer");
    }
    c->i += len;
    return 0;
}

// One line; *got = 1 when it held an instruction (appended to p and b).
static int parse_line(cursor *c, arc_dsl_program *p, binding *b, int *got) {
    char buf[32], tmp[64];
    *got = 0;
    skip_ws(c);
    if (c->i >= c->n || c->s[c->i] == '#') return 0;
    if (p->n == ARC_DSL_MAX_LINES) return fail_at(c, c->i, "program longer than %s instruction lines", "32", "");
    size_t col = c->i, len = ident(c);
    if (!len) return fail_at(c, col, "expected a name, found '%s'", near(c, buf), "");
    if (len > ARC_DSL_MAX_NAME) return fail_at(c, col, "name longer than %s characters", "16", "");
    binding *nb = &b[p->n];
    memcpy(nb->name, c->s + c->i, len);
    nb->name[len] = 0;
    if (!strcmp(nb->name, "I")) return fail_at(c, col, "I is the input and cannot be bound", "", "");
    int prev = lookup(b, p->n, nb->name, len);
    if (prev >= 0) {
        snprintf(tmp, sizeof tmp, "%d", b[prev].line);
        return fail_at(c, col, "'%s' is already bound on line %s", nb->name, tmp);
    }
    c->i += len;
    skip_ws(c);
    if (c->i >= c->n || c->s[c->i] != '=') return fail_at(c, c->i, "expected '=', found '%s'", near(c, buf), "");
    c->i++;
    skip_ws(c);
    col = c->i, len = ident(c);
    if (!len) return fail_at(c, col, "expected a primitive, found '%s'", near(c, buf), "");
    int op = -1;
    for (int k = 0; k < dsl_nprims && op < 0; k++)
        if (strlen(dsl_prims[k].name) == len && !memcmp(dsl_prims[k].name, c->s + c->i, len)) op = k;
    if (op < 0) {
        snprintf(tmp, sizeof tmp, "%.*s", (int)(len < 40 ? len : 40), c->s + c->i);
        return fail_at(c, col, "unknown primitive '%s'", tmp, "");
    }
    const dsl_prim *prim = &dsl_prims[op];
    int nparams = (int)strlen(prim->sig) - 2;
    arc_dsl_insn *insn = &p->code[p->n];
    memset(insn, 0, sizeof *insn);
    insn->op = (uint8_t)op, insn->src_line = (int16_t)c->line;
    c->i += len;
    skip_ws(c);
    if (c->i >= c->n || c->s[c->i] != '(') return fail_at(c, c->i, "expected '(', found '%s'", near(c, buf), "");
    c->i++;
    snprintf(tmp, sizeof tmp, "%d argument%s", nparams, nparams == 1 ? "" : "s");
    for (int a = 0;; a++) {
        skip_ws(c);
        if (a == nparams || (a == 0 && c->i < c->n && c->s[c->i] == ')'))
            return fail_at(c, c->i, "%s takes %s", prim->name, tmp);
        if (parse_arg(c, b, p->n, prim, a, insn)) return -1;
        insn->nargs = (uint8_t)(a + 1);
        skip_ws(c);
        if (c->i < c->n && c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        if (c->i < c->n && c->s[c->i] == ')') break;
        return fail_at(c, c->i, "expected ',' or ')', found '%s'", near(c, buf), "");
    }
    if (insn->nargs != nparams) return fail_at(c, c->i, "%s takes %s", prim->name, tmp);
    c->i++;
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] != '#') return fail_at(c, c->i, "unexpected '%s' after ')'", near(c, buf), "");
    nb->type = prim->sig[0] == 'g' ? T_GRID : T_INT;
    nb->line = c->line;
    p->n++;
    *got = 1;
    return 0;
}

int arc_dsl_parse(arc_dsl_program *p, const char *text, size_t len, mg_err *e) {
    binding b[ARC_DSL_MAX_LINES];
    memset(p, 0, sizeof *p);
    cursor c = {.e = e};
    size_t pos = 0;
    int last = 0;
    for (int line = 1; pos < len; line++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        c.s = text + pos, c.n = end - pos, c.i = 0, c.line = line;
        int got;
        if (memchr(c.s, 0, c.n)) {
            c.i = (size_t)((const char *)memchr(c.s, 0, c.n) - c.s);
            p->n = 0;
            return fail_at(&c, c.i, "NUL byte in the program", "", "");
        }
        if (parse_line(&c, p, b, &got)) {
            p->n = 0;
            return -1;
        }
        if (got) last = line;
        pos = end + 1;
    }
    if (p->n == 0) return mg_fail(e, "line 1, column 1: empty program (no instruction lines)");
    if (b[p->n - 1].type != T_GRID) {
        const char *name = dsl_prims[p->code[p->n - 1].op].name;
        p->n = 0;
        return mg_fail(e, "line %d, column 1: the last line gives an integer (%s), a program must end in a grid",
                       last, name);
    }
    return 0;
}

int arc_dsl_format(const arc_dsl_program *p, char *buf, size_t cap) {
    size_t at = 0;
    char tmp[128];
    for (int k = 0; k < p->n; k++) {
        const arc_dsl_insn *in = &p->code[k];
        int m = k + 1 == p->n ? snprintf(tmp, sizeof tmp, "O = %s(", dsl_prims[in->op].name)
                              : snprintf(tmp, sizeof tmp, "x%d = %s(", k + 1, dsl_prims[in->op].name);
        for (int a = 0; a < in->nargs; a++) {
            const char *sep = a ? ", " : "";
            if (in->literal >> a & 1) m += snprintf(tmp + m, sizeof tmp - (size_t)m, "%s%d", sep, in->arg[a]);
            else if (in->arg[a] == 0) m += snprintf(tmp + m, sizeof tmp - (size_t)m, "%sI", sep);
            else m += snprintf(tmp + m, sizeof tmp - (size_t)m, "%sx%d", sep, in->arg[a]);
        }
        m += snprintf(tmp + m, sizeof tmp - (size_t)m, ")\n");
        if (at + 1 < cap) memcpy(buf + at, tmp, at + (size_t)m < cap ? (size_t)m : cap - 1 - at);
        at += (size_t)m;
    }
    if (cap) buf[at < cap ? at : cap - 1] = 0;
    return (int)at;
}
