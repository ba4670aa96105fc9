// Strings built in memory: what the prompt builders of coordinator/ and the tasks share.
#pragma once
#include "common/error.h"

// printf into a malloc'd string.
char *text_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Replaces each "{key}" of tmpl by its value; unknown placeholders stay as they are. malloc'd.
char *text_render(const char *tmpl, int n, const char *const *keys, const char *const *values);
// Splits a command line into words (NULL-terminated, each string and the array malloc'd; text_free_words frees
// them): words are separated by blanks, and single or double quotes group a word that holds blanks (no escapes).
// An unbalanced quote or a line with no words is an error ("unbalanced \" quote in '...'").
int text_split_words(const char *cmd, char ***words, mg_err *e);
void text_free_words(char **words);
