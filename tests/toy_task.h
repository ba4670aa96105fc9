// A deterministic in-test task for the search-loop tests: the candidate is the completion's first run of letters;
// its reward is a hash of it; two-letter words are "invalid"; `solution` (if set) solves. Header-only: each test
// program includes it once.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/task.h"

typedef struct {
    long calls;
    const char *solution;  // candidate that solves, or NULL
} toy_state;

static char *toy_prompt(task *t) { (void)t; return strdup("Say a word."); }
static char *toy_ns(task *t, const char *sol, double r) {
    (void)t, (void)r;
    char *s = malloc(strlen(sol) + 32);
    sprintf(s, "Say a word like %s.", sol);
    return s;
}
// The candidate is the completion's first run of letters, lower-cased: crude but deterministic.
static char *toy_parse(task *t, const char *c) {
    (void)t;
    while (*c && !((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))) c++;
    size_t n = 0;
    while ((c[n] >= 'a' && c[n] <= 'z') || (c[n] >= 'A' && c[n] <= 'Z')) n++;
    if (!n) return NULL;
    char *w = strndup(c, n);
    for (char *p = w; *p; p++) *p = (char)(*p | 0x20);
    return w;
}
static char *toy_canonical(task *t, const char *c) { (void)t; return strdup(c); }
static int toy_score(task *t, int n, const char *const *cands, task_score *out, mg_err *e) {
    toy_state *s = t->state;
    (void)e;
    for (int i = 0; i < n; i++) {
        unsigned h = 2166136261u;
        for (const char *p = cands[i]; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
        out[i].reward = (h % 1000) / 1000.0;
        out[i].valid = strlen(cands[i]) != 2;  // two-letter words are "invalid", to exercise that path
        snprintf(out[i].info, sizeof out[i].info, "toy");
        s->calls++;
    }
    return 0;
}
static int toy_solved(task *t, double r, const char *c) {
    toy_state *s = t->state;
    (void)r;
    return s->solution && !strcmp(c, s->solution);
}
static void toy_destroy(task *t) { (void)t; }

static task make_toy(toy_state *st) {
    task t = {"toy", st, toy_prompt, toy_ns, toy_parse, toy_canonical, toy_score, toy_solved, NULL, toy_destroy};
    return t;
}

