// This process's index among the ranks on its node, from the launcher's environment (Open MPI, Slurm, MPICH);
// 0 when launched alone. Picks the GPU of a rank. Header-only: the CUDA and NCCL libraries use it without linking
// migrate_core.
#pragma once
#include <stdlib.h>

static inline int mg_local_rank(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return 0;
}
