// The CUDA engine behind a model (kernels/cuda/accel.h). The host keeps the adapter the loop steps; each call
// uploads it (n x 4 bytes: 0.2 GB for rank-64 LoRA on an 8B model, ~10 ms over PCIe), so every writer of the
// adapter (optimizer, checkpoint resume, publication from the learners, PEFT load) is seen without bookkeeping.
#include "kernels/cuda/accel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/local_rank.h"
#include "kernels/cuda/engine.h"
#include "kernels/cuda/ops_cuda.h"
#include "model/accel.h"

typedef struct {
    model_accel base;  // first: a model_accel * is a cuda_accel *
    engine e;
    int has_lora;      // the engine holds an adapter of shape cfg
    lora_config cfg;
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

static int acc_generate(model_accel *base, model *m, const tokenizer *tok, int n, const int *const *prompts,
                        const int *prompt_lens, const uint64_t *seq_ids, const sampling_params *p, int max_batch,
                        completion *out, mg_err *e) {
    cuda_accel *a = (cuda_accel *)base;
    sync_adapter(a, m);
    return engine_generate(&a->e, tok, n, prompts, prompt_lens, seq_ids, p, max_batch, out, e);
}

static void acc_destroy(model_accel *base) {
    cuda_accel *a = (cuda_accel *)base;
    engine_free(&a->e);
    free(a);
}

static const model_accel_ops k_ops = {"cuda", acc_forward, acc_backward, acc_zero_grad, acc_generate, acc_destroy};

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
