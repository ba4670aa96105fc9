// The run configuration. One schema table (below) drives everything: defaults, the YAML loader, --set overrides,
// range checks, the dump, and (through tests/unit/test_config.c) docs/config.md. Adding a knob = one table row.
// YAML is read with libyaml's event parser: a run config is a two-level mapping, so a small recursive walk over
// events is all we need, and every error can point at the line of the key that caused it.
#include "coordinator/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistr.h>
#include <yaml.h>

// ---- the schema ----

typedef enum {
    K_GROUP,   // a nested mapping ("training:"); its keys follow it in the table
    K_INT,     // int, [min, max]
    K_U64,     // uint64_t, any value
    K_FLOAT,   // float, [min, max]
    K_DOUBLE,  // double, [min, max] unless NO_RANGE
    K_BOOL,    // int 0/1 from true/false (yes/no, on/off)
    K_STR,     // char[size]
    K_ENUM,    // an enum (int-sized): index into names
    K_CHOICE,  // char[size] holding one of names
    K_LIST,    // char[size]: module names joined by ','; a YAML list or a comma string
} key_type;

enum { OPEN_MIN = 1, OPEN_MAX = 2, NO_RANGE = 4, NONEMPTY = 8 };

typedef struct {
    const char *key;           // dotted path: "training.learning_rate"
    key_type type;
    size_t offset, size;       // into run_config
    double min, max;           // numeric range, inclusive unless OPEN_MIN / OPEN_MAX
    int flags;
    const char *const *names;  // K_ENUM (index = value) and K_CHOICE, NULL-terminated
    const char *def;           // default, as YAML text (NULL: zero / empty)
} cfg_key;

static const char *const k_strategies[] = {"random", "ns", "opro", "grpo", "grpo-greedy", "migrate", NULL};
static const char *const k_tasks[] = {"semantle", "oracle", NULL};
static const char *const k_ns_seeds[] = {"top", "sample", NULL};
static const char *const k_losses[] = {"grpo", "bnpo", "dr_grpo", NULL};
static const char *const k_chat_formats[] = {"auto", "plain", "llama3", "chatml", NULL};

// K_ENUM fields are written through an int*.
_Static_assert(sizeof(strategy_kind) == sizeof(int) && sizeof(task_kind) == sizeof(int) &&
                   sizeof(ns_seed_mode) == sizeof(int) && sizeof(loss_kind) == sizeof(int),
               "enums must be int-sized");
_Static_assert(STRATEGY_MIGRATE == 5 && TASK_ORACLE == 1 && NS_SEED_SAMPLE == 1 && LOSS_DR_GRPO == 2,
               "name tables follow the enum order");

#define FIELD(f) offsetof(run_config, f), sizeof(((run_config *)0)->f)
#define GROUP(k) {k, K_GROUP, 0, 0, 0, 0, 0, NULL, NULL}
#define INT(k, f, lo, hi, d) {k, K_INT, FIELD(f), lo, hi, 0, NULL, d}
#define U64(k, f, d) {k, K_U64, FIELD(f), 0, 0, NO_RANGE, NULL, d}
#define FLT(k, f, lo, hi, fl, d) {k, K_FLOAT, FIELD(f), lo, hi, fl, NULL, d}
#define DBL(k, f, lo, hi, fl, d) {k, K_DOUBLE, FIELD(f), lo, hi, fl, NULL, d}
#define BOOL(k, f, d) {k, K_BOOL, FIELD(f), 0, 0, 0, NULL, d}
#define STR(k, f, fl, d) {k, K_STR, FIELD(f), 0, 0, fl, NULL, d}
#define ENUM(k, f, names, d) {k, K_ENUM, FIELD(f), 0, 0, 0, names, d}
#define CHOICE(k, f, names, d) {k, K_CHOICE, FIELD(f), 0, 0, 0, names, d}
#define LIST(k, f, d) {k, K_LIST, FIELD(f), 0, 0, 0, NULL, d}

// Order = dump order. A group's keys come right after it.
static const cfg_key k_schema[] = {
    STR("model", model, 0, NULL),
    CHOICE("chat_format", chat_format, k_chat_formats, "auto"),
    STR("system_prompt", system_prompt, 0, NULL),
    U64("seed", seed, "0"),
    ENUM("strategy", strategy, k_strategies, "migrate"),
    INT("iterations", iterations, 1, 1e9, "50"),
    INT("oracle_budget", oracle_budget, 0, INT_MAX, "0"),
    STR("output_dir", output_dir, NONEMPTY, "runs/latest"),
    INT("log_every", log_every, 1, 1e9, "1"),
    INT("threads", threads, 0, 4096, "0"),
    GROUP("task"),
    ENUM("task.type", task, k_tasks, "semantle"),
    STR("task.target", target, 0, NULL),
    STR("task.vectors", vectors, 0, NULL),
    STR("task.command", oracle_command, 0, NULL),
    INT("task.workers", oracle_workers, 1, 1024, "1"),
    DBL("task.timeout", oracle_timeout, 0, 86400, OPEN_MIN, "30"),
    DBL("task.solved_reward", solved_reward, 0, 0, NO_RANGE, ".inf"),
    STR("task.prompt", prompt, 0, NULL),
    STR("task.ns_prompt", ns_prompt, 0, NULL),
    STR("task.opro_prompt", opro_prompt, 0, NULL),
    GROUP("search"),
    INT("search.num_on_policy", num_on_policy, 0, 4096, "8"),
    INT("search.num_greedy", num_greedy, 0, 4096, "4"),
    INT("search.num_neighborhood", num_neighborhood, 0, 4096, "4"),
    INT("search.top_k", top_k, 1, 4096, "5"),
    ENUM("search.ns_seed", ns_seed, k_ns_seeds, "top"),
    GROUP("sampling"),
    FLT("sampling.temperature", temperature, 0, 100, 0, "1.0"),
    FLT("sampling.top_p", top_p, 0, 1, OPEN_MIN, "1.0"),
    INT("sampling.sampling_top_k", top_k_sampling, 0, 1000000, "0"),
    FLT("sampling.min_p", min_p, 0, 1, OPEN_MAX, "0"),
    INT("sampling.max_completion_length", max_completion_length, 1, 65536, "16"),
    GROUP("training"),
    FLT("training.learning_rate", learning_rate, 0, 1, 0, "5e-5"),
    FLT("training.epsilon", epsilon, 0, 1, 0, "0.2"),
    FLT("training.epsilon_high", epsilon_high, 0, 10, 0, "0.28"),
    FLT("training.beta", beta, 0, 1000, 0, "0"),
    ENUM("training.loss_type", loss_type, k_losses, "dr_grpo"),
    BOOL("training.scale_rewards", scale_rewards, "false"),
    INT("training.num_iterations", num_iterations, 1, 1000, "1"),
    FLT("training.max_grad_norm", max_grad_norm, 0, 1e5, 0, "1.0"),
    FLT("training.weight_decay", weight_decay, 0, 10, 0, "0"),
    FLT("training.adam_beta1", adam_beta1, 0, 1, OPEN_MAX, "0.9"),
    FLT("training.adam_beta2", adam_beta2, 0, 1, OPEN_MAX, "0.999"),
    FLT("training.adam_epsilon", adam_epsilon, 0, 1, OPEN_MIN, "1e-8"),
    GROUP("lora"),
    INT("lora.r", lora_r, 1, 4096, "64"),
    FLT("lora.alpha", lora_alpha, 0, 1e5, OPEN_MIN, "16"),
    LIST("lora.target_modules", lora_target_modules, "q_proj,k_proj,v_proj,o_proj"),
};
#define N_KEYS ((int)(sizeof k_schema / sizeof k_schema[0]))

static int find_key(const char *path) {
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(k_schema[i].key, path) == 0) return i;
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
__attribute__((format(printf, 3, 4))) static int fail_at(const where *w, mg_err *e, const char *fmt, ...) {
    if (!e) return -1;
    char ov[96];
    if (w->set)
        snprintf(e->msg, sizeof e->msg, "--set %s: ", shown(ov, sizeof ov, w->set, strlen(w->set)));
    else if (w->line > 0)
        snprintf(e->msg, sizeof e->msg, "%s:%ld: ", w->file, w->line);
    else
        snprintf(e->msg, sizeof e->msg, "%s: ", w->file);
    size_t n = strlen(e->msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof e->msg - n, fmt, ap);
    va_end(ap);
    for (char *p = e->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return -1;
}

// A bad value: "key 'K' must be ..., got 'V'" from a file; just "must be ..." after "--set K=V: ".
static int bad_value(const where *w, const cfg_key *k, const char *text, size_t len, int quote, mg_err *e,
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
static void range_text(char *out, size_t cap, const cfg_key *k) {
    const char *fmt = k->type == K_INT ? "%s%.0f, %.0f%s" : "%s%g, %g%s";
    snprintf(out, cap, fmt, k->flags & OPEN_MIN ? "(" : "[", k->min, k->max, k->flags & OPEN_MAX ? ")" : "]");
}

static int in_range(const cfg_key *k, double v) {
    if (k->flags & NO_RANGE) return 1;
    int lo = k->flags & OPEN_MIN ? v > k->min : v >= k->min;
    int hi = k->flags & OPEN_MAX ? v < k->max : v <= k->max;
    return lo && hi;
}

static int out_of_range(const where *w, const cfg_key *k, const char *text, size_t len, mg_err *e) {
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

// A LoRA target: a module name as PEFT matches them (q_proj, model.layers.0.mlp.up_proj).
static int module_name_ok(const char *s, size_t len) {
    if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.')) return 0;
    return 1;
}

// Appends one list item (spaces around it trimmed) to the comma-joined buf.
static int list_append(char *buf, size_t cap, const cfg_key *k, const char *s, size_t len, const where *w,
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
static int list_from_text(char *buf, size_t cap, const cfg_key *k, const char *s, size_t len, int plain,
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

static int list_store(run_config *c, const cfg_key *k, const char *buf, const char *text, size_t len,
                      const where *w, mg_err *e) {
    if (!buf[0]) return bad_value(w, k, text, len, 1, e, "must name at least one module");
    char *dst = (char *)c + k->offset;
    memset(dst, 0, k->size);
    memcpy(dst, buf, strlen(buf));
    return 0;
}

// Sets key k from one scalar. plain: the YAML plain style, where "~" / "null" / nothing mean null.
static int set_value(run_config *c, const cfg_key *k, const char *s, size_t len, int plain, const where *w,
                     mg_err *e) {
    char *dst = (char *)c + k->offset;
    switch (k->type) {
    case K_INT: {
        long long v = 0;
        uint64_t u = 0;
        int overflow = 0;
        if (!parse_int(s, len, 0, &v, &u, &overflow)) return bad_value(w, k, s, len, 1, e, "must be an integer");
        if (overflow || !in_range(k, (double)v)) return out_of_range(w, k, s, len, e);
        *(int *)dst = (int)v;
        return 0;
    }
    case K_U64: {
        long long v = 0;
        uint64_t u = 0;
        int overflow = 0;
        if (!parse_int(s, len, 1, &v, &u, &overflow)) return bad_value(w, k, s, len, 1, e, "must be an integer");
        if (overflow) return bad_value(w, k, s, len, 0, e, "must be in [0, 18446744073709551615]");
        memcpy(dst, &u, sizeof u);
        return 0;
    }
    case K_FLOAT:
    case K_DOUBLE: {
        double v = 0;
        if (!parse_float(s, len, &v)) return bad_value(w, k, s, len, 1, e, "must be a number");
        if (isnan(v)) return bad_value(w, k, s, len, 1, e, "must be a number, not NaN");
        if (!in_range(k, v)) return out_of_range(w, k, s, len, e);
        if (k->type == K_FLOAT) {
            float f = (float)v;
            memcpy(dst, &f, sizeof f);
        } else {
            memcpy(dst, &v, sizeof v);
        }
        return 0;
    }
    case K_BOOL: {
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
    case K_ENUM:
    case K_CHOICE: {
        int i = match_name(k->names, s, len);
        if (i < 0) {
            char list[160], what[200];
            names_list(list, sizeof list, k->names);
            snprintf(what, sizeof what, "must be one of %s", list);
            return bad_value(w, k, s, len, 1, e, what);
        }
        if (k->type == K_ENUM) {
            *(int *)dst = i;
        } else {
            memset(dst, 0, k->size);
            memcpy(dst, k->names[i], strlen(k->names[i]));
        }
        return 0;
    }
    case K_STR: {
        if (plain && is_null(s, len)) len = 0;
        if (memchr(s, 0, len)) return bad_value(w, k, s, len, 1, e, "must not contain a NUL character");
        if (u8_check((const uint8_t *)s, len)) return bad_value(w, k, s, len, 1, e, "must be valid UTF-8");
        if (len >= k->size) {
            char what[96];
            snprintf(what, sizeof what, "is too long (%zu bytes, at most %zu)", len, k->size - 1);
            return bad_value(w, k, s, len, 1, e, what);
        }
        if (len == 0 && (k->flags & NONEMPTY)) return bad_value(w, k, s, len, 1, e, "must not be empty");
        memset(dst, 0, k->size);
        memcpy(dst, s, len);
        return 0;
    }
    case K_LIST: {
        char buf[1024] = {0};
        mgCheck(k->size <= sizeof buf, "a list key is longer than list_from_text's buffer");
        if (list_from_text(buf, k->size, k, s, len, plain, w, e)) return -1;
        return list_store(c, k, buf, s, len, w, e);
    }
    case K_GROUP:
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

// Names people bring from TRL, PEFT, vLLM or the paper, which edit distance cannot find.
static const struct {
    const char *from, *to;
} k_hints[] = {
    {"lr", "training.learning_rate"},         {"kl", "training.beta"},
    {"kl_coef", "training.beta"},             {"epsilon_low", "training.epsilon"},
    {"rank", "lora.r"},                       {"lora_r", "lora.r"},
    {"lora_rank", "lora.r"},                  {"lora_alpha", "lora.alpha"},
    {"max_new_tokens", "sampling.max_completion_length"},
    {"max_tokens", "sampling.max_completion_length"},
    {"num_generations", "search.num_on_policy"},
    {"search.alpha", "search.num_on_policy"}, {"search.beta", "search.num_greedy"},
    {"search.gamma", "search.num_neighborhood"},
    {"sampling.top_k", "sampling.sampling_top_k"},
};

// "lr" for "learning_rate", "mcl" for "max_completion_length".
static int initials_match(const char *word, const char *name) {
    char ini[32];
    size_t n = 0;
    for (const char *p = name; *p && n < sizeof ini - 1; p++)
        if (p == name || p[-1] == '_') ini[n++] = *p;
    ini[n] = 0;
    return n >= 2 && !strcasecmp(ini, word);
}

static const char *suggest(const char *path) {
    const char *last = last_part(path);
    size_t group_len = (size_t)(last - path);  // "training." or ""
    for (size_t i = 0; i < sizeof k_hints / sizeof k_hints[0]; i++)
        if (!strcmp(k_hints[i].from, path) || (!strchr(k_hints[i].from, '.') && !strcmp(k_hints[i].from, last)))
            return k_hints[i].to;
    // The right name in the wrong group ("temperature" at the top level).
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(last_part(k_schema[i].key), last)) return k_schema[i].key;
    // A typo anywhere in the path.
    int best = -1, best_d = 1000, len = (int)strlen(path);
    for (int i = 0; i < N_KEYS; i++) {
        int d = edit_distance(path, k_schema[i].key);
        if (d < best_d) best = i, best_d = d;
    }
    int limit = len / 4 > 2 ? len / 4 : 2;
    if (best >= 0 && best_d <= limit && best_d < len) return k_schema[best].key;
    // Within the same group: initials, a part of the name, or a typo in the last part.
    best = -1, best_d = 1000;
    size_t last_len = strlen(last);
    for (int i = 0; i < N_KEYS; i++) {
        const char *key = k_schema[i].key, *kl = last_part(key);
        if (group_len && ((size_t)(kl - key) != group_len || strncmp(key, path, group_len))) continue;
        int d = edit_distance(last, kl);
        if (initials_match(last, kl) || (last_len >= 3 && strstr(kl, last)) || (strlen(kl) >= 3 && strstr(last, kl)))
            d = 0;
        int lim = (int)last_len / 3 > 1 ? (int)last_len / 3 : 1;
        if (d <= lim && d < (int)last_len && d < best_d) best = i, best_d = d;
    }
    return best >= 0 ? k_schema[best].key : NULL;
}

static int unknown_key(const where *w, const char *key, size_t len, mg_err *e) {
    char shown_key[96], path[200];
    shown(shown_key, sizeof shown_key, key, len);
    const char *hint = NULL;
    if (len < sizeof path && !memchr(key, 0, len)) {
        memcpy(path, key, len);
        path[len] = 0;
        hint = suggest(path);
    }
    if (hint) return fail_at(w, e, "unknown key '%s' (did you mean '%s'?)", shown_key, hint);
    return fail_at(w, e, "unknown key '%s' (docs/config.md lists the keys)", shown_key);
}

// ---- the YAML walk ----

typedef struct {
    yaml_parser_t parser;
    const char *name, *text;
    size_t len;
    run_config *c;
    long seen[N_KEYS];  // line where the file set each key (and group); 0 = not yet
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

// The value of leaf key k (set on key_line), whose first event is ev (consumed here). Messages point at the key's
// line, except for a bad item of a block list, which has its own.
static int parse_leaf(loader *L, const cfg_key *k, long key_line, yaml_event_t *ev) {
    where w = {L->name, key_line, NULL};
    if (ev->type == YAML_SCALAR_EVENT) {
        int rc = set_value(L->c, k, (const char *)ev->data.scalar.value, ev->data.scalar.length,
                           ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, &w, L->e);
        yaml_event_delete(ev);
        return rc;
    }
    if (ev->type == YAML_SEQUENCE_START_EVENT && k->type == K_LIST) {
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
        [K_INT] = "an integer", [K_U64] = "an integer", [K_FLOAT] = "a number", [K_DOUBLE] = "a number",
        [K_BOOL] = "true or false", [K_STR] = "a string", [K_ENUM] = "a name", [K_CHOICE] = "a name",
        [K_LIST] = "a list of names", [K_GROUP] = "a mapping"};
    return fail_at(&w, L->e, "key '%s' must be %s, got %s", k->key, what[k->type], kind);
}

// A group's value: a nested mapping, or nothing ("training:" alone).
static int parse_group(loader *L, const cfg_key *k, long key_line, yaml_event_t *ev) {
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
            idx = find_key(path);
        } else {
            snprintf(path, sizeof path, "%s%s%.*s", prefix, plen ? "." : "", (int)(klen < 120 ? klen : 120), key);
        }
        yaml_event_delete(&ev);
        if (idx < 0) return unknown_key(&w, path, strlen(path), L->e);
        if (L->seen[idx])
            return fail_at(&w, L->e, "duplicate key '%s' (first set on line %ld)", path, L->seen[idx]);
        L->seen[idx] = w.line;
        yaml_event_t val;
        if (next_event(L, &val)) return -1;
        const cfg_key *k = &k_schema[idx];
        if ((k->type == K_GROUP ? parse_group(L, k, w.line, &val) : parse_leaf(L, k, w.line, &val))) return -1;
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
        if (docs++) return fail_at(&w, L->e, "a second YAML document ('---'); a run config is one mapping");
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
            return fail_at(&w, L->e, "a run config must be a mapping of keys ('key: value' lines), got %s", kind);
    }
}

// ---- --set key=value ----

// seen[]: a key set here is marked -(index + 1), so checks across keys no longer cite its line in the file.
static int apply_override(run_config *c, const char *ov, const char *name, long *seen, int index, mg_err *e) {
    where w = {name, 0, ov};
    const char *eq = strchr(ov, '=');
    if (!eq) return fail_at(&w, e, "expected key=value (e.g. --set training.learning_rate=1e-4)");
    const char *key = ov, *kend = eq;
    while (key < kend && isspace((unsigned char)*key)) key++;
    while (kend > key && isspace((unsigned char)kend[-1])) kend--;
    char path[200];
    size_t klen = (size_t)(kend - key);
    if (klen == 0) return fail_at(&w, e, "expected key=value (e.g. --set training.learning_rate=1e-4)");
    if (klen >= sizeof path) return unknown_key(&w, key, klen, e);
    memcpy(path, key, klen);
    path[klen] = 0;
    int idx = find_key(path);
    if (idx < 0) return unknown_key(&w, key, klen, e);
    const cfg_key *k = &k_schema[idx];
    if (k->type == K_GROUP) return fail_at(&w, e, "'%s' is a group; set one of its keys (%s.KEY=VALUE)", path, path);
    // Typed values are YAML plain scalars (spaces around them dropped); strings are taken as written.
    const char *v = eq + 1;
    size_t vlen = strlen(v);
    if (k->type != K_STR) {
        while (vlen > 0 && isspace((unsigned char)*v)) v++, vlen--;
        while (vlen > 0 && isspace((unsigned char)v[vlen - 1])) vlen--;
    }
    if (set_value(c, k, v, vlen, 1, &w, e)) return -1;
    seen[idx] = -(long)index - 1;
    return 0;
}

// ---- checks across keys ----

// The line a key was set on, for messages about combinations ("--set" values and defaults have none).
static long line_for(const long *seen, const char *key) {
    int i = find_key(key);
    return i >= 0 && seen[i] > 0 ? seen[i] : 0;
}

static int validate(const run_config *c, const char *name, const long *seen, mg_err *e) {
    where w = {name, 0, NULL};
    const char *s = strategy_name(c->strategy);
    if (!c->model[0]) return fail_at(&w, e, "key 'model' is required (a Hugging Face model folder)");
    // Every strategy draws num_on_policy + num_neighborhood new samples per iteration (equal oracle cost; the
    // neighborhood share uses the neighborhood prompt under ns and migrate only); grpo-greedy and migrate add
    // num_greedy archive entries to the group they train on.
    int drawn = c->num_on_policy + c->num_neighborhood;
    int group = drawn + (c->strategy == STRATEGY_GRPO_GREEDY || c->strategy == STRATEGY_MIGRATE ? c->num_greedy : 0);
    const char *need = NULL, *need_key = NULL;
    if (drawn < 1)
        need = "search.num_on_policy + search.num_neighborhood > 0 (new samples per iteration)",
        need_key = "search.num_on_policy";
    else if (c->strategy == STRATEGY_MIGRATE && c->num_neighborhood < 1)
        need = "search.num_neighborhood > 0", need_key = "search.num_neighborhood";
    else if (c->strategy == STRATEGY_MIGRATE && c->num_greedy < 0)  // the range already says so; kept explicit
        need = "search.num_greedy >= 0", need_key = "search.num_greedy";
    else if (c->strategy == STRATEGY_GRPO_GREEDY && c->num_greedy < 1)
        need = "search.num_greedy > 0", need_key = "search.num_greedy";
    if (need) {
        w.line = line_for(seen, need_key) ? line_for(seen, need_key) : line_for(seen, "strategy");
        return fail_at(&w, e, "strategy '%s' needs %s", s, need);
    }
    if (c->strategy >= STRATEGY_GRPO && group < 2) {
        w.line = line_for(seen, "search.num_on_policy") ? line_for(seen, "search.num_on_policy")
                                                         : line_for(seen, "strategy");
        return fail_at(&w, e,
                       "strategy '%s' needs a group of at least 2 members for GRPO advantages, got %d "
                       "(search.num_on_policy + num_neighborhood%s)",
                       s, group, c->strategy == STRATEGY_GRPO ? "" : " + num_greedy");
    }
    if (c->task == TASK_SEMANTLE && (!c->target[0] || !c->vectors[0])) {
        const char *missing = !c->target[0] ? "task.target (the hidden word)" : "task.vectors (a word-vector file)";
        w.line = line_for(seen, "task.type");
        return fail_at(&w, e, "task.type 'semantle' needs %s", missing);
    }
    if (c->task == TASK_ORACLE && (!c->oracle_command[0] || !c->prompt[0])) {
        const char *missing = !c->oracle_command[0] ? "task.command (the oracle program)"
                                                    : "task.prompt (the oracle knows nothing about prompts)";
        w.line = line_for(seen, "task.type");
        return fail_at(&w, e, "task.type 'oracle' needs %s", missing);
    }
    if (c->epsilon_high < c->epsilon) {
        w.line = line_for(seen, "training.epsilon_high") ? line_for(seen, "training.epsilon_high")
                                                          : line_for(seen, "training.epsilon");
        return fail_at(&w, e, "key 'training.epsilon_high' (%g) must be >= training.epsilon (%g)",
                       (double)c->epsilon_high, (double)c->epsilon);
    }
    return 0;
}

// ---- public API ----

const char *strategy_name(strategy_kind s) {
    return (unsigned)s <= STRATEGY_MIGRATE ? k_strategies[s] : "unknown";
}

void run_config_defaults(run_config *c) {
    memset(c, 0, sizeof *c);
    where w = {"defaults", 0, NULL};
    for (int i = 0; i < N_KEYS; i++) {
        const cfg_key *k = &k_schema[i];
        if (k->type == K_GROUP || !k->def) continue;
        mg_err e;
        int rc = set_value(c, k, k->def, strlen(k->def), 1, &w, &e);
        mgCheck(rc == 0, "a default in config.c's schema table fails its own checks");
    }
}

int run_config_parse(run_config *c, const char *yaml, size_t len, const char *name, const char *const *overrides,
                     int n_overrides, mg_err *e) {
    if (!name) name = "config";
    run_config_defaults(c);
    snprintf(c->path, sizeof c->path, "%s", name);
    if (!yaml) yaml = "", len = 0;
    c->text = mallocCheck(len + 1);
    memcpy(c->text, yaml, len);
    c->text[len] = 0;

    loader *L = callocCheck(1, sizeof *L);  // seen[] and the parser state are a few KB: keep them off the stack
    L->name = name, L->text = yaml, L->len = len, L->c = c, L->e = e;
    mgCheck(yaml_parser_initialize(&L->parser), "libyaml could not allocate a parser");
    yaml_parser_set_input_string(&L->parser, (const unsigned char *)yaml, len);
    int rc = parse_stream(L);
    yaml_parser_delete(&L->parser);
    for (int i = 0; rc == 0 && i < n_overrides; i++) rc = apply_override(c, overrides[i], name, L->seen, i, e);
    if (rc == 0) rc = validate(c, name, L->seen, e);
    free(L);
    if (rc) run_config_free(c);
    return rc;
}

#define MAX_CONFIG_BYTES ((long)16 << 20)

int run_config_load(run_config *c, const char *path, const char *const *overrides, int n_overrides, mg_err *e) {
    run_config_defaults(c);
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
        if (n > MAX_CONFIG_BYTES) return mg_fail(e, "%s: %ld bytes is too large for a run config", path, n);
        return mg_fail(e, "%s: cannot read (not a regular file?)", path);
    }
    int rc = run_config_parse(c, buf, (size_t)n, path, overrides, n_overrides, e);
    free(buf);
    return rc;
}

void run_config_free(run_config *c) {
    if (!c) return;
    free(c->text);
    c->text = NULL;
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

void run_config_dump(const run_config *c, FILE *f) {
    for (int i = 0; i < N_KEYS; i++) {
        const cfg_key *k = &k_schema[i];
        if (k->type == K_GROUP) {
            fprintf(f, "%s:\n", k->key);
            continue;
        }
        const char *dot = strchr(k->key, '.');
        fprintf(f, "%s%s: ", dot ? "  " : "", dot ? dot + 1 : k->key);
        const char *src = (const char *)c + k->offset;
        switch (k->type) {
        case K_INT: fprintf(f, "%d", *(const int *)src); break;
        case K_U64: {
            uint64_t u;
            memcpy(&u, src, sizeof u);
            fprintf(f, "%" PRIu64, u);
            break;
        }
        case K_FLOAT: {
            float v;
            memcpy(&v, src, sizeof v);
            write_number(f, v, 1);
            break;
        }
        case K_DOUBLE: {
            double v;
            memcpy(&v, src, sizeof v);
            write_number(f, v, 0);
            break;
        }
        case K_BOOL: fputs(*(const int *)src ? "true" : "false", f); break;
        case K_ENUM: {
            int v = *(const int *)src;
            int n = 0;
            while (k->names[n]) n++;
            fputs(v >= 0 && v < n ? k->names[v] : "unknown", f);
            break;
        }
        case K_CHOICE: fputs(src, f); break;
        case K_STR: write_string(f, src); break;
        case K_LIST:  // names are [A-Za-z_][A-Za-z0-9_.]*: safe as plain flow scalars
            fputc('[', f);
            for (const char *p = src; *p; p++)
                if (*p == ',')
                    fputs(", ", f);
                else
                    fputc(*p, f);
            fputc(']', f);
            break;
        case K_GROUP: break;
        }
        fputc('\n', f);
    }
}
