// The synthetic task generator (tasks/arc/dsl_gen.h): a run is reproducible (same seed, same bytes; task k the same
// whatever the count and the thread count) and seed-dependent; every task written to a folder reloads with the
// project's task loader, its answer-key program re-parses and reproduces every output; no task is an identity or a
// constant, no two share a program or their pairs, no program has a dead line or a length outside the asked range;
// the Kaggle-style combined files hold the same tasks; ids are distinct; bad settings are refused in one line.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/arc/dsl_gen_write.h"
#include "tasks/arc/task_file.h"
#include "testing.h"

// Everything a run emits, in order: per task its id, program and task JSON, one text.
typedef struct {
    char *buf;
    size_t n, cap;
    long tasks;
    char **texts;   // per task: its canonical program (for the duplicate check)
    uint64_t *pairs;
} capture;

static void append(capture *c, const char *s) {
    size_t k = strlen(s);
    if (c->n + k + 1 > c->cap) {
        c->cap = 2 * (c->n + k + 1);
        c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->n, s, k + 1);
    c->n += k;
}

static int capture_emit(const arc_gen_task *t, void *ctx, mg_err *e) {
    capture *c = ctx;
    append(c, t->json[ARC_GEN_PROGRAM]);
    append(c, "\n");
    append(c, t->json[ARC_GEN_TASK]);
    append(c, "\n");
    c->texts = realloc(c->texts, (size_t)(c->tasks + 1) * sizeof *c->texts);
    c->pairs = realloc(c->pairs, (size_t)(c->tasks + 1) * sizeof *c->pairs);
    c->texts[c->tasks] = strdup(t->text);
    c->pairs[c->tasks] = t->pairs_hash;
    c->tasks++;
    return 0;
}

static void capture_free(capture *c) {
    for (long i = 0; i < c->tasks; i++) free(c->texts[i]);
    free(c->texts), free(c->pairs), free(c->buf);
    memset(c, 0, sizeof *c);
}

static arc_gen_stats last_stats;  // of the last run()

static void run(capture *c, const arc_gen_config *cfg, uint64_t seed, uint64_t count, int threads) {
    memset(c, 0, sizeof *c);
    mg_err e = {{0}};
    int rc = arc_gen_run(cfg, seed, count, threads, 1u << ARC_GEN_TASK | 1u << ARC_GEN_PROGRAM, capture_emit, c,
                         &last_stats, &e);
    CHECK(rc == 0, "run seed %llu count %llu: %s", (unsigned long long)seed, (unsigned long long)count, e.msg);
}

// The first `tasks` tasks' text of a capture: up to the start of line 2 * tasks.
static size_t prefix_len(const capture *c, long tasks) {
    size_t at = 0;
    for (long line = 0; line < 2 * tasks && at < c->n; at++)
        if (c->buf[at] == '\n') line++;
    return at;
}

static void test_reproducible(void) {
    arc_gen_config cfg;
    arc_gen_config_default(&cfg);
    capture a, b, d, big, thr;
    run(&a, &cfg, 7, 300, 1);
    run(&b, &cfg, 7, 300, 1);
    run(&d, &cfg, 8, 300, 1);
    CHECK(a.tasks == 300 && b.tasks == 300, "%ld and %ld tasks, want 300", a.tasks, b.tasks);
    CHECK(a.n == b.n && !memcmp(a.buf, b.buf, a.n), "seed 7 twice gave different output");
    CHECK(d.n != a.n || memcmp(a.buf, d.buf, a.n), "seeds 7 and 8 gave the same output");
    long same = 0;  // different seeds: (almost) every program differs at the same index, not just one byte
    for (long i = 0; i < 300 && i < d.tasks; i++) same += !strcmp(a.texts[i], d.texts[i]);
    CHECK(same < 150, "seeds 7 and 8 share the program of %ld of 300 tasks", same);
    // Task k does not depend on the count: the first 10 of a run of 10, of 100 and of 300 agree. 1200 tasks of 1-2
    // lines (a few hundred one-line programs exist: many repeats, redrawn longer) on 3 threads match 1 thread.
    capture ten, hundred;
    run(&ten, &cfg, 7, 10, 1);
    run(&hundred, &cfg, 7, 100, 1);
    size_t p10 = prefix_len(&ten, 10), p100 = prefix_len(&hundred, 100);
    CHECK(p10 == ten.n && p10 == prefix_len(&hundred, 10) && !memcmp(ten.buf, hundred.buf, p10),
          "the first 10 tasks differ between count 10 and count 100");
    CHECK(p100 == prefix_len(&a, 100) && !memcmp(hundred.buf, a.buf, p100),
          "the first 100 tasks differ between count 100 and count 300");
    cfg.min_lines = 1, cfg.max_lines = 2;
    run(&big, &cfg, 11, 1200, 1);
    long dups = last_stats.dup_program;
    run(&thr, &cfg, 11, 1200, 3);
    CHECK(dups > 100, "only %ld repeated programs: the redraw path is not exercised", dups);
    CHECK(big.n == thr.n && !memcmp(big.buf, thr.buf, big.n), "1200 tasks of 1-2 lines: 1 and 3 threads differ");
    capture_free(&a), capture_free(&b), capture_free(&d), capture_free(&ten), capture_free(&hundred);
    capture_free(&big), capture_free(&thr);
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }
static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

// Every value but the last line's is read by a later line.
static int no_dead_lines(const arc_dsl_program *p) {
    for (int k = 1; k < p->n; k++) {  // value k = line k
        int read = 0;
        for (int j = k; j < p->n && !read; j++)
            for (int a = 0; a < p->code[j].nargs; a++) read |= !(p->code[j].literal >> a & 1) && p->code[j].arg[a] == k;
        if (!read) return 0;
    }
    return 1;
}

// A run written to a folder and combined files, then read back with the task loader and checked task by task.
static void test_written(int min_lines, int max_lines, int max_side, uint64_t seed, long count) {
    char dir[] = "/tmp/test_arc_gen.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char prefix[256], chal[300], sol[300], progs[300];
    snprintf(prefix, sizeof prefix, "%s/kaggle", dir);
    snprintf(chal, sizeof chal, "%s_challenges.json", prefix);
    snprintf(sol, sizeof sol, "%s_solutions.json", prefix);
    snprintf(progs, sizeof progs, "%s/programs.jsonl", dir);
    arc_gen_config cfg;
    arc_gen_config_default(&cfg);
    cfg.min_lines = min_lines, cfg.max_lines = max_lines, cfg.max_side = max_side;
    mg_err e = {{0}};
    arc_gen_outputs o = {.dir = dir, .combined = prefix};
    arc_gen_writer *w = arc_gen_writer_open(&o, &e);
    CHECK(w != NULL, "%s", e.msg);
    if (!w) return;
    arc_gen_stats st;
    int rc = arc_gen_run(&cfg, seed, (uint64_t)count, 2, arc_gen_writer_forms(w), arc_gen_writer_emit, w, &st, &e);
    CHECK(rc == 0, "%s", e.msg);
    CHECK(arc_gen_writer_close(w, rc == 0, &e) == 0, "%s", e.msg);
    json_t *cj = json_load_file(chal, 0, NULL), *sj = json_load_file(sol, 0, NULL);
    CHECK(cj && sj && json_object_size(cj) == (size_t)count && json_object_size(sj) == (size_t)count,
          "combined files: %zu and %zu tasks, want %ld", json_object_size(cj), json_object_size(sj), count);
    FILE *f = fopen(progs, "r");
    CHECK(f != NULL, "%s is missing", progs);
    if (!f) return;
    arc_dsl_vm *vm = arc_dsl_vm_new();
    char line[8192];
    long n = 0, reproduced = 0, identity = 0, constant = 0, dead = 0, bad_len = 0, too_big = 0;
    long lens[ARC_DSL_MAX_LINES + 1] = {0};
    char **texts = calloc((size_t)count, sizeof *texts);
    uint64_t *pair_hashes = calloc((size_t)count, sizeof *pair_hashes);
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        const char *id = json_string_value(json_object_get(j, "id"));
        const char *text = json_string_value(json_object_get(j, "program"));
        int lines = (int)json_integer_value(json_object_get(j, "lines"));
        CHECK(j && id && text && strlen(id) == 8, "programs.jsonl line %ld: %s", n + 1, line);
        if (!id || !text || n >= count) {
            json_decref(j);
            n++;
            continue;
        }
        texts[n] = strdup(text);
        char path[400];
        snprintf(path, sizeof path, "%s/%s.json", dir, id);
        arc_task t, k;
        if (arc_task_load_file(&t, path, &e)) {
            CHECK(0, "%s", e.msg);
            json_decref(j);
            n++;
            continue;
        }
        CHECK(!arc_task_from_combined(&k, cj, chal, sj, sol, id, &e), "%s", e.msg);
        CHECK(arc_task_equal(&t, &k), "%s: the combined files hold another task", id);
        arc_task_free(&k);
        arc_dsl_program p;
        CHECK(!arc_dsl_parse(&p, text, strlen(text), &e), "%s: %s", id, e.msg);
        CHECK(p.n == lines, "%s: %d lines, the key says %d", id, p.n, lines);
        bad_len += p.n < min_lines || p.n > max_lines;
        lens[p.n]++;
        dead += !no_dead_lines(&p);
        char canon[ARC_DSL_TEXT_MAX];
        arc_dsl_format(&p, canon, sizeof canon);
        CHECK(!strcmp(canon, text), "%s: the program is not in canonical form", id);
        int all_ok = 1, same_train = 1, same_test = 0, same_out = 1;
        uint64_t h = 1469598103934665603ull;
        const arc_grid *first = &t.train[0].output;
        for (int i = 0; i < t.n_train + t.n_test; i++) {
            const arc_grid *in = i < t.n_train ? &t.train[i].input : &t.test_inputs[i - t.n_train];
            const arc_grid *want = i < t.n_train ? &t.train[i].output : &t.test_outputs[i - t.n_train];
            too_big += in->rows > max_side || in->cols > max_side;
            arc_grid out;
            if (arc_dsl_run(vm, &p, in, NULL, &out, &e)) {
                all_ok = 0;
                continue;
            }
            all_ok &= arc_grid_equal(&out, want);
            arc_grid_free(&out);
            if (i < t.n_train) same_train &= arc_grid_equal(in, want);
            else same_test |= arc_grid_equal(in, want);
            same_out &= arc_grid_equal(first, want);
            for (size_t c = 0; c < (size_t)in->rows * in->cols; c++) h = (h ^ in->cells[c]) * 1099511628211ull;
            for (size_t c = 0; c < (size_t)want->rows * want->cols; c++) h = (h ^ want->cells[c]) * 1099511628211ull;
            h = (h ^ (uint64_t)(in->rows * 31 + in->cols)) * 1099511628211ull;
        }
        pair_hashes[n] = h;
        reproduced += all_ok;
        identity += same_train || same_test;
        constant += same_out;
        arc_task_free(&t);
        json_decref(j);
        n++;
    }
    fclose(f);
    CHECK(n == count, "programs.jsonl has %ld lines, want %ld", n, count);
    CHECK(reproduced == count, "%ld of %ld programs reproduce all their outputs", reproduced, count);
    CHECK(identity == 0, "%ld tasks leave every train input or some test input unchanged", identity);
    CHECK(constant == 0, "%ld tasks have one output for all inputs", constant);
    CHECK(dead == 0, "%ld programs have a line no later line reads", dead);
    CHECK(bad_len == 0, "%ld programs are outside %d..%d lines", bad_len, min_lines, max_lines);
    CHECK(too_big == 0, "%ld inputs have a side above %d", too_big, max_side);
    long used = 0;
    for (int l = min_lines; l <= max_lines; l++) used += lens[l] > 0;
    CHECK(used == max_lines - min_lines + 1, "not every length in %d..%d occurs in %ld tasks", min_lines, max_lines,
          count);
    long m = n < count ? n : count, dup_text = 0, dup_pairs = 0;
    qsort(texts, (size_t)m, sizeof *texts, cmp_str);
    for (long i = 1; i < m; i++) dup_text += texts[i] && texts[i - 1] && !strcmp(texts[i], texts[i - 1]);
    qsort(pair_hashes, (size_t)m, sizeof *pair_hashes, cmp_u64);
    for (long i = 1; i < m; i++) dup_pairs += pair_hashes[i] == pair_hashes[i - 1];
    CHECK(dup_text == 0, "%ld duplicate programs", dup_text);
    CHECK(dup_pairs == 0, "%ld tasks repeat another's pairs", dup_pairs);
    printf("  lines %d-%d, sides <= %d: %ld tasks reload and reproduce; %ld candidates drawn (%ld without a program, "
           "%ld duplicate programs), %ld lines redrawn\n",
           min_lines, max_lines, max_side, reproduced, st.attempts, st.no_program, st.dup_program, st.line_rejects);
    for (long i = 0; i < m; i++) free(texts[i]);
    free(texts), free(pair_hashes);
    json_decref(cj), json_decref(sj);
    arc_dsl_vm_free(vm);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "rm %s", dir);
}

static void test_ids(void) {
    enum { N = 200000 };
    uint64_t *ids = malloc(N * sizeof *ids);
    char id[9], other[9];
    for (uint64_t k = 0; k < N; k++) {
        arc_gen_id(42, k, id);
        ids[k] = strtoull(id, NULL, 16);
    }
    qsort(ids, N, sizeof *ids, cmp_u64);
    long dup = 0;
    for (int i = 1; i < N; i++) dup += ids[i] == ids[i - 1];
    CHECK(dup == 0, "%ld repeated ids among %d", dup, N);
    arc_gen_id(42, 5, id), arc_gen_id(43, 5, other);
    CHECK(strcmp(id, other) != 0, "seeds 42 and 43 give task 5 the same id %s", id);
    free(ids);
}

static void test_bad_config(void) {
    arc_gen_config c;
    mg_err e = {{0}};
    struct {
        int field, value;
        const char *want;
    } bad[] = {{0, 0, "lines"}, {1, 33, "lines"}, {2, 31, "max-side"}, {3, 0, "pairs"}, {4, 16, "pairs"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        arc_gen_config_default(&c);
        if (bad[i].field == 0) c.min_lines = bad[i].value;
        if (bad[i].field == 1) c.max_lines = bad[i].value;
        if (bad[i].field == 2) c.max_side = bad[i].value;
        if (bad[i].field == 3) c.n_train = bad[i].value;
        if (bad[i].field == 4) c.n_test = bad[i].value;
        int rc = arc_gen_config_check(&c, &e);
        CHECK(rc == -1 && strstr(e.msg, bad[i].want) && !strchr(e.msg, '\n'), "case %zu: rc %d, '%s'", i, rc, e.msg);
        CHECK(arc_gen_run(&c, 1, 1, 1, 0, NULL, NULL, NULL, &e) == -1, "case %zu: a run went ahead", i);
    }
    arc_gen_config_default(&c);
    CHECK(arc_gen_config_check(&c, &e) == 0, "the defaults are refused: %s", e.msg);
}

int main(void) {
    test_ids();
    test_bad_config();
    test_reproducible();
    test_written(1, 3, 30, 1, 400);
    test_written(3, 5, 30, 2, 200);
    test_written(2, 8, 6, 3, 100);
    return test_summary("test_arc_gen");
}
