// The sweep: section is cut out of the config text (lines kept, so `migrate run` messages still point at the right
// line of the user's file), then read with libyaml's document API: it is small and free-form (grid keys are any
// config keys), so walking nodes is simpler than the schema engine's event loop.
#include "common/sweep_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <yaml.h>

#include "common/file.h"

static const char *KEYS = "targets, objectives, seeds, strategies, arc_ids_from, grid, sbatch_args, max_parallel";

// Is line (at p) the top-level key `sweep:`?
static int starts_sweep(const char *p, const char *end) {
    if (end - p < 6 || memcmp(p, "sweep:", 6)) return 0;
    return p + 6 == end || p[6] == ' ' || p[6] == '\t' || p[6] == '\n' || p[6] == '\r' || p[6] == '#';
}

// Splits text into the run config (sweep lines blanked) and the sweep section (other lines blanked); both keep
// every newline, so line numbers match the file. Returns 1 if there is a sweep: section.
static int split_text(const char *text, size_t len, char *run, char *sweep) {
    int in = 0, found = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        const char *p = text + i;
        if (starts_sweep(p, text + j)) in = found = 1;
        else if (j > i && p[0] != ' ' && p[0] != '\t' && p[0] != '#' && p[0] != '\r') in = 0;  // next top-level key
        for (size_t k = i; k < j; k++) run[k] = in ? ' ' : text[k], sweep[k] = in ? text[k] : ' ';
        if (j < len) run[j] = sweep[j] = '\n';
        i = j + 1;
    }
    run[len] = sweep[len] = '\0';
    return found;
}

typedef struct {
    const char *path;
    yaml_document_t *doc;
} ctx;

static long line_of(const yaml_node_t *n) { return (long)n->start_mark.line + 1; }

static int axis_rank(const char *key) {
    if (!strcmp(key, "strategy")) return 0;
    if (!strcmp(key, "task.target") || !strcmp(key, "task.objective") || !strcmp(key, "task.arc.file") ||
        !strcmp(key, "task.arc.id"))
        return 1;  // the problem: word, objective or ARC task
    return !strcmp(key, "seed") ? 2 : 3;
}

// Sets an axis's values, then keeps the axes in the documented order (stable: grid keys stay as written).
static int set_values(sweep_spec *s, sweep_axis *a, const char *key, char **vals, int n) {
    for (int i = 0; i < a->n; i++) free(a->values[i]);
    free(a->values);
    snprintf(a->key, sizeof a->key, "%s", key);
    a->values = vals, a->n = n;
    for (int i = 1; i < s->n_axes; i++)
        for (int j = i; j > 0 && axis_rank(s->axes[j - 1].key) > axis_rank(s->axes[j].key); j--) {
            sweep_axis t = s->axes[j];
            s->axes[j] = s->axes[j - 1], s->axes[j - 1] = t;
        }
    return 0;
}

static sweep_axis *axis_for(sweep_spec *s, const char *key) {
    for (int i = 0; i < s->n_axes; i++)
        if (!strcmp(s->axes[i].key, key)) return &s->axes[i];
    if (s->n_axes == SWEEP_MAX_AXES) return NULL;
    sweep_axis *a = &s->axes[s->n_axes++];
    memset(a, 0, sizeof *a);
    return a;
}

// A value goes into a tab-separated manifest line and onto a command line as --set key=value.
static int check_value(const char *v, const char *where, long line, const char *key, mg_err *e) {
    if (!*v) return mg_fail(e, "%s:%ld: sweep %s: an empty value", where, line, key);
    if (strpbrk(v, "\t\n\r")) return mg_fail(e, "%s:%ld: sweep %s: a value holds a tab or a newline", where, line, key);
    return 0;
}

// A node that is a list of scalars, or one scalar (split on commas), into malloc'd strings.
static int read_list(ctx *c, yaml_node_t *n, const char *key, char ***out, int *count, mg_err *e) {
    int cap = n->type == YAML_SEQUENCE_NODE ? (int)(n->data.sequence.items.top - n->data.sequence.items.start) : 0;
    if (n->type == YAML_SCALAR_NODE) {
        cap = 1;
        for (size_t i = 0; i < n->data.scalar.length; i++) cap += n->data.scalar.value[i] == ',';
    } else if (n->type != YAML_SEQUENCE_NODE)
        return mg_fail(e, "%s:%ld: sweep %s: expected a list of values or a comma string", c->path, line_of(n), key);
    char **vals = callocCheck((size_t)cap + 1, sizeof(char *));
    int k = 0;
    if (n->type == YAML_SCALAR_NODE) {
        char *copy = strdup((const char *)n->data.scalar.value), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) vals[k++] = strdup(t);
        free(copy);
    } else
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_node_t *v = yaml_document_get_node(c->doc, *it);
            if (!v || v->type != YAML_SCALAR_NODE) {
                for (int i = 0; i < k; i++) free(vals[i]);
                free(vals);
                return mg_fail(e, "%s:%ld: sweep %s: each value must be a scalar", c->path,
                               v ? line_of(v) : line_of(n), key);
            }
            vals[k++] = strdup((const char *)v->data.scalar.value);
        }
    int rc = k ? 0 : mg_fail(e, "%s:%ld: sweep %s: no values", c->path, line_of(n), key);
    for (int i = 0; i < k && !rc; i++) rc = check_value(vals[i], c->path, line_of(n), key, e);
    if (rc) {
        for (int i = 0; i < k; i++) free(vals[i]);
        free(vals);
        return -1;
    }
    *out = vals, *count = k;
    return 0;
}

static int add_axis(ctx *c, sweep_spec *s, yaml_node_t *n, const char *key, const char *label, mg_err *e) {
    char **vals = NULL;
    int k = 0;
    if (read_list(c, n, label, &vals, &k, e)) return -1;
    sweep_axis *a = axis_for(s, key);
    if (!a) {
        for (int i = 0; i < k; i++) free(vals[i]);
        free(vals);
        return mg_fail(e, "%s:%ld: sweep: more than %d axes", c->path, line_of(n), SWEEP_MAX_AXES);
    }
    return set_values(s, a, key, vals, k);
}

static int read_scalar(ctx *c, yaml_node_t *n, const char *key, const char **out, mg_err *e) {
    if (n->type != YAML_SCALAR_NODE)
        return mg_fail(e, "%s:%ld: sweep.%s: expected a single value", c->path, line_of(n), key);
    *out = (const char *)n->data.scalar.value;
    return 0;
}

static int read_grid(ctx *c, sweep_spec *s, yaml_node_t *v, mg_err *e) {
    if (v->type != YAML_MAPPING_NODE)
        return mg_fail(e, "%s:%ld: sweep.grid: expected a mapping of config keys to lists of values", c->path,
                       line_of(v));
    for (yaml_node_pair_t *g = v->data.mapping.pairs.start; g < v->data.mapping.pairs.top; g++) {
        yaml_node_t *gk = yaml_document_get_node(c->doc, g->key), *gv = yaml_document_get_node(c->doc, g->value);
        if (!gk || !gv || gk->type != YAML_SCALAR_NODE || !gk->data.scalar.length ||
            gk->data.scalar.length >= sizeof s->axes[0].key)
            return mg_fail(e, "%s:%ld: sweep.grid: keys must be config keys (training.learning_rate)", c->path,
                           gk ? line_of(gk) : line_of(v));
        const char *gkey = (const char *)gk->data.scalar.value;
        if (!strcmp(gkey, "output_dir"))
            return mg_fail(e, "%s:%ld: sweep.grid: output_dir is set per element by migrate sweep", c->path,
                           line_of(gk));
        char label[160];
        snprintf(label, sizeof label, "sweep.grid.%s", gkey);
        if (add_axis(c, s, gv, gkey, label, e)) return -1;
    }
    return 0;
}

static int by_text(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// sweep.arc_ids_from: every task id of a Kaggle-style challenges file (its top-level keys, sorted), as the values
// of task.arc.id; the config's task.arc.file names the same file.
static int arc_ids_axis(ctx *c, sweep_spec *s, yaml_node_t *v, mg_err *e) {
    const char *file;
    if (v->type != YAML_SCALAR_NODE || !v->data.scalar.length)
        return mg_fail(e, "%s:%ld: sweep.arc_ids_from: expected the path of an ARC challenges file", c->path,
                       line_of(v));
    file = (const char *)v->data.scalar.value;
    size_t len;
    mg_err re;
    char *text = read_small_file(file, (size_t)256 << 20, &len, 0, NULL, &re);
    if (!text) return mg_fail(e, "%s:%ld: sweep.arc_ids_from: %s", c->path, line_of(v), re.msg);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!json_is_object(root) || !json_object_size(root)) {
        int rc = mg_fail(e, "%s:%ld: sweep.arc_ids_from: %s: %s", c->path, line_of(v), file,
                         root ? "not a JSON object of tasks by id" : je.text);
        json_decref(root);
        return rc;
    }
    int n = (int)json_object_size(root), k = 0, rc = 0;
    char **vals = callocCheck((size_t)n, sizeof(char *));
    const char *id;
    json_t *task;
    json_object_foreach(root, id, task) vals[k++] = strdup(id);
    json_decref(root);
    qsort(vals, (size_t)k, sizeof *vals, by_text);
    for (int i = 0; i < k && !rc; i++) rc = check_value(vals[i], c->path, line_of(v), "arc_ids_from", e);
    sweep_axis *a = rc ? NULL : axis_for(s, "task.arc.id");
    if (!rc && !a) rc = mg_fail(e, "%s:%ld: sweep: more than %d axes", c->path, line_of(v), SWEEP_MAX_AXES);
    if (rc) {
        for (int i = 0; i < k; i++) free(vals[i]);
        free(vals);
        return -1;
    }
    return set_values(s, a, "task.arc.id", vals, k);
}

static int read_section(ctx *c, sweep_spec *s, yaml_node_t *sec, mg_err *e) {
    if (sec->type == YAML_SCALAR_NODE && sec->data.scalar.length == 0) return 0;  // "sweep:" with nothing under it
    if (sec->type != YAML_MAPPING_NODE)
        return mg_fail(e, "%s:%ld: sweep: expected a mapping of %s", c->path, line_of(sec), KEYS);
    static const char *const fixed[][2] = {
        {"strategies", "strategy"}, {"targets", "task.target"}, {"objectives", "task.objective"}, {"seeds", "seed"}};
    for (yaml_node_pair_t *p = sec->data.mapping.pairs.start; p < sec->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return mg_fail(e, "%s:%ld: sweep: keys must be plain names", c->path, k ? line_of(k) : line_of(sec));
        const char *key = (const char *)k->data.scalar.value, *val = NULL;
        int f = 0;
        while (f < 4 && strcmp(key, fixed[f][0])) f++;
        if (f < 4) {
            char label[64];
            snprintf(label, sizeof label, "sweep.%s", key);
            if (add_axis(c, s, v, fixed[f][1], label, e)) return -1;
        } else if (!strcmp(key, "grid")) {
            if (read_grid(c, s, v, e)) return -1;
        } else if (!strcmp(key, "arc_ids_from")) {
            if (arc_ids_axis(c, s, v, e)) return -1;
        } else if (!strcmp(key, "sbatch_args")) {
            if (read_scalar(c, v, key, &val, e)) return -1;
            snprintf(s->sbatch_args, sizeof s->sbatch_args, "%s", val);
        } else if (!strcmp(key, "max_parallel")) {
            char *end;
            if (read_scalar(c, v, key, &val, e)) return -1;
            long x = strtol(val, &end, 10);
            if (end == val || *end || x < 0 || x > 1000000)
                return mg_fail(e, "%s:%ld: sweep.max_parallel: '%s' is not an integer in [0, 1000000]", c->path,
                               line_of(v), val);
            s->max_parallel = (int)x;
        } else
            return mg_fail(e, "%s:%ld: unknown key 'sweep.%s' (sweep keys: %s)", c->path, line_of(k), key, KEYS);
    }
    return 0;
}

static int parse_section(sweep_spec *s, const char *path, const char *text, size_t len, mg_err *e) {
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = mg_fail(e, "%s:%ld: sweep: %s", path, (long)parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "not YAML");
        yaml_parser_delete(&parser);
        return rc;
    }
    ctx c = {path, &doc};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = 0;
    // The blanked text holds `sweep:` and its block only: a one-pair mapping.
    if (root && root->type == YAML_MAPPING_NODE && root->data.mapping.pairs.top > root->data.mapping.pairs.start)
        rc = read_section(&c, s, yaml_document_get_node(&doc, root->data.mapping.pairs.start->value), e);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int sweep_spec_load(sweep_spec *s, const char *path, mg_err *e) {
    memset(s, 0, sizeof *s);
    size_t len;
    char *text = read_small_file(path, (size_t)16 << 20, &len, 0, NULL, e);
    if (!text) return -1;
    s->run_text = mallocCheck(len + 1);
    s->run_len = len;
    char *sweep = mallocCheck(len + 1);
    int rc = split_text(text, len, s->run_text, sweep) ? parse_section(s, path, sweep, len, e) : 0;
    free(sweep);
    free(text);
    if (rc) sweep_spec_free(s);
    return rc;
}

int sweep_spec_set_axis(sweep_spec *s, const char *key, const char *list, mg_err *e) {
    char *copy = strdup(list), *save = NULL;
    int cap = 2;
    for (const char *p = list; *p; p++) cap += *p == ',';
    char **vals = callocCheck((size_t)cap, sizeof(char *));
    int k = 0, rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) vals[k++] = strdup(t);
    free(copy);
    if (!k) rc = mg_fail(e, "option for %s: no values in '%s'", key, list);
    for (int i = 0; i < k && !rc; i++) rc = check_value(vals[i], "command line", 0, key, e);
    sweep_axis *a = rc ? NULL : axis_for(s, key);
    if (!rc && !a) rc = mg_fail(e, "option for %s: more than %d axes", key, SWEEP_MAX_AXES);
    if (rc) {
        for (int i = 0; i < k; i++) free(vals[i]);
        free(vals);
        return -1;
    }
    return set_values(s, a, key, vals, k);
}

long sweep_spec_count(const sweep_spec *s, long max, mg_err *e) {
    long n = 1;
    for (int a = 0; a < s->n_axes; a++)
        if ((n *= s->axes[a].n) > max) return mg_fail(e, "the sweep has more than %ld elements", max);
    return n;
}

const char *sweep_spec_value(const sweep_spec *s, long i, int a) {
    long stride = 1;
    for (int b = a + 1; b < s->n_axes; b++) stride *= s->axes[b].n;
    return s->axes[a].values[(i / stride) % s->axes[a].n];
}

void sweep_spec_free(sweep_spec *s) {
    for (int a = 0; a < s->n_axes; a++) {
        for (int i = 0; i < s->axes[a].n; i++) free(s->axes[a].values[i]);
        free(s->axes[a].values);
    }
    free(s->run_text);
    memset(s, 0, sizeof *s);
}

int sweep_element_overrides(const sweep_spec *s, const char *const *sets, int n_sets, long i, const char *dir,
                            char ***kv) {
    int n = 0;
    char **out = callocCheck((size_t)n_sets + SWEEP_MAX_AXES + 2, sizeof(char *));
    for (int k = 0; k < n_sets; k++) out[n++] = strdup(sets[k]);
    for (int a = 0; a < s->n_axes; a++) {
        const char *v = sweep_spec_value(s, i, a);
        size_t len = strlen(s->axes[a].key) + strlen(v) + 2;
        out[n] = mallocCheck(len);
        snprintf(out[n++], len, "%s=%s", s->axes[a].key, v);
    }
    size_t len = strlen(dir) + 64;  // "output_dir=", "/", the index
    out[n] = mallocCheck(len);
    snprintf(out[n++], len, "output_dir=%s/%ld", dir, i);
    *kv = out;
    return n;
}

void sweep_overrides_free(char **kv, int n) {
    for (int i = 0; i < n; i++) free(kv[i]);
    free(kv);
}

char *sweep_manifest_text(const sweep_spec *s, const char *config, const char *const *sets, int n_sets, long count,
                          const char *dir) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mgCheck(f != NULL, "out of memory");
    fputs("# migrate sweep of ", f);
    for (const char *c = config; *c; c++)  // one comment line whatever the file's name: a line break would add elements
        fputc((unsigned char)*c < 0x20 ? '?' : *c, f);
    fputs(": element index, then the --set overrides of its `migrate run config.yaml`, tab-separated\n", f);
    for (long i = 0; i < count; i++) {
        char **kv;
        int n = sweep_element_overrides(s, sets, n_sets, i, dir, &kv);
        fprintf(f, "%ld", i);
        for (int k = 0; k < n; k++) fprintf(f, "\t%s", kv[k]);
        fputc('\n', f);
        sweep_overrides_free(kv, n);
    }
    fclose(f);
    return buf;
}
