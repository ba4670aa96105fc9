// Rotary position embedding in the HF "rotate_half" layout: dimension j pairs with j + D/2.
// The angle is computed as float(pos) * inv_freq[j] in fp32, exactly as transformers does, so long positions
// round the same way.
#include <math.h>

#include "kernels/ops.h"

static void rotate(float *x, const int *pos, const float *inv_freq, int N, int H, int D, float sign) {
    int half = D / 2;
    #pragma omp parallel for
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < half; j++) {
            float angle = (float)pos[i] * inv_freq[j];
            float c = cosf(angle), s = sign * sinf(angle);
            for (int h = 0; h < H; h++) {
                float *row = x + ((size_t)i * H + h) * D;
                float x1 = row[j], x2 = row[j + half];
                row[j] = x1 * c - x2 * s;
                row[j + half] = x2 * c + x1 * s;
            }
        }
    }
}

void rope_forward(float *x, const int *pos, const float *inv_freq, int N, int H, int D) {
    rotate(x, pos, inv_freq, N, H, D, 1.0f);
}

// A rotation's inverse is its transpose, which is the rotation by the negated angle.
void rope_backward(float *dx, const int *pos, const float *inv_freq, int N, int H, int D) {
    rotate(dx, pos, inv_freq, N, H, D, -1.0f);
}
