// Semantle: the word-vector loader (word2vec binary, word2vec/GloVe text with and without header, and every kind
// of malformed file, each refused with one line "PATH:LINE: ..." or "PATH: entry N: ..."), completion parsing,
// scoring, Semantle's rank checked against a brute-force sort, and the bundled data/semantle vectors.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/semantle.h"
#include "testing.h"

#define BUNDLED_VECTORS "data/semantle/vectors.bin"
#define BUNDLED_VOCAB "data/semantle/vocab.txt"
#define BUNDLED_DIM 50

static char g_dir[64];
static char g_files[64][256];
static int g_nfiles;

static const char *tmp_path(const char *file) {
    char *p = g_files[g_nfiles++ % 64];
    snprintf(p, 256, "%s/%s", g_dir, file);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

// A growable byte buffer for building binary images.
typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}
static void put_str(bytes *b, const char *s) { put(b, s, strlen(s)); }
static void put_f32(bytes *b, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    unsigned char le[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                           (unsigned char)(u >> 24)};
    put(b, le, 4);
}

// ---------------------------------------------------------------------------------------------------------------
// a tiny vocabulary with cosines known by hand (3 dimensions)

#define NW 5
static const char *W[NW] = {"cat", "dog", "fish", "bird", "lion"};
static const float X[NW][3] = {{1, 0, 0}, {3, 4, 0}, {0, 0, 2}, {-1, 1, 0}, {4, 0, 3}};
static const double COS_TO_CAT[NW] = {1.0, 0.6, 0.0, -0.70710678118654752, 0.8};

static void write_binary(const char *path, int newline_after_vector) {
    bytes b = {0};
    put_str(&b, "5 3\n");
    for (int i = 0; i < NW; i++) {
        put_str(&b, W[i]);
        put_str(&b, " ");
        for (int d = 0; d < 3; d++) put_f32(&b, X[i][d]);
        if (newline_after_vector) put_str(&b, "\n");
    }
    write_bytes(path, b.p, b.n);
    free(b.p);
}

static void write_glove(const char *path, int header, const char *eol) {
    FILE *f = fopen(path, "wb");
    if (header) fprintf(f, "%d 3%s", NW, eol);
    for (int i = 0; i < NW; i++) fprintf(f, "%s %g %g\t%g%s", W[i], X[i][0], X[i][1], X[i][2], eol);
    fclose(f);
}

static void check_small(const char *path, const char *label) {
    word_vectors *wv = NULL;
    mg_err e = {{0}};
    int rc = word_vectors_load(&wv, path, &e);
    CHECK(rc == 0, "%s: load failed: %s", label, e.msg);
    if (rc) return;
    CHECK(word_vectors_count(wv) == NW && word_vectors_dim(wv) == 3, "%s: %d words, dim %d", label,
          word_vectors_count(wv), word_vectors_dim(wv));
    for (int i = 0; i < NW; i++) {
        CHECK(word_vectors_find(wv, W[i]) == i, "%s: find(%s) = %d", label, W[i], word_vectors_find(wv, W[i]));
        CHECK(strcmp(word_vectors_word(wv, i), W[i]) == 0, "%s: word %d", label, i);
        double c = word_vectors_cosine(wv, 0, i);
        CHECK(fabs(c - COS_TO_CAT[i]) < 1e-6, "%s: cos(cat, %s) = %.9f, want %.9f", label, W[i], c, COS_TO_CAT[i]);
        CHECK(fabs(word_vectors_cosine(wv, i, i) - 1.0) < 1e-6, "%s: %s is not unit length", label, W[i]);
    }
    CHECK(word_vectors_find(wv, "Cat") == -1 && word_vectors_find(wv, "ca") == -1 &&
              word_vectors_find(wv, "cats") == -1 && word_vectors_find(wv, "") == -1,
          "%s: find matched a word that is not there", label);
    CHECK(word_vectors_word(wv, NW) == NULL && word_vectors_word(wv, -1) == NULL, "%s: word out of range", label);
    word_vectors_free(wv);
}

static void test_formats(void) {
    write_binary(tmp_path("small.bin"), 1);
    check_small(tmp_path("small.bin"), "binary with newlines");
    write_binary(tmp_path("small_packed.bin"), 0);
    check_small(tmp_path("small_packed.bin"), "binary without newlines");
    write_glove(tmp_path("small_glove.txt"), 0, "\n");
    check_small(tmp_path("small_glove.txt"), "GloVe text (no header)");
    write_glove(tmp_path("small_w2v.txt"), 1, "\n");
    check_small(tmp_path("small_w2v.txt"), "word2vec text (header)");
    write_glove(tmp_path("small_crlf.txt"), 1, "\r\n");
    check_small(tmp_path("small_crlf.txt"), "word2vec text, CRLF");
    // Blank lines and a missing final newline are fine; so is a zero vector (cosine 0 with everything).
    const char *p = tmp_path("blank_lines.txt");
    write_text(p, "\na 1 0\n\n  \nb 0 1\nz 0 0");
    word_vectors *wv = NULL;
    mg_err e = {{0}};
    CHECK(word_vectors_load(&wv, p, &e) == 0, "blank lines: %s", e.msg);
    if (wv) {
        CHECK(word_vectors_count(wv) == 3 && word_vectors_dim(wv) == 2, "blank lines: %d words",
              word_vectors_count(wv));
        CHECK(word_vectors_cosine(wv, 2, 0) == 0.0 && word_vectors_cosine(wv, 0, 1) == 0.0, "zero vector");
        word_vectors_free(wv);
    }
    // UTF-8 words and a word that looks like a number.
    p = tmp_path("utf8.txt");
    write_text(p, "caf\xc3\xa9 1 2\n2024 3 4\n");
    wv = NULL;
    CHECK(word_vectors_load(&wv, p, &e) == 0, "utf8: %s", e.msg);
    if (wv) {
        CHECK(word_vectors_find(wv, "caf\xc3\xa9") == 0 && word_vectors_find(wv, "2024") == 1, "utf8 lookups");
        word_vectors_free(wv);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// malformed files

static void expect_bad(const char *file, const void *data, size_t n, const char *where, const char *what) {
    const char *path = tmp_path(file);
    write_bytes(path, data, n);
    word_vectors *wv = (word_vectors *)1;
    mg_err e = {{0}};
    int rc = word_vectors_load(&wv, path, &e);
    if (getenv("TEST_VERBOSE")) printf("  %-22s -> %s\n", file, e.msg);
    CHECK(rc == -1 && wv == NULL, "%s: a bad file was accepted", file);
    char prefix[320];
    snprintf(prefix, sizeof prefix, "%s%s", path, where);
    CHECK(strncmp(e.msg, prefix, strlen(prefix)) == 0, "%s: message should start with '%s': %s", file, prefix, e.msg);
    CHECK(strstr(e.msg, what) != NULL, "%s: message should mention '%s': %s", file, what, e.msg);
    CHECK(strchr(e.msg, '\n') == NULL, "%s: message is not one line: %s", file, e.msg);
}

static void expect_bad_text(const char *file, const char *text, const char *where, const char *what) {
    expect_bad(file, text, strlen(text), where, what);
}

static void test_text_errors(void) {
    expect_bad_text("empty.txt", "", ": ", "empty file");
    expect_bad_text("only_blank.txt", "\n\n \n", ":1: ", "no word vectors");
    expect_bad_text("not_number.txt", "a 1 2 3\nb 1 2 3\nc 1 abc 3\n", ":3: ", "field 3 is not a number: 'abc'");
    expect_bad_text("half_number.txt", "a 1 2 3\nb 1 2x 3\n", ":2: ", "not a number: '2x'");
    expect_bad_text("nan.txt", "a 1 2 3\nb 1 nan 3\n", ":2: ", "field 3 is not a finite float32: 'nan'");
    expect_bad_text("inf.txt", "a 1 2 inf\n", ":1: ", "field 4 is not a finite float32: 'inf'");
    expect_bad_text("big.txt", "a 1 2 3\nb 1 1e39 3\n", ":2: ", "field 3 is not a finite float32: '1e39'");
    expect_bad_text("few_cols.txt", "a 1 2 3\nb 1 2\n", ":2: ", "expected 3 numbers, found 2");
    expect_bad_text("many_cols.txt", "a 1 2 3\nb 1 2 3 4\n", ":2: ", "expected 3 numbers, found 4");
    expect_bad_text("no_numbers.txt", "lonely\nb 1 2\n", ":1: ", "a word without numbers");
    expect_bad_text("dup.txt", "cat 1 2\n\ndog 3 4\ncat 5 6\n", ":4: ", "duplicate word 'cat' (first on line 1)");
    expect_bad_text("ctrl_word.txt", "a 1 2\nb\x01 3 4\n", ":2: ", "control byte 0x01");
    expect_bad_text("vt_number.txt", "a 1 2\nb \v3 4\n", ":2: ", "field 2 is not a number: '?3'");
    expect_bad("nul.txt", "a 1 2\nb 3\0 4\n", 13, ":2: ", "field 2 is not a number: '3?'");
    // word2vec text headers
    expect_bad_text("dim0.txt", "2 0\na\nb\n", ":1: ", "dimension must be 1..");
    expect_bad_text("dim_huge.txt", "1 99999999999\na 1\n", ":1: ", "dimension must be 1..");
    expect_bad_text("n0.txt", "0 3\n", ":1: ", "word count must be 1..");
    expect_bad_text("n_huge.txt", "999999999999 3\na 1 2 3\n", ":1: ", "word count must be 1..");
    expect_bad_text("v_short.txt", "3 2\na 1 2\nb 3 4\n", ":3: ", "the header announces 3 words, the file has 2");
    expect_bad_text("v_long.txt", "1 2\na 1 2\nb 3 4\n", ":3: ", "more words than the 1 the header announces");
    expect_bad_text("hdr_cols.txt", "2 3\na 1 2 3\nb 1 2\n", ":3: ", "expected 3 numbers, found 2");
    // Headerless, with more numbers on the first line than any embedding has.
    size_t cols = 16385;
    char *line = malloc(1 + 2 * cols + 2);
    line[0] = 'a';
    for (size_t i = 0; i < cols; i++) memcpy(line + 1 + 2 * i, " 1", 2);
    memcpy(line + 1 + 2 * cols, "\n", 2);
    expect_bad_text("wide.txt", line, ":1: ", "more than the 16384 dimensions");
    free(line);

    const char *missing = tmp_path("does_not_exist.txt");
    word_vectors *wv;
    mg_err e = {{0}};
    CHECK(word_vectors_load(&wv, missing, &e) == -1 && strstr(e.msg, "cannot open") && strstr(e.msg, missing),
          "missing file: %s", e.msg);
}

static void test_binary_errors(void) {
    bytes b = {0};
    // A good two-word file, then cut at every length: each prefix must be refused, never read past.
    put_str(&b, "2 3\n");
    put_str(&b, "cat ");
    for (int d = 0; d < 3; d++) put_f32(&b, X[0][d]);
    put_str(&b, "\ndog ");
    for (int d = 0; d < 3; d++) put_f32(&b, X[1][d]);
    put_str(&b, "\n");
    size_t full = b.n;
    int refused = 0;
    for (size_t cut = 1; cut < full - 1; cut++) {  // full - 1 drops only the optional final newline
        const char *path = tmp_path("cut.bin");
        write_bytes(path, b.p, cut);
        word_vectors *wv = NULL;
        mg_err e = {{0}};
        if (word_vectors_load(&wv, path, &e) == -1 && strchr(e.msg, '\n') == NULL && strstr(e.msg, path))
            refused++;
        else
            word_vectors_free(wv);
    }
    CHECK(refused == (int)full - 2, "truncated binaries: %d of %d refused", refused, (int)full - 2);
    expect_bad("trunc_vec.bin", b.p, full - 6, ": entry 2: ", "truncated: the vector needs 12 bytes, 7 are left");
    expect_bad("trunc_word.bin", b.p, 4 + 4 + 12 + 3, ": entry 2: ", "truncated in the word");

    // Header announces more entries than there are.
    bytes c = {0};
    put_str(&c, "3 3\n");
    put(&c, b.p + 4, full - 4);
    expect_bad("v_short.bin", c.p, c.n, ": entry 3: ", "truncated");
    // Header announces fewer entries than there are.
    c.n = 0;
    put_str(&c, "1 3\n");
    put(&c, b.p + 4, full - 4);
    expect_bad("v_long.bin", c.p, c.n, ": entry 2: ", "data after the 1 entries the header announces");
    // Duplicate word.
    c.n = 0;
    put(&c, b.p, full);
    memcpy(c.p + 4 + 4 + 12 + 1, "cat", 3);
    expect_bad("dup.bin", c.p, c.n, ": entry 2: ", "duplicate word 'cat' (first at entry 1)");
    // A NaN and an infinity in a vector.
    c.n = 0;
    put_str(&c, "1 3\nnan ");
    put_f32(&c, 1);
    put_f32(&c, NAN);
    put_f32(&c, 1);
    expect_bad("nan.bin", c.p, c.n, ": entry 1: ", "value 2 is not a finite number");
    c.n = 0;
    put_str(&c, "1 2\ninf ");
    put_f32(&c, INFINITY);
    put_f32(&c, 1);
    expect_bad("inf.bin", c.p, c.n, ": entry 1: ", "value 1 is not a finite number");
    // An empty word (two spaces) and a control byte in a word.
    c.n = 0;
    put_str(&c, "1 2\n ");
    put_f32(&c, 1.5f);
    put_f32(&c, 1.5f);
    expect_bad("empty_word.bin", c.p, c.n, ": entry 1: ", "empty word");
    c.n = 0;
    put_str(&c, "1 2\nx\x02y ");
    put_f32(&c, 1.5f);
    put_f32(&c, 1.5f);
    expect_bad("ctrl_word.bin", c.p, c.n, ": entry 1: ", "control byte 0x02");
    free(b.p);
    free(c.p);
}

// ---------------------------------------------------------------------------------------------------------------
// the task

static void test_parse(void) {
    word_vectors *wv = NULL;
    mg_err e = {{0}};
    write_glove(tmp_path("parse.txt"), 0, "\n");
    CHECK(word_vectors_load(&wv, tmp_path("parse.txt"), &e) == 0, "%s", e.msg);
    task *t = NULL;
    CHECK(semantle_create(&t, wv, "cat", &e) == 0, "%s", e.msg);
    if (!t) return;
    struct {
        const char *completion, *word;
    } cases[] = {
        {"Ocean", "ocean"},
        {"  \"Ocean.\"", "ocean"},
        {"**sea** is my guess", "sea"},
        {"'ocean'", "ocean"},
        {"\xe2\x80\x9cRiver\xe2\x80\x9d", "river"},
        {"ice-cream please", "ice-cream"},
        {"don't", "don't"},
        {"word-", "word"},
        {"1. river", "river"},
        {"\n\n  Tide\n", "tide"},
        {"caf\xc3\xa9", "caf"},
        {"", NULL},
        {"   ...!?", NULL},
        {"123 456", NULL},
        {"\xe2\x80\x9c\xe2\x80\x9d", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = t->parse(t, cases[i].completion);
        int ok = cases[i].word ? got && strcmp(got, cases[i].word) == 0 : got == NULL;
        CHECK(ok, "parse(\"%s\") = %s, want %s", cases[i].completion, got ? got : "NULL",
              cases[i].word ? cases[i].word : "NULL");
        free(got);
    }
    CHECK(t->parse(t, NULL) == NULL, "parse(NULL)");
    char *c = t->canonical(t, "OcEaN");
    CHECK(strcmp(c, "ocean") == 0, "canonical: %s", c);
    free(c);

    char *p = t->prompt(t);
    CHECK(strstr(p, "Semantle") && strstr(p, "single English word"), "prompt: %s", p);
    free(p);
    p = t->ns_prompt(t, "dog", 0.6);
    CHECK(strstr(p, "The guess 'dog' has similarity 0.600 to the secret word.") &&
              strstr(p, "close in meaning to 'dog'."),
          "ns_prompt: %s", p);
    free(p);
    CHECK(strcmp(t->name, "semantle") == 0, "name");

    // Scores: exact (any case) = 1 and solved; others are the cosine; unknown and empty are invalid.
    const char *cands[] = {"cat", "CAT", "dog", "bird", "zebra", "", NULL};
    task_score s[7];
    CHECK(t->score(t, 7, cands, s, &e) == 0, "score: %s", e.msg);
    CHECK(s[0].valid && s[0].reward == 1.0 && strcmp(s[0].info, "found") == 0, "exact: %g %s", s[0].reward,
          s[0].info);
    CHECK(s[1].valid && s[1].reward == 1.0, "exact, upper case: %g", s[1].reward);
    CHECK(t->solved(t, s[0].reward, "cat") && t->solved(t, 1.0, "Cat") && !t->solved(t, 0.6, "dog") &&
              t->solved(t, 1.0, NULL) && !t->solved(t, 0.99, NULL),
          "solved");
    CHECK(s[2].valid && fabs(s[2].reward - 0.6) < 1e-6, "dog: %g", s[2].reward);
    CHECK(s[3].valid && fabs(s[3].reward + 0.70710678) < 1e-6, "bird: %g", s[3].reward);
    // 4 other words: lion (0.8) is the nearest = rank 1000, dog 999, fish 998, bird 997.
    CHECK(strcmp(s[2].info, "rank 999/1000") == 0 && strcmp(s[3].info, "rank 997/1000") == 0, "ranks: %s, %s",
          s[2].info, s[3].info);
    CHECK(!s[4].valid && s[4].reward == 0 && strcmp(s[4].info, "unknown word 'zebra'") == 0, "unknown: %d %g %s",
          s[4].valid, s[4].reward, s[4].info);
    CHECK(!s[5].valid && s[5].reward == 0 && !s[6].valid, "empty/NULL candidates");
    t->destroy(t);

    CHECK(semantle_create(&t, wv, "DOG", &e) == 0, "target is case-insensitive: %s", e.msg);
    if (t) t->destroy(t);
    t = (task *)1;
    CHECK(semantle_create(&t, wv, "unicorn", &e) == -1 && t == NULL &&
              strcmp(e.msg, "semantle: target 'unicorn' is not in the vocabulary") == 0,
          "bad target: %s", e.msg);
    word_vectors_free(wv);
}

// Rank of every word against a brute-force sort, on a random vocabulary with many exact ties.
typedef struct {
    double cos;
    int index;
} pair;
static int by_nearness(const void *a, const void *b) {
    const pair *x = a, *y = b;
    if (x->cos != y->cos) return x->cos > y->cos ? -1 : 1;
    return x->index - y->index;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static double uniform(void) {  // xorshift64*, in [-1, 1)
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (double)((g_rng * 2685821657736338717ull) >> 11) / 9007199254740992.0 * 2 - 1;
}

static void check_ranks(int V, int dim, int target) {
    const char *path = tmp_path("ranks.txt");
    FILE *f = fopen(path, "wb");
    float *vec = malloc((size_t)V * dim * sizeof(float));
    for (int i = 0; i < V; i++) {
        for (int d = 0; d < dim; d++) vec[(size_t)i * dim + d] = (float)uniform();
        if (i % 7 == 3 && i > 10) memcpy(vec + (size_t)i * dim, vec + (size_t)(i - 5) * dim, dim * sizeof(float));
        fprintf(f, "w%d", i);
        for (int d = 0; d < dim; d++) fprintf(f, " %.9g", vec[(size_t)i * dim + d]);
        fputc('\n', f);
    }
    fclose(f);
    free(vec);
    word_vectors *wv = NULL;
    mg_err e = {{0}};
    CHECK(word_vectors_load(&wv, path, &e) == 0, "ranks: %s", e.msg);
    if (!wv) return;
    char name[32];
    snprintf(name, sizeof name, "w%d", target);
    task *t = NULL;
    CHECK(semantle_create(&t, wv, name, &e) == 0, "%s", e.msg);
    pair *all = malloc((size_t)V * sizeof *all);
    int m = 0;
    for (int i = 0; i < V; i++)
        if (i != target) all[m++] = (pair){word_vectors_cosine(wv, i, target), i};
    qsort(all, (size_t)m, sizeof *all, by_nearness);
    char **want = calloc((size_t)V, sizeof *want);
    const char **cands = malloc((size_t)V * sizeof *cands);
    for (int i = 0; i < V; i++) {
        want[i] = malloc(32);
        strcpy(want[i], i == target ? "found" : "cold");
        cands[i] = word_vectors_word(wv, i);
    }
    for (int k = 0; k < m && k < 1000; k++) snprintf(want[all[k].index], 32, "rank %d/1000", 1000 - k);
    task_score *s = malloc((size_t)V * sizeof *s);
    CHECK(t->score(t, V, cands, s, &e) == 0, "%s", e.msg);
    int wrong = 0, ties = 0;
    for (int i = 0; i < V; i++) {
        if (strcmp(s[i].info, want[i]) != 0 && wrong++ < 5)
            fprintf(stderr, "  %s: got %s, want %s\n", cands[i], s[i].info, want[i]);
        double expect = i == target ? 1.0 : word_vectors_cosine(wv, i, target);
        if (s[i].reward != expect || !s[i].valid) wrong++;
    }
    for (int k = 1; k < m && k < 1000; k++) ties += all[k].cos == all[k - 1].cos;
    CHECK(wrong == 0, "V=%d: %d words with the wrong rank or reward", V, wrong);
    if (V > 1000) CHECK(ties > 10, "the random vocabulary should have exact ties in its top 1000 (%d)", ties);
    for (int i = 0; i < V; i++) free(want[i]);
    free(want);
    free(cands);
    free(s);
    free(all);
    t->destroy(t);
    word_vectors_free(wv);
}

// ---------------------------------------------------------------------------------------------------------------
// the bundled data

static void test_bundled(void) {
    word_vectors *wv = NULL;
    mg_err e = {{0}};
    CHECK(word_vectors_load(&wv, BUNDLED_VECTORS, &e) == 0, "bundled: %s", e.msg);
    if (!wv) return;
    int V = word_vectors_count(wv);
    CHECK(V >= 20000, "bundled: only %d words", V);
    CHECK(word_vectors_dim(wv) == BUNDLED_DIM, "bundled: dimension %d", word_vectors_dim(wv));
    // vocab.txt lists the same words in the same order.
    FILE *f = fopen(BUNDLED_VOCAB, "r");
    CHECK(f != NULL, "cannot open %s", BUNDLED_VOCAB);
    if (f) {
        char line[512];
        int n = 0, mismatched = 0;
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            if (n >= V || strcmp(line, word_vectors_word(wv, n)) != 0) mismatched++;
            for (char *c = line; *c; c++)
                if (*c < 'a' || *c > 'z') mismatched++;
            n++;
        }
        fclose(f);
        CHECK(n == V && mismatched == 0, "vocab.txt: %d lines for %d words, %d mismatches", n, V, mismatched);
    }
    task *t = NULL;
    CHECK(semantle_create(&t, wv, "ocean", &e) == 0, "bundled: %s", e.msg);
    if (!t) {
        word_vectors_free(wv);
        return;
    }
    // The 10 nearest words are the ones ranked 1000..991.
    const char **cands = malloc((size_t)V * sizeof *cands);
    for (int i = 0; i < V; i++) cands[i] = word_vectors_word(wv, i);
    task_score *s = malloc((size_t)V * sizeof *s);
    CHECK(t->score(t, V, cands, s, &e) == 0, "%s", e.msg);
    const char *top[10] = {0};
    double top_cos[10] = {0};
    int ranked = 0;
    for (int i = 0; i < V; i++) {
        int r;
        if (sscanf(s[i].info, "rank %d/1000", &r) == 1) {
            ranked++;
            if (r > 990) top[1000 - r] = cands[i], top_cos[1000 - r] = s[i].reward;
        }
    }
    CHECK(ranked == 1000, "bundled: %d ranked words", ranked);
    printf("nearest to 'ocean':");
    int sea = 0, water = 0;
    for (int k = 0; k < 10; k++) {
        printf(" %s (%.3f)", top[k] ? top[k] : "?", top_cos[k]);
        if (top[k] && (!strcmp(top[k], "sea") || !strcmp(top[k], "seas"))) sea = 1;
        if (top[k] && (!strcmp(top[k], "waters") || !strcmp(top[k], "coast") || !strcmp(top[k], "oceans"))) water = 1;
    }
    printf("\n");
    CHECK(sea && water, "bundled: the neighbours of 'ocean' do not look right");
    for (int k = 1; k < 10; k++) CHECK(top_cos[k] <= top_cos[k - 1], "bundled: top 10 not in order");
    int i = word_vectors_find(wv, "sea"), j = word_vectors_find(wv, "tax");
    CHECK(i >= 0 && j >= 0 && s[i].reward > s[j].reward + 0.3, "bundled: sea should be far nearer than tax");
    CHECK(word_vectors_find(wv, "london") < 0, "bundled: proper nouns should not be in the vocabulary");
    free(cands);
    free(s);
    t->destroy(t);
    word_vectors_free(wv);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/test_semantle_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_formats();
    test_text_errors();
    test_binary_errors();
    test_parse();
    check_ranks(3000, 8, 17);
    check_ranks(3000, 2, 2999);  // 2 dimensions: many near-ties
    check_ranks(40, 4, 0);       // fewer than 1,000 other words
    test_bundled();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return test_summary("semantle");
}
