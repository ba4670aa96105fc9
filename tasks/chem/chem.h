// Chemistry for C through RDKit: a small C++17 shim (chem_shim.cpp and friends) with this extern "C" API and
// opaque handles. No exception crosses into C: every function catches everything and reports failure by its
// return value (NULL, -1, NAN). RDKit's own logging is silenced. Without RDKit (chem_none.c) chem_available()
// is 0 and every molecule is invalid.
//
// Every value is computed the way RDKit's Python (and GuacaMol / PyTDC on top of it) computes it, on the same
// library, so scores agree with the Python references (tests/parity/test_chem_parity.c):
//   qed          rdkit.Chem.QED.qed (mean weights), constants read from the installed QED.py at build time
//   logp, tpsa, mol_weight, hbd, hba, rotatable_bonds, rings, aromatic_rings
//                Descriptors.MolLogP, TPSA, MolWt, NumHDonors, NumHAcceptors, NumRotatableBonds,
//                rdMolDescriptors.CalcNumRings, CalcNumAromaticRings
//   sa_score     RDKit Contrib SA_Score/sascorer.py with its fpscores.pkl.gz
//   bertz        Descriptors.BertzCT
//   fingerprints AllChem.GetMorganFingerprint(m, 2 | 3[, useFeatures]) and GetAtomPairFingerprint(m, maxLength=10):
//                sparse count vectors, as GuacaMol and PMO use them; Tanimoto on counts (DataStructs)
//
// Thread safety: different molecules may be used from different threads at once; a chem_fp and a chem_query
// may be shared between threads read-only. One chem_mol must not be used by two threads at once (RDKit caches
// computed descriptors on the molecule).
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chem_mol chem_mol;      // a sanitized molecule
typedef struct chem_fp chem_fp;        // a fingerprint
typedef struct chem_query chem_query;  // a SMARTS pattern

typedef enum {
    CHEM_FP_ECFP4 = 0,  // Morgan radius 2, connectivity invariants
    CHEM_FP_ECFP6,      // Morgan radius 3
    CHEM_FP_FCFP4,      // Morgan radius 2, feature invariants
    CHEM_FP_FCFP6,      // Morgan radius 3, feature invariants
    CHEM_FP_AP,         // atom pairs, path lengths 1..10
    CHEM_FP_COUNT
} chem_fp_kind;

#define CHEM_MAX_SMILES 4096  // longer input is refused unparsed (an LLM's runaway completion is not a molecule)

// 1 when built with RDKit.
int chem_available(void);
// "2022.09.3" or "none".
const char *chem_version(void);

// ---- molecules ----
// NULL when the text is not a valid molecule: a syntax error, a failed sanitization (valence, kekulization), no
// atoms, whitespace anywhere (RDKit would read what follows it as a name), or longer than CHEM_MAX_SMILES.
chem_mol *chem_mol_from_smiles(const char *smiles);
void chem_mol_free(chem_mol *m);
// RDKit's canonical isomeric SMILES (MolToSmiles defaults), malloc'd; NULL on failure.
char *chem_canonical_smiles(const chem_mol *m);
// MolToSmiles(AddHs(m)): every hydrogen written as an atom, malloc'd; NULL on failure.
char *chem_smiles_with_hs(const chem_mol *m);
// Hill formula (rdMolDescriptors.CalcMolFormula), malloc'd; NULL on failure.
char *chem_formula(const chem_mol *m);
int chem_heavy_atoms(const chem_mol *m);  // GetNumAtoms(): atoms in the graph (implicit H not counted)
int chem_atoms_with_h(const chem_mol *m);  // AddHs(m).GetNumAtoms()
// Atoms whose symbol is `symbol`; for "H" after AddHs (implicit hydrogens count). -1 on failure.
int chem_element_count(const chem_mol *m, const char *symbol);

// ---- properties (NAN or -1 on failure) ----
double chem_qed(const chem_mol *m);
double chem_logp(const chem_mol *m);
double chem_tpsa(const chem_mol *m);
double chem_mol_weight(const chem_mol *m);
int chem_hbd(const chem_mol *m);
int chem_hba(const chem_mol *m);
int chem_rotatable_bonds(const chem_mol *m);
int chem_rings(const chem_mol *m);
int chem_aromatic_rings(const chem_mol *m);
// Synthetic accessibility, 1 (easy) .. 10 (hard). The fragment table is read once, on first use; NAN when it
// cannot be read (chem_sa_error() then says why).
double chem_sa_score(const chem_mol *m);
const char *chem_sa_error(void);
double chem_bertz(const chem_mol *m);

// ---- fingerprints ----
const char *chem_fp_name(chem_fp_kind k);  // "ecfp4", ...
int chem_fp_from_name(const char *name);   // chem_fp_kind, or -1
chem_fp *chem_fingerprint(const chem_mol *m, chem_fp_kind k);  // NULL on failure
void chem_fp_free(chem_fp *f);
// Tanimoto similarity on counts, in [0, 1]; NAN when the kinds differ or an argument is NULL.
double chem_tanimoto(const chem_fp *a, const chem_fp *b);

// ---- SMARTS ----
chem_query *chem_query_from_smarts(const char *smarts);  // NULL when the pattern does not parse
void chem_query_free(chem_query *q);
int chem_has_match(const chem_mol *m, const chem_query *q);    // 1, 0, or -1 on failure
int chem_count_matches(const chem_mol *m, const chem_query *q);  // unique matches (at most 1000), -1 on failure

#ifdef __cplusplus
}
#endif
