// The ARC sandbox: runs model-written Python programs (`def transform(input_grid)`, numpy) on ARC grids outside
// this process. A pool of warm Python workers (tasks/arc/arc_worker.py, on the external oracle's process pool:
// worker groups killed with us even on SIGKILL, restarts, timeouts) forks one locked-down child per program:
// rlimits, nobody instead of root, seccomp (no processes, exec, sockets, ptrace, signals to others, writes to
// files), an empty private folder, a cleared environment, a wall-clock kill per grid. docs/arc-sandbox.md says
// which protection is enforced where, and what is not covered.
//
// Every program gets one result per input grid: the output grid, or a failure reason ("timeout", "memory",
// "exception: ValueError: ...", "invalid output: not a 2-D grid", "values out of range", "too large (31x30)",
// "forbidden system call", "crashed: ..."). A worker that dies or hangs fails only the program it was running, and
// is replaced. Like the oracle pool, a sandbox is used from the thread that opened it.
#pragma once
#include <sys/types.h>

#include "common/error.h"
#include "tasks/arc/grid.h"

// The worker script, relative to the repository root (the working directory of the tools and tests); the
// sandbox resolves it to an absolute path when it opens.
#define ARC_WORKER_SCRIPT "tasks/arc/arc_worker.py"
#define ARC_DEFAULT_PYTHON "/usr/bin/python3"   // Debian's, which has numpy and seccomp (scripts/install-deps.sh)
#define ARC_REASON_LEN 192

typedef struct {
    double wall_s;     // wall clock per grid, and for loading the program (0: 2 s)
    double cpu_s;      // CPU seconds per grid, a backstop under the wall clock (0: wall_s)
    int mem_mb;        // address space a program may add to the worker's own, in MiB (0: 512)
    int output_bytes;  // of what a program prints, the bytes kept (0: 4096; the rest is read and dropped)
} arc_limits;

typedef struct {
    int ok;                        // 1: grid is the program's output (a valid ARC grid, 1..30 x 1..30, 0..9)
    arc_grid grid;                 // when ok
    char reason[ARC_REASON_LEN];   // when !ok
} arc_result;

typedef struct arc_sandbox arc_sandbox;

// Starts n_workers workers and checks that one runs a program (numpy, seccomp and common.py all work).
// python: the interpreter (NULL: ARC_DEFAULT_PYTHON); common_py: the user's common.py, importable by programs as
// `common` (NULL: none); limits NULL: the defaults. NULL with the reason in e.
arc_sandbox *arc_sandbox_open(int n_workers, const char *python, const char *common_py, const arc_limits *limits,
                              mg_err *e);
// Runs one program on n_grids inputs; out (n_grids) gets one result each (free them with arc_results_free).
// -1 only when the sandbox cannot run programs at all (no worker starts); a program's own failures are results.
int arc_sandbox_run(arc_sandbox *sb, const char *program, int n_grids, const arc_grid *inputs, arc_result *out,
                    mg_err *e);
// n_programs programs, each on the same n_grids inputs, spread over the workers. out (n_programs, n_grids).
int arc_sandbox_run_many(arc_sandbox *sb, int n_programs, const char *const *programs, int n_grids,
                         const arc_grid *inputs, arc_result *out, mg_err *e);
void arc_results_free(arc_result *r, int n);
void arc_sandbox_close(arc_sandbox *sb);
// Worker i's process id (-1 when it is not running), for tests that kill one.
pid_t arc_sandbox_worker_pid(const arc_sandbox *sb, int i);
