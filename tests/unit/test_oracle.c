// The external-oracle pool against real child processes (python3 running tasks/examples/*.py, and /bin/sh):
// every failure mode invalidates only its own call with the right reason, the rest of the batch is scored,
// the stats count it, the worker comes back for the next batch, SIGPIPE does not kill us, and no child is left
// behind after destroy.
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/text.h"
#include "tasks/oracle.h"
#include "testing.h"

#define MISBEHAVING "tasks/examples/misbehaving_oracle.py"
static char g_log_path[64];  // per process: two build trees may run this test at once

static const char *python(void) { return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static task *make(const char *script, int workers, double timeout_s, const char *log_path) {
    char *argv[] = {(char *)python(), (char *)script, NULL};
    oracle_config c = {.argv = argv, .workers = workers, .timeout_s = timeout_s, .solved_reward = 1.0,
                       .prompt = "Write a phrase.", .log_path = log_path};
    task *t = NULL;
    mg_err e = {{0}};
    int rc = oracle_create(&t, &c, &e);
    CHECK(rc == 0 && t, "oracle_create(%s): %s", script, e.msg);
    return t;
}

// Code points in well-formed UTF-8: what Python's len() gives for the decoded text.
static int code_points(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

// A child that was killed but not reaped would show up here (and be reaped by this very check).
static void check_no_zombies(const char *when) {
    int status;
    pid_t p = waitpid(-1, &status, WNOHANG);
    CHECK(p <= 0, "%s: an unreaped child (pid %d) was left behind", when, (int)p);
}

static void check_no_children(const char *when) {
    errno = 0;
    pid_t p = waitpid(-1, NULL, WNOHANG);
    CHECK(p == -1 && errno == ECHILD, "%s: children remain after destroy (waitpid -> %d, errno %d)", when, (int)p,
          errno);
}

// A good candidate came back valid with reward = code points / 100 and its own text (one-lined) as info.
static void check_echo(const char *what, const char *cand, const task_score *r) {
    char want[TASK_INFO_LEN];
    snprintf(want, sizeof want, "%s", cand);
    for (char *p = want; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
    CHECK(r->valid == 1, "%s: '%s' invalid: %s", what, cand, r->info);
    CHECK(r->reward == code_points(cand) / 100.0, "%s: '%s' reward %g, want %g", what, cand, r->reward,
          code_points(cand) / 100.0);
    CHECK(strcmp(r->info, want) == 0, "%s: info '%s', want '%s'", what, r->info, want);
}

static void test_interface(void) {
    task *t = make(MISBEHAVING, 1, 1.0, NULL);
    if (!t) return;
    CHECK(strcmp(t->name, "oracle") == 0, "name %s", t->name);
    char *s = t->prompt(t);
    CHECK(strcmp(s, "Write a phrase.") == 0, "prompt '%s'", s);
    free(s);
    s = t->ns_prompt(t, "abc", 0.12345);
    CHECK(strstr(s, "Write a phrase.") == s && strstr(s, "abc") && strstr(s, "0.123") && !strstr(s, "{"),
          "default ns prompt '%s'", s);
    free(s);
    s = t->parse(t, "\n   \n  first answer \t\nsecond\n");
    CHECK(s && strcmp(s, "first answer") == 0, "parse '%s'", s ? s : "(null)");
    free(s);
    s = t->parse(t, " \n\t\n");
    CHECK(s == NULL, "parse of blanks should be NULL");
    free(s);
    CHECK(t->parse(t, "") == NULL, "parse of empty should be NULL");
    s = t->canonical(t, "  some thing\n");
    CHECK(strcmp(s, "some thing") == 0, "canonical '%s'", s);
    free(s);
    CHECK(t->solved(t, 1.0, "x") && t->solved(t, 2.0, "x") && !t->solved(t, 0.999, "x"), "solved threshold");
    t->destroy(t);

    char *argv[] = {(char *)python(), MISBEHAVING, NULL};
    oracle_config c = {.argv = argv, .prompt = "P", .ns_prompt = "[{solution}|{reward}|{solution}]"};
    mg_err e = {{0}};
    CHECK(oracle_create(&t, &c, &e) == 0, "defaults: %s", e.msg);
    s = t->ns_prompt(t, "x y", 2.0 / 3);
    CHECK(strcmp(s, "[x y|0.667|x y]") == 0, "ns template '%s'", s);
    free(s);
    t->destroy(t);

    c.prompt = NULL;
    CHECK(oracle_create(&t, &c, &e) == -1 && strstr(e.msg, "prompt"), "missing prompt: %s", e.msg);
    c.prompt = "P", c.log_path = "/nonexistent-dir/x.log";
    CHECK(oracle_create(&t, &c, &e) == -1 && strstr(e.msg, "/nonexistent-dir/x.log"), "bad log: %s", e.msg);
    check_no_children("interface");
}

// Quotes, backslashes, newlines, non-ASCII and ill-formed UTF-8 reach the oracle intact (or repaired).
static void test_good_batch(void) {
    task *t = make(MISBEHAVING, 2, 1.0, NULL);
    if (!t) return;
    const char *cands[] = {"hello", "a \"quoted\" \\ back\\slash", "two\nlines\tand tab", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93",
                           "{\"id\": 99}", "", "stderr", "blank", NULL, "\xff\xfe" "ab"};
    enum { N = sizeof cands / sizeof *cands };
    task_score out[N];
    mg_err e = {{0}};
    CHECK(t->score(t, N, cands, out, &e) == 0, "score: %s", e.msg);
    for (int i = 0; i < N - 2; i++) check_echo("good batch", cands[i], &out[i]);
    CHECK(out[N - 2].valid == 0 && strcmp(out[N - 2].info, "no candidate") == 0, "NULL candidate: %s", out[N - 2].info);
    // two bytes that are not UTF-8 arrive as two U+FFFD
    CHECK(out[N - 1].valid && out[N - 1].reward == 0.04 && strcmp(out[N - 1].info, "\xef\xbf\xbd\xef\xbf\xbd" "ab") == 0,
          "ill-formed UTF-8: %g '%s'", out[N - 1].reward, out[N - 1].info);
    oracle_stats s;
    oracle_get_stats(t, &s);
    CHECK(s.calls == N - 1 && s.invalid == 0 && s.restarts == 0, "stats calls %ld invalid %ld restarts %ld", s.calls,
          s.invalid, s.restarts);
    // a verdict of invalid from the oracle itself: counted invalid, but not a failure, and no restart
    const char *rej[] = {"reject", "ok"};
    CHECK(t->score(t, 2, rej, out, &e) == 0, "score: %s", e.msg);
    CHECK(out[0].valid == 0 && out[0].reward == 0 && strcmp(out[0].info, "rejected") == 0, "reject: %d %g '%s'",
          out[0].valid, out[0].reward, out[0].info);
    CHECK(out[0].failure == TASK_OK, "a verdict of invalid is not a failed call (failure %d)", out[0].failure);
    check_echo("after reject", "ok", &out[1]);
    oracle_get_stats(t, &s);
    CHECK(s.invalid == 1 && s.garbage == 0 && s.crashes == 0 && s.restarts == 0, "reject stats: invalid %ld", s.invalid);
    // the end of the allowed reward range is a reward like any other
    const char *edge[] = {"edge"};
    CHECK(t->score(t, 1, edge, out, &e) == 0, "score: %s", e.msg);
    CHECK(out[0].valid && out[0].reward == -ORACLE_MAX_REWARD && out[0].failure == TASK_OK, "edge: %d %g '%s'",
          out[0].valid, out[0].reward, out[0].info);
    CHECK(t->score(t, 0, NULL, NULL, &e) == 0, "empty batch");
    t->destroy(t);
    check_no_children("good batch");
}

// Each failure mode inside a batch of good calls, through one pool of 2 workers with a 1 s timeout.
static void test_failures(void) {
    static const struct {
        const char *mode, *reason;
        int counter;  // 0 timeouts, 1 crashes, 2 garbage
    } cases[] = {
        {"sleep", "oracle timed out after 1.0 s", 0},
        {"crash", "oracle exited with status 3", 1},
        {"kill", "oracle was killed by signal 9", 1},
        {"garbage", "oracle reply is not JSON: 'this is not json'", 2},
        {"nan", "oracle reply is not JSON: '{\"id\": ", 2},
        {"noid", "oracle reply has no integer \"id\": '{\"reward\": 0.5}'", 2},
        {"wrongid", "oracle reply answers id ", 2},
        {"huge", "oracle reply is longer than 1048576 bytes", 2},
        {"big", "oracle reply has a \"reward\" outside [-1e9, 1e9]: '{\"id\": ", 2},
    };
    static const int kind_of_counter[3] = {TASK_FAIL_TIMEOUT, TASK_FAIL_CRASH, TASK_FAIL_INVALID};
    enum { NCASES = sizeof cases / sizeof *cases };
    snprintf(g_log_path, sizeof g_log_path, "/tmp/migrate_test_oracle_%d.log", (int)getpid());
    unlink(g_log_path);
    task *t = make(MISBEHAVING, 2, 1.0, g_log_path);
    if (!t) return;
    for (int c = 0; c < NCASES; c++) {
        const char *mode = cases[c].mode;
        oracle_stats a, b;
        oracle_get_stats(t, &a);
        const char *cands[] = {"alpha", mode, "beta!", "gamma12", "d"};
        task_score out[5];
        mg_err e = {{0}};
        double t0 = now_s();
        CHECK(t->score(t, 5, cands, out, &e) == 0, "%s: score: %s", mode, e.msg);
        double took = now_s() - t0;
        CHECK(out[1].valid == 0 && out[1].reward == 0, "%s: should be invalid (%g)", mode, out[1].reward);
        CHECK(starts_with(out[1].info, cases[c].reason), "%s: info '%s', want '%s...'", mode, out[1].info,
              cases[c].reason);
        // the kind travels with the score, for the search loop to count (the others are no failures)
        CHECK(out[1].failure == kind_of_counter[cases[c].counter], "%s: failure %d, want %d", mode, out[1].failure,
              kind_of_counter[cases[c].counter]);
        for (int i = 0; i < 5; i++)
            if (i != 1) {
                check_echo(mode, cands[i], &out[i]);
                CHECK(out[i].failure == TASK_OK, "%s: call %d failed (%d)", mode, i, out[i].failure);
            }
        oracle_get_stats(t, &b);
        long got[3] = {b.timeouts - a.timeouts, b.crashes - a.crashes, b.garbage - a.garbage};
        for (int k = 0; k < 3; k++)
            CHECK(got[k] == (k == cases[c].counter), "%s: counter %d moved by %ld", mode, k, got[k]);
        CHECK(b.calls - a.calls == 5 && b.invalid - a.invalid == 1 && b.restarts - a.restarts == 1,
              "%s: calls +%ld invalid +%ld restarts +%ld", mode, b.calls - a.calls, b.invalid - a.invalid,
              b.restarts - a.restarts);
        CHECK(took < 10.0, "%s: the batch took %.2f s", mode, took);  // a hang guard, not a benchmark
        check_no_zombies(mode);
        // the replacement worker serves the next batch
        const char *next[] = {"x", "yy", "zzz", "wwww"};
        CHECK(t->score(t, 4, next, out, &e) == 0, "%s: next batch: %s", mode, e.msg);
        for (int i = 0; i < 4; i++) check_echo(mode, next[i], &out[i]);
    }
    t->destroy(t);
    check_no_children("failures");
    // one log line per failure, carrying its reason
    FILE *f = fopen(g_log_path, "r");
    CHECK(f != NULL, "no log written");
    if (!f) return;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (n < NCASES) CHECK(strstr(line, cases[n].reason) != NULL, "log line %d '%s' lacks '%s'", n, line, cases[n].reason);
        n++;
    }
    fclose(f);
    CHECK(n == NCASES, "log has %d lines, want %d", n, NCASES);
    unlink(g_log_path);
}

// The whole content of a small file, or "" (static buffer).
static const char *slurp(const char *path) {
    static char buf[8192];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

// A command that cannot start fails the create with a line that says so, and the log says the same (it is not
// left empty).
static void test_missing_command(void) {
    char log[64];
    snprintf(log, sizeof log, "/tmp/migrate_test_oracle_missing_%d.log", (int)getpid());
    unlink(log);
    char *argv[] = {"no-such-oracle-xyz", "--flag", NULL};
    oracle_config c = {.argv = argv, .workers = 2, .prompt = "P", .log_path = log};
    task *t = (task *)1;
    mg_err e = {{0}};
    CHECK(oracle_create(&t, &c, &e) == -1 && t == NULL, "a missing command must fail");
    CHECK(strcmp(e.msg, "oracle: command 'no-such-oracle-xyz' not found on PATH") == 0, "msg '%s'", e.msg);
    CHECK(strstr(slurp(log), "oracle: command 'no-such-oracle-xyz' not found on PATH"), "log: '%s'", slurp(log));
    char *abs_argv[] = {"/no/such/prog", NULL};
    c.argv = abs_argv, c.log_path = NULL;
    CHECK(oracle_create(&t, &c, &e) == -1 && strcmp(e.msg, "oracle: command '/no/such/prog' not found (no such file)") == 0,
          "absolute path: '%s'", e.msg);
    // a script whose #! interpreter is missing exists: that is said, not "not found"
    char script[] = "/tmp/migrate_test_oracle_interp_XXXXXX";
    int fd = mkstemp(script);
    CHECK(fd >= 0 && write(fd, "#!/no/such/interpreter\n", 23) == 23, "write script");
    close(fd);
    chmod(script, 0700);
    char *interp_argv[] = {script, NULL};
    c.argv = interp_argv;
    CHECK(oracle_create(&t, &c, &e) == -1 && strstr(e.msg, "interpreter"), "missing interpreter: '%s'", e.msg);
    unlink(script);
    char *none[] = {NULL};
    c.argv = none;
    CHECK(oracle_create(&t, &c, &e) == -1 && strstr(e.msg, "no command"), "empty argv: %s", e.msg);
    unlink(log);
    check_no_children("missing command");
}

// The command-line splitter the run uses for task.command.
static void test_split_command(void) {
    static const struct {
        const char *cmd;
        const char *want[5];  // NULL-terminated; want[0] NULL = an error is expected, naming `error`
        const char *error;
    } cases[] = {
        {"python3 oracle.py --max 40", {"python3", "oracle.py", "--max", "40"}, NULL},
        {"  sh\t-c  'echo \"a b\"'\n", {"sh", "-c", "echo \"a b\""}, NULL},
        {"prog \"two words\" x''y \"\"", {"prog", "two words", "xy", ""}, NULL},
        {"python3 \"x.py", {NULL}, "unbalanced \" quote in 'python3 \"x.py'"},
        {"it's", {NULL}, "unbalanced ' quote"},
        {"   ", {NULL}, "the command is empty"},
        {"", {NULL}, "the command is empty"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char **argv = (char **)1;
        mg_err e = {{0}};
        int rc = text_split_words(cases[k].cmd, &argv, &e);
        if (cases[k].error) {
            CHECK(rc == -1 && argv == NULL && strstr(e.msg, cases[k].error), "split '%s': rc %d, '%s'", cases[k].cmd,
                  rc, e.msg);
            continue;
        }
        CHECK(rc == 0, "split '%s': %s", cases[k].cmd, e.msg);
        if (rc) continue;
        int n = 0;
        while (argv[n]) n++;
        int want = 0;
        while (cases[k].want[want]) want++;
        CHECK(n == want, "split '%s': %d words, want %d", cases[k].cmd, n, want);
        for (int i = 0; i < n && i < want; i++)
            CHECK(!strcmp(argv[i], cases[k].want[i]), "split '%s': word %d '%s', want '%s'", cases[k].cmd, i, argv[i],
                  cases[k].want[i]);
        text_free_words(argv);
    }
}

// The program vanishes after the pool started: no worker can come back, so the batch cannot be scored (-1).
static void test_pool_cannot_restart(void) {
    char path[] = "/tmp/migrate_test_oracle_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return;
    const char script[] = "#!/bin/sh\nexit 4\n";
    CHECK(write(fd, script, sizeof script - 1) == (ssize_t)(sizeof script - 1), "write script");
    close(fd);
    chmod(path, 0700);
    char *argv[] = {path, NULL};
    oracle_config c = {.argv = argv, .workers = 2, .timeout_s = 1.0, .prompt = "P"};
    task *t = NULL;
    mg_err e = {{0}};
    CHECK(oracle_create(&t, &c, &e) == 0, "create: %s", e.msg);
    usleep(200 * 1000);  // both workers run the script and exit
    unlink(path);
    if (!t) return;
    const char *cands[] = {"a", "b", "c"};
    task_score out[3];
    CHECK(t->score(t, 3, cands, out, &e) == -1, "score should fail when nothing can run");
    CHECK(starts_with(e.msg, "oracle: command '/tmp/migrate_test_oracle_") && strstr(e.msg, "not found (no such file)"),
          "msg '%s'", e.msg);
    check_no_zombies("cannot restart");
    t->destroy(t);
    check_no_children("cannot restart");
}

// A worker that never reads its stdin and exits: our 1 MB write meets a closed pipe. SIGPIPE must not kill us.
static void test_sigpipe(void) {
    char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    oracle_config c = {.argv = argv, .workers = 1, .timeout_s = 2.0, .prompt = "P"};
    task *t = NULL;
    mg_err e = {{0}};
    CHECK(oracle_create(&t, &c, &e) == 0, "create: %s", e.msg);
    if (!t) return;
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    memset(big, 'q', n);
    big[n] = '\0';
    const char *cands[] = {big, "small"};
    task_score out[2];
    CHECK(t->score(t, 2, cands, out, &e) == 0, "score: %s", e.msg);
    for (int i = 0; i < 2; i++)
        CHECK(out[i].valid == 0 && starts_with(out[i].info, "oracle exited with status 3"), "call %d: '%s'", i,
              out[i].info);
    sigset_t pending;
    sigpending(&pending);
    CHECK(!sigismember(&pending, SIGPIPE), "a SIGPIPE was left pending");
    free(big);
    t->destroy(t);
    check_no_children("sigpipe");
}

// Replies come back out of order across workers and still land on their own candidates.
static void test_order(void) {
    task *t = make(MISBEHAVING, 2, 1.0, NULL);
    if (!t) return;
    const char *cands[] = {"slow", "a", "bb", "ccc", "dddd", "slow", "e"};
    task_score out[7];
    mg_err e = {{0}};
    CHECK(t->score(t, 7, cands, out, &e) == 0, "score: %s", e.msg);
    for (int i = 0; i < 7; i++) check_echo("order", cands[i], &out[i]);
    t->destroy(t);
    check_no_children("order");
}

static void test_many_calls(void) {
    task *t = make(MISBEHAVING, 4, 2.0, NULL);
    if (!t) return;
    enum { N = 200 };
    static char text[N][64];
    const char *cands[N];
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "call %d %.*s", i, i % 40, "........................................");
        cands[i] = text[i];
    }
    task_score out[N];
    mg_err e = {{0}};
    CHECK(t->score(t, N, cands, out, &e) == 0, "score: %s", e.msg);
    int wrong = 0;
    for (int i = 0; i < N; i++)
        wrong += !(out[i].valid && out[i].reward == code_points(cands[i]) / 100.0 && !strcmp(out[i].info, cands[i]));
    CHECK(wrong == 0, "%d of %d calls came back wrong", wrong, N);
    oracle_stats s;
    oracle_get_stats(t, &s);
    CHECK(s.calls == N && s.invalid == 0 && s.restarts == 0, "stats calls %ld invalid %ld restarts %ld", s.calls,
          s.invalid, s.restarts);
    t->destroy(t);
    check_no_children("many calls");
}

// A child that ignores the closed stdin is killed after the grace period, with anything it started.
static void test_destroy_stubborn(void) {
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; sleep 30; :", NULL};
    oracle_config c = {.argv = argv, .workers = 2, .prompt = "P"};
    task *t = NULL;
    mg_err e = {{0}};
    CHECK(oracle_create(&t, &c, &e) == 0, "create: %s", e.msg);
    if (!t) return;
    double t0 = now_s();
    t->destroy(t);
    double took = now_s() - t0;
    CHECK(took < 3.0, "destroy took %.2f s", took);
    check_no_children("stubborn");
}

// The example users copy.
static void test_length_example(void) {
    task *t = make("tasks/examples/length_oracle.py", 2, 5.0, NULL);
    if (!t) return;
    const char *cands[] = {"hello world!", "hi", "", "abcdefghijklmnopqrstuvwxyz"};
    task_score out[4];
    mg_err e = {{0}};
    CHECK(t->score(t, 4, cands, out, &e) == 0, "score: %s", e.msg);
    CHECK(out[0].valid && out[0].reward == 1.0 && !strcmp(out[0].info, "length 12"), "12 chars: %g '%s'",
          out[0].reward, out[0].info);
    CHECK(out[1].valid && out[1].reward > 0.166 && out[1].reward < 0.167, "2 chars: %g", out[1].reward);
    CHECK(!out[2].valid && !strcmp(out[2].info, "empty candidate"), "empty: '%s'", out[2].info);
    CHECK(out[3].valid && out[3].reward == 0.0, "26 chars: %g", out[3].reward);
    CHECK(t->solved(t, out[0].reward, cands[0]), "12 chars solves it");
    t->destroy(t);
    check_no_children("length example");
}

static int count_lines(const char *path) {
    const char *s = slurp(path);
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

// The process that owns a pool is killed with SIGKILL while both workers are inside a call, each waiting for a
// helper it started (sleep 300). No cleanup of ours runs, yet the workers and their helpers must die within
// seconds. This test process is a subreaper, so the orphans become its children: it sees them end and reaps them.
static void test_killed_owner(void) {
    char dir[] = "/tmp/migrate_test_oracle_kill_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char script[96], pids[96];
    snprintf(script, sizeof script, "%s/oracle.sh", dir);
    snprintf(pids, sizeof pids, "%s/pids", dir);
    FILE *f = fopen(script, "w");
    CHECK(f != NULL, "write %s", script);
    if (!f) return;
    fputs("echo $$ >> \"$1/pids\"\n"
          "while read -r line; do sleep 300 & echo $! >> \"$1/pids\"; wait; done\n", f);
    fclose(f);
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER");
    pid_t owner = fork();
    if (owner == 0) {
        char *argv[] = {"/bin/sh", script, dir, NULL};
        oracle_config c = {.argv = argv, .workers = 2, .timeout_s = 600, .prompt = "P"};
        task *t = NULL;
        mg_err e;
        if (oracle_create(&t, &c, &e)) _exit(2);
        const char *cands[] = {"a", "b"};
        task_score out[2];
        t->score(t, 2, cands, out, &e);  // both calls wait for their sleep
        _exit(3);
    }
    double t0 = now_s();
    while (count_lines(pids) < 4 && now_s() - t0 < 20) usleep(20 * 1000);
    CHECK(count_lines(pids) == 4, "the workers did not start their helpers: '%s'", slurp(pids));
    kill(owner, SIGKILL);
    int status;
    CHECK(waitpid(owner, &status, 0) == owner && WIFSIGNALED(status), "the owner did not die of the kill");
    // every pid recorded (2 workers, 2 helpers) must end, and with them every other orphan (the guards)
    pid_t want[4] = {0};
    const char *s = slurp(pids);
    for (int i = 0; i < 4 && *s; i++) want[i] = (pid_t)strtol(s, (char **)&s, 10);
    int gone = 0;
    double t1 = now_s();
    for (;;) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p < 0) break;  // ECHILD: no orphan is left
        for (int i = 0; i < 4; i++) gone += p == want[i];
        if (p == 0) {
            if (now_s() - t1 > 5) break;
            usleep(10 * 1000);
        }
    }
    double took = now_s() - t1;
    CHECK(gone == 4 && took < 5, "%d of the 4 workers and helpers (%s) died within %.1f s of the kill -9", gone, slurp(pids),
          took);
    for (int i = 0; i < 4; i++)  // leave nothing behind when the check failed
        if (want[i] > 0) kill(want[i], SIGKILL);
    while (waitpid(-1, NULL, 0) > 0) {
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    unlink(pids), unlink(script), rmdir(dir);
}

int main(void) {
    double t0 = now_s();
    int fds = open_fds();
    test_interface();
    test_missing_command();
    test_split_command();
    test_good_batch();
    test_failures();
    test_pool_cannot_restart();
    test_sigpipe();
    test_order();
    test_many_calls();
    test_destroy_stubborn();
    test_length_example();
    test_killed_owner();
    CHECK(open_fds() == fds, "file descriptors leaked: %d open before, %d after", fds, open_fds());
    fprintf(stderr, "test_oracle: %.1f s\n", now_s() - t0);
    return test_summary("test_oracle");
}
