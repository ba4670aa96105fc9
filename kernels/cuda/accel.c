// The CUDA engine behind a model (kernels/cuda/accel.h). The host keeps the adapter the loop steps; each call
// uploads it (n x 4 bytes: 0.2 GB for rank-64 LoRA on an 8B model, ~10 ms over PCIe), so every writer of the
// adapter (optimizer, checkpoint resume, publication from the learners, PEFT load) is seen without bookkeeping.
#include "kernels/cuda/accel.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/local_rank.h"
#include "model/engine.h"
#include "kernels/cuda/ops_cuda.h"
#include "model/accel.h"
#ifdef MIGRATE_HAVE_NCCL
#include "kernels/cuda/comm_nccl.h"
#endif

typedef struct {
    model_accel base;  // first: a model_accel * is a cuda_accel *
    engine e;
    int has_lora;      // the engine holds an adapter of shape cfg
    lora_config cfg;
    // The learner's shard gradients on the device (accel_cuda_keep_grads): (n_slots, slot_n) fp32, the int64 sum.
    float *slots;
    int n_slots;
    size_t slot_n;
    int64_t *acc;
    double *dmax;
    void *nccl;  // comm_nccl *, or NULL: the sums go through the learner's host collectives
    int device;
} cuda_accel;

// The engine gets the model's current adapter: its shape (made again when it changed, e.g. another search's
// adapter on a shared model), its values and its switch; none means the base model.
static void sync_adapter(cuda_accel *a, const model *m) {
    const lora_adapter *l = m->lora;
    if (!l) {
        a->e.lora_enabled = 0;
        return;
    }
    if (!a->has_lora || memcmp(&a->cfg, &l->cfg, sizeof a->cfg)) {
        if (a->has_lora) engine_lora_drop(&a->e);
        mg_err err;
        if (engine_lora_create(&a->e, &l->cfg, 0.0f, 0, &err)) check_failed("engine_lora_create", __FILE__, __LINE__, err.msg);
        a->cfg = l->cfg, a->has_lora = 1;
    }
    engine_lora_upload(&a->e, l->params);
    a->e.lora_enabled = l->enabled;
}

static double acc_forward(model_accel *base, model *m, const packed_batch *b, float temperature, float *logp,
                          float *entropy) {
    cuda_accel *a = (cuda_accel *)base;
    sync_adapter(a, m);
    return engine_forward(&a->e, b, temperature, logp, entropy);
}

static void acc_backward(model_accel *base, model *m, const packed_batch *b, const float *dlogp) {
    cuda_accel *a = (cuda_accel *)base;
    mgCheck(m->lora && a->has_lora, "backward on the GPU needs the adapter of the forward before it");
    engine_backward(&a->e, b, dlogp);
    engine_lora_download_grads(&a->e, m->lora->grads);
}

static void acc_zero_grad(model_accel *base, model *m) {
    cuda_accel *a = (cuda_accel *)base;
    (void)m;
    if (a->has_lora) engine_zero_grad(&a->e);
}

// The slots for n_slots shards of the current adapter's size (kept while the shape stays).
static void ensure_slots(cuda_accel *a, int n_slots) {
    const mg_backend *be = a->e.be;
    size_t n = a->e.lora_n;
    if (a->slots && a->n_slots >= n_slots && a->slot_n == n) return;
    be->free(a->slots), be->free(a->acc);
    a->slots = be->alloc((size_t)n_slots * n * sizeof(float));
    a->acc = be->alloc(n * sizeof(int64_t));
    a->n_slots = n_slots, a->slot_n = n;
}

static void acc_backward_keep(model_accel *base, model *m, const packed_batch *b, const float *dlogp, int slot,
                              int n_slots) {
    cuda_accel *a = (cuda_accel *)base;
    mgCheck(m->lora && a->has_lora, "backward on the GPU needs the adapter of the forward before it");
    mgCheck(slot >= 0 && slot < n_slots, "gradient shard slot out of range");
    ensure_slots(a, n_slots);
    engine_zero_grad(&a->e);
    engine_backward(&a->e, b, dlogp);
    a->e.be->copy(a->slots + (size_t)slot * a->slot_n, a->e.lora_grads, a->slot_n * sizeof(float));
}

// workers/learner.c's reduce_gradients on the device: the same scale (the max of |g| over every learner's shards,
// exact in any order), the same int64 rounding (llrint of the double product) and the same conversion back, so the
// sum is the host's bit for bit, for any number of GPUs.
static void acc_sum_kept(model_accel *base, model *m, const int *mine, int n_mine, int n_shards,
                         const grad_collective *cl, float *grad) {
    cuda_accel *a = (cuda_accel *)base;
    const mg_backend *be = a->e.be;
    size_t n = a->e.lora_n;
    mgCheck(m->lora && m->lora->n_params == n, "the adapter changed between the backward and the gradient sum");
    ensure_slots(a, n_shards);  // a learner without shards still takes part in the sum (its acc is zero)
    double amax = 0;
    for (int k = 0; k < n_mine; k++) {
        double g = absmax_cuda(a->slots + (size_t)mine[k] * n, n);
        amax = g <= DBL_MAX ? fmax(amax, g) : INFINITY;  // inf, or NaN where the kernel passes it on
    }
#ifdef MIGRATE_HAVE_NCCL
    mg_err err;
    if (a->nccl) {
        if (!a->dmax) a->dmax = be->alloc(sizeof(double));
        be->upload(a->dmax, &amax, sizeof amax);
        if (comm_nccl_allreduce_max(a->nccl, a->dmax, 1, cuda_stream_handle(), &err))
            check_failed("ncclAllReduce (gradient scale)", __FILE__, __LINE__, err.msg);
        be->download(&amax, a->dmax, sizeof amax);
    } else
#endif
        cl->max(cl->ctx, &amax, 1);
    if (!(amax <= DBL_MAX)) {  // an infinite element has no fixed-point value: NaN tells the learner to skip the step
        for (size_t i = 0; i < n; i++) grad[i] = NAN;
        return;
    }
    double scale = grad_fixed_scale(amax, n_shards);
    be->zero(a->acc, n * sizeof(int64_t));
    for (int k = 0; k < n_mine; k++) fixed_accumulate_cuda(a->acc, a->slots + (size_t)mine[k] * n, n, scale);
#ifdef MIGRATE_HAVE_NCCL
    if (a->nccl) {
        if (comm_nccl_allreduce_i64(a->nccl, a->acc, n, cuda_stream_handle(), &err))
            check_failed("ncclAllReduce (gradients)", __FILE__, __LINE__, err.msg);
    } else
#endif
    {
        int64_t *host = mallocCheck((n ? n : 1) * sizeof(int64_t));
        be->download(host, a->acc, n * sizeof(int64_t));
        cl->sum_i64(cl->ctx, host, n);
        be->upload(a->acc, host, n * sizeof(int64_t));
        free(host);
    }
    fixed_to_float_cuda(a->e.lora_grads, a->acc, n, scale);  // the engine's gradient buffer is free until the next backward
    be->download(grad, a->e.lora_grads, n * sizeof(float));
}

static int acc_generate(model_accel *base, model *m, const tokenizer *tok, int n, const int *const *prompts,
                        const int *prompt_lens, const uint64_t *seq_ids, const sampling_params *p, int max_batch,
                        completion *out, mg_err *e) {
    cuda_accel *a = (cuda_accel *)base;
    sync_adapter(a, m);
    return engine_generate(&a->e, tok, n, prompts, prompt_lens, seq_ids, p, max_batch, out, e);
}

static void acc_destroy(model_accel *base) {
    cuda_accel *a = (cuda_accel *)base;
    a->e.be->free(a->slots), a->e.be->free(a->acc), a->e.be->free(a->dmax);
#ifdef MIGRATE_HAVE_NCCL
    if (a->nccl) comm_nccl_free(a->nccl);
#endif
    engine_free(&a->e);
    free(a);
}

static const model_accel_ops k_ops = {"cuda",      acc_forward,       acc_backward, acc_zero_grad,
                                      acc_generate, acc_destroy, acc_backward_keep, acc_sum_kept};

int accel_cuda_device(int device) {
    if (device >= 0) return device;
    int n = cuda_device_count();
    return n > 0 ? mg_local_rank() % n : 0;
}

int accel_cuda_attach(model *m, int device, mg_dtype wt, mg_err *e) {
    char err[256];
    int dev = accel_cuda_device(device);
    if (cuda_init(dev, err, sizeof err)) return mg_fail(e, "engine.backend cuda: %s", err);
    cuda_accel *a = callocCheck(1, sizeof *a);
    a->base.ops = &k_ops;
    a->device = dev;
    lora_adapter *keep = m->lora;
    m->lora = NULL;  // weights only: the adapter goes up at every call (sync_adapter)
    int rc = engine_create(&a->e, m, mg_backend_cuda(), wt, e);
    m->lora = keep;
    if (rc) {
        free(a);
        return -1;
    }
    m->accel = &a->base;
    model_drop_host_weights(m);  // the device has them; the host copy would cost 4 bytes per parameter per rank
    return 0;
}

int accel_cuda_keep_grads(model *m, int keep) {
    if (!m->accel || m->accel->ops != &k_ops) return -1;
    m->accel->keeps_grads = keep;
    return 0;
}

int accel_cuda_use_nccl(model *m, const unsigned char *id, int nranks, int rank, mg_err *e) {
    if (!m->accel || m->accel->ops != &k_ops) return mg_fail(e, "NCCL: the model does not run on the CUDA backend");
#ifdef MIGRATE_HAVE_NCCL
    cuda_accel *a = (cuda_accel *)m->accel;
    comm_nccl *c;
    if (comm_nccl_init_rank(&c, id, nranks, rank, a->device, e)) return -1;
    if (a->nccl) comm_nccl_free(a->nccl);
    a->nccl = c;
    a->base.keeps_grads = 1;
    return 0;
#else
    (void)id, (void)nranks, (void)rank;
    return mg_fail(e, "NCCL: this migrate was built without NCCL (libnccl-dev missing at build time)");
#endif
}
