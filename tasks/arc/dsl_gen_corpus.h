// Pretraining documents from generated tasks (docs/arc-demo-model.md): what a small model needs to be a useful
// policy for the ARC search with the grid language. Each document is the prompt the search task shows
// (tasks/arc/prompt.h, grid-language request) followed by "\n" and the task's program in canonical form in a
// ``` block, as the prompt asks:
//  * one on-policy document: the task's user prompt -> its program;
//  * `neighbors` neighbourhood documents: the neighbourhood prompt around a one-edit variant of the program
//    (tasks/arc/dsl_mutate.h) -> the program, so that "a variation of this guess" means a step toward the answer.
// The search renders its prompts in the plain format (no chat template), so these texts are exactly what the
// model reads in a run, up to the completion.
#pragma once
#include <stdint.h>

#include "tasks/arc/dsl_gen.h"
#include "tasks/arc/prompt.h"

// The documents of task t as JSON lines {"text": ...} (each ending in '\n'), malloc'd. key seeds the variants.
char *arc_gen_corpus_lines(const arc_gen_task *t, arc_cell_format f, int neighbors, uint64_t key);
