// Semantle as a task: guess a hidden word; the oracle answers with the cosine similarity of the guess to it.
//
// All the work that depends only on the target is done once at create: the cosine of every vocabulary word to
// the target, and Semantle's rank for the target's 1,000 nearest words (found with a size-1000 min-heap over the
// vocabulary, O(V log 1000), instead of sorting all V words). Scoring is then a hash lookup per guess.
#include <ctype.h>
#include <string.h>

#include "common/text.h"
#include "tasks/semantle.h"

#define SEMANTLE_NEAREST 1000  // Semantle ranks the target's 1,000 nearest words
#define SEMANTLE_MAX_WORD 64   // longer "words" are kept (and unknown) but clipped in messages

typedef struct {
    const word_vectors *wv;
    int target;
    char *target_word;
    double *cosine;  // [V] cosine of each word to the target
    int *rank;       // [V] 1000 for the nearest word other than the target, 999 next, ...; 0 outside the 1,000
} semantle;

static const char *PROMPT = "We are playing Semantle: guess a secret English word. Reply with a single English word.";

// ---------------------------------------------------------------------------------------------------------------
// the target's nearest words

typedef struct {
    double cos;
    int index;
} neighbour;

// "a is nearer to the target than b": higher cosine first, then the lower index, so ranks are deterministic.
static int nearer(neighbour a, neighbour b) { return a.cos > b.cos || (a.cos == b.cos && a.index < b.index); }

// Min-heap on nearness: the root is the farthest of the words kept so far.
static void sift_down(neighbour *h, int n, int i) {
    for (;;) {
        int far = i, l = 2 * i + 1, r = l + 1;
        if (l < n && nearer(h[far], h[l])) far = l;
        if (r < n && nearer(h[far], h[r])) far = r;
        if (far == i) return;
        neighbour t = h[i];
        h[i] = h[far];
        h[far] = t;
        i = far;
    }
}

static void sift_up(neighbour *h, int i) {
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!nearer(h[parent], h[i])) return;
        neighbour t = h[i];
        h[i] = h[parent];
        h[parent] = t;
        i = parent;
    }
}

static void rank_nearest(semantle *s, int V) {
    neighbour *heap = mallocCheck(SEMANTLE_NEAREST * sizeof *heap);
    int n = 0;
    for (int i = 0; i < V; i++) {
        if (i == s->target) continue;
        neighbour c = {s->cosine[i], i};
        if (n < SEMANTLE_NEAREST) {
            heap[n] = c;
            sift_up(heap, n++);
        } else if (nearer(c, heap[0])) {
            heap[0] = c;
            sift_down(heap, n, 0);
        }
    }
    // Pop the farthest first: it gets the lowest rank of the kept words.
    for (int k = n; k > 0; k--) {
        s->rank[heap[0].index] = SEMANTLE_NEAREST - (k - 1);
        heap[0] = heap[k - 1];
        sift_down(heap, k - 1, 0);
    }
    free(heap);
}

// ---------------------------------------------------------------------------------------------------------------
// text helpers

static char *lower_copy(const char *s) {
    size_t n = strlen(s);
    char *out = mallocCheck(n + 1);
    for (size_t i = 0; i <= n; i++) out[i] = (char)tolower((unsigned char)s[i]);
    return out;
}

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// ---------------------------------------------------------------------------------------------------------------
// the task interface

static char *sem_prompt(task *t) { return text_printf("%s", PROMPT); }

static char *sem_ns_prompt(task *t, const char *solution, double reward) {
    return text_printf("We are playing Semantle: guess a secret English word. The guess '%s' has similarity %.3f to "
                      "the secret word. Reply with one English word that is close in meaning to '%s'.",
                      solution ? solution : "", reward, solution ? solution : "");
}

// The first word of the completion: everything before the first ASCII letter is skipped (whitespace, quotes,
// markdown, "1."), then [A-Za-z][A-Za-z'-]* is taken, trailing quotes/hyphens ("'ocean'") dropped, lower-cased.
static char *sem_parse(task *t, const char *completion) {
    if (!completion) return NULL;
    const char *p = completion;
    while (*p && !is_letter(*p)) p++;
    if (!*p) return NULL;
    size_t n = 1;
    while (is_letter(p[n]) || p[n] == '\'' || p[n] == '-') n++;
    while (p[n - 1] == '\'' || p[n - 1] == '-') n--;  // p[0] is a letter, so this stops
    char *word = mallocCheck(n + 1);
    for (size_t i = 0; i < n; i++) word[i] = (char)tolower((unsigned char)p[i]);
    word[n] = 0;
    return word;
}

static char *sem_canonical(task *t, const char *candidate) { return lower_copy(candidate ? candidate : ""); }

static void score_one(const semantle *s, const char *candidate, task_score *out) {
    memset(out, 0, sizeof *out);
    if (!candidate || !*candidate) {
        snprintf(out->info, sizeof out->info, "no word");
        return;
    }
    char *word = lower_copy(candidate);
    int index = word_vectors_find(s->wv, word);
    if (index < 0) {
        snprintf(out->info, sizeof out->info, "unknown word '%.*s'", SEMANTLE_MAX_WORD, word);
    } else if (index == s->target) {
        out->valid = 1;
        out->reward = 1.0;
        snprintf(out->info, sizeof out->info, "found");
    } else {
        out->valid = 1;
        out->reward = s->cosine[index];
        if (s->rank[index])
            snprintf(out->info, sizeof out->info, "rank %d/%d", s->rank[index], SEMANTLE_NEAREST);
        else
            snprintf(out->info, sizeof out->info, "cold");
    }
    free(word);
}

static int sem_score(task *t, int n, const char *const *candidates, task_score *out, mg_err *e) {
    if (n < 0 || (n > 0 && (!candidates || !out))) return mg_fail(e, "semantle: bad score call (n = %d)", n);
    for (int i = 0; i < n; i++) score_one(t->state, candidates[i], &out[i]);
    return 0;
}

static int sem_solved(task *t, double reward, const char *candidate) {
    const semantle *s = t->state;
    if (!candidate) return reward >= 1.0;
    char *word = lower_copy(candidate);
    int hit = strcmp(word, s->target_word) == 0;
    free(word);
    return hit;
}

static void sem_destroy(task *t) {
    if (!t) return;
    semantle *s = t->state;
    if (s) {
        free(s->target_word);
        free(s->cosine);
        free(s->rank);
        free(s);
    }
    free(t);
}

int semantle_create(task **out, const word_vectors *wv, const char *target, mg_err *e) {
    *out = NULL;
    if (!wv || !target) return mg_fail(e, "semantle: no word vectors or no target");
    char *word = lower_copy(target);
    int index = word_vectors_find(wv, word);
    if (index < 0) {
        mg_fail(e, "semantle: target '%.*s' is not in the vocabulary", SEMANTLE_MAX_WORD, word);
        free(word);
        return -1;
    }
    int V = word_vectors_count(wv);
    semantle *s = callocCheck(1, sizeof *s);
    s->wv = wv;
    s->target = index;
    s->target_word = word;
    s->cosine = mallocCheck((size_t)V * sizeof(double));
    s->rank = callocCheck((size_t)V, sizeof(int));
    for (int i = 0; i < V; i++) s->cosine[i] = word_vectors_cosine(wv, i, index);
    rank_nearest(s, V);

    task *t = mallocCheck(sizeof *t);
    *t = (task){.name = "semantle", .state = s, .prompt = sem_prompt, .ns_prompt = sem_ns_prompt, .parse = sem_parse,
                .canonical = sem_canonical, .score = sem_score, .solved = sem_solved, .destroy = sem_destroy};
    *out = t;
    return 0;
}
