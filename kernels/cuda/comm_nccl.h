// Gradient all-reduce across GPUs with NCCL. One communicator per rank, one GPU per rank (the device index comes
// from the rank's local rank on its node). The MPI glue that makes the communicator from an MPI communicator (rank
// 0 makes the unique id, MPI_Bcast hands it to every rank) is kernels/cuda/comm_nccl_mpi.h; this part needs no
// MPI, so a single-GPU run can exercise it with one rank.
//
// Sums of floats depend on their order, and NCCL picks the order (ring or tree) by rank count and topology: an
// fp32 all-reduce is reproducible for a fixed layout, not across layouts. The int64 and max all-reduces are exact
// in any order: with them the GPU learners sum gradients as workers/learner.c does (docs/distributed.md).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define COMM_NCCL_ID_BYTES 128  // NCCL_UNIQUE_ID_BYTES

typedef struct comm_nccl comm_nccl;

// A fresh unique id (rank 0 makes it, every rank then passes the same bytes to comm_nccl_init_rank).
int comm_nccl_unique_id(unsigned char id[COMM_NCCL_ID_BYTES], mg_err *e);
// Joins the communicator of nranks ranks as `rank`, on GPU `device` (made current for this thread).
int comm_nccl_init_rank(comm_nccl **out, const unsigned char id[COMM_NCCL_ID_BYTES], int nranks, int rank, int device,
                        mg_err *e);
// In place: dev (n floats, device memory) becomes the sum over all ranks. Enqueued on `stream` (a cudaStream_t,
// e.g. cuda_stream_handle(); NULL = the default stream); work queued later on that stream sees the result.
int comm_nccl_allreduce_sum(comm_nccl *c, float *dev, size_t n, void *stream, mg_err *e);
// The exact gradient sum of workers/learner.c (int64 fixed point, see fixed_accumulate_cuda): integer sums and a
// max, both independent of the reduction order, so the result does not depend on the number of GPUs.
int comm_nccl_allreduce_i64(comm_nccl *c, int64_t *dev, size_t n, void *stream, mg_err *e);
int comm_nccl_allreduce_max(comm_nccl *c, double *dev, size_t n, void *stream, mg_err *e);
void comm_nccl_free(comm_nccl *c);
int comm_nccl_nranks(const comm_nccl *c);
int comm_nccl_rank(const comm_nccl *c);
// This process's rank on its node: OMPI_COMM_WORLD_LOCAL_RANK (mpirun), SLURM_LOCALID (srun), MPI_LOCALRANKID
// (MPICH), else 0.
int comm_nccl_local_rank(void);
