// The learner's shard gradients kept in the engine's memory, and the engine's part of their exact sum: the
// fixed-point rounding and its way back, on whichever backend the engine runs (the scale, the NaN rule and the
// collectives are workers/learner.c's and workers/comm.c's).
#include "model/engine_internal.h"

#include <float.h>
#include <math.h>

float *engine_train_grads(const engine *e, size_t *n) {
    if (e->full_n) return *n = e->full_n, e->full_grads;
    return *n = e->lora_n, e->lora_grads;
}

// Room for n_slots gradients of the trained buffer's size (kept while the size stays).
static void ensure_kept(engine *e, int n_slots) {
    size_t n;
    engine_train_grads(e, &n);
    mgCheck(n > 0, "kept gradients need an adapter or full training");
    if (e->kept && e->kept_cap >= n_slots && e->kept_n == n) return;
    int cap = n_slots > e->kept_cap || e->kept_n != n ? n_slots : e->kept_cap;
    float *grown = BE->alloc((size_t)cap * n * sizeof(float));
    if (e->kept && e->kept_n == n) BE->copy(grown, e->kept, (size_t)e->kept_cap * n * sizeof(float));
    BE->free(e->kept);
    if (e->kept_n != n) BE->free(e->kept_acc), e->kept_acc = NULL;
    if (!e->kept_acc) e->kept_acc = BE->alloc(n * sizeof(int64_t));
    e->kept = grown, e->kept_cap = cap, e->kept_n = n;
}

void engine_grad_keep(engine *e, int slot) {
    mgCheck(slot >= 0, "engine_grad_keep: negative slot");
    ensure_kept(e, slot + 1);
    size_t n;
    float *g = engine_train_grads(e, &n);
    BE->copy(e->kept + (size_t)slot * n, g, n * sizeof(float));
}

double engine_grad_kept_absmax(engine *e, int n_slots) {
    double amax = 0;
    for (int k = 0; k < n_slots; k++) {
        double g = BE->absmax(e->kept + (size_t)k * e->kept_n, e->kept_n);
        amax = g <= DBL_MAX ? fmax(amax, g) : INFINITY;  // inf, or NaN where a backend passes it on
    }
    return amax;
}

int64_t *engine_grad_kept_fixed(engine *e, int n_slots, double scale) {
    size_t n;
    engine_train_grads(e, &n);
    mgCheck(n_slots == 0 || e->kept_n == n, "the trained buffer changed between the backward and the gradient sum");
    ensure_kept(e, n_slots > 0 ? n_slots : 1);  // a learner without shards still takes part in the sum (zeros)
    BE->zero(e->kept_acc, n * sizeof(int64_t));
    for (int k = 0; k < n_slots; k++) BE->fixed_accumulate(e->kept_acc, e->kept + (size_t)k * n, n, scale);
    return e->kept_acc;
}

void engine_grad_from_fixed(engine *e, const int64_t *acc, double scale, float *host_grad) {
    // The engine's gradient buffer is free until the next backward; on the CPU it is the host's own.
    size_t n;
    float *g = engine_train_grads(e, &n);
    BE->fixed_to_float(g, acc, n, scale);
    if (host_grad != g) BE->download(host_grad, g, n * sizeof(float));
}

void engine_grads_free(engine *e) {
    if (e->be) BE->free(e->kept), BE->free(e->kept_acc);
    e->kept = NULL, e->kept_acc = NULL, e->kept_cap = 0, e->kept_n = 0;
}
