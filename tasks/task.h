// A black-box search problem behind one interface. The loop never looks inside a task: it asks for prompts,
// turns completions into candidates, dedups them by canonical form, and asks for rewards.
#pragma once
#include "common/error.h"

#define TASK_INFO_LEN 256

// Why a call failed as a call (the scorer broke), as opposed to a verdict on the candidate. The search loop counts
// each kind per iteration (metrics.jsonl oracle/invalid, oracle/timeout, oracle/crash) from the scores it gathers,
// so every rank counts the same. A task whose scoring cannot fail that way leaves it 0 (TASK_OK): a zeroed
// task_score is a call that did not fail.
typedef enum {
    TASK_OK = 0,
    TASK_FAIL_INVALID,  // the scorer answered, but not by the protocol (not JSON, a field missing, out of range)
    TASK_FAIL_TIMEOUT,  // no answer in time
    TASK_FAIL_CRASH,    // the scorer died or closed its pipes during the call
    TASK_FAIL_COUNT
} task_failure;

typedef struct {
    double reward;  // higher is better; invalid candidates score 0 (they still count as oracle calls)
    int valid;      // 0: the candidate could not be scored (unknown word, unparsable, oracle failure)
    int failure;    // task_failure: TASK_OK unless the call itself failed (then valid is 0 too)
    char info[TASK_INFO_LEN];  // why invalid, or task-specific detail ("rank 12 of 1000"), one line
    // What the task wants kept with the archive entry beyond its reward (ARC: the outputs on the test inputs):
    // malloc'd text or NULL. The search stores it in the archive and in checkpoints and hands it back to report;
    // whoever receives a task_score owns it (task_score_free_details).
    char *detail;
} task_score;

void task_score_free_details(task_score *s, int n);

// What a search holds at its end, for a task that turns it into answers of its own (ARC's two attempts per test
// input). Entries in the order they were scored; a dropped entry (archive bound) has candidate and detail NULL.
typedef struct {
    long n;
    const char *const *candidate;  // (n) canonical forms
    const double *reward;          // (n)
    const unsigned char *valid;    // (n)
    const char *const *detail;     // (n) task_score.detail as kept
    long oracle_calls;
    int iterations, solved;
    double seconds;                // the search's wall time
    const char *output_dir;        // where the run writes its files
} task_outcome;

typedef struct task task;
struct task {
    const char *name;  // "semantle", "oracle", ...
    void *state;
    // The on-policy prompt (user message content), and the neighborhood prompt built around one past solution.
    // Both return malloc'd text. The loop may also use config templates instead (see common/run_config.h).
    char *(*prompt)(task *t);
    char *(*ns_prompt)(task *t, const char *solution, double reward);
    // Extracts the candidate from a completion: malloc'd, or NULL when nothing usable is there (scored invalid
    // without an oracle call counting as a repeat).
    char *(*parse)(task *t, const char *completion);
    // The dedup key: two candidates with the same canonical form are the same solution. malloc'd.
    char *(*canonical)(task *t, const char *candidate);
    // Scores n candidates; an infrastructure failure that loses results returns -1 (bad candidates do not).
    int (*score)(task *t, int n, const char *const *candidates, task_score *out, mg_err *e);
    int (*solved)(task *t, double reward, const char *candidate);
    // Optional (NULL: nothing to add): writes the task's own results of a finished search into o->output_dir and
    // may print one line to stdout when print is set. -1 with e set when a file cannot be written.
    int (*report)(task *t, const task_outcome *o, int print, mg_err *e);
    void (*destroy)(task *t);
};
