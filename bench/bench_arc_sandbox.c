// How many programs per second the ARC sandbox (tasks/arc/sandbox.h) runs: a trivial program and a typical numpy
// one (connected regions by flood fill, a colour count, a crop), each on the 3 to 4 grids of an ARC task's
// training pairs, through 1 and 2 workers, in batches as a search would send them. Every program forks its own
// locked-down child, so this measures the sandbox's cost per program, not Python's speed.
//   bench_arc_sandbox [--programs 200] [--task data/arc-agi-1/training/007bbfb7.json]   (from the repository root)
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "tasks/arc/sandbox.h"

static const char trivial[] = "def transform(input_grid):\n    return input_grid\n";

// What the model's programs typically do: find objects, count colours, build a new grid.
static const char typical[] =
    "import numpy as np\n"
    "def regions(g):\n"
    "    seen = np.zeros(g.shape, dtype=bool)\n"
    "    out = []\n"
    "    for r in range(g.shape[0]):\n"
    "        for c in range(g.shape[1]):\n"
    "            if seen[r, c] or g[r, c] == 0:\n"
    "                continue\n"
    "            stack, cells = [(r, c)], []\n"
    "            seen[r, c] = True\n"
    "            while stack:\n"
    "                y, x = stack.pop()\n"
    "                cells.append((y, x))\n"
    "                for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):\n"
    "                    ny, nx = y + dy, x + dx\n"
    "                    if 0 <= ny < g.shape[0] and 0 <= nx < g.shape[1] and not seen[ny, nx] \\\n"
    "                            and g[ny, nx] == g[r, c]:\n"
    "                        seen[ny, nx] = True\n"
    "                        stack.append((ny, nx))\n"
    "            out.append(cells)\n"
    "    return out\n"
    "def transform(input_grid):\n"
    "    g = np.array(input_grid)\n"
    "    objs = regions(g)\n"
    "    counts = np.bincount(g.ravel(), minlength=10)\n"
    "    if not objs:\n"
    "        return np.rot90(g)\n"
    "    big = max(objs, key=len)\n"
    "    ys, xs = zip(*big)\n"
    "    crop = g[min(ys):max(ys) + 1, min(xs):max(xs) + 1].copy()\n"
    "    crop[crop == 0] = int(np.argmax(counts[1:]) + 1)\n"
    "    return np.fliplr(crop)\n";

static int load_inputs(const char *path, arc_grid **out) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    json_t *train = json_object_get(root, "train");
    int n = (int)json_array_size(train);
    *out = calloc((size_t)(n ? n : 1), sizeof **out);
    for (int i = 0; i < n; i++) {
        mg_err e;
        if (arc_grid_from_json(&(*out)[i], json_object_get(json_array_get(train, i), "input"), path, &e) < 0) {
            fprintf(stderr, "%s\n", e.msg);
            exit(1);
        }
    }
    json_decref(root);
    return n;
}

static void bench(int workers, const char *name, const char *program, int n_programs, int n_grids,
                  const arc_grid *inputs) {
    mg_err e;
    arc_sandbox *sb = arc_sandbox_open(workers, NULL, NULL, NULL, &e);
    if (!sb) {
        fprintf(stderr, "bench_arc_sandbox: %s\n", e.msg);
        exit(1);
    }
    const char **programs = malloc((size_t)n_programs * sizeof *programs);
    arc_result *out = calloc((size_t)n_programs * n_grids, sizeof *out);
    for (int p = 0; p < n_programs; p++) programs[p] = program;
    // one warm-up batch, then the timed one
    if (arc_sandbox_run_many(sb, workers, programs, n_grids, inputs, out, &e) < 0) exit(1);
    arc_results_free(out, workers * n_grids);
    double t0 = mg_seconds();
    if (arc_sandbox_run_many(sb, n_programs, programs, n_grids, inputs, out, &e) < 0) {
        fprintf(stderr, "bench_arc_sandbox: %s\n", e.msg);
        exit(1);
    }
    double took = mg_seconds() - t0;
    int failed = 0;
    for (int i = 0; i < n_programs * n_grids; i++) failed += !out[i].ok;
    if (failed) fprintf(stderr, "bench_arc_sandbox: %d grids failed, e.g. '%s'\n", failed, out[0].reason);
    printf("%-8s %d worker%s  %5d programs x %d grids  %7.3f s  %7.1f programs/s  %6.2f ms/program\n", name,
           workers, workers > 1 ? "s" : " ", n_programs, n_grids, took, n_programs / took, 1e3 * took / n_programs);
    arc_results_free(out, n_programs * n_grids);
    free(out);
    free(programs);
    arc_sandbox_close(sb);
}

int main(int argc, char **argv) {
    int n_programs = 200;
    const char *task = "data/arc-agi-1/training/007bbfb7.json";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--programs")) n_programs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--task")) task = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_arc_sandbox [--programs N] [--task FILE]\n");
            return 2;
        }
    }
    arc_grid *inputs;
    int n_grids = load_inputs(task, &inputs);
    if (n_grids == 0 || n_programs < 1) {
        fprintf(stderr, "bench_arc_sandbox: no training inputs in %s\n", task);
        return 1;
    }
    printf("task %s: %d training inputs; each program forks one sandboxed child for all of them\n", task, n_grids);
    for (int workers = 1; workers <= 2; workers++) {
        bench(workers, "trivial", trivial, n_programs, n_grids, inputs);
        bench(workers, "typical", typical, n_programs, n_grids, inputs);
    }
    for (int i = 0; i < n_grids; i++) arc_grid_free(&inputs[i]);
    free(inputs);
    return 0;
}
