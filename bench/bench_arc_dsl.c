// How fast the ARC DSL runs: programs executed per second on one core, for typical 3-line programs on 30 x 30
// grids (parsed once, run many times, as a search scores a candidate on a task's grids). Each run includes
// copying the output into a new arc_grid and freeing it.
//   bench_arc_dsl [seconds per program, default 1]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "tasks/arc/dsl.h"

static const char *programs[] = {
    "x1 = flip_lr(I)\nx2 = hconcat(I, x1)\nO = lefthalf(x2)",
    "x1 = rot90(I)\nx2 = replace(x1, 0, 5)\nO = transpose(x2)",
    "x1 = mostcolor(I)\nx2 = replace(I, x1, 0)\nO = swap(x2, 1, 2)",
    "x1 = tophalf(I)\nx2 = bottomhalf(I)\nO = xor(x1, x2, 3)",
    "x1 = downscale(I, 2)\nx2 = upscale(x1, 2)\nO = cellwise(I, x2, 0)",
    "x1 = shrink(I, 0)\nx2 = rot180(x1)\nO = largest(x2, 0)",
};

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("bench_arc_dsl: %s, one thread, 30x30 inputs\n", cpu);
    arc_dsl_vm *vm = arc_dsl_vm_new();
    arc_grid in;
    arc_grid_init(&in, 30, 30, 0);
    uint64_t s = 42;
    for (int k = 0; k < 900; k++) {  // mostly 0 with scattered colours, like an ARC input
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        in.cells[k] = (s >> 60) < 10 ? 0 : (uint8_t)((s >> 33) % 10);
    }
    int nprog = (int)(sizeof programs / sizeof programs[0]);
    double total_runs = 0, total_time = 0;
    for (int i = 0; i < nprog; i++) {
        arc_dsl_program p;
        mg_err e;
        if (arc_dsl_parse(&p, programs[i], strlen(programs[i]), &e)) mg_die(&e);
        long runs = 0, failed = 0;
        double t0 = now(), t;
        do {
            for (int r = 0; r < 1000; r++) {
                arc_grid out;
                if (arc_dsl_run(vm, &p, &in, NULL, &out, &e)) failed++;
                else arc_grid_free(&out);
            }
            runs += 1000;
            t = now() - t0;
        } while (t < seconds);
        char one[256];
        snprintf(one, sizeof one, "%s", programs[i]);
        for (char *c = one; *c; c++)
            if (*c == '\n') *c = ';';
        printf("  %-62s %9.0f runs/s%s\n", one, runs / t, failed ? " (some failed)" : "");
        total_runs += runs, total_time += t;
    }
    printf("all %d programs: %.0f programs/s\n", nprog, total_runs / total_time);
    arc_grid_free(&in);
    arc_dsl_vm_free(vm);
    return 0;
}
