// The CUDA engine as a model's backend (model/accel.h): after accel_cuda_attach, model_forward, model_backward and
// generate run on the GPU (bf16 or fp32 weights, fp32 adapter), and the search loop, rollout and learner are
// unchanged. Built into migrate_cuda (real GPU) and migrate_cuda_emu (the kernels emulated on the CPU, for tests).
#pragma once
#include "kernels/backend.h"
#include "model/model.h"

#ifdef __cplusplus
extern "C" {
#endif

// The device for this process: `device` when >= 0, else the local rank (Open MPI, Slurm) modulo the visible GPUs.
int accel_cuda_device(int device);
// Sets up CUDA on that device, copies m's weights there in wt, frees the host copy of the weights and sets
// m->accel. The adapter is not copied now: every call uploads the model's current one. A one-line error (no
// device, too old) leaves m as it was.
int accel_cuda_attach(model *m, int device, mg_dtype wt, mg_err *e);
// The learner's gradient shards stay on the GPU and are summed there (model_accel.keeps_grads), through the
// learner's host collectives; bit for bit the host sum. -1 when m is not on this backend.
int accel_cuda_keep_grads(model *m, int keep);
// The same, summed across the learners' GPUs with NCCL: this learner joins as `rank` of `nranks` the communicator
// of the unique id (COMM_NCCL_ID_BYTES bytes, made by one learner, comm_nccl_unique_id) on the model's device.
// Collective over the learners. A one-line error without NCCL in this build.
int accel_cuda_use_nccl(model *m, const unsigned char *id, int nranks, int rank, mg_err *e);

#ifdef __cplusplus
}
#endif
