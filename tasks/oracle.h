// An external oracle: any program that reads JSON lines {"id": N, "candidate": "..."} on stdin and answers
// {"id": N, "reward": R, "valid": true|false, "info": "..."} on stdout, one line per request, in any order.
// A pool of such processes runs the requests in parallel; a call that times out, a crash, or a reply that is not
// JSON, lacks fields, or carries a non-finite reward scores invalid (reward 0) with the reason in info, and the
// process is restarted — the search goes on and loses no archive entry.
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
} oracle_config;

int oracle_create(task **out, const oracle_config *cfg, mg_err *e);
// Counters for reports and tests.
typedef struct {
    long calls, invalid, timeouts, crashes, garbage, restarts;
} oracle_stats;
void oracle_get_stats(task *t, oracle_stats *s);
