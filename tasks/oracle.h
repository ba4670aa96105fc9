// An external oracle: any program that reads JSON lines {"id": N, "candidate": "..."} on stdin and answers
// {"id": N, "reward": R, "valid": true|false, "info": "..."} on stdout, one line per request, in any order.
// A pool of such processes runs the requests in parallel; a call that times out, a crash, or a reply that is not
// JSON, lacks fields, or carries a reward that is not finite or beyond ORACLE_MAX_REWARD scores invalid (reward 0)
// with the reason in info and the kind in task_score.failure, and the process is restarted — the search goes on
// and loses no archive entry. Workers die with the pool's process, even when it is killed with SIGKILL (a
// parent-death signal, plus a guard process per worker that kills the worker's process group, helpers included,
// when the pool's process is gone; docs/oracle.md says what it cannot reach). The pool must be created and
// scored from a thread that lives as long as it does: the parent-death signal follows the thread that started
// the worker.
#pragma once
#include "tasks/task.h"

typedef struct {
    char **argv;          // command and arguments, NULL-terminated (argv[0] looked up on PATH)
    int workers;          // processes in the pool (default 1)
    double timeout_s;     // per call (default 30)
    double solved_reward; // reward >= this counts as solved (default +inf: never)
    const char *prompt;   // task prompt text (required: the oracle knows nothing about prompts)
    const char *ns_prompt;  // neighborhood template; "{solution}" and "{reward}" are replaced
    const char *log_path;   // optional: every failure reason is appended here, one line each
    const char *candidate_pattern;  // optional PCRE2 pattern that finds the candidate in a completion
                                    // (tasks/candidate_pattern.h); NULL or "" = the first non-blank line
    const char *candidate_format;   // optional PCRE2 replacement that writes it ("" = $1, or $0 without a group)
} oracle_config;

// A reply's reward must lie in [-ORACLE_MAX_REWARD, ORACLE_MAX_REWARD]; one outside it is a failed call (invalid),
// so that group statistics and advantages stay finite and meaningful in double and float.
#define ORACLE_MAX_REWARD 1e9

int oracle_create(task **out, const oracle_config *cfg, mg_err *e);
// Counters for reports and tests.
typedef struct {
    long calls, invalid, timeouts, crashes, garbage, restarts;
} oracle_stats;
void oracle_get_stats(task *t, oracle_stats *s);
