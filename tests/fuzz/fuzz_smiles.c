// libFuzzer target: the input is a SMILES (or any text a model might write). Nothing may crash or leak, whatever
// RDKit thinks of the input. What RDKit accepts must have a canonical SMILES, finite properties in their ranges
// (QED in (0, 1], SA in [1, 10], Tanimoto in [0, 1]), and score the same through the task as through the objective;
// what it refuses must score valid = 0, reward 0. The input also goes through the completion parser and, as a
// SMARTS, through the substructure matcher.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/chem/chem.h"
#include "tasks/molecule.h"

#include "tests/fuzz/fuzz_require.h"

static task *g_task;  // built once: compiling an objective parses its reference molecules

static void check_molecule(const chem_mol *m) {
    char *canon = chem_canonical_smiles(m), *formula = chem_formula(m), *with_h = chem_smiles_with_hs(m);
    require(canon && formula && with_h);
    chem_mol *again = chem_mol_from_smiles(canon);  // RDKit's own round trip may fail on exotic input: exercised only
    chem_mol_free(again);
    double qed = chem_qed(m), sa = chem_sa_score(m), bertz = chem_bertz(m);
    require(isnan(qed) || (qed > 0 && qed <= 1));
    require(isnan(sa) || (sa >= 1 && sa <= 10));
    require(!isinf(bertz));  // may be negative: an aromatic bond between non-aromatic atoms (C:C) adds 0.375 < 1
    (void)chem_logp(m), (void)chem_tpsa(m), (void)chem_mol_weight(m);
    require(chem_hbd(m) >= -1 && chem_hba(m) >= -1 && chem_rotatable_bonds(m) >= -1 && chem_rings(m) >= -1);
    require(chem_aromatic_rings(m) >= -1 && chem_heavy_atoms(m) > 0 && chem_element_count(m, "H") >= -1);
    for (int k = 0; k < CHEM_FP_COUNT; k++) {
        chem_fp *fp = chem_fingerprint(m, (chem_fp_kind)k);
        double t = chem_tanimoto(fp, fp);
        require(!fp || isnan(t) || (t >= 0 && t <= 1));
        chem_fp_free(fp);
    }
    free(canon), free(formula), free(with_h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 512) return 0;  // RDKit's cost grows fast with size; long inputs only slow the search down
    int chemistry = chem_available();  // without RDKit (chem_none.c) only the completion parser is exercised
    if (chemistry && !g_task) {
        mg_err e;
        molecule_config mc = {"{mean: geometric, terms: [qed, {property: sa, modifier: {type: gaussian, mu: 2, "
                              "sigma: 2}}, zaleplon_mpo, {smarts: 'c1ccccc1', present: false}]}",
                              "fuzz", 0, 1.0};
        require(molecule_create(&g_task, &mc, &e) == 0);
    }
    char *text = malloc(size + 1);
    if (size) memcpy(text, data, size);
    text[size] = 0;

    char *token = molecule_parse_smiles(text);
    require(!token || strlen(token) <= size);
    free(token);
    if (!chemistry) {
        require(chem_mol_from_smiles(text) == NULL);
        free(text);
        return 0;
    }

    chem_mol *m = chem_mol_from_smiles(text);
    if (m) check_molecule(m);
    task_score s;
    const char *cands[] = {text};
    mg_err e;
    require(g_task->score(g_task, 1, cands, &s, &e) == 0);
    require(m ? (!s.valid || (isfinite(s.reward) && s.reward >= 0 && s.reward <= 1)) : (!s.valid && s.reward == 0));
    require(memchr(s.info, 0, sizeof s.info) != NULL);
    char *key = g_task->canonical(g_task, text);
    require(key != NULL);
    free(key);

    chem_query *q = chem_query_from_smarts(text);
    if (q) {
        chem_mol *benzene = chem_mol_from_smiles("c1ccccc1O");
        int hit = chem_has_match(benzene, q), n = chem_count_matches(benzene, q);
        require(hit >= -1 && n >= -1 && (hit != 0 || n <= 0));
        if (m) (void)chem_has_match(m, q);
        chem_mol_free(benzene);
        chem_query_free(q);
    }
    chem_mol_free(m);
    free(text);
    return 0;
}
