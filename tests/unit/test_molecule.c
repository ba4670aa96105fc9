// The molecule task and its objectives: SMILES extraction from completions, invalid SMILES (valid = 0, reward 0,
// never a crash), canonical forms, prompts, solved, the objective grammar (modifiers, means, references, weights),
// and bad objective YAML refused with one line naming the file, the line and the key, through the run config.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/run_config.h"
#include "coordinator/run_job.h"
#include "tasks/chem/chem.h"
#include "tasks/molecule.h"
#include "tasks/molecule_objective.h"
#include "testing.h"

// ---- finding the SMILES in a completion ----

static void expect_parse(const char *completion, const char *want) {
    char *got = molecule_parse_smiles(completion);
    if (want)
        CHECK(got && !strcmp(got, want), "parse '%s': got '%s', want '%s'", completion, got ? got : "(null)", want);
    else
        CHECK(got == NULL, "parse '%s': got '%s', want nothing", completion, got);
    free(got);
}

static void test_parse(void) {
    expect_parse("CC(=O)Oc1ccccc1C(=O)O", "CC(=O)Oc1ccccc1C(=O)O");
    expect_parse("  CCO\nmore text", "CCO");
    expect_parse("Sure! Here it is: `c1ccccc1`.", "c1ccccc1");
    expect_parse("Here: CC(=O)O.", "CC(=O)O");                    // sentence full stop dropped
    expect_parse("SMILES: [NH4+].[Cl-]", "[NH4+].[Cl-]");         // bracket atoms and a dot-separated salt
    expect_parse("1. F[C@H](Cl)Br, then", "F[C@H](Cl)Br");        // "1." has no atom
    expect_parse("\"C/C=C\\\\C\"", "C/C=C\\\\C");
    expect_parse("hello world", NULL);
    expect_parse("", NULL);
    expect_parse(NULL, NULL);
    expect_parse("123 ((( ...", NULL);
    expect_parse("[]", NULL);
    expect_parse("Xe is a gas", NULL);
    expect_parse("C1CC", "C1CC");  // SMILES-looking but unclosed: parsed, then scored invalid (an oracle call)
}

// ---- the task ----

static task *make_task(const char *objective, double solved) {
    task *t = NULL;
    mg_err e = {{0}};
    molecule_config mc = {objective, "test", 0, solved};
    int rc = molecule_create(&t, &mc, &e);
    CHECK(rc == 0 && t, "molecule_create(%s): %s", objective, e.msg);
    return t;
}

static void test_invalid_smiles(void) {
    task *t = make_task("qed", 1.0);
    if (!t) return;
    char longest[CHEM_MAX_SMILES + 2];
    memset(longest, 'C', sizeof longest - 1);
    longest[sizeof longest - 1] = 0;
    const char *bad[] = {"C1CC", "C(C)(C)(C)(C)C", "c1cccc1", "((", "", "[Xx]", "C=1CC", "\xff\xfe", longest,
                         "CCO\tCC", "C%99", "[C@@H"};
    int n = (int)(sizeof bad / sizeof bad[0]);
    task_score s[16];
    mg_err e = {{0}};
    CHECK(t->score(t, n, bad, s, &e) == 0, "score failed: %s", e.msg);
    for (int i = 0; i < n; i++) {
        CHECK(s[i].valid == 0 && s[i].reward == 0, "'%.20s': valid %d reward %g", bad[i], s[i].valid, s[i].reward);
        CHECK(strstr(s[i].info, "invalid SMILES") != NULL, "'%.20s': info '%s'", bad[i], s[i].info);
    }
    // An invalid SMILES is its own dedup key; a valid one's is RDKit's canonical SMILES.
    char *c1 = t->canonical(t, "C1CC"), *c2 = t->canonical(t, "OCC"), *c3 = t->canonical(t, "C(O)C");
    CHECK(!strcmp(c1, "C1CC"), "canonical of an invalid SMILES: '%s'", c1);
    CHECK(!strcmp(c2, "CCO") && !strcmp(c3, "CCO"), "canonical: '%s', '%s'", c2, c3);
    free(c1), free(c2), free(c3);
    // The shim refuses NULLs and mismatched fingerprints without crashing.
    CHECK(chem_mol_from_smiles(NULL) == NULL && isnan(chem_qed(NULL)) && chem_hbd(NULL) == -1, "NULL molecule");
    CHECK(chem_query_from_smarts("[C;") == NULL && chem_query_from_smarts("") == NULL, "bad SMARTS accepted");
    chem_mol *m = chem_mol_from_smiles("CCO");
    chem_fp *a = chem_fingerprint(m, CHEM_FP_ECFP4), *b = chem_fingerprint(m, CHEM_FP_AP);
    CHECK(isnan(chem_tanimoto(a, b)) && chem_tanimoto(a, a) == 1.0, "tanimoto kinds");
    CHECK(chem_fingerprint(m, CHEM_FP_COUNT) == NULL && chem_element_count(m, NULL) == -1, "bad arguments");
    chem_fp_free(a), chem_fp_free(b), chem_mol_free(m);
    t->destroy(t);
}

static void test_prompts_and_solved(void) {
    task *t = make_task("celecoxib_rediscovery", 1.0);
    if (!t) return;
    char *p = t->prompt(t), *ns = t->ns_prompt(t, "CCO", 0.5);
    CHECK(!strcmp(p, "a molecule"), "prompt '%s'", p);
    CHECK(!strcmp(ns, "a variation of CCO"), "ns prompt '%s'", ns);
    free(p), free(ns);
    // The reference itself, written another way, is found: similarity 1, solved.
    const char *c[] = {"Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1", "CCO"};
    task_score s[2];
    mg_err e = {{0}};
    CHECK(t->score(t, 2, c, s, &e) == 0, "score: %s", e.msg);
    CHECK(s[0].valid && s[0].reward == 1.0 && t->solved(t, s[0].reward, c[0]), "celecoxib: %g", s[0].reward);
    CHECK(s[1].valid && s[1].reward < 0.2 && !t->solved(t, s[1].reward, c[1]), "ethanol: %g", s[1].reward);
    t->destroy(t);

    // task.solved_reward: finite = the threshold, .inf (the default) = 1.0.
    run_config rc;
    mg_err e2 = {{0}};
    const char *y = "model: m\ntask: {type: molecule, objective: qed}\n";
    CHECK(run_config_parse(&rc, y, strlen(y), "s.yaml", NULL, 0, &e2) == 0, "%s", e2.msg);
    task *t2 = NULL;
    CHECK(run_molecule_task(&t2, &rc, &e2) == 0, "%s", e2.msg);
    if (t2) CHECK(t2->solved(t2, 1.0, "C") && !t2->solved(t2, 0.99, "C"), "default threshold is 1.0");
    if (t2) t2->destroy(t2);
    run_config_free(&rc);
    const char *ov[] = {"task.solved_reward=0.5"};
    CHECK(run_config_parse(&rc, y, strlen(y), "s.yaml", ov, 1, &e2) == 0, "%s", e2.msg);
    CHECK(run_molecule_task(&t2, &rc, &e2) == 0, "%s", e2.msg);
    if (t2) CHECK(t2->solved(t2, 0.5, "C") && !t2->solved(t2, 0.49, "C"), "solved_reward 0.5");
    if (t2) t2->destroy(t2);
    run_config_free(&rc);
}

// ---- the objective grammar: each building block against what it must equal ----

static double score_of(const char *objective, const char *smiles) {
    mol_objective *o = NULL;
    mg_err e = {{0}};
    if (mol_objective_compile(&o, objective, "test", 0, "objective", &e)) {
        CHECK(0, "compile '%s': %s", objective, e.msg);
        return NAN;
    }
    chem_mol *m = chem_mol_from_smiles(smiles);
    double v = mol_objective_score(o, m, NULL, 0);
    chem_mol_free(m);
    mol_objective_free(o);
    return v;
}

static int close_to(double a, double b) { return fabs(a - b) <= 1e-12 * fmax(1, fabs(b)); }

static void test_grammar(void) {
    const char *mol = "CC(=O)Nc1ccc(O)cc1";  // paracetamol
    chem_mol *m = chem_mol_from_smiles(mol);
    double qed = chem_qed(m), logp = chem_logp(m), tpsa = chem_tpsa(m);
    chem_mol_free(m);
    CHECK(close_to(score_of("qed", mol), qed), "qed");
    CHECK(close_to(score_of("{property: logp}", mol), logp), "raw property");
    // Gaussian modifiers: 1 at mu; min_gaussian flat below mu, max_gaussian flat above.
    char y[512];
    snprintf(y, sizeof y, "{property: logp, modifier: {type: gaussian, mu: %.17g, sigma: 0.3}}", logp);
    CHECK(close_to(score_of(y, mol), 1.0), "gaussian at mu");
    snprintf(y, sizeof y, "{property: tpsa, modifier: {type: min_gaussian, mu: %.17g, sigma: 1}}", tpsa + 5);
    CHECK(close_to(score_of(y, mol), 1.0), "min_gaussian below mu");
    snprintf(y, sizeof y, "{property: tpsa, modifier: {type: max_gaussian, mu: %.17g, sigma: 2}}", tpsa + 2);
    CHECK(close_to(score_of(y, mol), exp(-0.5)), "max_gaussian one sigma below mu: %g", score_of(y, mol));
    // reference: centres the modifier on the reference's value, so the reference itself scores 1.
    CHECK(close_to(score_of("{property: tpsa, reference: 'CC(=O)Nc1ccc(O)cc1', modifier: {type: gaussian, "
                            "sigma: 5}}", "OC1=CC=C(NC(C)=O)C=C1"), 1.0), "reference");
    // Means: geometric of (x, x) is x; arithmetic weights; a zero makes a geometric mean 0.
    snprintf(y, sizeof y, "{terms: [{property: qed}, {property: qed}]}");
    CHECK(close_to(score_of(y, mol), qed), "geometric of equal terms");
    snprintf(y, sizeof y, "{mean: arithmetic, terms: [{property: qed, weight: 3}, {property: logp}]}");
    CHECK(close_to(score_of(y, mol), (3 * qed + logp) / 4), "weighted arithmetic mean");
    CHECK(score_of("{terms: [{property: qed}, {smarts: 'c1ccccc1', present: false}]}", mol) == 0.0,
          "geometric mean with a zero term");
    CHECK(score_of("{smarts: 'c1ccccc1'}", mol) == 1.0 && score_of("{smarts: 'C#N'}", mol) == 0.0, "smarts");
    // Modifier shapes: clipped, threshold, linear and chained.
    CHECK(close_to(score_of("{property: hbd, modifier: {type: clipped, upper_x: 4}}", mol), 0.5), "clipped");
    CHECK(close_to(score_of("{property: hbd, modifier: {type: threshold, threshold: 1}}", mol), 1.0), "threshold");
    CHECK(close_to(score_of("{property: hbd, modifier: [{type: linear, slope: 3}, {type: absolute, target: 5}]}", mol),
                   0.0), "chained linear then absolute");
    // A predefined objective inside a composition; an isomer of its own formula scores 1.
    double m1 = score_of("median1", "CC1(C)C2CCC1(C)C(=O)C2");
    CHECK(m1 > 0 && m1 < 1 && close_to(score_of("{terms: [{objective: median1}]}", "CC1(C)C2CCC1(C)C(=O)C2"), m1),
          "objective as a term: %g", m1);
    CHECK(close_to(score_of("{isomer: C8H9NO2}", mol), 1.0), "isomer of its own formula");
    char info[TASK_INFO_LEN];
    mol_objective *o = NULL;
    mg_err e = {{0}};
    CHECK(mol_objective_compile(&o, "osimertinib_mpo", "t", 0, "o", &e) == 0, "%s", e.msg);
    m = chem_mol_from_smiles(mol);
    double v = mol_objective_score(o, m, info, sizeof info);
    CHECK(isfinite(v) && strstr(info, "tpsa ") && strstr(info, "similarity(fcfp4) ") && !strchr(info, '\n'),
          "info line '%s'", info);
    chem_mol_free(m);
    mol_objective_free(o);
    // Every predefined name compiles and scores a molecule in [0, 1].
    int n = 0;
    for (const char *const *p = mol_objective_names(); *p; p++, n++) {
        double s = score_of(*p, mol);
        CHECK(s >= 0 && s <= 1, "%s scores %g", *p, s);
    }
    CHECK(n >= 15, "only %d predefined objectives", n);
}

// ---- bad objective YAML, through the run config: one line naming the file, the line and the key ----

static void expect_config_error(const char *yaml, const char *want) {
    run_config c;
    mg_err e = {{0}};
    int rc = run_config_read_text(&c, yaml, strlen(yaml), "jobs/bad.yaml", NULL, 0, &e);
    CHECK(rc == -1 && strstr(e.msg, want) && !strchr(e.msg, '\n'), "want '%s', got rc %d '%s'", want, rc, e.msg);
    if (rc == 0) run_config_free(&c);
}

static void test_bad_yaml(void) {
    expect_config_error("model: m\ntask:\n  type: molecule\n  objective:\n    terms:\n      - property: qed\n"
                        "      - property: logp\n        modifier: {type: gausian, mu: 1, sigma: 1}\n",
                        "jobs/bad.yaml:8: key 'task.objective.terms[1].modifier.type': unknown modifier 'gausian'");
    expect_config_error("model: m\ntask:\n  type: molecule\n  objective: median3\n",
                        "jobs/bad.yaml:4: key 'task.objective': unknown objective 'median3' (predefined: qed,");
    expect_config_error("model: m\ntask:\n  type: molecule\n  objective:\n    mean: geometric\n    terms:\n"
                        "      - smarts: '[C;'\n",
                        "jobs/bad.yaml:7: key 'task.objective.terms[0].smarts': '[C;' is not a valid SMARTS");
    expect_config_error("model: m\ntask: {type: molecule, objective: {similarity: 'C1CC'}}\n",
                        "jobs/bad.yaml:2: key 'task.objective.similarity': 'C1CC' is not a valid SMILES");
    expect_config_error("model: m\ntask:\n  type: molecule\n  objective:\n    property: tpsa\n    fingerprint: ap\n",
                        "jobs/bad.yaml:6: key 'task.objective.fingerprint': unknown key");
    expect_config_error("model: m\ntask:\n  type: molecule\n  objective: {property: tpsa, modifier: {type: "
                        "gaussian, mu: 1}}\n",
                        "jobs/bad.yaml:4: key 'task.objective.modifier.sigma': is required for modifier 'gaussian'");
    expect_config_error("model: m\ntask:\n  type: molecule\n  objective: {property: tpsa, modifier: {type: clipped, "
                        "upper_x: 1, upper_x: 2}}\n", "key 'task.objective.modifier.upper_x': duplicate key");
    expect_config_error("model: m\ntask:\n  type: molecule\n", "jobs/bad.yaml:3: task.type 'molecule' needs "
                        "task.objective");
    expect_config_error("model: m\ntask:\n  type: molecule\n  objective:\n    terms: [qed, {isomer: C9Q}]\n",
                        "jobs/bad.yaml:5: key 'task.objective.terms[1].isomer': 'C9Q' is not a molecular formula");
    expect_config_error("model: m\ntask:\n  type: molecule\n  objective: {terms: [{property: qed, smarts: C}]}\n",
                        "key 'task.objective.terms[0].smarts': a term has one kind, and this one is already");
    expect_config_error("model: m\ntask:\n  type: molecule\n  objective:\n    terms:\n      - {property: qed\n",
                        "jobs/bad.yaml:");
    // An override names the key too (the file has no line for it).
    run_config c;
    mg_err e = {{0}};
    const char *y = "model: m\ntask: {type: molecule, objective: qed}\n", *ov[] = {"task.objective=nope"};
    int rc = run_config_read_text(&c, y, strlen(y), "jobs/ok.yaml", ov, 1, &e);
    CHECK(rc == -1 && strstr(e.msg, "jobs/ok.yaml: key 'task.objective': unknown objective 'nope'"), "override: %s",
          e.msg);
    // A composition given with --set as flow YAML works.
    const char *ov2[] = {"task.objective={mean: arithmetic, terms: [qed, {property: sa}]}"};
    rc = run_config_read_text(&c, y, strlen(y), "jobs/ok.yaml", ov2, 1, &e);
    CHECK(rc == 0, "flow override: %s", e.msg);
    if (rc == 0) run_config_free(&c);
}

// The objective's YAML text as the run config keeps it: the block as written, its lines the file's.
static void test_objective_text(void) {
    const char *y = "model: m\n"
                    "task:\n"
                    "  type: molecule\n"
                    "  objective:   # a comment\n"
                    "    mean: arithmetic\n"
                    "    terms:\n"
                    "      - property: qed\n"
                    "      - {similarity: 'CCO', fingerprint: fcfp4}\n"
                    "  solved_reward: 0.9\n";
    run_config c;
    mg_err e = {{0}};
    int rc = run_config_parse(&c, y, strlen(y), "t.yaml", NULL, 0, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc) return;
    CHECK(c.objective_line == 4, "objective line %ld", c.objective_line);
    CHECK(!strcmp(c.objective, "\n    mean: arithmetic\n    terms:\n      - property: qed\n"
                               "      - {similarity: 'CCO', fingerprint: fcfp4}"),
          "objective text '%s'", c.objective);
    CHECK(c.solved_reward == 0.9, "the key after the block: %g", c.solved_reward);
    // The dump reads back to the same text.
    char *dumped = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dumped, &len);
    run_config_dump(&c, f);
    fclose(f);
    run_config back;
    rc = run_config_parse(&back, dumped, len, "dump.yaml", NULL, 0, &e);
    CHECK(rc == 0 && !strcmp(back.objective, c.objective), "dump round trip: %s", e.msg);
    if (rc == 0) run_config_free(&back);
    free(dumped);
    run_config_free(&c);
}

int main(void) {
    CHECK(chem_available(), "built without RDKit (this test is only built with it)");
    test_parse();
    test_invalid_smiles();
    test_prompts_and_solved();
    test_grammar();
    test_bad_yaml();
    test_objective_text();
    return test_summary("test_molecule");
}
