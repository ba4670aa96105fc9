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

#ifdef __cplusplus
}
#endif
