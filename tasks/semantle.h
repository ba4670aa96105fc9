// Semantle: find a hidden word; the oracle returns the cosine similarity of a guess's word vector to the target's.
#pragma once
#include "tasks/task.h"

typedef struct word_vectors word_vectors;

// Reads word2vec binary ("V D\n" then per word: "word " + D float32 LE, optional '\n') or word2vec/GloVe text
// (optional "V D" header line, then "word f1 ... fD" per line). Format is detected from the content.
// Errors name the file and the line/entry: "data/x.txt:1234: expected 300 numbers, found 12".
int word_vectors_load(word_vectors **out, const char *path, mg_err *e);
void word_vectors_free(word_vectors *wv);
int word_vectors_count(const word_vectors *wv);
int word_vectors_dim(const word_vectors *wv);
int word_vectors_find(const word_vectors *wv, const char *word);  // index, or -1 (exact, case-sensitive)
const char *word_vectors_word(const word_vectors *wv, int index);
// Cosine similarity of two entries.
double word_vectors_cosine(const word_vectors *wv, int a, int b);

// The task. target must be in the vocabulary. Words are normalised to lower case; a guess is the first word of
// the completion (letters, apostrophes and hyphens). Reward = cosine(guess, target); an exact match scores 1.0
// and solves the puzzle; unknown or malformed words score 0 with valid = 0. info reports Semantle's rank of the
// guess among the target's 1,000 nearest words ("rank 3/1000"), or "cold" when outside them.
// The task borrows wv (the caller frees it after the task).
int semantle_create(task **out, const word_vectors *wv, const char *target, mg_err *e);
