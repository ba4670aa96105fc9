// How fast the molecule task scores: oracle calls per second for QED and for an MPO task, one thread against all
// of them, through the task's own score() (parse, objective, all in RDKit), in batches as a search sends them.
// With --metrics it also reads a molecule run's metrics.jsonl and reports the share of loop time spent scoring.
//   bench_molecule [--smiles FILE] [--objectives qed,osimertinib_mpo] [--batch 48] [--metrics runs/x/metrics.jsonl]
// The default molecules are RDKit's NCI sample (rdkit-data): 4,999 real SMILES, some of them invalid for RDKit.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/clock.h"
#include "tasks/molecule.h"

// First column of a .smi file (SMILES, then whitespace and a name). *out malloc'd strings; returns the count.
static int read_smiles(const char *path, char ***out) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, cap = 1024;
    char **s = mallocCheck((size_t)cap * sizeof *s), line[8192];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, " \t\r\n")] = 0;
        if (!line[0]) continue;
        if (n == cap) {
            s = realloc(s, (size_t)(cap *= 2) * sizeof *s);
            mgCheck(s != NULL, "out of memory");
        }
        s[n++] = strdup(line);
    }
    fclose(f);
    *out = s;
    return n;
}

static double cpu_seconds(void) {  // this process's CPU time, all threads: immune to other programs' load
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Calls per second scoring every molecule once, batch by batch, with `threads` OpenMP threads; *per_cpu gets the
// calls per CPU-second (what one core does when nothing else runs on it).
static double calls_per_second(task *t, char **smiles, int n, int batch, int threads, double *per_cpu) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    task_score *out = mallocCheck((size_t)batch * sizeof *out);
    mg_err e;
    double t0 = mg_seconds(), c0 = cpu_seconds();
    for (int i = 0; i < n; i += batch) {
        int k = n - i < batch ? n - i : batch;
        if (t->score(t, k, (const char *const *)smiles + i, out, &e)) {
            fprintf(stderr, "bench_molecule: %s\n", e.msg);
            exit(1);
        }
    }
    double dt = mg_seconds() - t0;
    if (per_cpu) *per_cpu = n / (cpu_seconds() - c0);
    free(out);
    return n / dt;
}

// Sums time/score, time/sample, time/train and time/iteration over a run's metrics.jsonl.
static int metrics_share(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return fprintf(stderr, "bench_molecule: cannot read %s\n", path), -1;
    double score = 0, sample = 0, train = 0, total = 0;
    long calls = 0, lines = 0;
    char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            continue;
        }
        score += json_number_value(json_object_get(j, "time/score"));
        sample += json_number_value(json_object_get(j, "time/sample"));
        train += json_number_value(json_object_get(j, "time/train"));
        total += json_number_value(json_object_get(j, "time/iteration"));
        calls = (long)json_integer_value(json_object_get(j, "oracle_calls"));
        lines++;
        json_decref(j);
    }
    fclose(f);
    if (!lines || total <= 0) return fprintf(stderr, "bench_molecule: %s has no iterations\n", path), -1;
    printf("%s: %ld iterations, %ld oracle calls, %.1f s: scoring %.3f s (%.2f%%), sampling %.1f s (%.1f%%), "
           "training %.1f s (%.1f%%), the rest %.3f s\n", path, lines, calls, total, score, 100 * score / total,
           sample, 100 * sample / total, train, 100 * train / total, total - score - sample - train);
    return 0;
}

int main(int argc, char **argv) {
    const char *smiles_path = "/usr/share/RDKit/Data/NCI/first_5K.smi", *metrics = NULL;
    char objectives[1024] = "qed,osimertinib_mpo";
    int batch = 48;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--smiles")) smiles_path = argv[i + 1];
        else if (!strcmp(argv[i], "--objectives")) snprintf(objectives, sizeof objectives, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--metrics")) metrics = argv[i + 1];
        else return fprintf(stderr, "bench_molecule: unknown option %s\n", argv[i]), 2;
    }
    if (batch < 1) return fprintf(stderr, "bench_molecule: --batch must be >= 1\n"), 2;
    char **smiles;
    int n = read_smiles(smiles_path, &smiles);
    if (n <= 0) return fprintf(stderr, "bench_molecule: no SMILES read from %s\n", smiles_path), 1;
    int all = 1;
#ifdef _OPENMP
    all = omp_get_num_procs();
#endif
    printf("%d molecules from %s, batches of %d, 1 thread vs %d\n", n, smiles_path, batch, all);
    printf("| objective | calls/s, 1 thread | calls/s, %d threads | speed-up | calls per CPU-second |\n"
           "|---|---|---|---|---|\n", all);
    int rc = 0;
    for (char *save = NULL, *name = strtok_r(objectives, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        task *t;
        mg_err e;
        molecule_config mc = {name, "bench_molecule", 0, 1.0};
        if (molecule_create(&t, &mc, &e)) {
            fprintf(stderr, "bench_molecule: %s\n", e.msg);
            rc = 1;
            break;
        }
        calls_per_second(t, smiles, n < 200 ? n : 200, batch, all, NULL);  // warm-up: lazy tables (SA fragments)
        double cpu, one = calls_per_second(t, smiles, n, batch, 1, &cpu);
        double many = calls_per_second(t, smiles, n, batch, all, NULL);
        printf("| %s | %.0f | %.0f | %.2fx | %.0f |\n", name, one, many, many / one, cpu);
        t->destroy(t);
    }
    if (!rc && metrics) rc = metrics_share(metrics) ? 1 : 0;
    for (int i = 0; i < n; i++) free(smiles[i]);
    free(smiles);
    return rc;
}
