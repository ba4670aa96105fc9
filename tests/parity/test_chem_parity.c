// The RDKit shim and the molecule objectives against the Python implementations they reproduce (RDKit's Python
// descriptors and QED, Contrib's SA score, PyTDC's PMO oracles, GuacaMol's building blocks), on ~2,900 molecules:
// tests/parity/fixtures/chem/chem.tsv.gz, written by tests/parity/make_chem_fixtures.py. Every number must agree
// to 1e-6 (relative above 1), every string and count exactly. Objectives are scored through the task itself
// (molecule_create + score, in parallel), so an invalid SMILES must come back valid = 0, reward 0.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/clock.h"
#include "tasks/chem/chem.h"
#include "tasks/molecule.h"
#include "testing.h"

#define FIXTURE "tests/parity/fixtures/chem/chem.tsv.gz"

// Under AddressSanitizer RDKit runs ~10x slower: the sanitizer build checks memory safety on the first rows (the
// edge cases, invalid SMILES, references and their edits) and every 10th after them; the release build checks all.
#if defined(__SANITIZE_ADDRESS__)
#define ROW_STRIDE 10
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ROW_STRIDE 10
#endif
#endif
#ifndef ROW_STRIDE
#define ROW_STRIDE 1
#endif
#define ALWAYS_ROWS 300
#define TOL 1e-6
#define MAX_COLS 128
#define MAX_ROWS 8192
#define MAX_EXTRA 16

typedef struct {
    char *line;  // owned; fields point into it
    char *f[MAX_COLS];
    int n;
} row;

static char *header_names[MAX_COLS];
static int n_header;
static row rows[MAX_ROWS];
static int n_rows;
static char *sim_reference, *smarts[MAX_EXTRA], *objective_name[MAX_EXTRA], *objective_yaml[MAX_EXTRA];
static int n_smarts, n_objectives;
static char *kept[4 * MAX_EXTRA];  // the header and comment lines (the names above point into them)
static int n_kept;

static int split(char *line, char **f, int max) {
    int n = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = 0;
        p = tab + 1;
    }
    return n;
}

static int column(const char *name) {
    for (int i = 0; i < n_header; i++)
        if (!strcmp(header_names[i], name)) return i;
    return -1;
}

static int load(void) {
    gzFile gz = gzopen(FIXTURE, "rb");
    if (!gz) return -1;
    static char buf[1 << 16];
    char *header = NULL;
    int n_data = 0;
    while (gzgets(gz, buf, sizeof buf)) {
        size_t len = strlen(buf);
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = 0;
        char *line = strdup(buf), *f[4] = {0};
        if (line[0] == '#' || !header) {
            if (n_kept == (int)(sizeof kept / sizeof kept[0])) {
                free(line);
                continue;
            }
            kept[n_kept++] = line;
        }
        if (!strncmp(line, "#similarity_reference\t", 22)) {
            if (split(line, f, 2) == 2) sim_reference = f[1];
        } else if (!strncmp(line, "#smarts\t", 8) && n_smarts < MAX_EXTRA) {
            if (split(line, f, 2) == 2) smarts[n_smarts++] = f[1];
        } else if (!strncmp(line, "#objective\t", 11) && n_objectives < MAX_EXTRA) {
            if (split(line, f, 3) == 3) objective_name[n_objectives] = f[1], objective_yaml[n_objectives++] = f[2];
        } else if (line[0] == '#') {
        } else if (!header) {
            header = line;
            n_header = split(header, header_names, MAX_COLS);
        } else if (n_rows < MAX_ROWS && (n_data++ < ALWAYS_ROWS || n_data % ROW_STRIDE == 0)) {
            rows[n_rows].line = line;
            rows[n_rows].n = split(line, rows[n_rows].f, MAX_COLS);
            n_rows++;
        } else {
            free(line);
        }
    }
    gzclose(gz);
    return header ? 0 : -1;
}

// ---- per-column comparison records ----

typedef struct {
    long compared, bad;
    double worst;      // largest |c - ref|
    int first_bad;     // row of the first disagreement
    double bad_c, bad_ref;
} stats;

static void record(stats *s, int r, double c, double ref) {
    s->compared++;
    int both_nan = isnan(c) && isnan(ref);
    double d = both_nan ? 0 : fabs(c - ref);
    if (isnan(d)) d = INFINITY;
    if (d > s->worst) s->worst = d;
    if (d > TOL * fmax(1.0, fabs(ref))) {
        if (!s->bad++) s->first_bad = r, s->bad_c = c, s->bad_ref = ref;
    }
}

static void report(const char *name, const stats *s) {
    printf("  %-26s %5ld molecules, max |C - Python| %.3g\n", name, s->compared, s->worst);
    CHECK(s->bad == 0, "%s: %ld of %ld disagree; first: row %d '%s': C %.17g, Python %.17g", name, s->bad,
          s->compared, s->first_bad, rows[s->first_bad].f[0], s->bad_c, s->bad_ref);
    CHECK(s->compared > 0, "%s: nothing compared", name);
}

static double ref_number(const char *s) { return !strcmp(s, "nan") ? NAN : strtod(s, NULL); }

// ---- the shim ----

static void test_molecules(void) {
    int c_valid = column("valid"), c_canon = column("canonical"), c_formula = column("formula");
    CHECK(c_valid == 1 && c_canon > 0 && c_formula > 0, "fixture header lacks valid/canonical/formula");
    if (c_valid != 1 || c_canon <= 0 || c_formula <= 0) return;
    chem_mol *ref = chem_mol_from_smiles(sim_reference);
    CHECK(ref != NULL, "the similarity reference '%s' does not parse", sim_reference ? sim_reference : "(none)");
    chem_fp *ref_fp[CHEM_FP_COUNT] = {0};
    for (int k = 0; k < CHEM_FP_COUNT; k++) ref_fp[k] = chem_fingerprint(ref, (chem_fp_kind)k);
    chem_query *q[MAX_EXTRA] = {0};
    for (int i = 0; i < n_smarts; i++) {
        q[i] = chem_query_from_smarts(smarts[i]);
        CHECK(q[i] != NULL, "SMARTS '%s' does not parse", smarts[i]);
    }

    static const char *const numeric[] = {"heavy_atoms", "atoms_with_h", "count_H", "count_C", "count_N", "count_O",
                                          "count_F", "count_Cl", "qed", "logp", "tpsa", "mol_weight", "hbd", "hba",
                                          "rotatable_bonds", "rings", "aromatic_rings", "sa", "bertz", "sim_ecfp4",
                                          "sim_ecfp6", "sim_fcfp4", "sim_fcfp6", "sim_ap", NULL};
    enum { N_NUMERIC = 24 };
    stats st[N_NUMERIC + 2 * MAX_EXTRA];
    memset(st, 0, sizeof st);
    int col[N_NUMERIC];
    for (int j = 0; j < N_NUMERIC; j++) {
        col[j] = column(numeric[j]);
        CHECK(col[j] > 0, "fixture has no column %s", numeric[j]);
        if (col[j] <= 0) return;
    }
    long valid_ok = 0, canon_ok = 0, formula_ok = 0, n_valid = 0;
    for (int r = 0; r < n_rows; r++) {
        const row *x = &rows[r];
        if (x->n != n_header) {
            CHECK(0, "row %d has %d fields, the header %d", r, x->n, n_header);
            continue;
        }
        int want_valid = x->f[c_valid][0] == '1';
        chem_mol *m = chem_mol_from_smiles(x->f[0]);
        if ((m != NULL) == want_valid) valid_ok++;
        else CHECK(0, "'%s': C says %s, RDKit's Python says %s", x->f[0], m ? "valid" : "invalid",
                   want_valid ? "valid" : "invalid");
        if (!m || !want_valid) {
            chem_mol_free(m);
            continue;
        }
        n_valid++;
        char *canon = chem_canonical_smiles(m), *formula = chem_formula(m);
        if (canon && !strcmp(canon, x->f[c_canon])) canon_ok++;
        else CHECK(0, "'%s': canonical SMILES '%s', Python '%s'", x->f[0], canon ? canon : "(null)", x->f[c_canon]);
        if (formula && !strcmp(formula, x->f[c_formula])) formula_ok++;
        else CHECK(0, "'%s': formula '%s', Python '%s'", x->f[0], formula ? formula : "(null)", x->f[c_formula]);
        free(canon), free(formula);

        double v[N_NUMERIC];
        v[0] = chem_heavy_atoms(m), v[1] = chem_atoms_with_h(m);
        static const char *const el[] = {"H", "C", "N", "O", "F", "Cl"};
        for (int k = 0; k < 6; k++) v[2 + k] = chem_element_count(m, el[k]);
        v[8] = chem_qed(m), v[9] = chem_logp(m), v[10] = chem_tpsa(m), v[11] = chem_mol_weight(m);
        v[12] = chem_hbd(m), v[13] = chem_hba(m), v[14] = chem_rotatable_bonds(m), v[15] = chem_rings(m);
        v[16] = chem_aromatic_rings(m), v[17] = chem_sa_score(m), v[18] = chem_bertz(m);
        for (int k = 0; k < CHEM_FP_COUNT; k++) {
            chem_fp *fp = chem_fingerprint(m, (chem_fp_kind)k);
            v[19 + k] = chem_tanimoto(fp, ref_fp[k]);
            chem_fp_free(fp);
        }
        for (int j = 0; j < N_NUMERIC; j++) record(&st[j], r, v[j], ref_number(x->f[col[j]]));
        for (int i = 0; i < n_smarts; i++) {
            char name[32];
            snprintf(name, sizeof name, "match_%d", i);
            int cm = column(name);
            snprintf(name, sizeof name, "matches_%d", i);
            int cn = column(name);
            if (cm < 0 || cn < 0) continue;
            record(&st[N_NUMERIC + 2 * i], r, chem_has_match(m, q[i]), ref_number(x->f[cm]));
            record(&st[N_NUMERIC + 2 * i + 1], r, chem_count_matches(m, q[i]), ref_number(x->f[cn]));
        }
        chem_mol_free(m);
    }
    printf("chem shim (RDKit %s) vs RDKit's Python, %d molecules (%ld valid):\n", chem_version(), n_rows, n_valid);
    printf("  %-26s %5ld agree\n  %-26s %5ld agree\n  %-26s %5ld agree\n", "valid", valid_ok, "canonical SMILES",
           canon_ok, "formula", formula_ok);
    CHECK(valid_ok == n_rows && canon_ok == n_valid && formula_ok == n_valid && n_valid > n_rows - 50,
          "validity %ld, canonical %ld, formula %ld of %d rows (%ld valid)", valid_ok, canon_ok, formula_ok, n_rows,
          n_valid);
    for (int j = 0; j < N_NUMERIC; j++) report(numeric[j], &st[j]);
    for (int i = 0; i < n_smarts; i++) {
        char name[64];
        snprintf(name, sizeof name, "smarts %d has_match", i);
        report(name, &st[N_NUMERIC + 2 * i]);
        snprintf(name, sizeof name, "smarts %d matches", i);
        report(name, &st[N_NUMERIC + 2 * i + 1]);
    }
    for (int i = 0; i < n_smarts; i++) chem_query_free(q[i]);
    for (int k = 0; k < CHEM_FP_COUNT; k++) chem_fp_free(ref_fp[k]);
    chem_mol_free(ref);
}

// ---- objectives, through the task ----

static void test_objective(const char *label, const char *objective, int col) {
    task *t = NULL;
    mg_err e = {{0}};
    molecule_config mc = {objective, "fixture", 0, 1.0};
    int rc = molecule_create(&t, &mc, &e);
    CHECK(rc == 0, "%s: %s", label, e.msg);
    if (rc) return;
    const char **cands = malloc(sizeof(char *) * (size_t)n_rows);
    task_score *scores = calloc((size_t)n_rows, sizeof(task_score));
    for (int r = 0; r < n_rows; r++) cands[r] = rows[r].f[0];
    double t0 = mg_seconds();
    CHECK(t->score(t, n_rows, cands, scores, &e) == 0, "%s: score failed: %s", label, e.msg);
    double dt = mg_seconds() - t0;
    stats s = {0};
    long invalid_ok = 0, invalid = 0;
    for (int r = 0; r < n_rows; r++) {
        double ref = ref_number(rows[r].f[col]);
        if (rows[r].f[1][0] != '1' || isnan(ref)) {  // the task scores these valid = 0, reward 0
            invalid++;
            invalid_ok += !scores[r].valid && scores[r].reward == 0;
            continue;
        }
        record(&s, r, scores[r].valid ? scores[r].reward : 0.0, ref);
    }
    report(label, &s);
    printf("  %-26s %.0f molecules/s (informative only)\n", "", n_rows / dt);
    CHECK(invalid_ok == invalid, "%s: %ld of %ld invalid molecules scored valid = 0, reward 0", label, invalid_ok,
          invalid);
    free(cands), free(scores);
    t->destroy(t);
}

static void test_objectives(void) {
    printf("objectives (the task's score) vs PyTDC (pmo_*) and GuacaMol (custom_*):\n");
    int n_pmo = 0;
    for (int c = 0; c < n_header; c++) {
        if (strncmp(header_names[c], "pmo_", 4)) continue;
        test_objective(header_names[c], header_names[c] + 4, c);
        n_pmo++;
    }
    CHECK(n_pmo >= 15, "only %d PMO objectives in the fixture", n_pmo);
    for (int i = 0; i < n_objectives; i++) {
        int c = column(objective_name[i]);
        CHECK(c > 0, "no column for objective %s", objective_name[i]);
        if (c > 0) test_objective(objective_name[i], objective_yaml[i], c);
    }
}

int main(void) {
    int rc = load();
    CHECK(rc == 0 && n_rows > (ROW_STRIDE == 1 ? 2000 : 500), "cannot read %s (run from the repository root)", FIXTURE);
    if (rc == 0 && n_rows > 0) {
        test_molecules();
        test_objectives();
    }
    for (int r = 0; r < n_rows; r++) free(rows[r].line);
    for (int i = 0; i < n_kept; i++) free(kept[i]);
    return test_summary("test_chem_parity");
}
