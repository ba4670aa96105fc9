// The molecule task: SMILES in, an RDKit-computed objective out. Candidates are scored in parallel (OpenMP):
// every molecule is parsed, fingerprinted and scored by one thread, and the objective's reference fingerprints and
// SMARTS are shared read-only, which RDKit allows.
#include "tasks/molecule.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "tasks/chem/chem.h"
#include "tasks/molecule_objective.h"

typedef struct {
    mol_objective *objective;
    double solved_reward;
} molecule;

// ---------------------------------------------------------------------------------------------------------------
// finding a SMILES in a completion

static int is_bond_or_digit(char c) { return strchr("0123456789()=#$/\\%-+.:*~@", c) != NULL; }

// Outside brackets a SMILES has only the organic subset (B C N O P S F Cl Br I, aromatic b c n o p s) as letters,
// plus bonds, branches, ring closures, '*' and bracket atoms. 1 when tok[0..n) reads like one with an atom.
static int looks_like_smiles(const char *tok, size_t n) {
    int atoms = 0;
    for (size_t i = 0; i < n;) {
        char c = tok[i];
        if (c == '[') {  // a bracket atom: letters, digits, charges, chirality, H counts
            size_t j = i + 1;
            while (j < n && tok[j] != ']' && tok[j] != '[') j++;
            if (j >= n || tok[j] != ']' || j == i + 1) return 0;
            for (size_t k = i + 1; k < j; k++)
                if (!(isalnum((unsigned char)tok[k]) || strchr("+-@:*", tok[k]))) return 0;
            atoms++, i = j + 1;
        } else if ((c == 'B' && i + 1 < n && tok[i + 1] == 'r') || (c == 'C' && i + 1 < n && tok[i + 1] == 'l')) {
            atoms++, i += 2;
        } else if (strchr("BCNOPSFIbcnops", c)) {
            atoms++, i++;
        } else if (c == '*') {
            atoms++, i++;
        } else if (is_bond_or_digit(c)) {
            i++;
        } else {
            return 0;
        }
    }
    return atoms > 0;
}

// Tokens end at whitespace, quotes, backticks, commas and semicolons (none of them is SMILES).
static int is_separator(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || strchr("\"'`,;", c); }

char *molecule_parse_smiles(const char *text) {
    if (!text) return NULL;
    const char *p = text;
    while (*p) {
        while (*p && is_separator(*p)) p++;
        const char *start = p;
        while (*p && !is_separator(*p)) p++;
        size_t n = (size_t)(p - start);
        while (n > 0 && (start[n - 1] == '.' || start[n - 1] == ':')) n--;  // sentence punctuation, "SMILES:"
        if (n > 0 && n <= CHEM_MAX_SMILES && looks_like_smiles(start, n)) {
            char *out = mallocCheck(n + 1);
            memcpy(out, start, n);
            out[n] = 0;
            return out;
        }
    }
    return NULL;
}

// ---------------------------------------------------------------------------------------------------------------
// the task interface

static char *mol_prompt(task *t) { return text_printf("a molecule"); }

static char *mol_ns_prompt(task *t, const char *solution, double reward) {
    return text_printf("a variation of %s", solution ? solution : "");
}

static char *mol_parse(task *t, const char *completion) { return molecule_parse_smiles(completion); }

static char *mol_canonical(task *t, const char *candidate) {
    chem_mol *m = chem_mol_from_smiles(candidate);
    char *c = m ? chem_canonical_smiles(m) : NULL;
    chem_mol_free(m);
    return c ? c : text_printf("%s", candidate ? candidate : "");
}

static void score_one(const molecule *s, const char *candidate, task_score *out) {
    memset(out, 0, sizeof *out);
    chem_mol *m = chem_mol_from_smiles(candidate);
    if (!m) {
        snprintf(out->info, sizeof out->info, "invalid SMILES");
        return;
    }
    char info[TASK_INFO_LEN];
    double r = mol_objective_score(s->objective, m, info, sizeof info);
    chem_mol_free(m);
    if (!isfinite(r)) {
        snprintf(out->info, sizeof out->info, "the objective could not be computed (%.200s)", info);
        return;
    }
    out->valid = 1;
    out->reward = r;
    snprintf(out->info, sizeof out->info, "%s", info);
}

static int mol_score(task *t, int n, const char *const *candidates, task_score *out, mg_err *e) {
    if (n < 0 || (n > 0 && (!candidates || !out))) return mg_fail(e, "molecule: bad score call (n = %d)", n);
    const molecule *s = t->state;
#pragma omp parallel for schedule(dynamic, 1) if (n > 1)
    for (int i = 0; i < n; i++) score_one(s, candidates[i], &out[i]);
    return 0;
}

static int mol_solved(task *t, double reward, const char *candidate) {
    const molecule *s = t->state;
    return reward >= s->solved_reward;
}

static void mol_destroy(task *t) {
    if (!t) return;
    molecule *s = t->state;
    if (s) mol_objective_free(s->objective);
    free(s);
    free(t);
}

int molecule_create(task **out, const molecule_config *cfg, mg_err *e) {
    *out = NULL;
    if (!chem_available())
        return mg_fail(e, "%s: task.type 'molecule' needs RDKit, and migrate was built without it "
                          "(scripts/install-deps.sh installs librdkit-dev, libboost-dev, rdkit-data, python3-rdkit; "
                          "then rebuild)", cfg && cfg->where ? cfg->where : "molecule");
    if (!cfg || !cfg->objective || !cfg->objective[0]) return mg_fail(e, "molecule: no objective");
    if (isnan(cfg->solved_reward)) return mg_fail(e, "molecule: solved_reward is NaN");
    molecule *s = callocCheck(1, sizeof *s);
    if (mol_objective_compile(&s->objective, cfg->objective, cfg->where, cfg->line, "task.objective", e)) {
        free(s);
        return -1;
    }
    s->solved_reward = cfg->solved_reward;
    task *t = mallocCheck(sizeof *t);
    *t = (task){.name = "molecule", .state = s, .prompt = mol_prompt, .ns_prompt = mol_ns_prompt, .parse = mol_parse,
                .canonical = mol_canonical, .score = mol_score, .solved = mol_solved, .destroy = mol_destroy};
    *out = t;
    return 0;
}
