// ARC as a search task (tasks/arc/arc_task.h), through the task interface only, on training task 3c9b0459 (the
// output is the input turned 180 degrees): a right program scores 1 and solves it, a wrong one earns partial
// credit below 1 (and 0 under the strict reward), an unusable completion is refused by parse, and two spellings
// of one program share a canonical key; the right program keeps its test output as its detail, and the report of
// a search that scored both writes it as the answer. First with the grid language, then with Python in the sandbox when
// /usr/bin/python3 has numpy and seccomp (else that half is skipped, saying why).
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tasks/arc/arc_task.h"
#include "tasks/arc/outcome.h"
#include "testing.h"

#define TASK_FILE "data/arc-agi-1/training/3c9b0459.json"

static task *make(arc_executor x, int strict) {
    arc_task_config cfg = {.file = TASK_FILE, .executor = x, .format = ARC_CELLS_DIGITS, .strict = strict,
                           .timeout_s = 5, .workers = 2};
    task *t = NULL;
    mg_err e = {{0}};
    CHECK(arc_task_create(&t, &cfg, &e) == 0 && t, "create: %s", e.msg);
    return t;
}

// parse then score one completion; returns the score (valid 0 when parse refused it).
static task_score run_one(task *t, const char *completion) {
    task_score s = {0};
    char *cand = t->parse(t, completion);
    if (!cand) return s;
    const char *c[1] = {cand};
    mg_err e = {{0}};
    CHECK(t->score(t, 1, c, &s, &e) == 0, "score: %s", e.msg);
    free(cand);
    return s;
}

// The end of a search that scored the wrong program first, then the right one: its report writes the right
// program's test output as attempt_1 of submission.json, and arc_result.json scores pass@2 = 1 (the task's test
// output is known). The right program's detail holds that output.
static void check_report(task *t, const task_score *right, const task_score *wrong, const char *what) {
    arc_output o[1];
    mg_err e = {{0}};
    CHECK(right->detail && arc_detail_decode(right->detail, 1, o, &e) == 0 && o[0].ok && o[0].grid.rows == 3 &&
              arc_at(&o[0].grid, 0, 0) == 7 && arc_at(&o[0].grid, 2, 2) == 6,
          "%s: the right program's detail is not its test output: %s (%s)", what, right->detail ? right->detail : "",
          e.msg);
    if (right->detail) arc_outputs_free(o, 1);
    char dir[] = "/tmp/arc_report_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    const char *cand[2] = {"wrong", "right"}, *detail[2] = {wrong->detail, right->detail};
    double reward[2] = {wrong->reward, right->reward};
    unsigned char valid[2] = {1, 1};
    task_outcome out = {2, cand, reward, valid, detail, 2, 1, 1, 0.5, dir};
    CHECK(t->report && t->report(t, &out, 0, &e) == 0, "%s: report: %s", what, e.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/arc_result.json", dir);
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    json_t *sc = json_object_get(r, "score");
    CHECK(json_number_value(json_object_get(sc, "pass@2")) == 1.0 &&
              json_number_value(json_object_get(sc, "pass@1")) == 1.0 &&
              json_integer_value(json_object_get(r, "train_perfect_programs")) == 1,
          "%s: arc_result.json: %s", what, je.text);
    json_decref(r);
    snprintf(path, sizeof path, "%s/submission.json", dir);
    r = json_load_file(path, 0, &je);
    json_t *a1 = json_object_get(json_array_get(json_object_get(r, "3c9b0459"), 0), "attempt_1");
    CHECK(json_integer_value(json_array_get(json_array_get(a1, 0), 0)) == 7, "%s: submission.json: %s", what, je.text);
    json_decref(r);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "rm");
}

static void check_task(task *t, const char *right, const char *wrong, const char *bad, const char *same_a,
                       const char *same_b, const char *what) {
    task_score s = run_one(t, right);
    CHECK(s.valid && s.reward == 1.0 && t->solved(t, s.reward, right), "%s: right program: valid %d reward %g (%s)",
          what, s.valid, s.reward, s.info);
    CHECK(strstr(s.info, "4/4 train pairs exact") != NULL, "%s: info '%s'", what, s.info);
    task_score w = run_one(t, wrong);
    CHECK(w.valid && w.reward > 0 && w.reward < 1 && !t->solved(t, w.reward, wrong),
          "%s: wrong program: valid %d reward %g (%s)", what, w.valid, w.reward, w.info);
    check_report(t, &s, &w, what);
    task_score_free_details(&s, 1);
    task_score_free_details(&w, 1);
    char *p = t->parse(t, bad);
    CHECK(p == NULL, "%s: unusable completion parsed as '%s'", what, p ? p : "");
    free(p);
    char *a = t->parse(t, same_a), *b = t->parse(t, same_b);
    CHECK(a && b, "%s: spellings do not parse", what);
    if (a && b) {
        char *ka = t->canonical(t, a), *kb = t->canonical(t, b);
        CHECK(!strcmp(ka, kb), "%s: keys differ:\n%s---\n%s", what, ka, kb);
        free(ka), free(kb);
    }
    free(a), free(b);
    char *prompt = t->prompt(t);
    CHECK(strstr(prompt, "Example 1") && strstr(prompt, "467\n"), "%s: prompt lacks the examples or the test input",
          what);  // digits: the test input's last row 4 6 7
    free(prompt);
    char *ns = t->ns_prompt(t, "O = rot90(I)\n", 0.5);
    CHECK(strstr(ns, "rot90") != NULL, "%s: neighbourhood prompt lacks the guess", what);
    free(ns);
}

static void test_dsl(void) {
    task *t = make(ARC_EXEC_DSL, 0);
    if (!t) return;
    check_task(t, "Here it is:\n```\nO = rot180(I)\n```\n", "O = rot90(I)\n", "turn it around, I think",
               "x1 = flip_lr(I)\nO = flip_ud(x1)\n", "```\n# flip both ways\nfoo   =   flip_lr( I )\n\nO = flip_ud(foo)\n```",
               "dsl");
    char *prompt = t->prompt(t);
    CHECK(!strstr(prompt, "Python function") && strstr(prompt, "grid language"), "dsl: prompt asks for Python");
    free(prompt);
    prompt = t->ns_prompt(t, "O = rot90(I)\n", 0.5);
    CHECK(strstr(prompt, "guess for the program:\n```\nO = rot90(I)\n```") && !strstr(prompt, "python"),
          "dsl: the neighbourhood prompt fences the program as Python:\n%s", prompt);
    free(prompt);
    // an unparsable candidate that still reaches score is invalid
    const char *c[1] = {"O = nosuch(I)"};
    task_score s;
    mg_err e = {{0}};
    CHECK(t->score(t, 1, c, &s, &e) == 0 && !s.valid && s.reward == 0, "dsl: bad candidate valid %d", s.valid);
    t->destroy(t);
    t = make(ARC_EXEC_DSL, 1);
    if (!t) return;
    s = run_one(t, "O = rot90(I)");
    CHECK(s.valid && s.reward < 1, "strict: wrong program reward %g", s.reward);
    task_score_free_details(&s, 1);
    s = run_one(t, "O = rot180(I)");
    CHECK(s.valid && s.reward == 1.0, "strict: right program reward %g", s.reward);
    task_score_free_details(&s, 1);
    t->destroy(t);
}

static void test_python(void) {
    if (system("/usr/bin/python3 -c 'import numpy, seccomp' >/dev/null 2>&1") != 0) {
        printf("python half skipped: /usr/bin/python3 lacks numpy or seccomp\n");
        return;
    }
    task *t = make(ARC_EXEC_PYTHON, 0);
    if (!t) return;
    check_task(t, "```python\nimport numpy as np\ndef transform(g):\n    return np.rot90(np.array(g), 2).tolist()\n```\n",
               "```python\nimport numpy as np\ndef transform(g):\n    return np.rot90(np.array(g)).tolist()\n```\n",
               "I would rotate it.",
               "```python\ndef transform(g):\n    return [r[::-1] for r in g[::-1]]\n```",
               "```python\n# reverse both\ndef transform(g):\n    return [r[::-1] for r in g[::-1]]   # rows too\n\n```",
               "python");
    t->destroy(t);
}

int main(void) {
    test_dsl();
    test_python();
    return test_summary("arc_search_task");
}
