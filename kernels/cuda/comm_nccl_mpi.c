// NCCL from MPI: rank 0's unique id broadcast to every rank (see comm_nccl_mpi.h).
#include "kernels/cuda/comm_nccl_mpi.h"

#include <cuda_runtime_api.h>

int comm_nccl_init(comm_nccl **out, MPI_Comm comm, int local_rank, mg_err *e) {
    *out = NULL;
    int rank, size, ndev = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    unsigned char id[COMM_NCCL_ID_BYTES] = {0};
    int ok = 1;
    mg_err local = {{0}};
    if (rank == 0) ok = comm_nccl_unique_id(id, &local) == 0;
    // Every rank learns whether rank 0 made the id, so a failure there cannot leave the others waiting.
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
    if (!ok) return rank == 0 ? mg_fail(e, "%s", local.msg) : mg_fail(e, "rank %d: rank 0 could not make an NCCL id", rank);
    MPI_Bcast(id, COMM_NCCL_ID_BYTES, MPI_BYTE, 0, comm);
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev <= 0)
        return mg_fail(e, "rank %d: no CUDA device for NCCL", rank);
    return comm_nccl_init_rank(out, id, size, rank, local_rank % ndev, e);
}
