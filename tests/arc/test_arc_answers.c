// ARC answers (tasks/arc/answers.h): the per-test-input vote with its tie rule, the fallbacks to partial-credit
// programs and to a 1x1 black grid, pass@1/2/n, and submission.json written, read back and refused.
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tasks/arc/answers.h"
#include "testing.h"

// One-cell grids stand for distinct outputs: A = [[1]], B = [[2]], ...; 0 = a failure on that input.
#define MAXP 8
typedef struct {
    int n;
    arc_output out[MAXP][2];
    arc_program_result p[MAXP];
} programs;

static void add(programs *ps, double reward, int exact, char t0, char t1) {
    int k = ps->n++;
    char t[2] = {t0, t1};
    for (int i = 0; i < 2; i++) {
        ps->out[k][i].ok = t[i] != 0;
        if (t[i]) arc_grid_init(&ps->out[k][i].grid, 1, 1, (uint8_t)(t[i] - 'A' + 1));
    }
    ps->p[k] = (arc_program_result){reward, exact, t0 && t1, ps->out[k]};
}

static void free_programs(programs *ps) {
    for (int k = 0; k < ps->n; k++) arc_grid_free(&ps->out[k][0].grid), arc_grid_free(&ps->out[k][1].grid);
}

// The letter of a 1x1 grid ('A' = [[1]]), '0' for black.
static char letter(const arc_grid *g) {
    if (g->rows != 1 || g->cols != 1) return '?';
    return arc_at(g, 0, 0) ? (char)('A' + arc_at(g, 0, 0) - 1) : '0';
}

// The answers as "a1a2 a1a2" (test input 0, then 1).
static void expect_answers(const char *what, programs *ps, const char *want, arc_answer ans[2]) {
    arc_choose_answers(ps->p, ps->n, 2, ans);
    char got[6] = {letter(&ans[0].attempt[0]), letter(&ans[0].attempt[1]), ' ',
                   letter(&ans[1].attempt[0]), letter(&ans[1].attempt[1]), 0};
    CHECK(!strcmp(got, want), "%s: answers '%s', want '%s'", what, got, want);
}

// A task whose test outputs are B and D (only what scoring reads).
static arc_task task_bd(void) {
    arc_task t = {.id = "t", .n_test = 2};
    t.test_outputs = callocCheck(2, sizeof(arc_grid));
    arc_grid_init(&t.test_outputs[0], 1, 1, 2);
    arc_grid_init(&t.test_outputs[1], 1, 1, 4);
    return t;
}

static void expect_score(const char *what, programs *ps, arc_answer *ans, double p1, double p2, double pn) {
    arc_task t = task_bd();
    arc_score s;
    mg_err e = {{0}};
    CHECK(arc_score_task(&t, ans, ps->p, ps->n, &s, &e) == 0, "%s", e.msg);
    CHECK(s.pass1 == p1 && s.pass2 == p2 && s.passn == pn, "%s: pass@1 %g pass@2 %g pass@n %g, want %g %g %g", what,
          s.pass1, s.pass2, s.passn, p1, p2, pn);
    arc_task_free(&t);
}

static void test_votes(void) {
    programs ps = {0};
    arc_answer ans[2];
    add(&ps, 1, 1, 'A', 'C');  // p0
    add(&ps, 1, 1, 'B', 'D');  // p1
    add(&ps, 1, 1, 'B', 'D');  // p2
    add(&ps, 1, 1, 'E', 'D');  // p3
    add(&ps, 1, 1, 'A', 0);    // p4: failed on test input 1, so it votes on neither
    add(&ps, 1, 1, 'A', 'C');  // p5
    add(&ps, 0.9, 0, 'F', 'F');
    // Test input 0: A 2 votes (p0, p5), B 2 (p1, p2), E 1: the A-B tie goes to A, first voted for by p0.
    // Test input 1: D 3 votes, C 2: D then C. (One table pooled over both inputs would rank D 3, A 2, B 2, C 2.)
    expect_answers("votes", &ps, "AB DC", ans);
    // Expected B, D: pass@1 = (0 + 1) / 2, pass@2 = (1 + 1) / 2, pass@n = 1.
    expect_score("votes", &ps, ans, 0.5, 1.0, 1.0);
    arc_answers_free(ans, 2);
    // Without p5: input 0 has B 2 votes, A 1, E 1 (A before E: p0 came first); B then A.
    ps.n = 5;
    expect_answers("votes without p5", &ps, "BA DC", ans);
    expect_score("votes without p5", &ps, ans, 1.0, 1.0, 1.0);
    arc_answers_free(ans, 2);
    ps.n = 7;
    free_programs(&ps);
}

static void test_fallbacks(void) {
    programs ps = {0};
    arc_answer ans[2];
    add(&ps, 0.5, 0, 'C', 'C');  // p0
    add(&ps, 1.0, 1, 'A', 'D');  // p1: the only voter
    add(&ps, 0.8, 0, 0, 'E');    // p2
    add(&ps, 0.8, 0, 'B', 'C');  // p3
    add(&ps, 0.9, 0, 'A', 'D');  // p4
    // One candidate per input (A; D), then by reward p1 1.0, p4 0.9, p2 0.8, p3 0.8 (tie: lower index), p0 0.5.
    // Input 0: p1 A and p4 A are chosen already, p2 failed, p3 gives B. Input 1: p1, p4 D again, p2 gives E.
    expect_answers("one vote, then rewards", &ps, "AB DE", ans);
    // Expected B, D: pass@1 = (0 + 1) / 2; pass@2 = 1; pass@n = 1 (p3 has B, p1 has D).
    expect_score("one vote, then rewards", &ps, ans, 0.5, 1.0, 1.0);
    arc_answers_free(ans, 2);
    free_programs(&ps);

    // No train-perfect program: order p1 0.7, p2 0.7, p0 0.2; p1 failed on input 1.
    programs partial = {0};
    add(&partial, 0.2, 0, 'A', 'A');
    add(&partial, 0.7, 0, 'B', 0);
    add(&partial, 0.7, 0, 'C', 'C');
    expect_answers("rewards only", &partial, "BC CA", ans);
    // pass@1 = (1 + 0) / 2, pass@2 = the same (no D anywhere), pass@n = 1/2.
    expect_score("rewards only", &partial, ans, 0.5, 0.5, 0.5);
    arc_answers_free(ans, 2);
    free_programs(&partial);

    // One distinct grid in all: the second attempt is a 1x1 black grid.
    programs one = {0};
    add(&one, 1, 1, 'A', 'A');
    add(&one, 1, 1, 'A', 'A');
    expect_answers("one grid", &one, "A0 A0", ans);
    expect_score("one grid", &one, ans, 0, 0, 0);
    arc_answers_free(ans, 2);
    free_programs(&one);

    // Nothing ran, or nothing at all: black twice.
    programs none = {0};
    add(&none, 0, 0, 0, 0);
    expect_answers("all failed", &none, "00 00", ans);
    arc_answers_free(ans, 2);
    none.n = 0;
    expect_answers("no programs", &none, "00 00", ans);
    arc_answers_free(ans, 2);
    add(&none, 0, 0, 0, 0);
    free_programs(&none);

    // An invalid output (a cell of 10) is never an attempt, even from a train-perfect, clean program.
    programs bad = {0};
    add(&bad, 1, 1, 'A', 'B');
    add(&bad, 1, 1, 'C', 'D');
    arc_set(&bad.out[0][0].grid, 0, 0, 10);
    expect_answers("invalid grid", &bad, "C0 BD", ans);
    arc_answers_free(ans, 2);
    free_programs(&bad);
}

static void test_unknown_outputs(void) {
    arc_task t = {.id = "u", .n_test = 1};
    arc_answer a[1];
    arc_choose_answers(NULL, 0, 1, a);
    arc_score s;
    mg_err e = {{0}};
    CHECK(arc_score_task(&t, a, NULL, 0, &s, &e) == -1 && strstr(e.msg, "task u: the test outputs are unknown"),
          "got '%s'", e.msg);
    arc_answers_free(a, 1);
}

static int files_in(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *ent; d && (ent = readdir(d));) n += ent->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void test_submission(void) {
    programs ps = {0};
    add(&ps, 1, 1, 'A', 'C');
    add(&ps, 1, 1, 'B', 'D');
    arc_answer two[2], one[1];
    arc_choose_answers(ps.p, ps.n, 2, two);  // [[1]] [[2]] ; [[3]] [[4]]
    arc_choose_answers(ps.p, ps.n, 1, one);  // [[1]] [[2]]
    arc_submission_entry entries[3] = {{"ccc", 2, two}, {"aaa", 1, one}, {"bbb", 2, two}};
    char dir[] = "/tmp/arc-submission-XXXXXX", path[128];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/submission.json", dir);
    mg_err e = {{0}};
    CHECK(arc_submission_write(path, entries, 3, &e) == 0, "%s", e.msg);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    CHECK(root && json_object_size(root) == 3, "%s: %s", path, jerr.text);
    // Keys sorted in the file; every test input has both attempts, with the chosen grids.
    FILE *f = fopen(path, "r");
    char text[4096] = {0};
    CHECK(f && fread(text, 1, sizeof text - 1, f) > 0, "cannot read %s", path);
    if (f) fclose(f);
    char *a = strstr(text, "\"aaa\""), *b = strstr(text, "\"bbb\""), *c = strstr(text, "\"ccc\"");
    CHECK(a && b && c && a < b && b < c, "keys not sorted: %s", text);
    CHECK(!strcmp(text,
                  "{\"aaa\":[{\"attempt_1\":[[1]],\"attempt_2\":[[2]]}],"
                  "\"bbb\":[{\"attempt_1\":[[1]],\"attempt_2\":[[2]]},{\"attempt_1\":[[3]],\"attempt_2\":[[4]]}],"
                  "\"ccc\":[{\"attempt_1\":[[1]],\"attempt_2\":[[2]]},{\"attempt_1\":[[3]],\"attempt_2\":[[4]]}]}\n"),
          "file: %s", text);
    json_t *ccc = json_object_get(root, "ccc");
    for (size_t i = 0; i < json_array_size(ccc); i++)
        for (int k = 0; k < 2; k++) {
            arc_grid g;
            json_t *j = json_object_get(json_array_get(ccc, i), k ? "attempt_2" : "attempt_1");
            CHECK(j && arc_grid_from_json(&g, j, "ccc", &e) == 0 && arc_grid_equal(&g, &two[i].attempt[k]),
                  "ccc[%zu] attempt %d", i, k + 1);
            if (j && !e.msg[0]) arc_grid_free(&g);
        }
    json_decref(root);
    // A repeated id is refused, and the file keeps its content.
    entries[2].task_id = "aaa";
    CHECK(arc_submission_write(path, entries, 3, &e) == -1 && strstr(e.msg, "task aaa appears twice"), "%s", e.msg);
    entries[2].task_id = "bbb";
    // Folders that cannot take the file: one that does not exist, a file where a folder should be, and a target
    // that is itself a folder. One line each, and nothing left behind.
    char missing[160], under_file[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir/submission.json", dir);
    snprintf(under_file, sizeof under_file, "%s/submission.json/x.json", dir);
    const char *bad[3] = {missing, under_file, dir};
    for (int k = 0; k < 3; k++) {
        e.msg[0] = 0;
        int rc = arc_submission_write(bad[k], entries, 3, &e);
        CHECK(rc == -1 && e.msg[0] && !strchr(e.msg, '\n') && strstr(e.msg, bad[k]), "%s: rc %d '%s'", bad[k], rc,
              e.msg);
        CHECK(files_in(dir) == 1, "%s: %d files in %s after the failure", bad[k], files_in(dir), dir);
    }
    unlink(path);
    CHECK(rmdir(dir) == 0, "%s left behind", dir);
    arc_answers_free(two, 2), arc_answers_free(one, 1);
    free_programs(&ps);
}

int main(void) {
    test_votes();
    test_fallbacks();
    test_unknown_outputs();
    test_submission();
    return test_summary("arc_answers");
}
