// AdamW with decoupled weight decay, written in the same order of operations as torch.optim.AdamW so that a few
// steps agree with PyTorch to float rounding.
#include <math.h>

#include "kernels/ops.h"

void adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int t) {
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)t));
    float step_size = lr / bc1;
    float decay = 1.0f - lr * weight_decay;
    #pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        float p = param[i] * decay;
        float mi = m[i] + (1.0f - beta1) * (g - m[i]);  // torch: exp_avg.lerp_(grad, 1 - beta1)
        float vi = v[i] * beta2 + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = p - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}
