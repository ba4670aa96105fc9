// The compiled form of a molecule objective, shared by its two halves: tasks/molecule_objective.c reads the YAML
// grammar into this tree of terms, tasks/molecule_score.c evaluates the tree on a molecule. Not a public API
// (tasks/molecule_objective.h is).
#pragma once
#include "tasks/molecule_objective.h"

#define MAX_TERMS 1024  // per objective, after predefined names are expanded (a YAML alias bomb stops here)
#define MAX_DEPTH 16
#define MAX_MODIFIERS 8
#define MAX_FORMULA 32  // elements in an isomer formula

// ---------------------------------------------------------------------------------------------------------------
// the tree

typedef enum {
    MOD_LINEAR, MOD_SQUARED, MOD_ABSOLUTE, MOD_GAUSSIAN, MOD_MIN_GAUSSIAN, MOD_MAX_GAUSSIAN, MOD_CLIPPED,
    MOD_SMOOTH_CLIPPED, MOD_THRESHOLD, MOD_COUNT
} mod_kind;

typedef struct {
    const char *name;
    const char *params[4];  // NULL-terminated
    double defaults[4];     // NAN: required
    int centre;             // index of the parameter `reference:` may supply, -1 none
} mod_spec;

typedef struct {
    mod_kind kind;
    double p[4];  // in MODS[kind].params order
} modifier;

typedef enum {
    PROP_QED, PROP_LOGP, PROP_TPSA, PROP_MOL_WEIGHT, PROP_HBD, PROP_HBA, PROP_ROTATABLE_BONDS, PROP_RINGS,
    PROP_AROMATIC_RINGS, PROP_SA, PROP_BERTZ, PROP_HEAVY_ATOMS, PROP_ATOMS, PROP_ELEMENT_COUNT, PROP_COUNT
} prop_kind;

typedef enum { TERM_PROPERTY, TERM_SIMILARITY, TERM_ISOMER, TERM_SMARTS, TERM_MEAN } term_kind;

typedef struct {
    char symbol[4];
    int count;
} element;

typedef struct term term;
struct term {
    term_kind kind;
    char label[48];  // for info lines
    double weight;   // in the parent's mean
    modifier mods[MAX_MODIFIERS];
    int n_mods;
    // property
    prop_kind prop;
    char element[4];  // element_count
    // similarity
    chem_fp_kind fp_kind;
    chem_fp *ref_fp;
    // isomer
    element formula[MAX_FORMULA];
    int n_formula, total_atoms;
    // smarts
    chem_query *query;
    int present;
    // mean (and isomer's own mean)
    int geometric;
    term *terms;
    int n_terms;
};

struct mol_objective {
    term root;
};

// The molecule's value of a property (NAN when RDKit cannot compute it); element: for PROP_ELEMENT_COUNT.
// The grammar uses it too, to centre a modifier on a reference molecule's value.
double mol_property_value(const chem_mol *m, prop_kind p, const char *element);
