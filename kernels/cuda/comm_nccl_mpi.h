// The NCCL communicator of an MPI communicator: rank 0 makes the unique id, MPI_Bcast hands it to the others, and
// each rank joins on GPU local_rank % (GPUs on its node). Collective over comm: every rank must call it.
#pragma once
#include <mpi.h>

#include "kernels/cuda/comm_nccl.h"

int comm_nccl_init(comm_nccl **out, MPI_Comm comm, int local_rank, mg_err *e);
