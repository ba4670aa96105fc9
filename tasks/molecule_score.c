// Molecule objectives, the scoring half: a compiled tree of terms (tasks/molecule_terms.h) -> a score per molecule.
// The tree is evaluated with a small per-molecule cache, so a fingerprint or property used twice (median1's two
// ECFP4 similarities) is computed once. The arithmetic follows GuacaMol / PyTDC operation by operation (their
// formulas are in the comments), which is what tests/parity/test_chem_parity.c checks.
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/molecule_terms.h"

// ---------------------------------------------------------------------------------------------------------------
// scoring

typedef struct {
    const chem_mol *m;
    chem_fp *fp[CHEM_FP_COUNT];
    double prop[PROP_COUNT];
    int have[PROP_COUNT];
} context;

static double int_value(int v) { return v < 0 ? NAN : (double)v; }

double mol_property_value(const chem_mol *m, prop_kind p, const char *element) {
    switch (p) {
    case PROP_QED: return chem_qed(m);
    case PROP_LOGP: return chem_logp(m);
    case PROP_TPSA: return chem_tpsa(m);
    case PROP_MOL_WEIGHT: return chem_mol_weight(m);
    case PROP_HBD: return int_value(chem_hbd(m));
    case PROP_HBA: return int_value(chem_hba(m));
    case PROP_ROTATABLE_BONDS: return int_value(chem_rotatable_bonds(m));
    case PROP_RINGS: return int_value(chem_rings(m));
    case PROP_AROMATIC_RINGS: return int_value(chem_aromatic_rings(m));
    case PROP_SA: return chem_sa_score(m);
    case PROP_BERTZ: return chem_bertz(m);
    case PROP_HEAVY_ATOMS: return int_value(chem_heavy_atoms(m));
    case PROP_ATOMS: return int_value(chem_atoms_with_h(m));
    case PROP_ELEMENT_COUNT: return int_value(chem_element_count(m, element));
    case PROP_COUNT: break;
    }
    return NAN;
}

// GuacaMol's modifiers (score_modifier.py), formula by formula.
static double apply_modifier(const modifier *m, double x) {
    const double *p = m->p;
    switch (m->kind) {
    case MOD_LINEAR: return p[0] * x;                                  // slope * x
    case MOD_SQUARED: return 1.0 - p[1] * ((p[0] - x) * (p[0] - x));  // 1 - coefficient * square(target - x)
    case MOD_ABSOLUTE: return 1. - fabs(p[0] - x);                     // 1 - |target - x|
    case MOD_MIN_GAUSSIAN: x = fmax(x, p[0]); break;                   // then the full gaussian
    case MOD_MAX_GAUSSIAN: x = fmin(x, p[0]); break;
    case MOD_GAUSSIAN: break;
    case MOD_CLIPPED: {
        double slope = (p[2] - p[3]) / (p[0] - p[1]), intercept = p[2] - slope * p[0];
        double y = slope * x + intercept;
        return y < p[3] ? p[3] : y > p[2] ? p[2] : y;  // np.clip(y, low, high)
    }
    case MOD_SMOOTH_CLIPPED: {
        double k = 4.0 / (p[0] - p[1]), middle = (p[0] + p[1]) / 2, L = p[2] - p[3];
        return p[3] + L / (1 + exp(-k * (x - middle)));
    }
    case MOD_THRESHOLD: return fmin(x, p[0]) / p[0];
    case MOD_COUNT: return NAN;
    }
    if (isnan(x)) return NAN;  // fmax/fmin would drop a NaN
    return exp(-0.5 * pow((x - p[0]) / p[1], 2.));  // exp(-0.5 * power((x - mu) / sigma, 2))
}

static const chem_fp *context_fp(context *c, chem_fp_kind k) {
    if (!c->fp[k]) c->fp[k] = chem_fingerprint(c->m, k);
    return c->fp[k];
}

static double context_prop(context *c, const term *t) {
    if (t->prop == PROP_ELEMENT_COUNT) return mol_property_value(c->m, t->prop, t->element);
    if (!c->have[t->prop]) c->prop[t->prop] = mol_property_value(c->m, t->prop, NULL), c->have[t->prop] = 1;
    return c->prop[t->prop];
}

// exp(mean(log(x))) weighted, as scipy's gmean (a zero gives 0); or sum(w x) / sum(w).
static double combine(const double *x, const double *w, int n, int geometric) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) num += w[i] * (geometric ? log(x[i]) : x[i]), den += w[i];
    return geometric ? exp(num / den) : num / den;
}

// PyTDC's Isomer_scoring: canonicalize, add hydrogens, write and re-read the SMILES; per target element a
// gaussian (sigma 1) of its count, then a gaussian (sigma 2) of the atom total read from the molecular formula.
static double isomer_score(const term *t, const chem_mol *m) {
    double x[MAX_FORMULA + 1], w[MAX_FORMULA + 1];
    char *canon = chem_canonical_smiles(m);
    chem_mol *m2 = chem_mol_from_smiles(canon);
    char *with_h = chem_smiles_with_hs(m2);
    chem_mol *m3 = chem_mol_from_smiles(with_h);
    char *formula = chem_formula(m3);
    double result = NAN;
    if (formula) {
        int ok = 1;
        for (int i = 0; i < t->n_formula && ok; i++) {
            int count = chem_element_count(m3, t->formula[i].symbol);
            ok = count >= 0;
            modifier g = {MOD_GAUSSIAN, {t->formula[i].count, 1.0}};
            x[i] = apply_modifier(&g, count), w[i] = 1;
        }
        // The total: every element symbol's count in the formula ("C6H6Na+": 13), as re.findall reads it.
        long total = 0;
        for (const char *p = formula; *p;) {
            if (!isupper((unsigned char)*p)) {
                p++;
                continue;
            }
            p++;
            while (islower((unsigned char)*p)) p++;
            long c = 1;
            if (isdigit((unsigned char)*p)) {
                char *end;
                c = strtol(p, &end, 10);
                p = end;
            }
            total += c;
        }
        modifier g = {MOD_GAUSSIAN, {t->total_atoms, 2.0}};
        x[t->n_formula] = apply_modifier(&g, (double)total), w[t->n_formula] = 1;
        if (ok) result = combine(x, w, t->n_formula + 1, t->geometric);
    }
    free(formula);
    chem_mol_free(m3);
    free(with_h);
    chem_mol_free(m2);
    free(canon);
    return result;
}

static double eval_term(const term *t, context *c);

// A mean's children (each with its modifiers) combined; parts (n_terms values, may be NULL) gets each child's value.
static double eval_mean(const term *t, context *c, double *parts) {
    double stack_x[32], stack_w[32], *x = stack_x, *w = stack_w;
    if (t->n_terms > 32) {
        x = mallocCheck(sizeof(double) * (size_t)t->n_terms);
        w = mallocCheck(sizeof(double) * (size_t)t->n_terms);
    }
    int bad = 0;
    for (int i = 0; i < t->n_terms; i++) {
        x[i] = eval_term(&t->terms[i], c), w[i] = t->terms[i].weight;
        bad |= isnan(x[i]);
        if (parts) parts[i] = x[i];
    }
    double v = bad ? NAN : combine(x, w, t->n_terms, t->geometric);
    if (x != stack_x) free(x), free(w);
    return v;
}

static double eval_term(const term *t, context *c) {
    double v = NAN;
    switch (t->kind) {
    case TERM_PROPERTY: v = context_prop(c, t); break;
    case TERM_SIMILARITY: v = chem_tanimoto(context_fp(c, t->fp_kind), t->ref_fp); break;
    case TERM_ISOMER: v = isomer_score(t, c->m); break;
    case TERM_SMARTS: {
        int hit = chem_has_match(c->m, t->query);
        v = hit < 0 ? NAN : (hit != 0) == (t->present != 0) ? 1.0 : 0.0;
        break;
    }
    case TERM_MEAN: v = eval_mean(t, c, NULL); break;
    }
    for (int i = 0; i < t->n_mods && !isnan(v); i++) v = apply_modifier(&t->mods[i], v);
    return v;
}

double mol_objective_score(const mol_objective *o, const chem_mol *m, char *info, size_t info_cap) {
    if (info && info_cap) info[0] = 0;
    if (!o || !m) return NAN;
    context c = {.m = m};
    const term *root = &o->root;
    double v;
    if (root->kind == TERM_MEAN && info && info_cap) {  // eval_term's computation, keeping the parts
        double *parts = mallocCheck(sizeof(double) * (size_t)root->n_terms);
        v = eval_mean(root, &c, parts);
        for (int i = 0; i < root->n_mods && !isnan(v); i++) v = apply_modifier(&root->mods[i], v);
        size_t len = 0;
        for (int i = 0; i < root->n_terms && len + 1 < info_cap; i++) {
            int k = snprintf(info + len, info_cap - len, "%s%s %.4g", i ? ", " : "", root->terms[i].label, parts[i]);
            len = k < 0 ? info_cap : len + (size_t)k;
        }
        free(parts);
    } else {
        v = eval_term(root, &c);
        if (info && info_cap) snprintf(info, info_cap, "%s %.4g", root->label[0] ? root->label : "score", v);
    }
    for (int k = 0; k < CHEM_FP_COUNT; k++) chem_fp_free(c.fp[k]);
    return v;
}
