// Molecule objectives as configuration: the GuacaMol / PMO scoring building blocks composed in YAML, and the PMO
// tasks predefined by name (the full grammar, every name and their sources: docs/molecules.md).
//
//   objective: qed                        # a predefined objective (mol_objective_names())
//   objective:                            # or a composition: one term, usually a mean of terms
//     mean: geometric                     # geometric | arithmetic; terms may carry `weight:` (default 1)
//     terms:
//       - similarity: "CC(=O)Oc1ccccc1C(=O)O"   # Tanimoto to a reference; fingerprint: ecfp4 (default) |
//         fingerprint: fcfp4                    #   ecfp6 | fcfp4 | fcfp6 | ap
//         modifier: {type: clipped, upper_x: 0.8}
//       - property: tpsa                  # qed logp tpsa mol_weight hbd hba rotatable_bonds rings aromatic_rings
//         modifier: {type: max_gaussian, mu: 100, sigma: 10}   #   sa bertz heavy_atoms atoms element_count
//       - property: logp                  # `reference: SMILES` centres the modifier (mu / target) on that
//         reference: "CC(=O)Nc1ccc(O)cc1" #   molecule's value
//         modifier: {type: gaussian, sigma: 0.2}
//       - isomer: C9H10N2O2PF2Cl          # formula-isomer score (PyTDC's Isomer_scoring); mean: geometric
//       - smarts: "CN(C=O)Cc1ccc(c2ccccc2)cc1"  # 1 when present (present: false: 1 when absent)
//       - objective: median1              # a predefined objective as a term
//
// Modifiers follow GuacaMol's score_modifier.py: linear (slope), squared (target, coefficient), absolute (target),
// gaussian / min_gaussian / max_gaussian (mu, sigma), clipped / smooth_clipped (upper_x, lower_x = 0,
// high_score = 1, low_score = 0), threshold (threshold). A list of modifiers is applied in order (GuacaMol's
// ChainedModifier).
#pragma once
#include <stddef.h>

#include "common/error.h"
#include "tasks/chem/chem.h"

typedef struct mol_objective mol_objective;

// Compiles YAML text (a predefined name, or a composition). Messages are one line naming the place and the key:
//   "jobs/x.yaml:12: key 'task.objective.terms[1].modifier.type': unknown modifier 'gausian' (linear, ...)"
// where: the file (for messages); first_line: the file's line of the text's line 1 (0: no line numbers); key: the
// key path of the text ("task.objective"). Reference molecules and SMARTS are parsed and checked only when
// chem_available(); without RDKit the structure is still checked, but the objective cannot score.
int mol_objective_compile(mol_objective **out, const char *yaml, const char *where, long first_line, const char *key,
                          mg_err *e);
void mol_objective_free(mol_objective *o);
// The score of one valid molecule. NAN when a term could not be computed (the caller scores that 0). info, when
// not NULL, gets a one-line summary of the top-level terms ("similarity(ecfp4) 0.412, tpsa 0.931").
double mol_objective_score(const mol_objective *o, const chem_mol *m, char *info, size_t info_cap);
// The predefined objectives: NULL-terminated names, and the YAML each stands for (NULL: no such name).
const char *const *mol_objective_names(void);
const char *mol_objective_definition(const char *name);
