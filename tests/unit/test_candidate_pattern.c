// task.candidate_pattern / task.candidate_format: what a PCRE2 pattern and replacement make of completions,
// their one-line refusals, and the oracle task's parse using them (the candidate the oracle gets, and so the
// archive's dedup key).
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tasks/candidate_pattern.h"
#include "tasks/oracle.h"
#include "testing.h"

// What pattern + format make of a completion; NULL for no candidate. A pattern that fails to compile is a FAIL.
static char *pick(const char *pattern, const char *format, const char *completion) {
    candidate_pattern *p = NULL;
    mg_err e = {{0}};
    int rc = candidate_pattern_compile(&p, pattern, format, &e);
    CHECK(rc == 0 && p, "compile '%s' / '%s': %s", pattern, format ? format : "(null)", e.msg);
    if (rc) return NULL;
    char *s = candidate_pattern_apply(p, completion);
    candidate_pattern_free(p);
    return s;
}

static void expect(const char *pattern, const char *format, const char *completion, const char *want) {
    char *got = pick(pattern, format, completion);
    int same = want ? got && strcmp(got, want) == 0 : got == NULL;
    CHECK(same, "'%s' / '%s' on '%s': got '%s', want '%s'", pattern, format ? format : "(default)", completion,
          got ? got : "(null)", want ? want : "(null)");
    free(got);
}

static void test_extraction(void) {
    // TRL's answer tags: the first group by default; the lazy group stops at the first closing tag
    expect("<answer>(.*?)</answer>", NULL, "I think.\n<answer>ocean</answer> or <answer>sea</answer>", "ocean");
    expect("<answer>(.*?)</answer>", NULL, "no tags here", NULL);
    // without a group: the whole match
    expect("[a-z]+", "", "  42 Ocean waves", "cean");
    // case folding by the replacement, Unicode included (É -> é)
    expect("([[:alpha:]]+)", "\\L$1", "\n OCEAN!", "ocean");
    expect("(\\w+)", "\\L$1", "\xc3\x89" "COLE", "\xc3\xa9" "cole");
    expect("(?<word>\\w+)", "${word}-${word}", "sea", "sea-sea");
    // a group that did not take part is empty, not an error
    expect("(a)|(b)", "[$1$2]", "b", "[b]");
    // ill-formed UTF-8 (a completion cut inside a character) is skipped, not fatal
    expect("([a-z]+)", NULL, "\xe2\x9c word", "word");
    // ^ is the completion's start unless the pattern asks for lines
    expect("^([a-z]+)$", NULL, "Answer:\nocean\n", NULL);
    expect("(?m)^([a-z]+)$", NULL, "Answer:\nocean\n", "ocean");
    // a replacement longer than the first guess of its size
    char longer[600];
    memset(longer, 'x', 500), longer[500] = '\0';
    char *s = pick("(x+)", "$1$1$1", longer);
    CHECK(s && strlen(s) == 1500, "long replacement: %zu bytes", s ? strlen(s) : 0);
    free(s);
}

static void test_refusals(void) {
    candidate_pattern *p = (candidate_pattern *)1;
    mg_err e = {{0}};
    CHECK(candidate_pattern_compile(&p, "(ocean", NULL, &e) == -1 && !p, "unclosed group accepted");
    CHECK(strstr(e.msg, "at character 7") && strstr(e.msg, "missing closing parenthesis") && !strchr(e.msg, '\n'),
          "unclosed group: '%s'", e.msg);
    CHECK(candidate_pattern_compile(&p, "(a)", "$2", &e) == -2 && !p, "unknown group in the format accepted");
    CHECK(strstr(e.msg, "unknown substring"), "unknown group: '%s'", e.msg);
    CHECK(candidate_pattern_compile(&p, "(a)", "${oops", &e) == -2, "bad format syntax accepted: '%s'", e.msg);
    // the format check must not trip on a (?x) pattern whose comment runs to its end
    CHECK(candidate_pattern_compile(&p, "(?x) (a) # the letter", "$1", &e) == 0 && p, "(?x) comment: %s", e.msg);
    candidate_pattern_free(p);
}

// A pattern that backtracks without end gives no candidate, and soon: the search goes on.
static void test_backtracking_bound(void) {
    char subject[64];
    memset(subject, 'a', 40), subject[40] = 'b', subject[41] = '\0';
    clock_t t0 = clock();
    expect("^(a+)+$", NULL, subject, NULL);
    double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(s < 10, "a catastrophic backtrack took %.1f s", s);
}

// The oracle task parses with it: what reaches the oracle is the formatted candidate, trimmed.
static void test_oracle_parse(void) {
    char *argv[] = {"/bin/cat", NULL};
    oracle_config c = {.argv = argv, .prompt = "P", .candidate_pattern = "<answer>\\s*(\\w+)", .candidate_format = "\\L$1"};
    task *t = NULL;
    mg_err e = {{0}};
    CHECK(oracle_create(&t, &c, &e) == 0 && t, "oracle_create: %s", e.msg);
    if (!t) return;
    const char *in[] = {"<answer> Ocean</answer>", "<answer>OCEAN", "ocean", "<answer> </answer>"};
    const char *want[] = {"ocean", "ocean", NULL, NULL};
    for (int i = 0; i < 4; i++) {
        char *s = t->parse(t, in[i]);
        CHECK(want[i] ? s && strcmp(s, want[i]) == 0 : !s, "parse '%s': '%s'", in[i], s ? s : "(null)");
        free(s);
    }
    t->destroy(t);
    c.candidate_pattern = "[";
    CHECK(oracle_create(&t, &c, &e) == -1 && strstr(e.msg, "candidate_pattern: at character 2"), "'%s'", e.msg);
    c.candidate_pattern = "(a)", c.candidate_format = "$9";
    CHECK(oracle_create(&t, &c, &e) == -1 && strstr(e.msg, "candidate_format:"), "'%s'", e.msg);
}

int main(void) {
    test_extraction();
    test_refusals();
    test_backtracking_bound();
    test_oracle_parse();
    return test_summary("test_candidate_pattern");
}
