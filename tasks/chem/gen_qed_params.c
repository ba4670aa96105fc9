// Build-time generator: reads RDKit's rdkit/Chem/QED.py (QED exists only in RDKit's Python) and writes its
// constants as a C header, so the C++ shim computes QED from the very numbers and SMARTS the installed RDKit
// uses, without a copy of them in this repository and without running Python at build time.
//
//   gen_qed_params /usr/lib/python3/dist-packages/rdkit/Chem/QED.py OUT.h
//
// It understands just the literal syntax QED.py uses (lists of quoted strings, possibly joined with '+', named
// numbers); anything else stops the build with the file, the line and what was expected.
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 512
#define MAX_LITERAL 1024

static const char *g_path, *g_text;

static int line_at(const char *p) {
    int line = 1;
    for (const char *q = g_text; q < p; q++) line += *q == '\n';
    return line;
}

__attribute__((noreturn, format(printf, 2, 3))) static void die(const char *at, const char *fmt, ...) {
    fprintf(stderr, "gen_qed_params: %s:%d: ", g_path, at ? line_at(at) : 0);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

// Whitespace and '#' comments.
static const char *skip(const char *p) {
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (*p != '#') return p;
        while (*p && *p != '\n') p++;
    }
}

// The text right after `marker`, which must start a line.
static const char *after(const char *marker) {
    size_t n = strlen(marker);
    for (const char *p = strstr(g_text, marker); p; p = strstr(p + 1, marker))
        if (p == g_text || p[-1] == '\n') return p + n;
    die(NULL, "'%s' not found (has QED.py changed?)", marker);
}

// One string: 'a' or "a", then any number of + 'b' joined to it. No escapes (QED.py has none; refuse them).
static const char *string_literal(const char *p, char *out) {
    size_t n = 0;
    for (;;) {
        p = skip(p);
        char q = *p;
        if (q != '\'' && q != '"') die(p, "expected a quoted string");
        for (p++; *p != q; p++) {
            if (!*p || *p == '\n') die(p, "unterminated string");
            if (*p == '\\') die(p, "escapes in strings are not supported");
            if (n + 1 >= MAX_LITERAL) die(p, "string longer than %d bytes", MAX_LITERAL);
            out[n++] = *p;
        }
        out[n] = 0;
        p = skip(p + 1);
        if (*p != '+') return p;
        p++;
    }
}

// [ 'a', 'b' + 'c', ... ] -> items; returns the count.
static int string_list(const char *marker, char items[][MAX_LITERAL]) {
    const char *p = skip(after(marker));
    if (*p != '[') die(p, "expected '[' after '%s'", marker);
    int n = 0;
    p = skip(p + 1);
    while (*p != ']') {
        if (n == MAX_ITEMS) die(p, "more than %d items", MAX_ITEMS);
        p = string_literal(p, items[n++]);
        if (*p == ',') p = skip(p + 1);
        else if (*p != ']') die(p, "expected ',' or ']'");
    }
    return n;
}

// A Python float literal; copied as written (the C compiler then rounds it exactly as Python's float() does).
static const char *number(const char *p, char *out) {
    p = skip(p);
    char *end;
    strtod(p, &end);
    if (end == p || (size_t)(end - p) >= 64) die(p, "expected a number");
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = 0;
    return skip(end);
}

static const char *const PROPS[8] = {"MW", "ALOGP", "HBA", "HBD", "PSA", "ROTB", "AROM", "ALERTS"};
static const char *const ADS_FIELDS[7] = {"A", "B", "C", "D", "E", "F", "DMAX"};

static void put_c_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_strings(FILE *f, const char *name, char items[][MAX_LITERAL], int n) {
    fprintf(f, "static const char *const %s[] = {\n", name);
    for (int i = 0; i < n; i++) {
        fputs("    ", f);
        put_c_string(f, items[i]);
        fputs(",\n", f);
    }
    fprintf(f, "};\n#define %s_COUNT %d\n", name, n);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: gen_qed_params QED.py OUT.h\n");
        return 2;
    }
    g_path = argv[1];
    FILE *in = fopen(argv[1], "rb");
    if (!in) die(NULL, "cannot open");
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text - 1, in);
    fclose(in);
    text[len] = 0;
    g_text = text;

    // The property order QED.py computes in (the weights and ADS tables follow it).
    const char *p = after("QEDproperties = namedtuple(");
    char lit[MAX_LITERAL];
    p = string_literal(p, lit);
    if (*p != ',') die(p, "expected ',' in the QEDproperties namedtuple");
    string_literal(p + 1, lit);
    if (strcmp(lit, "MW,ALOGP,HBA,HBD,PSA,ROTB,AROM,ALERTS"))
        die(p, "QEDproperties fields are '%s', expected 'MW,ALOGP,HBA,HBD,PSA,ROTB,AROM,ALERTS'", lit);

    char weights[8][64];
    p = after("WEIGHT_MEAN = QEDproperties(");
    for (int i = 0; i < 8; i++) {
        p = number(p, weights[i]);
        if (*p != (i < 7 ? ',' : ')')) die(p, "WEIGHT_MEAN: expected 8 numbers");
        p++;
    }

    char ads[8][7][64];
    const char *table = after("adsParameters = {");
    for (int i = 0; i < 8; i++) {
        char key[32];
        snprintf(key, sizeof key, "'%s': ADSparameter(", PROPS[i]);
        const char *q = strstr(table, key);
        if (!q) die(table, "adsParameters has no entry %s", PROPS[i]);
        q += strlen(key);
        for (int j = 0; j < 7; j++) {
            q = skip(q);
            size_t n = strlen(ADS_FIELDS[j]);
            if (strncmp(q, ADS_FIELDS[j], n) || q[n] != '=')
                die(q, "ADSparameter %s: expected %s=", PROPS[i], ADS_FIELDS[j]);
            q = number(q + n + 1, ads[i][j]);
            if (*q != (j < 6 ? ',' : ')')) die(q, "ADSparameter %s: expected 7 fields", PROPS[i]);
            q++;
        }
    }

    char aliphatic[MAX_LITERAL];
    string_literal(after("AliphaticRings = Chem.MolFromSmarts("), aliphatic);
    static char acceptors[MAX_ITEMS][MAX_LITERAL], alerts[MAX_ITEMS][MAX_LITERAL];
    int n_acc = string_list("AcceptorSmarts =", acceptors);
    int n_alerts = string_list("StructuralAlertSmarts =", alerts);
    if (n_acc < 1 || n_alerts < 1) die(NULL, "empty acceptor or alert list");

    FILE *f = fopen(argv[2], "w");
    if (!f) {
        fprintf(stderr, "gen_qed_params: cannot write %s\n", argv[2]);
        return 1;
    }
    fprintf(f, "// Generated at build time by tasks/chem/gen_qed_params.c from %s. Do not edit.\n#pragma once\n\n",
            argv[1]);
    fputs("// Property order: MW, ALOGP, HBA, HBD, PSA, ROTB, AROM, ALERTS.\n", f);
    fputs("static const double QED_WEIGHT_MEAN[8] = {", f);
    for (int i = 0; i < 8; i++) fprintf(f, "%s%s", i ? ", " : "", weights[i]);
    fputs("};\n// A, B, C, D, E, F, DMAX per property.\nstatic const double QED_ADS[8][7] = {\n", f);
    for (int i = 0; i < 8; i++) {
        fputs("    {", f);
        for (int j = 0; j < 7; j++) fprintf(f, "%s%s", j ? ", " : "", ads[i][j]);
        fprintf(f, "},  // %s\n", PROPS[i]);
    }
    fputs("};\n", f);
    fputs("static const char QED_ALIPHATIC_RINGS[] = ", f);
    put_c_string(f, aliphatic);
    fputs(";\n", f);
    write_strings(f, "QED_ACCEPTORS", acceptors, n_acc);
    write_strings(f, "QED_ALERTS", alerts, n_alerts);
    if (fclose(f)) {
        fprintf(stderr, "gen_qed_params: cannot write %s\n", argv[2]);
        return 1;
    }
    return 0;
}
