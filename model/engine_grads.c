// The learner's shard gradients kept in the engine's memory, and the engine's part of their exact sum: the
// fixed-point rounding and its way back, on whichever backend the engine runs (the scale, the NaN rule and the
// collectives are workers/learner.c's and workers/comm.c's).
#include "model/engine_internal.h"

#include <float.h>
#include <math.h>

// Room for n_slots gradients of the current adapter's size (kept while the shape stays).
static void ensure_kept(engine *e, int n_slots) {
    size_t n = e->lora_n;
    mgCheck(n > 0, "kept gradients need the engine's adapter");
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
    BE->copy(e->kept + (size_t)slot * e->kept_n, e->lora_grads, e->kept_n * sizeof(float));
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
    mgCheck(n_slots == 0 || e->kept_n == e->lora_n, "the adapter changed between the backward and the gradient sum");
    ensure_kept(e, n_slots > 0 ? n_slots : 1);  // a learner without shards still takes part in the sum (zeros)
    BE->zero(e->kept_acc, e->lora_n * sizeof(int64_t));
    for (int k = 0; k < n_slots; k++) BE->fixed_accumulate(e->kept_acc, e->kept + (size_t)k * e->lora_n, e->lora_n, scale);
    return e->kept_acc;
}

void engine_grad_from_fixed(engine *e, const int64_t *acc, double scale, float *host_grad) {
    // The engine's gradient buffer is free until the next backward; on the CPU it is the host's own.
    BE->fixed_to_float(e->lora_grads, acc, e->lora_n, scale);
    if (host_grad != e->lora_grads) BE->download(host_grad, e->lora_grads, e->lora_n * sizeof(float));
}

void engine_grads_free(engine *e) {
    if (e->be) BE->free(e->kept), BE->free(e->kept_acc);
    e->kept = NULL, e->kept_acc = NULL, e->kept_cap = 0, e->kept_n = 0;
}
