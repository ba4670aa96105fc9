// Which part of a completion is the candidate, for tasks whose oracle is a program (tasks/oracle.h): a PCRE2
// pattern finds the answer (TRL users' `<answer>(.*?)</answer>`), and a PCRE2 replacement string writes it
// (`$1`, `${name}`, `\L$1` for lower case), so that `Ocean` and `ocean` are one candidate and one oracle call.
#pragma once
#include "common/error.h"

typedef struct candidate_pattern candidate_pattern;

// pattern: PCRE2 syntax, UTF-8 with Unicode properties, searched anywhere in the completion (`^` is its start
// unless the pattern says `(?m)`). format: PCRE2's extended replacement syntax; NULL or "" = `$1` when the pattern
// has a capture group, else `$0` (the whole match). On a bad pattern or format, e says what and where, without
// the key (the caller knows it): "at character 4: missing closing parenthesis"; the return says which was bad:
// -1 the pattern, -2 the format.
int candidate_pattern_compile(candidate_pattern **out, const char *pattern, const char *format, mg_err *e);

// The formatted first match in the completion; NULL when nothing matches (an unparsable completion), including a
// match that runs past the backtracking limit. Invalid UTF-8 in the completion is skipped, not fatal.
char *candidate_pattern_apply(const candidate_pattern *p, const char *completion);

void candidate_pattern_free(candidate_pattern *p);
