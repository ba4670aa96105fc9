// chem.h without RDKit: migrate builds and runs without the chemistry (CMake compiles this file when RDKit is
// not found). Nothing is a molecule here; the molecule task refuses to start with a message saying why.
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "tasks/chem/chem.h"

int chem_available(void) { return 0; }
const char *chem_version(void) { return "none"; }
chem_mol *chem_mol_from_smiles(const char *smiles) { return NULL; }
void chem_mol_free(chem_mol *m) {}
char *chem_canonical_smiles(const chem_mol *m) { return NULL; }
char *chem_smiles_with_hs(const chem_mol *m) { return NULL; }
char *chem_formula(const chem_mol *m) { return NULL; }
int chem_heavy_atoms(const chem_mol *m) { return -1; }
int chem_atoms_with_h(const chem_mol *m) { return -1; }
int chem_element_count(const chem_mol *m, const char *symbol) { return -1; }
double chem_qed(const chem_mol *m) { return NAN; }
double chem_logp(const chem_mol *m) { return NAN; }
double chem_tpsa(const chem_mol *m) { return NAN; }
double chem_mol_weight(const chem_mol *m) { return NAN; }
int chem_hbd(const chem_mol *m) { return -1; }
int chem_hba(const chem_mol *m) { return -1; }
int chem_rotatable_bonds(const chem_mol *m) { return -1; }
int chem_rings(const chem_mol *m) { return -1; }
int chem_aromatic_rings(const chem_mol *m) { return -1; }
double chem_sa_score(const chem_mol *m) { return NAN; }
const char *chem_sa_error(void) { return "migrate was built without RDKit"; }
double chem_bertz(const chem_mol *m) { return NAN; }
const char *chem_fp_name(chem_fp_kind k) {
    static const char *const names[CHEM_FP_COUNT] = {"ecfp4", "ecfp6", "fcfp4", "fcfp6", "ap"};
    return (unsigned)k < CHEM_FP_COUNT ? names[k] : "unknown";
}
int chem_fp_from_name(const char *name) {
    for (int i = 0; name && i < CHEM_FP_COUNT; i++)
        if (!strcmp(name, chem_fp_name((chem_fp_kind)i))) return i;
    return -1;
}
chem_fp *chem_fingerprint(const chem_mol *m, chem_fp_kind k) { return NULL; }
void chem_fp_free(chem_fp *f) {}
double chem_tanimoto(const chem_fp *a, const chem_fp *b) { return NAN; }
chem_query *chem_query_from_smarts(const char *smarts) { return NULL; }
void chem_query_free(chem_query *q) {}
int chem_has_match(const chem_mol *m, const chem_query *q) { return -1; }
int chem_count_matches(const chem_mol *m, const chem_query *q) { return -1; }
