// libFuzzer target: the input is a whole word-vector file image (word2vec binary, or word2vec/GloVe text).
// Whatever the parser accepts must be consistent: at least one word, a dimension in range, every word found at
// its own index, unit (or zero) rows, cosines in [-1, 1]; whatever it refuses must come with one line that
// names the file. A Semantle task built on an accepted file must score every word without trouble.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/semantle.h"

// Test-only entry point in tasks/word_vectors.c: parses an in-memory image (need not be NUL-terminated).
int word_vectors_parse(word_vectors **out, const char *name, const char *data, size_t size, mg_err *e);

#include "tests/fuzz/fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // An exact-size heap copy, so ASan sees any read past the end.
    char *image = malloc(size ? size : 1);
    if (size) memcpy(image, data, size);
    word_vectors *wv = (word_vectors *)1;
    mg_err e = {{0}};
    int rc = word_vectors_parse(&wv, "fuzz.vec", image, size, &e);
    free(image);
    if (rc != 0) {
        require(rc == -1 && wv == NULL);
        require(strncmp(e.msg, "fuzz.vec", 8) == 0 && (e.msg[8] == ':'));
        for (const char *c = e.msg; *c; c++) require(*c != '\n' && *c != '\r');
        return 0;
    }
    int n = word_vectors_count(wv), dim = word_vectors_dim(wv);
    require(n >= 1 && dim >= 1 && dim <= 16384);
    for (int i = 0; i < n; i++) {
        const char *w = word_vectors_word(wv, i);
        require(w != NULL && w[0] != 0 && strlen(w) <= 255);
        require(word_vectors_find(wv, w) == i);
        double self = word_vectors_cosine(wv, i, i);
        require(self == 0.0 || fabs(self - 1.0) < 1e-4);
        double c = word_vectors_cosine(wv, i, 0);
        require(c >= -1.0001 && c <= 1.0001);
    }
    require(word_vectors_word(wv, n) == NULL);

    task *t = NULL;
    const char *target = word_vectors_word(wv, 0);
    if (semantle_create(&t, wv, target, &e) == 0) {  // refused when the word is not lower case: fine
        int m = n < 64 ? n : 64;
        const char **cands = malloc((size_t)m * sizeof *cands);
        task_score *s = malloc((size_t)m * sizeof *s);
        for (int i = 0; i < m; i++) cands[i] = word_vectors_word(wv, i);
        require(t->score(t, m, cands, s, &e) == 0);
        require(s[0].valid && s[0].reward == 1.0);
        for (int i = 0; i < m; i++) require(memchr(s[i].info, 0, sizeof s[i].info) != NULL);
        char *guess = t->parse(t, target);
        free(guess);
        free(cands);
        free(s);
        t->destroy(t);
    }
    word_vectors_free(wv);
    return 0;
}
