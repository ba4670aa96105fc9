// Molecule design as a task: the policy writes SMILES, the objective (tasks/molecule_objective.h: QED, the PMO /
// GuacaMol tasks, or a composition from the config) scores them through RDKit (tasks/chem/chem.h).
//
//   prompt      "a molecule"                    (a SMILES prior is trained to answer with one SMILES)
//   ns_prompt   "a variation of <SMILES>"
//   parse       the first SMILES-looking token of the completion (organic-subset letters, bracket atoms, bonds,
//               branches, ring closures; trailing '.' or ':' dropped); NULL when there is none
//   canonical   RDKit's canonical SMILES (the archive's dedup key); an invalid SMILES stays as written
//   score       the objective; an invalid SMILES scores valid = 0, reward 0 (still an oracle call)
//   solved      reward >= solved_reward
#pragma once
#include "tasks/task.h"

typedef struct {
    const char *objective;  // YAML text: a predefined name or a composition
    const char *where;      // for messages: the config file
    long line;              // its line of the objective's first line (0: none)
    double solved_reward;   // reward >= this solves (objectives are in [0, 1], so 1.0 = the maximum)
} molecule_config;

// Fails (one line in e) when migrate was built without RDKit, or the objective does not compile.
int molecule_create(task **out, const molecule_config *cfg, mg_err *e);

// The first SMILES-looking token of text (malloc'd), or NULL; exposed for tests.
char *molecule_parse_smiles(const char *text);
