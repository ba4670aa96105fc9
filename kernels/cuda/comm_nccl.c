// NCCL communicator and fp32 sum all-reduce (see comm_nccl.h).
#include "kernels/cuda/comm_nccl.h"
#include "common/local_rank.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(ncclUniqueId) == COMM_NCCL_ID_BYTES, "NCCL's unique id size changed");

struct comm_nccl {
    ncclComm_t comm;
    int nranks, rank, device;
};

int comm_nccl_unique_id(unsigned char id[COMM_NCCL_ID_BYTES], mg_err *e) {
    ncclUniqueId uid;
    ncclResult_t r = ncclGetUniqueId(&uid);
    if (r != ncclSuccess) return mg_fail(e, "NCCL cannot make a unique id: %s", ncclGetErrorString(r));
    memcpy(id, &uid, sizeof uid);
    return 0;
}

int comm_nccl_init_rank(comm_nccl **out, const unsigned char id[COMM_NCCL_ID_BYTES], int nranks, int rank, int device,
                        mg_err *e) {
    *out = NULL;
    if (nranks <= 0 || rank < 0 || rank >= nranks) return mg_fail(e, "NCCL rank %d of %d is out of range", rank, nranks);
    int ndev = 0;
    cudaError_t ce = cudaGetDeviceCount(&ndev);
    if (ce != cudaSuccess || device < 0 || device >= ndev)
        return mg_fail(e, "rank %d: CUDA device %d not available (%d visible: %s)", rank, device, ndev,
                       ce == cudaSuccess ? "ok" : cudaGetErrorString(ce));
    if ((ce = cudaSetDevice(device)) != cudaSuccess)
        return mg_fail(e, "rank %d: cannot use CUDA device %d: %s", rank, device, cudaGetErrorString(ce));
    ncclUniqueId uid;
    memcpy(&uid, id, sizeof uid);
    comm_nccl *c = callocCheck(1, sizeof *c);
    ncclResult_t r = ncclCommInitRank(&c->comm, nranks, uid, rank);
    if (r != ncclSuccess) {
        free(c);
        return mg_fail(e, "rank %d of %d: NCCL communicator not created: %s (NCCL_DEBUG=INFO says why)", rank, nranks,
                       ncclGetErrorString(r));
    }
    c->nranks = nranks;
    c->rank = rank;
    c->device = device;
    *out = c;
    return 0;
}

static int reduce(comm_nccl *c, void *dev, size_t n, ncclDataType_t t, ncclRedOp_t op, void *stream, const char *what,
                  mg_err *e);

int comm_nccl_allreduce_sum(comm_nccl *c, float *dev, size_t n, void *stream, mg_err *e) {
    return reduce(c, dev, n, ncclFloat32, ncclSum, stream, "fp32 sum", e);
}

static int reduce(comm_nccl *c, void *dev, size_t n, ncclDataType_t t, ncclRedOp_t op, void *stream, const char *what,
                  mg_err *e) {
    if (!n) return 0;
    ncclResult_t r = ncclAllReduce(dev, dev, n, t, op, c->comm, (cudaStream_t)stream);
    if (r != ncclSuccess)
        return mg_fail(e, "rank %d: NCCL %s all-reduce of %zu values failed: %s", c->rank, what, n, ncclGetErrorString(r));
    return 0;
}

int comm_nccl_allreduce_i64(comm_nccl *c, int64_t *dev, size_t n, void *stream, mg_err *e) {
    return reduce(c, dev, n, ncclInt64, ncclSum, stream, "int64 sum", e);
}

int comm_nccl_allreduce_max(comm_nccl *c, double *dev, size_t n, void *stream, mg_err *e) {
    return reduce(c, dev, n, ncclFloat64, ncclMax, stream, "max", e);
}

void comm_nccl_free(comm_nccl *c) {
    if (!c) return;
    ncclCommDestroy(c->comm);
    free(c);
}

int comm_nccl_nranks(const comm_nccl *c) { return c->nranks; }
int comm_nccl_rank(const comm_nccl *c) { return c->rank; }

int comm_nccl_local_rank(void) { return mg_local_rank(); }
