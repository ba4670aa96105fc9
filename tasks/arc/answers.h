// The two attempts per test input that an ARC submission gives, chosen from the programs a search tried; their
// scores against known test outputs; and Kaggle's submission.json (docs/arc.md).
//
// Choice, for each test input on its own (the authors pooled all test inputs of a task into one vote table):
//  1. Vote: each program that is exact on every training pair and ran cleanly on every test input votes for its
//     output on this test input. Distinct grids are ranked by votes, most first; a tie goes to the grid that the
//     earliest program (lowest index) voted for.
//  2. Fallback, while fewer than two distinct grids are chosen: programs in order of training reward, highest
//     first (a tie: lowest index first), each offering its output on this test input when that output is a valid
//     grid not chosen yet. Train-perfect programs that failed on another test input come in here.
//  3. Whatever slot is still empty gets a 1x1 black grid, so every test input has attempt_1 and attempt_2 (they
//     are equal only when a 1x1 black grid was already chosen and nothing else is there).
#pragma once
#include "common/error.h"
#include "tasks/arc/reward.h"
#include "tasks/arc/task_file.h"

// One program's record for one task.
typedef struct {
    double reward;           // partial-credit training reward
    int train_exact;         // exact on every training pair
    int test_clean;          // ran without error on every test input
    const arc_output *test;  // (n_test) its output per test input
} arc_program_result;

typedef struct {
    arc_grid attempt[2];  // attempt_1, attempt_2; always valid grids
} arc_answer;

// answers[i] for each of the task's n_test test inputs; free with arc_answers_free.
void arc_choose_answers(const arc_program_result *progs, int n_progs, int n_test, arc_answer *answers);
void arc_answers_free(arc_answer *answers, int n_test);

// Per-task scores, each the mean over the task's test inputs of 0 or 1: pass@1 (attempt_1 exact), pass@2 (either
// attempt exact: the ARC Prize rule) and pass@n (some program's output exact, whatever its training reward).
typedef struct {
    double pass1, pass2, passn;
} arc_score;

// -1 with e set when the task's test outputs are unknown.
int arc_score_task(const arc_task *t, const arc_answer *answers, const arc_program_result *progs, int n_progs,
                   arc_score *s, mg_err *e);

typedef struct {
    const char *task_id;
    int n_test;
    const arc_answer *answers;  // (n_test)
} arc_submission_entry;

// {task_id: [{"attempt_1": grid, "attempt_2": grid}, ... per test input]}, keys sorted (a new reference); NULL
// with e set for a repeated task id.
json_t *arc_submission_to_json(const arc_submission_entry *entries, int n, mg_err *e);
// The same written to path whole or not at all (common/file.h): a folder that cannot be written leaves no file.
int arc_submission_write(const char *path, const arc_submission_entry *entries, int n, mg_err *e);
