// Molecule objectives, the grammar half: YAML -> a tree of terms (tasks/molecule_terms.h). The YAML is loaded as a
// libyaml document (nodes keep their marks, so every message names the line and the key path). The predefined PMO
// objectives are written in the same grammar. Scoring the tree: tasks/molecule_score.c.
#include "tasks/molecule_terms.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define KEY_LEN 256  // a key path in messages: "task.objective.terms[1].modifier.type"

static const mod_spec MODS[MOD_COUNT] = {
    [MOD_LINEAR] = {"linear", {"slope"}, {1}, -1},
    [MOD_SQUARED] = {"squared", {"target", "coefficient"}, {NAN, 1}, 0},
    [MOD_ABSOLUTE] = {"absolute", {"target"}, {NAN}, 0},
    [MOD_GAUSSIAN] = {"gaussian", {"mu", "sigma"}, {NAN, NAN}, 0},
    [MOD_MIN_GAUSSIAN] = {"min_gaussian", {"mu", "sigma"}, {NAN, NAN}, 0},
    [MOD_MAX_GAUSSIAN] = {"max_gaussian", {"mu", "sigma"}, {NAN, NAN}, 0},
    [MOD_CLIPPED] = {"clipped", {"upper_x", "lower_x", "high_score", "low_score"}, {NAN, 0, 1, 0}, -1},
    [MOD_SMOOTH_CLIPPED] = {"smooth_clipped", {"upper_x", "lower_x", "high_score", "low_score"}, {NAN, 0, 1, 0}, -1},
    [MOD_THRESHOLD] = {"threshold", {"threshold"}, {NAN}, -1},
};

static const char *const PROPS[PROP_COUNT + 1] = {
    "qed", "logp", "tpsa", "mol_weight", "hbd", "hba", "rotatable_bonds", "rings", "aromatic_rings", "sa", "bertz",
    "heavy_atoms", "atoms", "element_count", NULL};

// ---------------------------------------------------------------------------------------------------------------
// predefined objectives: PMO (Gao et al. 2022) as PyTDC defines them (tdc/chem_utils/oracle/oracle.py), which for
// these tasks is GuacaMol's definition (guacamol/standard_benchmarks.py). Term order = PyTDC's list order.

typedef struct {
    const char *name, *yaml;
} predefined;

#define SITAGLIPTIN "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
#define SITAGLIPTIN_2 "NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F"  // the same, as valsartan_smarts has it
#define OSIMERTINIB "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"

static const predefined PREDEFINED[] = {
    {"qed", "{property: qed}"},
    {"median1", "{mean: geometric, terms: ["
                "{similarity: 'CC1(C)C2CCC1(C)C(=O)C2', fingerprint: ecfp4},"  // camphor
                "{similarity: 'CC(C)C1CCC(C)CC1O', fingerprint: ecfp4}]}"},    // menthol
    {"median2", "{mean: geometric, terms: ["
                "{similarity: 'O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C', fingerprint: ecfp6},"
                "{similarity: 'CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C',"
                " fingerprint: ecfp6}]}"},
    {"zaleplon_mpo", "{mean: geometric, terms: ["
                     "{similarity: 'O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1', fingerprint: ecfp4},"
                     "{isomer: C19H17N3O2}]}"},
    {"sitagliptin_mpo", "{mean: geometric, terms: ["
                        "{similarity: '" SITAGLIPTIN "', fingerprint: ecfp4,"
                        " modifier: {type: gaussian, mu: 0, sigma: 0.1}},"
                        "{property: logp, reference: '" SITAGLIPTIN "', modifier: {type: gaussian, sigma: 0.2}},"
                        "{property: tpsa, reference: '" SITAGLIPTIN "', modifier: {type: gaussian, sigma: 5}},"
                        "{isomer: C16H15F6N5O}]}"},
    {"osimertinib_mpo", "{mean: geometric, terms: ["
                        "{property: tpsa, modifier: {type: max_gaussian, mu: 100, sigma: 10}},"
                        "{property: logp, modifier: {type: min_gaussian, mu: 1, sigma: 1}},"
                        "{similarity: '" OSIMERTINIB "', fingerprint: fcfp4,"
                        " modifier: {type: clipped, upper_x: 0.8}},"
                        "{similarity: '" OSIMERTINIB "', fingerprint: ecfp6,"
                        " modifier: {type: min_gaussian, mu: 0.85, sigma: 0.1}}]}"},
    {"fexofenadine_mpo", "{mean: geometric, terms: ["
                         "{property: tpsa, modifier: {type: max_gaussian, mu: 90, sigma: 10}},"
                         "{property: logp, modifier: {type: min_gaussian, mu: 4, sigma: 1}},"
                         "{similarity: 'CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4',"
                         " fingerprint: ap,"
                         " modifier: {type: clipped, upper_x: 0.8}}]}"},
    {"ranolazine_mpo", "{mean: geometric, terms: ["
                       "{property: tpsa, modifier: {type: max_gaussian, mu: 95, sigma: 20}},"
                       "{property: logp, modifier: {type: max_gaussian, mu: 7, sigma: 1}},"
                       "{similarity: 'COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2', fingerprint: ap,"
                       " modifier: {type: clipped, upper_x: 0.7}},"
                       "{property: element_count, element: F, modifier: {type: gaussian, mu: 1, sigma: 1}}]}"},
    {"perindopril_mpo", "{mean: geometric, terms: ["
                        "{similarity: 'O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC', fingerprint: ecfp4},"
                        "{property: aromatic_rings, modifier: {type: gaussian, mu: 2, sigma: 0.5}}]}"},
    {"amlodipine_mpo", "{mean: geometric, terms: ["
                       "{similarity: 'Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\\C(=O)OC', fingerprint: ecfp4},"
                       "{property: rings, modifier: {type: gaussian, mu: 3, sigma: 0.5}}]}"},
    {"celecoxib_rediscovery",
     "{similarity: 'CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F', fingerprint: ecfp4}"},
    {"troglitazone_rediscovery",
     "{similarity: 'Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O', fingerprint: ecfp4}"},
    {"thiothixene_rediscovery",
     "{similarity: 'CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1', fingerprint: ecfp4}"},
    {"albuterol_similarity", "{similarity: 'CC(C)(C)NCC(O)c1ccc(O)c(CO)c1', fingerprint: fcfp4,"
                             " modifier: {type: clipped, upper_x: 0.75}}"},
    {"mestranol_similarity", "{similarity: 'COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1',"
                             " fingerprint: ap,"
                             " modifier: {type: clipped, upper_x: 0.75}}"},
    {"aripiprazole_similarity", "{similarity: 'Clc4cccc(N3CCN(CCCCOc2ccc1c(NC(=O)CC1)c2)CC3)c4Cl', fingerprint: fcfp4,"
                                " modifier: {type: clipped, upper_x: 0.75}}"},
    {"isomers_c7h8n2o2", "{isomer: C7H8N2O2}"},
    {"isomers_c9h10n2o2pf2cl", "{isomer: C9H10N2O2PF2Cl}"},
    {"isomers_c11h24", "{isomer: C11H24}"},
    {"valsartan_smarts", "{mean: geometric, terms: ["
                         "{smarts: 'CN(C=O)Cc1ccc(c2ccccc2)cc1'},"
                         "{property: tpsa, reference: '" SITAGLIPTIN_2 "', modifier: {type: gaussian, sigma: 5}},"
                         "{property: logp, reference: '" SITAGLIPTIN_2 "', modifier: {type: gaussian, sigma: 0.2}},"
                         "{property: bertz, reference: '" SITAGLIPTIN_2 "', modifier: {type: gaussian, sigma: 30}}]}"},
};
#define N_PREDEFINED ((int)(sizeof PREDEFINED / sizeof PREDEFINED[0]))

const char *const *mol_objective_names(void) {
    static const char *names[N_PREDEFINED + 1];
    if (!names[0])
        for (int i = 0; i < N_PREDEFINED; i++) names[i] = PREDEFINED[i].name;
    return names;
}

const char *mol_objective_definition(const char *name) {
    for (int i = 0; name && i < N_PREDEFINED; i++)
        if (!strcmp(PREDEFINED[i].name, name)) return PREDEFINED[i].yaml;
    return NULL;
}

// ---------------------------------------------------------------------------------------------------------------
// compiling

typedef struct {
    yaml_document_t doc;
    const char *where;
    long first_line;
} source;

typedef struct {
    mg_err *e;
    int chemistry;  // resolve molecules and SMARTS
    int n_terms, depth;
} compiler;

__attribute__((format(printf, 5, 6))) static int fail(compiler *cc, const source *src, const yaml_node_t *node,
                                                     const char *key, const char *fmt, ...) {
    if (!cc->e) return -1;
    char *msg = cc->e->msg;
    size_t cap = sizeof cc->e->msg;
    int n = src->first_line > 0 && node
                ? snprintf(msg, cap, "%s:%ld: key '%s': ", src->where, src->first_line + (long)node->start_mark.line,
                           key)
                : snprintf(msg, cap, "%s: key '%s': ", src->where, key);
    if (n >= 0 && (size_t)n < cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, cap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    mg_err_one_line(cc->e);
    return -1;
}

static const char *node_text(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static const char *kind_name(const yaml_node_t *n) {
    return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a scalar";
}

static int is_scalar(const yaml_node_t *n) { return n && n->type == YAML_SCALAR_NODE; }

// base.part, or base[index] when part is NULL; cut at KEY_LEN - 1 bytes.
static void sub_key(char *out, const char *base, const char *part, int index) {
    char num[16];
    if (!part) snprintf(num, sizeof num, "[%d]", index);
    const char *pieces[3] = {base, part ? (*base ? "." : "") : num, part ? part : ""};
    size_t len = 0;
    for (int i = 0; i < 3; i++)
        for (const char *c = pieces[i]; *c && len < KEY_LEN - 1; c++) out[len++] = *c;
    out[len] = 0;
}

static void join_key(char *out, const char *base, const char *part) { sub_key(out, base, part, 0); }

static int find_name(const char *const *names, const char *s) {
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

static void names_list(char *out, size_t cap, const char *const *names) {
    out[0] = 0;
    for (int i = 0; names[i]; i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", i ? ", " : "", names[i]);
    }
}

// A finite number (YAML ints and floats; .inf and .nan are refused).
static int scalar_number(compiler *cc, const source *src, const yaml_node_t *n, const char *key, double *out) {
    if (!is_scalar(n)) return fail(cc, src, n, key, "must be a number, got %s", kind_name(n));
    const char *s = node_text(n);
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || isspace((unsigned char)*s) || *end || !isfinite(v))
        return fail(cc, src, n, key, "must be a finite number, got '%.40s'", s);
    *out = v;
    return 0;
}

static int scalar_bool(compiler *cc, const source *src, const yaml_node_t *n, const char *key, int *out) {
    static const char *const yes[] = {"true", "yes", "on", NULL}, *const no[] = {"false", "no", "off", NULL};
    if (is_scalar(n)) {
        if (find_name(yes, node_text(n)) >= 0) return *out = 1, 0;
        if (find_name(no, node_text(n)) >= 0) return *out = 0, 0;
    }
    return fail(cc, src, n, key, "must be true or false");
}

static int scalar_string(compiler *cc, const source *src, const yaml_node_t *n, const char *key, const char **out) {
    if (!is_scalar(n) || !n->data.scalar.length) return fail(cc, src, n, key, "must be a non-empty string");
    if (memchr(n->data.scalar.value, 0, n->data.scalar.length))
        return fail(cc, src, n, key, "must not contain a NUL character");
    *out = node_text(n);
    return 0;
}

// A mapping's keys, checked against the allowed names (unknown and duplicate keys are errors).
typedef struct {
    const char *name;
    yaml_node_t *value;
} field;

static int read_fields(compiler *cc, source *src, yaml_node_t *map, const char *key, const char *const *allowed,
                       field *out, int n_out) {
    for (int i = 0; i < n_out; i++) out[i] = (field){allowed[i], NULL};
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&src->doc, p->key);
        if (!is_scalar(k)) return fail(cc, src, k, key, "keys must be plain names, got %s", kind_name(k));
        int i = find_name(allowed, node_text(k));
        char sub[KEY_LEN];
        join_key(sub, key, node_text(k));
        if (i < 0) {
            char list[256];
            names_list(list, sizeof list, allowed);
            return fail(cc, src, k, sub, "unknown key (here: %s)", list);
        }
        if (out[i].value) return fail(cc, src, k, sub, "duplicate key");
        out[i].value = yaml_document_get_node(&src->doc, p->value);
    }
    return 0;
}

static int compile_term(compiler *cc, source *src, yaml_node_t *n, const char *key, term *t);

// One modifier mapping: {type: NAME, PARAM: number, ...}. has_ref: the term names a `reference:` molecule, whose
// value (centre; NAN without RDKit, when it cannot be computed and is never used) sets the centre parameter.
static int compile_modifier(compiler *cc, source *src, yaml_node_t *n, const char *key, int has_ref, double centre,
                            modifier *m) {
    if (n->type != YAML_MAPPING_NODE)
        return fail(cc, src, n, key, "must be a mapping {type: NAME, ...} or a list of them, got %s", kind_name(n));
    yaml_node_t *type = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&src->doc, p->key);
        if (is_scalar(k) && !strcmp(node_text(k), "type")) type = yaml_document_get_node(&src->doc, p->value);
    }
    char tkey[KEY_LEN];
    join_key(tkey, key, "type");
    if (!type) return fail(cc, src, n, tkey, "is required (linear, squared, absolute, gaussian, ...)");
    int kind = -1;
    for (int i = 0; is_scalar(type) && i < MOD_COUNT; i++)
        if (!strcmp(MODS[i].name, node_text(type))) kind = i;
    if (kind < 0) {
        const char *names[MOD_COUNT + 1];
        for (int i = 0; i < MOD_COUNT; i++) names[i] = MODS[i].name;
        names[MOD_COUNT] = NULL;
        char list[256];
        names_list(list, sizeof list, names);
        return fail(cc, src, type, tkey, "unknown modifier '%.40s' (%s)", is_scalar(type) ? node_text(type) : "?",
                    list);
    }
    const mod_spec *spec = &MODS[kind];
    const char *allowed[6] = {"type"};
    int n_params = 0;
    while (n_params < 4 && spec->params[n_params]) allowed[n_params + 1] = spec->params[n_params], n_params++;
    allowed[n_params + 1] = NULL;
    field f[5];
    if (read_fields(cc, src, n, key, allowed, f, n_params + 1)) return -1;
    m->kind = (mod_kind)kind;
    for (int i = 0; i < n_params; i++) {
        char pkey[KEY_LEN];
        join_key(pkey, key, spec->params[i]);
        yaml_node_t *v = f[i + 1].value;
        int from_ref = has_ref && i == spec->centre;
        if (v && from_ref) return fail(cc, src, v, pkey, "is given twice: here and by the term's `reference:`");
        if (v) {
            if (scalar_number(cc, src, v, pkey, &m->p[i])) return -1;
        } else if (from_ref) {
            m->p[i] = centre;
        } else if (isnan(spec->defaults[i])) {
            return fail(cc, src, n, pkey, "is required for modifier '%s'", spec->name);
        } else {
            m->p[i] = spec->defaults[i];
        }
    }
    if (has_ref && spec->centre < 0)
        return fail(cc, src, n, key, "modifier '%s' has no centre for the term's `reference:` to set", spec->name);
    // Shapes GuacaMol would divide by zero or assert on.
    if ((kind == MOD_GAUSSIAN || kind == MOD_MIN_GAUSSIAN || kind == MOD_MAX_GAUSSIAN) && !(m->p[1] > 0)) {
        char pkey[KEY_LEN];
        join_key(pkey, key, "sigma");
        return fail(cc, src, f[2].value ? f[2].value : n, pkey, "must be > 0");
    }
    if ((kind == MOD_CLIPPED || kind == MOD_SMOOTH_CLIPPED) && (m->p[0] == m->p[1] || !(m->p[3] < m->p[2])))
        return fail(cc, src, n, key, "needs upper_x != lower_x and low_score < high_score");
    if (kind == MOD_THRESHOLD && !(m->p[0] > 0)) {
        char pkey[KEY_LEN];
        join_key(pkey, key, "threshold");
        return fail(cc, src, f[1].value ? f[1].value : n, pkey, "must be > 0");
    }
    return 0;
}

// Appended to the term's modifiers (a predefined objective used as a term may already have some).
static int compile_modifiers(compiler *cc, source *src, yaml_node_t *n, const char *key, int has_ref, double centre,
                             term *t) {
    int seq = n->type == YAML_SEQUENCE_NODE;
    int count = seq ? (int)(n->data.sequence.items.top - n->data.sequence.items.start) : 1;
    if (count < 1 || t->n_mods + count > MAX_MODIFIERS)
        return fail(cc, src, n, key, "must list 1 to %d modifiers, got %d", MAX_MODIFIERS - t->n_mods, count);
    for (int i = 0; i < count; i++) {
        char sub[KEY_LEN];
        if (seq) sub_key(sub, key, NULL, i);
        else join_key(sub, "", key);
        yaml_node_t *item = seq ? yaml_document_get_node(&src->doc, n->data.sequence.items.start[i]) : n;
        // The reference sets the first modifier's centre only: the others act on already-modified values.
        if (compile_modifier(cc, src, item, sub, has_ref && i == 0, centre, &t->mods[t->n_mods])) return -1;
        t->n_mods++;
    }
    return 0;
}

static int is_element(const char *sym) {
    static const char *const ELEMENTS =
        " H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr Y"
        " Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re"
        " Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg"
        " Cn Nh Fl Mc Lv Ts Og ";
    char key[8];
    snprintf(key, sizeof key, " %.3s ", sym);
    return strstr(ELEMENTS, key) != NULL;
}

// "C9H10N2O2PF2Cl" -> (C 9) (H 10) ...: an element symbol then an optional count, nothing else.
static int parse_formula(const char *s, element *out, int *n, int *total) {
    *n = 0, *total = 0;
    while (*s) {
        if (!isupper((unsigned char)*s) || *n == MAX_FORMULA) return -1;
        element *el = &out[(*n)++];
        size_t len = 1;
        while (islower((unsigned char)s[len])) len++;
        if (len >= sizeof el->symbol) return -1;
        memcpy(el->symbol, s, len);
        el->symbol[len] = 0;
        if (!is_element(el->symbol)) return -1;
        s += len;
        el->count = 1;
        if (isdigit((unsigned char)*s)) {
            char *end;
            long c = strtol(s, &end, 10);
            if (c < 0 || c > 100000) return -1;
            el->count = (int)c;
            s = end;
        }
        *total += el->count;
    }
    return *n > 0 ? 0 : -1;
}


static int compile_mean(compiler *cc, source *src, yaml_node_t *terms, const char *key, term *t) {
    if (!terms || terms->type != YAML_SEQUENCE_NODE)
        return fail(cc, src, terms, key, "must be a list of terms");
    int count = (int)(terms->data.sequence.items.top - terms->data.sequence.items.start);
    if (count < 1) return fail(cc, src, terms, key, "must list at least one term");
    t->terms = calloc((size_t)count, sizeof(term));
    mgCheck(t->terms != NULL, "out of memory compiling an objective");
    t->n_terms = count;
    for (int i = 0; i < count; i++) {
        char sub[KEY_LEN];
        sub_key(sub, key, NULL, i);
        if (compile_term(cc, src, yaml_document_get_node(&src->doc, terms->data.sequence.items.start[i]), sub,
                         &t->terms[i]))
            return -1;
    }
    return 0;
}

static int compile_text(compiler *cc, const char *yaml, const char *where, long first_line, const char *key,
                        term *t);

static const char *const KINDS[] = {"objective", "property", "similarity", "isomer", "smarts", "terms", NULL};

static int compile_term(compiler *cc, source *src, yaml_node_t *n, const char *key, term *t) {
    memset(t, 0, sizeof *t);
    t->weight = 1;
    if (++cc->n_terms > MAX_TERMS) return fail(cc, src, n, key, "more than %d terms", MAX_TERMS);
    if (cc->depth >= MAX_DEPTH) return fail(cc, src, n, key, "nested deeper than %d levels", MAX_DEPTH);
    if (is_scalar(n)) {  // a predefined name
        const char *def = mol_objective_definition(node_text(n));
        if (!def) {
            char list[1024];
            names_list(list, sizeof list, mol_objective_names());
            return fail(cc, src, n, key, "unknown objective '%.60s' (predefined: %s; or a mapping, see "
                        "docs/molecules.md)", node_text(n), list);
        }
        char where[96];
        snprintf(where, sizeof where, "predefined objective '%s'", node_text(n));
        cc->depth++;
        int rc = compile_text(cc, def, where, 0, key, t);
        cc->depth--;
        snprintf(t->label, sizeof t->label, "%s", node_text(n));
        return rc;
    }
    if (n->type != YAML_MAPPING_NODE)
        return fail(cc, src, n, key, "must be an objective name or a mapping (a term), got %s", kind_name(n));

    // The kind: exactly one of KINDS.
    int kind = -1;
    yaml_node_t *kind_value = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&src->doc, p->key);
        int i = is_scalar(k) ? find_name(KINDS, node_text(k)) : -1;
        if (i < 0) continue;
        if (kind >= 0) {
            char sub[KEY_LEN];
            join_key(sub, key, node_text(k));
            return fail(cc, src, k, sub, "a term has one kind, and this one is already '%s'", KINDS[kind]);
        }
        kind = i, kind_value = yaml_document_get_node(&src->doc, p->value);
    }
    if (kind < 0)
        return fail(cc, src, n, key, "a term needs one of: objective, property, similarity, isomer, smarts, terms");
    char kkey[KEY_LEN];
    join_key(kkey, key, KINDS[kind]);

    static const char *const F_OBJECTIVE[] = {"objective", "modifier", "weight", NULL};
    static const char *const F_PROPERTY[] = {"property", "element", "reference", "modifier", "weight", NULL};
    static const char *const F_SIMILARITY[] = {"similarity", "fingerprint", "modifier", "weight", NULL};
    static const char *const F_ISOMER[] = {"isomer", "mean", "modifier", "weight", NULL};
    static const char *const F_SMARTS[] = {"smarts", "present", "modifier", "weight", NULL};
    static const char *const F_MEAN[] = {"terms", "mean", "modifier", "weight", NULL};
    static const char *const *const FIELDS[] = {F_OBJECTIVE, F_PROPERTY, F_SIMILARITY, F_ISOMER, F_SMARTS, F_MEAN};
    const char *const *allowed = FIELDS[kind];
    int n_fields = 0;
    while (allowed[n_fields]) n_fields++;
    field f[8];
    if (read_fields(cc, src, n, key, allowed, f, n_fields)) return -1;
    yaml_node_t *mod = NULL, *weight = NULL, *mean = NULL;
    for (int i = 0; i < n_fields; i++) {
        if (!strcmp(f[i].name, "modifier")) mod = f[i].value;
        if (!strcmp(f[i].name, "weight")) weight = f[i].value;
        if (!strcmp(f[i].name, "mean")) mean = f[i].value;
    }
    if (weight) {
        char wkey[KEY_LEN];
        join_key(wkey, key, "weight");
        if (scalar_number(cc, src, weight, wkey, &t->weight)) return -1;
        if (!(t->weight > 0)) return fail(cc, src, weight, wkey, "must be > 0");
    }
    t->geometric = 1;
    if (mean) {
        char mkey[KEY_LEN];
        join_key(mkey, key, "mean");
        static const char *const means[] = {"geometric", "arithmetic", NULL};
        int m = is_scalar(mean) ? find_name(means, node_text(mean)) : -1;
        if (m < 0) return fail(cc, src, mean, mkey, "must be geometric or arithmetic");
        t->geometric = m == 0;
    }
    double centre = NAN;
    int has_ref = 0;
    const char *text = NULL;
    switch (kind) {
    case 0: {  // objective: NAME, inlined; this term's modifiers apply after the objective's own
        if (!is_scalar(kind_value)) return fail(cc, src, kind_value, kkey, "must be a predefined objective's name");
        double w = t->weight;
        cc->depth++;
        int rc = compile_term(cc, src, kind_value, kkey, t);  // resets the term
        cc->depth--;
        if (rc) return -1;
        t->weight = w;
        break;
    }
    case 1: {  // property
        t->kind = TERM_PROPERTY;
        int p = is_scalar(kind_value) ? find_name(PROPS, node_text(kind_value)) : -1;
        if (p < 0) {
            char list[512];
            names_list(list, sizeof list, PROPS);
            return fail(cc, src, kind_value, kkey, "unknown property '%.40s' (%s)",
                        is_scalar(kind_value) ? node_text(kind_value) : "?", list);
        }
        t->prop = (prop_kind)p;
        snprintf(t->label, sizeof t->label, "%s", PROPS[p]);
        yaml_node_t *el = f[1].value, *ref = f[2].value;
        if ((p == PROP_ELEMENT_COUNT) != (el != NULL))
            return fail(cc, src, el ? el : kind_value, kkey,
                        p == PROP_ELEMENT_COUNT ? "element_count needs `element:` (a symbol such as F)"
                                                : "`element:` goes with property element_count only");
        if (el) {
            char ekey[KEY_LEN];
            join_key(ekey, key, "element");
            const char *sym;
            element tmp[MAX_FORMULA];
            int ne, total;
            if (scalar_string(cc, src, el, ekey, &sym)) return -1;
            if (parse_formula(sym, tmp, &ne, &total) || ne != 1 || strlen(sym) != strlen(tmp[0].symbol))
                return fail(cc, src, el, ekey, "must be an element symbol such as F or Cl, got '%.20s'", sym);
            memcpy(t->element, tmp[0].symbol, sizeof t->element);
            snprintf(t->label, sizeof t->label, "count(%s)", sym);
        }
        if (ref) {
            char rkey[KEY_LEN];
            join_key(rkey, key, "reference");
            if (scalar_string(cc, src, ref, rkey, &text)) return -1;
            if (!mod) return fail(cc, src, ref, rkey, "needs a modifier to centre (e.g. {type: gaussian, sigma: 1})");
            has_ref = 1;
            if (cc->chemistry) {
                chem_mol *m = chem_mol_from_smiles(text);
                if (!m) return fail(cc, src, ref, rkey, "'%.60s' is not a valid SMILES", text);
                centre = mol_property_value(m, t->prop, t->element);
                chem_mol_free(m);
                if (isnan(centre)) return fail(cc, src, ref, rkey, "its %s could not be computed", PROPS[p]);
            }
        }
        break;
    }
    case 2: {  // similarity
        t->kind = TERM_SIMILARITY;
        if (scalar_string(cc, src, kind_value, kkey, &text)) return -1;
        t->fp_kind = CHEM_FP_ECFP4;
        if (f[1].value) {
            char fkey[KEY_LEN];
            join_key(fkey, key, "fingerprint");
            int k = is_scalar(f[1].value) ? chem_fp_from_name(node_text(f[1].value)) : -1;
            if (k < 0) return fail(cc, src, f[1].value, fkey, "must be one of ecfp4, ecfp6, fcfp4, fcfp6, ap");
            t->fp_kind = (chem_fp_kind)k;
        }
        snprintf(t->label, sizeof t->label, "similarity(%s)", chem_fp_name(t->fp_kind));
        if (cc->chemistry) {
            chem_mol *m = chem_mol_from_smiles(text);
            if (!m) return fail(cc, src, kind_value, kkey, "'%.60s' is not a valid SMILES", text);
            t->ref_fp = chem_fingerprint(m, t->fp_kind);
            chem_mol_free(m);
            if (!t->ref_fp) return fail(cc, src, kind_value, kkey, "the fingerprint of '%.60s' failed", text);
        }
        break;
    }
    case 3: {  // isomer
        t->kind = TERM_ISOMER;
        if (scalar_string(cc, src, kind_value, kkey, &text)) return -1;
        if (parse_formula(text, t->formula, &t->n_formula, &t->total_atoms))
            return fail(cc, src, kind_value, kkey, "'%.40s' is not a molecular formula (element symbols and counts, "
                        "e.g. C9H10N2O2PF2Cl)", text);
        snprintf(t->label, sizeof t->label, "isomer(%.30s)", text);
        break;
    }
    case 4: {  // smarts
        t->kind = TERM_SMARTS;
        if (scalar_string(cc, src, kind_value, kkey, &text)) return -1;
        t->present = 1;
        if (f[1].value) {
            char pkey[KEY_LEN];
            join_key(pkey, key, "present");
            if (scalar_bool(cc, src, f[1].value, pkey, &t->present)) return -1;
        }
        snprintf(t->label, sizeof t->label, "smarts");
        if (cc->chemistry && !(t->query = chem_query_from_smarts(text)))
            return fail(cc, src, kind_value, kkey, "'%.60s' is not a valid SMARTS", text);
        break;
    }
    default: {  // terms: a mean
        t->kind = TERM_MEAN;
        snprintf(t->label, sizeof t->label, "%s mean", t->geometric ? "geometric" : "arithmetic");
        cc->depth++;
        int rc = compile_mean(cc, src, kind_value, kkey, t);
        cc->depth--;
        if (rc) return -1;
        break;
    }
    }
    if (mod) {
        char mkey[KEY_LEN];
        join_key(mkey, key, "modifier");
        if (compile_modifiers(cc, src, mod, mkey, has_ref, centre, t)) return -1;
    }
    return 0;
}

// Loads one YAML document and compiles its root as a term.
static int compile_text(compiler *cc, const char *yaml, const char *where, long first_line, const char *key,
                        term *t) {
    source src = {.where = where, .first_line = first_line};
    yaml_parser_t parser;
    mgCheck(yaml_parser_initialize(&parser), "libyaml could not allocate a parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
    int rc = 0;
    if (!yaml_parser_load(&parser, &src.doc)) {
        long line = first_line > 0 ? first_line + (long)parser.problem_mark.line : 0;
        if (cc->e) {
            if (line > 0)
                snprintf(cc->e->msg, sizeof cc->e->msg, "%s:%ld: key '%s': YAML syntax error: %s", where, line, key,
                         parser.problem ? parser.problem : "unknown problem");
            else
                snprintf(cc->e->msg, sizeof cc->e->msg, "%s: key '%s': YAML syntax error: %s", where, key,
                         parser.problem ? parser.problem : "unknown problem");
            mg_err_one_line(cc->e);
        }
        yaml_parser_delete(&parser);
        memset(t, 0, sizeof *t);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&src.doc);
    if (!root || (is_scalar(root) && root->data.scalar.length == 0)) {
        memset(t, 0, sizeof *t);
        rc = fail(cc, &src, root, key, "is empty (an objective name such as qed, or a mapping)");
    } else {
        rc = compile_term(cc, &src, root, key, t);
    }
    yaml_document_delete(&src.doc);
    yaml_parser_delete(&parser);
    return rc;
}

static void term_free(term *t) {
    for (int i = 0; i < t->n_terms; i++) term_free(&t->terms[i]);
    free(t->terms);
    chem_fp_free(t->ref_fp);
    chem_query_free(t->query);
}

void mol_objective_free(mol_objective *o) {
    if (!o) return;
    term_free(&o->root);
    free(o);
}

int mol_objective_compile(mol_objective **out, const char *yaml, const char *where, long first_line, const char *key,
                          mg_err *e) {
    *out = NULL;
    compiler cc = {.e = e, .chemistry = chem_available()};
    mol_objective *o = calloc(1, sizeof *o);
    mgCheck(o != NULL, "out of memory compiling an objective");
    if (compile_text(&cc, yaml ? yaml : "", where ? where : "objective", first_line, key ? key : "objective",
                     &o->root)) {
        mol_objective_free(o);
        return -1;
    }
    *out = o;
    return 0;
}
