// The three kinds of prompt a search uses, rendered in the model's chat format and encoded:
//   on-policy:    the task's prompt (or config `task.prompt`)
//   neighborhood: a variation request around one past solution (config `task.ns_prompt`, "{solution}", "{reward}")
//   OPRO:         the best past solutions with their scores, then the task prompt ("{history}", "{prompt}")
#pragma once
#include "common/run_config.h"
#include "common/text.h"
#include "coordinator/archive.h"
#include "model/chat.h"
#include "tasks/task.h"

typedef struct {
    const tokenizer *tok;
    chat_format fmt;
    const char *system;  // NULL or a system message
} prompt_encoder;

// Renders text as one user turn (with the system message) and encodes it; plain format encodes it with the
// tokenizer's special tokens (e.g. BOS). *ids malloc'd.
int prompt_encode(const prompt_encoder *pe, const char *text, int **ids, int *n, mg_err *e);

char *prompt_on_policy(const run_config *c, task *t);
char *prompt_neighborhood(const run_config *c, task *t, const char *solution, double reward);
// history: the top k valid archive entries, worst first so the best sits next to the question (as OPRO does).
char *prompt_opro(const run_config *c, task *t, const archive *a, int k);
