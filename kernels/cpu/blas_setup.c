#include "kernels/cpu/blas_setup.h"

#include <cblas.h>
#include <omp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Cores OpenBLAS falls back to when it does not recognise a CPU: all predate AVX, so on a CPU with AVX2 or
// AVX-512 any of them means "detection failed", not "this is the right kernel".
static const char *const GENERIC_CORES[] = {"Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom",
                                            "Core2", "Penryn", "Dunnington", "Nehalem", "Athlon", "Opteron",
                                            "Opteron(SSE3)", "Barcelona", "Nano", "Unknown"};

static int is_generic(const char *core) {
    for (size_t i = 0; i < sizeof GENERIC_CORES / sizeof *GENERIC_CORES; i++)
        if (core && !strcmp(core, GENERIC_CORES[i])) return 1;
    return 0;
}

// The OpenBLAS core whose kernels this CPU can run, or NULL if it has neither AVX-512 nor AVX2.
static const char *best_core(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

static int env_set(const char *name) {
    const char *v = getenv(name);
    return v && *v;
}

void blas_reexec_for_cpu(char **argv) {
    if (env_set("MIGRATE_BLAS_REEXEC")) return;  // this process is the re-executed one
    const char *off = getenv("MIGRATE_NO_REEXEC");
    if (off && *off && strcmp(off, "0")) return;
    int changed = 0;
    const char *core = openblas_get_corename(), *want = best_core();
    if (!env_set("OPENBLAS_CORETYPE") && want && is_generic(core)) {
        setenv("OPENBLAS_CORETYPE", want, 1);
        changed = 1;
    }
    if (openblas_get_parallel() == OPENBLAS_THREAD && !env_set("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        changed = 1;
    }
    if (!changed) return;
    setenv("MIGRATE_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    // Still here: no /proc, or the binary is gone. Run on as we are, only slower.
    fprintf(stderr, "%s: cannot re-execute to select OpenBLAS kernels (%s); continuing with core %s\n",
            argv && argv[0] ? argv[0] : "migrate", strerror(errno), core ? core : "?");
}

void blas_set_threads(int n) {
    if (n <= 0) return;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}
