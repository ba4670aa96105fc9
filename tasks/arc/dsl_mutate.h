// A program near another: for the neighbourhood examples of a pretraining corpus ("a variation of this guess" ->
// the right program), the guess is the right program with one edit.
#pragma once
#include <stdint.h>

#include "tasks/arc/dsl.h"

// One edit of p drawn from key: on one line, another primitive of the same signature, or another value of one
// literal argument (a colour 0..9; a count within 1..max(4, value + 1), or from 0 when it was 0). *out parses, type-checks and differs from
// p (canonical texts differ). Returns 0, or -1 when p has no line that can be edited that way.
int arc_dsl_mutate(const arc_dsl_program *p, uint64_t key, arc_dsl_program *out);
