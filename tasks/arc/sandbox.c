// The ARC sandbox's C side: the external oracle's process pool (tasks/oracle_internal.h) running
// tasks/arc/arc_worker.py, with a protocol of its own (one program and its grids per request, one result per grid
// in the reply). What the worker and its children enforce is in arc_worker.py and docs/arc-sandbox.md; this side
// adds the worker's environment (fixed, so nothing of ours reaches a program), a deadline per call as a backstop
// for a worker that hangs, and a second check of every grid that comes back.
#include "tasks/arc/sandbox.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/oracle_internal.h"

#define MAX_WORKERS 256
#define OPEN_TIMEOUT_S 120.0   // the first call waits for Python and numpy to load on a busy machine
#define CALL_SLACK_S 10.0      // beyond the program's own limits, for forks, pipes and a loaded machine

struct arc_sandbox {
    oracle pool;
    json_t *limits;            // the "limits" object of every request
    double wall_s;
    char setup_error[ARC_REASON_LEN];  // a worker's own "error" reply (e.g. common.py does not import)
};

// The workers' whole environment: nothing of ours (secrets, proxies, PYTHONPATH) reaches them or the programs.
static char *const worker_env[] = {
    "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "HOME=/nonexistent", "PYTHONHASHSEED=0", "PYTHONDONTWRITEBYTECODE=1",
    "PYTHONNOUSERSITE=1", "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1", NULL};

// One run_many call in progress.
typedef struct {
    arc_sandbox *sb;
    const char *const *programs;
    json_t *grids;             // the inputs, shared by every request
    int n_grids;
    arc_result *out;           // (n_programs, n_grids)
} run_call;

static void fail_all(arc_result *r, int n, const char *reason) {
    for (int g = 0; g < n; g++) {
        arc_grid_free(&r[g].grid);
        r[g].ok = 0;
        snprintf(r[g].reason, sizeof r[g].reason, "%s", reason);
    }
}

static json_t *run_request(void *ctx, int slot) {
    run_call *c = ctx;
    if (!c->programs[slot]) return NULL;  // left as "no program"
    json_t *req = json_object();
    json_object_set_new(req, "program", json_string(c->programs[slot]));
    json_object_set(req, "grids", c->grids);
    json_object_set(req, "limits", c->sb->limits);
    if (!json_is_string(json_object_get(req, "program"))) {  // not UTF-8: no Python source either
        json_decref(req);
        fail_all(&c->out[(size_t)slot * c->n_grids], c->n_grids, "exception: SyntaxError: program is not UTF-8");
        return NULL;
    }
    return req;
}

static const char *run_label(void *ctx, int slot) { return ((run_call *)ctx)->programs[slot]; }

static void run_failed(void *ctx, int slot, oracle_failure kind, const char *reason) {
    run_call *c = ctx;
    char why[ARC_REASON_LEN];
    snprintf(why, sizeof why, "sandbox worker failed: %s", reason);
    fail_all(&c->out[(size_t)slot * c->n_grids], c->n_grids, why);
}

// A reply: {"results": [{"grid": G} | {"error": "..."}] (n_grids)} or {"error": "..."} (the worker cannot run
// programs). Every grid is checked again here: the worker is ours, but what it relays came from a program.
static int run_reply(void *ctx, int slot, json_t *reply, char *why, size_t cap) {
    run_call *c = ctx;
    arc_result *r = &c->out[(size_t)slot * c->n_grids];
    json_t *err = json_object_get(reply, "error"), *results = json_object_get(reply, "results");
    if (json_is_string(err)) {
        snprintf(c->sb->setup_error, sizeof c->sb->setup_error, "%s", json_string_value(err));
        char reason[ARC_REASON_LEN];
        snprintf(reason, sizeof reason, "sandbox: %s", json_string_value(err));
        fail_all(r, c->n_grids, reason);
        return 0;
    }
    if (!json_is_array(results) || json_array_size(results) != (size_t)c->n_grids) {
        snprintf(why, cap, "arc worker reply has no \"results\" list of %d entries", c->n_grids);
        return -1;
    }
    for (int g = 0; g < c->n_grids; g++) {
        json_t *item = json_array_get(results, (size_t)g);
        json_t *grid = json_object_get(item, "grid"), *reason = json_object_get(item, "error");
        arc_grid_free(&r[g].grid);
        r[g].ok = 0;
        mg_err bad;
        if (grid && arc_grid_from_json(&r[g].grid, grid, "program output", &bad) == 0) {
            r[g].ok = 1;
            r[g].reason[0] = '\0';
        } else if (grid) {
            snprintf(r[g].reason, sizeof r[g].reason, "invalid output: %.160s", bad.msg);
        } else if (json_is_string(reason)) {
            snprintf(r[g].reason, sizeof r[g].reason, "%s", json_string_value(reason));
        } else {
            snprintf(r[g].reason, sizeof r[g].reason, "invalid output: the worker gave no result");
        }
    }
    return 0;
}

int arc_sandbox_run_many(arc_sandbox *sb, int n_programs, const char *const *programs, int n_grids,
                         const arc_grid *inputs, arc_result *out, mg_err *e) {
    if (n_programs < 0 || n_grids < 0 || (n_programs > 0 && (!programs || !out)) || (n_grids > 0 && !inputs))
        return mg_fail(e, "arc sandbox: run called with %d programs and %d grids", n_programs, n_grids);
    for (size_t i = 0; i < (size_t)n_programs * n_grids; i++) {
        out[i] = (arc_result){.ok = 0};
        snprintf(out[i].reason, sizeof out[i].reason, "not run");
    }
    for (int p = 0; p < n_programs; p++)
        if (!programs[p]) fail_all(&out[(size_t)p * n_grids], n_grids, "no program");
    if (n_grids == 0 || n_programs == 0) return 0;
    json_t *grids = json_array();
    for (int g = 0; g < n_grids; g++) json_array_append_new(grids, arc_grid_to_json(&inputs[g]));
    run_call c = {.sb = sb, .programs = programs, .grids = grids, .n_grids = n_grids, .out = out};
    oracle_hooks h = {.ctx = &c, .request = run_request, .reply = run_reply, .failed = run_failed,
                      .label = run_label};
    // The worker's own clock allows the load and each grid wall_s, killing on time; this deadline only catches
    // a worker that hangs.
    sb->pool.timeout_s = (n_grids + 1) * (sb->wall_s + 0.5) + CALL_SLACK_S;
    int rc = oracle_run(&sb->pool, n_programs, &h, e);
    json_decref(grids);
    return rc;
}

int arc_sandbox_run(arc_sandbox *sb, const char *program, int n_grids, const arc_grid *inputs, arc_result *out,
                    mg_err *e) {
    return arc_sandbox_run_many(sb, 1, &program, n_grids, inputs, out, e);
}

void arc_results_free(arc_result *r, int n) {
    for (int i = 0; r && i < n; i++) arc_grid_free(&r[i].grid);
}

pid_t arc_sandbox_worker_pid(const arc_sandbox *sb, int i) {
    return i >= 0 && i < sb->pool.nworkers ? sb->pool.w[i].pid : -1;
}

void arc_sandbox_close(arc_sandbox *sb) {
    if (!sb) return;
    oracle_pool_free(&sb->pool);
    json_decref(sb->limits);
    free(sb);
}

// Runs a one-line program on one grid and checks the answer: Python, numpy, seccomp and common.py all work.
static int probe(arc_sandbox *sb, mg_err *e) {
    static const char program[] = "import numpy as np\ndef transform(g):\n    return np.rot90(g)\n";
    arc_grid in, want;
    arc_grid_init(&in, 1, 2, 0);
    arc_set(&in, 0, 1, 7);
    arc_grid_init(&want, 2, 1, 0);
    arc_set(&want, 0, 0, 7);
    arc_result r;
    double wall = sb->wall_s;
    sb->wall_s = OPEN_TIMEOUT_S;  // for the deadline of this one call, which waits for the worker to start
    int rc = arc_sandbox_run(sb, program, 1, &in, &r, e);
    sb->wall_s = wall;
    if (rc == 0 && !(r.ok && arc_grid_equal(&r.grid, &want))) {
        const char *why = sb->setup_error[0] ? sb->setup_error : r.ok ? "a wrong answer" : r.reason;
        rc = mg_fail(e, "arc sandbox: the worker cannot run a test program: %s", why);
    }
    arc_results_free(&r, 1);
    arc_grid_free(&in);
    arc_grid_free(&want);
    return rc;
}

arc_sandbox *arc_sandbox_open(int n_workers, const char *python, const char *common_py, const arc_limits *limits,
                              mg_err *e) {
    if (n_workers < 1 || n_workers > MAX_WORKERS) {
        mg_fail(e, "arc sandbox: workers must be between 1 and %d, got %d", MAX_WORKERS, n_workers);
        return NULL;
    }
    arc_limits l = limits ? *limits : (arc_limits){0};
    if (!(l.wall_s >= 0 && l.wall_s <= 600) || !(l.cpu_s >= 0 && l.cpu_s <= 3600) || l.mem_mb < 0 ||
        l.output_bytes < 0 || l.output_bytes > (1 << 20)) {
        mg_fail(e, "arc sandbox: limits out of range (wall %g s, cpu %g s, memory %d MiB, output %d bytes)",
                l.wall_s, l.cpu_s, l.mem_mb, l.output_bytes);
        return NULL;
    }
    if (l.wall_s == 0) l.wall_s = 2;
    if (l.cpu_s == 0) l.cpu_s = l.wall_s;
    if (l.mem_mb == 0) l.mem_mb = 512;
    if (l.output_bytes == 0) l.output_bytes = 4096;
    char script[PATH_MAX], common[PATH_MAX];
    if (!realpath(ARC_WORKER_SCRIPT, script)) {
        mg_fail(e, "arc sandbox: cannot find the worker %s (run from the repository root): %s", ARC_WORKER_SCRIPT,
                strerror(errno));
        return NULL;
    }
    if (common_py && !realpath(common_py, common)) {
        mg_fail(e, "arc sandbox: common.py '%s': %s", common_py, strerror(errno));
        return NULL;
    }
    // -s: no user site-packages; -B: no bytecode files (the children could not write them anyway).
    char *argv[] = {(char *)(python ? python : ARC_DEFAULT_PYTHON), "-s", "-B", script, "--common", common, NULL};
    if (!common_py) argv[4] = NULL;
    arc_sandbox *sb = callocCheck(1, sizeof *sb);
    sb->wall_s = l.wall_s;
    sb->limits = json_pack("{s:f, s:f, s:i, s:i}", "wall_s", l.wall_s, "cpu_s", l.cpu_s, "mem_mb", l.mem_mb,
                           "output_bytes", l.output_bytes);
    mgCheck(sb->limits, "out of memory building the sandbox limits");
    if (oracle_pool_init(&sb->pool, argv, worker_env, n_workers, OPEN_TIMEOUT_S, "arc worker", NULL, e) < 0) {
        json_decref(sb->limits);
        free(sb);
        return NULL;
    }
    if (probe(sb, e) < 0) {
        arc_sandbox_close(sb);
        return NULL;
    }
    return sb;
}
