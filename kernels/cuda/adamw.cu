// AdamW with decoupled weight decay in torch.optim.AdamW's order of operations (as kernels/cpu/adamw.c).
// The step-dependent scalars are computed once on the host, exactly as the CPU op computes them.
#include "kernels/cuda/cuda_common.h"

static __global__ void adamw_kernel(float *param, const float *grad, float *m, float *v, size_t n, float beta1,
                                    float beta2, float eps, float step_size, float bc2_sqrt, float decay) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float g = grad[i];
        float p = param[i] * decay;
        float mi = m[i] + (1.0f - beta1) * (g - m[i]);  // torch: exp_avg.lerp_(grad, 1 - beta1)
        float vi = v[i] * beta2 + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = p - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

extern "C" void adamw_update_cuda(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                                  float beta2, float eps, float weight_decay, int t) {
    if (!n) return;
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    MG_LAUNCH(adamw_kernel, mg_blocks(n, 256), 256, 0, param, grad, m, v, n, beta1, beta2, eps, lr / bc1, bc2_sqrt,
              1.0f - lr * weight_decay);
}
