// Linear layers and LoRA adapters through BLAS. Weights use nn.Linear's (OC, IC) layout, so the forward is
// inp @ W^T and no weight is ever transposed in memory.
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#include "kernels/ops.h"

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int IC, int OC) {
    // out (N, OC) = inp (N, IC) @ weight^T (IC, OC)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, weight, IC, 0.0f, out, OC);
    if (bias) {
        #pragma omp parallel for
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OC; o++) out[(size_t)i * OC + o] += bias[o];
    }
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int N, int IC, int OC) {
    // dinp (N, IC) += dout (N, OC) @ weight (OC, IC)
    if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, weight, IC, 1.0f, dinp, IC);
    // dweight (OC, IC) += dout^T (OC, N) @ inp (N, IC)
    if (dweight) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
    if (dbias) {
        #pragma omp parallel for
        for (int o = 0; o < OC; o++) {
            float acc = 0.0f;
            for (int i = 0; i < N; i++) acc += dout[(size_t)i * OC + o];
            dbias[o] += acc;
        }
    }
}

void lora_forward(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC, int OC,
                  int R, float scale) {
    // h (N, R) = inp (N, IC) @ A^T (IC, R)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, R, IC, 1.0f, inp, IC, A, IC, 0.0f, h, R);
    // out (N, OC) += scale * h (N, R) @ B^T (R, OC)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, R, scale, h, R, B, R, 1.0f, out, OC);
}

void lora_backward(float *dinp, float *dA, float *dB, float *dh, const float *dout, const float *inp,
                   const float *h, const float *A, const float *B, int N, int IC, int OC, int R, float scale) {
    // dB (OC, R) += scale * dout^T (OC, N) @ h (N, R)
    if (dB) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, R, N, scale, dout, OC, h, R, 1.0f, dB, R);
    if (!dA && !dinp) return;
    // dh (N, R) = scale * dout (N, OC) @ B (OC, R)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, R, OC, scale, dout, OC, B, R, 0.0f, dh, R);
    // dA (R, IC) += dh^T (R, N) @ inp (N, IC)
    if (dA) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, R, IC, N, 1.0f, dh, R, inp, IC, 1.0f, dA, IC);
    // dinp (N, IC) += dh (N, R) @ A (R, IC)
    if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, R, 1.0f, dh, R, A, IC, 1.0f, dinp, IC);
}

// Zero-padded copy of a last, partial tile: one buffer per thread, grown as needed and kept, because decoding hits
// it on every layer of every step (a fresh calloc of the LM head's tile alone is 16 x V floats). Per thread, so
// concurrent generate() calls never share it; freed when the thread exits.
static pthread_key_t tile_key;
static pthread_once_t tile_once = PTHREAD_ONCE_INIT;

typedef struct {
    float *buf;
    size_t cap;
} tile_scratch;

static void tile_scratch_free(void *p) {
    tile_scratch *s = p;
    free(s->buf);
    free(s);
}

static void tile_key_create(void) { mgCheck(pthread_key_create(&tile_key, tile_scratch_free) == 0, "out of TLS keys"); }

static float *tile_buffer(size_t n) {
    pthread_once(&tile_once, tile_key_create);
    tile_scratch *s = pthread_getspecific(tile_key);
    if (!s) {
        s = callocCheck(1, sizeof *s);
        mgCheck(pthread_setspecific(tile_key, s) == 0, "cannot set the tile scratch of this thread");
    }
    if (s->cap < n) {
        free(s->buf);
        s->buf = mallocCheck(n * sizeof(float));
        s->cap = n;
    }
    return s->buf;
}

// out (N, OC) = alpha * inp (N, IC) @ W^T + beta * out, one MATMUL_TILE-row GEMM at a time.
static void gemm_rows_tiled(float *out, const float *inp, const float *W, int N, int IC, int OC, float alpha,
                            float beta) {
    int full = N / MATMUL_TILE * MATMUL_TILE;
    for (int r = 0; r < full; r += MATMUL_TILE)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, MATMUL_TILE, OC, IC, alpha, inp + (size_t)r * IC, IC, W,
                    IC, beta, out + (size_t)r * OC, OC);
    int rest = N - full;
    if (!rest) return;
    float *pin = tile_buffer((size_t)MATMUL_TILE * (IC + OC)), *pout = pin + (size_t)MATMUL_TILE * IC;
    // Pad rows are zero (and stay out of the result): the tile is the same GEMM whatever N is.
    memcpy(pin, inp + (size_t)full * IC, (size_t)rest * IC * sizeof(float));
    memset(pin + (size_t)rest * IC, 0, (size_t)(MATMUL_TILE - rest) * IC * sizeof(float));
    if (beta != 0.0f) {  // with beta = 0, BLAS never reads C
        memcpy(pout, out + (size_t)full * OC, (size_t)rest * OC * sizeof(float));
        memset(pout + (size_t)rest * OC, 0, (size_t)(MATMUL_TILE - rest) * OC * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, MATMUL_TILE, OC, IC, alpha, pin, IC, W, IC, beta, pout, OC);
    memcpy(out + (size_t)full * OC, pout, (size_t)rest * OC * sizeof(float));
}

void matmul_forward_tiled(float *out, const float *inp, const float *weight, const float *bias, int N, int IC, int OC) {
    gemm_rows_tiled(out, inp, weight, N, IC, OC, 1.0f, 0.0f);
    if (bias) {
        #pragma omp parallel for
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OC; o++) out[(size_t)i * OC + o] += bias[o];
    }
}

void lora_forward_tiled(float *out, float *h, const float *inp, const float *A, const float *B, int N, int IC, int OC,
                        int R, float scale) {
    gemm_rows_tiled(h, inp, A, N, IC, R, 1.0f, 0.0f);
    gemm_rows_tiled(out, h, B, N, R, OC, scale, 1.0f);
}
