// A schema-driven YAML configuration. One table of keys (name, type, place in the config struct, range, names,
// default) drives everything: defaults, the loader (libyaml events), --set key=value overrides, range checks, "did
// you mean" suggestions for unknown keys and the dump. A config file is a mapping with at most one level of
// nesting: top-level keys, and groups ("training:") whose keys are written "training.steps" in the table and in
// --set. Checks across keys stay with each config, as a callback run after the file and the overrides.
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

typedef enum {
    YS_GROUP,   // a nested mapping ("training:"); its keys follow it in the table
    YS_INT,     // int, [min, max]
    YS_U64,     // uint64_t, any value
    YS_FLOAT,   // float, [min, max] (checked after rounding to float)
    YS_DOUBLE,  // double, [min, max] unless YS_NO_RANGE
    YS_BOOL,    // int 0/1 from true/false (yes/no, on/off)
    YS_STR,     // char[size]
    YS_ENUM,    // an enum (int-sized): index into names
    YS_CHOICE,  // char[size] holding one of names
    YS_LIST,    // char[size]: names ([A-Za-z_][A-Za-z0-9_.]*) joined by ','; a YAML list or a comma string
    YS_NODE,    // char[size]: any YAML value, kept as YAML text for its owner to parse (rules after ys_line)
} ys_type;

enum {
    YS_OPEN_MIN = 1,   // the range excludes min
    YS_OPEN_MAX = 2,   // ... and max
    YS_NO_RANGE = 4,   // YS_DOUBLE: any number but NaN
    YS_NONEMPTY = 8,   // YS_STR: "" is refused where it is set
    YS_REQUIRED = 16,  // YS_STR: must be set (and not to ""); checked after the file and the overrides
};

typedef struct {
    const char *key;           // dotted path: "training.learning_rate"
    ys_type type;
    size_t offset, size;       // of the field in the config struct
    double min, max;           // numeric range, inclusive unless YS_OPEN_MIN / YS_OPEN_MAX
    int flags;
    const char *const *names;  // YS_ENUM (index = value) and YS_CHOICE, NULL-terminated
    const char *def;           // default, as YAML text (NULL: zero / empty)
} ys_key;

// Rows of a table: define YS_STRUCT as the config's struct type where the table is written.
#define YS_FIELD(f) offsetof(YS_STRUCT, f), sizeof(((YS_STRUCT *)0)->f)
#define YS_KEY_GROUP(k) {k, YS_GROUP, 0, 0, 0, 0, 0, NULL, NULL}
#define YS_KEY_INT(k, f, lo, hi, d) {k, YS_INT, YS_FIELD(f), lo, hi, 0, NULL, d}
#define YS_KEY_U64(k, f, d) {k, YS_U64, YS_FIELD(f), 0, 0, YS_NO_RANGE, NULL, d}
#define YS_KEY_FLOAT(k, f, lo, hi, fl, d) {k, YS_FLOAT, YS_FIELD(f), lo, hi, fl, NULL, d}
#define YS_KEY_DOUBLE(k, f, lo, hi, fl, d) {k, YS_DOUBLE, YS_FIELD(f), lo, hi, fl, NULL, d}
#define YS_KEY_BOOL(k, f, d) {k, YS_BOOL, YS_FIELD(f), 0, 0, 0, NULL, d}
#define YS_KEY_STR(k, f, fl, d) {k, YS_STR, YS_FIELD(f), 0, 0, fl, NULL, d}
#define YS_KEY_ENUM(k, f, names, d) {k, YS_ENUM, YS_FIELD(f), 0, 0, 0, names, d}
#define YS_KEY_CHOICE(k, f, names, d) {k, YS_CHOICE, YS_FIELD(f), 0, 0, 0, names, d}
#define YS_KEY_LIST(k, f, d) {k, YS_LIST, YS_FIELD(f), 0, 0, 0, NULL, d}
#define YS_KEY_NODE(k, f, d) {k, YS_NODE, YS_FIELD(f), 0, 0, 0, NULL, d}

// An unknown key people are likely to write, and the key they mean ("lr" -> "training.learning_rate"). A `from`
// without a dot matches that name in any group.
typedef struct {
    const char *from, *to;
} ys_hint;

// What one parse saw: the config's name for messages, and the line that set each key.
typedef struct ys_seen ys_seen;

typedef struct {
    const char *what;      // "run config", in messages: "a run config must be a mapping of keys ..."
    const char *docs;      // where the keys are listed, named when an unknown key has no close match
    const ys_key *keys;    // order = dump order; a group's keys right after it
    int n_keys;
    const ys_hint *hints;  // may be NULL
    int n_hints;
    size_t size;           // sizeof the config struct
    size_t path_offset, path_size;  // char[path_size] field: the file's name
    size_t text_offset;             // char * field: the file's text as read (malloc'd; NULL after a failure)
    // Checks across keys, after the file and the overrides (may be NULL). May also fill derived fields.
    int (*check)(void *config, const ys_seen *seen, mg_err *e);
} yaml_schema;

// Initializers of a yaml_schema: the table's rows and their count; the hints and theirs; the config struct T's size
// and where its `char path[N]` and `char *text` fields are.
#define YS_KEYS(table) .keys = table, .n_keys = (int)(sizeof table / sizeof table[0])
#define YS_HINTS(table) .hints = table, .n_hints = (int)(sizeof table / sizeof table[0])
#define YS_LAYOUT(T) \
    .size = sizeof(T), .path_offset = offsetof(T, path), .path_size = sizeof(((T *)0)->path), \
    .text_offset = offsetof(T, text)

// Zeroes the struct and sets every default. A default that fails its own key's checks is a bug (exits).
void ys_defaults(const yaml_schema *s, void *config);
// Defaults, then the YAML text (at most one document holding a mapping), then each "key=value" override in
// order, then the required keys and s->check. -1 with one line in e: "NAME:LINE: key 'training.lr': ..." for the
// file, "--set key=value: ..." for an override; the text field is then NULL. name NULL = "config".
int ys_parse(const yaml_schema *s, void *config, const char *yaml, size_t len, const char *name,
             const char *const *overrides, int n_overrides, mg_err *e);
// ys_parse of a file's contents (at most 16 MiB).
int ys_load(const yaml_schema *s, void *config, const char *path, const char *const *overrides, int n_overrides,
            mg_err *e);
// Frees the text field (twice is harmless).
void ys_free(const yaml_schema *s, void *config);
// Every key with its value, as YAML that ys_parse reads back to the same struct.
void ys_dump(const yaml_schema *s, const void *config, FILE *f);

// For s->check: the line of the file that set key (0: a default, an override, or no such key).
long ys_line(const ys_seen *seen, const char *key);
// A YS_NODE key's text: a mapping or list from the file is copied as written (indentation kept), starting on the
// key's line, so line N of the text is line ys_line(key) + N - 1 of the file; a scalar (from the file, an
// override or the default) is its value, itself read as YAML by the owner ("qed", or "{mean: geometric, ...}").
// "NAME:LINE: msg" (line > 0) or "NAME: msg", one line; returns -1.
int ys_fail(const ys_seen *seen, long line, mg_err *e, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
// Numeric keys a and b must satisfy "a OP b" (op "<=" or ">="), else -1 with "key 'a' (A) must be OP b (B)" at the
// line of a, or of b when the file did not set a.
int ys_check_order(const ys_seen *seen, const void *config, const char *a, const char *op, const char *b,
                   mg_err *e);
