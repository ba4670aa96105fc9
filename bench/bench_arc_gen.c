// How fast synthetic ARC tasks are generated (tasks/arc/dsl_gen.h): tasks per second for programs of 1-3 and 3-5
// lines, on one thread and on two, without writing (draw, run, check, deduplicate) and with writing (the same
// plus the JSON text and the answer key, into a temporary folder: Kaggle-style combined files as `migrate arc-gen
// --combined` does, or one file per task as `--out` does), and the time a million tasks would take on two cores at
// the two-thread rates and at twice the one-thread rate per CPU-second (what two idle cores would give if the
// threads scaled perfectly; on a machine shared with other jobs the wall rates of two threads mostly measure the
// other jobs). The runs are short (count tasks), so for lines 1-3 they miss the cost of a million-task
// run, where the short programs run out and most candidates repeat one (docs/arc-dsl.md measures that run).
//   bench_arc_gen [tasks per measurement, default 20000] [folder for the written tasks, default /tmp]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "tasks/arc/dsl_gen_write.h"

enum { NO_FILES, COMBINED, FOLDER };

static double cpu_seconds(void) {  // of the whole process, all threads
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Tasks per second of wall time for one configuration, and per CPU-second in *per_cpu (the figure that other jobs
// on a shared machine disturb least); files: into a fresh folder under tmp, removed afterwards.
static double measure(int lo, int hi, int threads, int write, long count, const char *tmp, arc_gen_stats *st,
                      double *per_cpu) {
    arc_gen_config c;
    arc_gen_config_default(&c);
    c.min_lines = lo, c.max_lines = hi;
    mg_err e;
    char dir[4096] = "";
    arc_gen_writer *w = NULL;
    if (write) {
        snprintf(dir, sizeof dir, "%s/bench_arc_gen.XXXXXX", tmp);
        if (!mkdtemp(dir)) return perror(dir), 0;
        char prefix[4200];
        snprintf(prefix, sizeof prefix, "%s/gen", dir);
        arc_gen_outputs o = {.dir = write == FOLDER ? dir : NULL, .combined = write == COMBINED ? prefix : NULL};
        if (!(w = arc_gen_writer_open(&o, &e))) mg_die(&e);
    }
    double t0 = now(), c0 = cpu_seconds();
    if (arc_gen_run(&c, 12345, (uint64_t)count, threads, w ? arc_gen_writer_forms(w) : 0,
                    w ? arc_gen_writer_emit : NULL, w, st, &e))
        mg_die(&e);
    if (w && arc_gen_writer_close(w, 1, &e)) mg_die(&e);
    double rate = (double)count / (now() - t0);
    *per_cpu = (double)count / (cpu_seconds() - c0);
    if (write) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    }
    return rate;
}

int main(int argc, char **argv) {
    long count = argc > 1 ? atol(argv[1]) : 20000;
    const char *tmp = argc > 2 ? argv[2] : "/tmp";
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("bench_arc_gen: %s, %ld cores online, %ld tasks per measurement\n", cpu, sysconf(_SC_NPROCESSORS_ONLN),
           count);
    static const int ranges[2][2] = {{1, 3}, {3, 5}};
    for (int r = 0; r < 2; r++) {
        int lo = ranges[r][0], hi = ranges[r][1];
        arc_gen_stats st;
        double r1[3], r2[3], c1[3], c2[3];
        for (int w = 0; w < 3; w++) {
            r1[w] = measure(lo, hi, 1, w, count, tmp, w == 0 ? &st : NULL, &c1[w]);
            r2[w] = measure(lo, hi, 2, w, count, tmp, NULL, &c2[w]);
        }
        printf("lines %d-%d               no files  combined    folder\n", lo, hi);
        printf("  1 thread, tasks/s     %8.0f  %8.0f  %8.0f\n", r1[0], r1[1], r1[2]);
        printf("  2 threads, tasks/s    %8.0f  %8.0f  %8.0f\n", r2[0], r2[1], r2[2]);
        printf("  1 thread, tasks/CPU-s %8.0f  %8.0f  %8.0f\n", c1[0], c1[1], c1[2]);
        printf("  2 threads, tasks/CPU-s%8.0f  %8.0f  %8.0f\n", c2[0], c2[1], c2[2]);
        printf("  per task: %.2f candidates (%.2f without a program, %.2f identity, %.2f constant, %.2f duplicate "
               "program, %.2f duplicate pairs), %.2f lines redrawn\n",
               (double)st.attempts / count, (double)st.no_program / count, (double)st.identity / count,
               (double)st.constant / count, (double)st.dup_program / count, (double)st.dup_pairs / count,
               (double)st.line_rejects / count);
        printf("  a million tasks on 2 cores, s: at the 2-thread wall rate %.0f / %.0f / %.0f; at 2 x the 1-thread CPU "
               "rate %.0f / %.0f / %.0f (no files / combined / folder)\n",
               1e6 / r2[0], 1e6 / r2[1], 1e6 / r2[2], 1e6 / (2 * c1[0]), 1e6 / (2 * c1[1]), 1e6 / (2 * c1[2]));
    }
    return 0;
}
