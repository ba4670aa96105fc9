// Shared by the schema engine's two files (yaml_schema.c: the YAML walk, --set and the public API;
// yaml_values.c: scalar parsing, range checks, messages and suggestions). Not part of the public API.
#pragma once
#include <stdarg.h>

#include "common/yaml_schema.h"

// Where a value came from: a file line, or a --set argument.
typedef struct {
    const char *file;
    long line;        // 1-based; 0 = no line (cross-field checks of defaults)
    const char *set;  // the "key=value" override, or NULL
} ys_where;

// Index of the key named by its dotted path, or -1.
int ys_find_key(const yaml_schema *s, const char *path);
// "FILE:LINE: msg" or "--set k=v: msg" into e, one line whatever the input held; returns -1.
int ys_vfail_at(const ys_where *w, mg_err *e, const char *fmt, va_list ap);
__attribute__((format(printf, 3, 4))) int ys_fail_at(const ys_where *w, mg_err *e, const char *fmt, ...);
// YAML's null spellings (plain scalars only).
int ys_is_null(const char *s, size_t len);
// Appends one module name of a YS_LIST value to buf ("a,b"), checking it.
int ys_list_append(char *buf, size_t cap, const ys_key *k, const char *s, size_t len, const ys_where *w,
                   mg_err *e);
// Stores a YS_LIST value built in buf into the config.
int ys_list_store(void *c, const ys_key *k, const char *buf, const char *text, size_t len, const ys_where *w,
                  mg_err *e);
// Sets key k from one scalar. plain: the YAML plain style, where "~" / "null" / nothing mean null.
int ys_set_value(void *c, const ys_key *k, const char *s, size_t len, int plain, const ys_where *w, mg_err *e);
// "unknown key 'K' (did you mean 'L'?)": the closest known key, when one is close.
int ys_unknown_key(const yaml_schema *s, const ys_where *w, const char *key, size_t len, mg_err *e);
