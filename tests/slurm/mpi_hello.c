// A two-line MPI program for tests/slurm/test_slurm_mpi.sh: proves that `srun --mpi=pmix` wires ranks together
// (each rank prints its rank, the size and an all-reduced sum, which only agree if PMIx connected them).
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size, sum = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("rank %d of %d, sum of ranks %d\n", rank, size, sum);
    MPI_Finalize();
    return 0;
}
