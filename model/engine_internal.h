// Shared by the engine's two files (engine.c: weights, adapter, training; engine_decode.c: KV cache, steps,
// generation). Not part of the engine's API.
#pragma once
#include "model/engine.h"
#include "model/model_internal.h"

#define BE (e->be)

// The adapter is present and switched on.
int engine_lora_live(const engine *e);
// The adapter is live on module k (0..6: q, k, v, o, gate, up, down).
int engine_lora_on(const engine *e, int module);
// One linear layer with its adapter when live: out (N, OC) = inp @ W^T + b (+ scale (inp A^T) B^T), h (N, R) = inp A^T.
void engine_linear(engine *e, int l, int k, float *out, float *h, const float *inp, int N, int batch_invariant);
// Its adapter part alone, if module k of layer l has one: out (N, ldo) += scale (inp A^T) B^T, ldo >= OC (a
// module's columns of a fused q|k|v or gate|up output).
void engine_lora_add(engine *e, int l, int k, float *out, int ldo, float *h, const float *inp, int N,
                     int batch_invariant);
// Refuses a model shape the engine cannot run, or bf16 weights on the CPU table.
int engine_check_shape(const hf_config *c, const mg_backend *be, mg_dtype wt, mg_err *err);
// Frees what the engine holds of its adapter (a wrapped engine's values and gradients are the model's).
void engine_adapter_free(engine *e);
// Frees the kept shard gradients (engine_grad_keep).
void engine_grads_free(engine *e);
// Backend memory for one phase's buffers: decoding (training = 0: the KV cache and step buffers) or training
// (training = 1: the activations). The phases alternate, so when the bytes do not fit beside the other phase's
// buffers (try_alloc fails), those are freed (made again when that phase comes back) and the allocation is made
// once more, failing as BE->alloc does. On an 80 GB GPU an 8B model's decode buffers for 16 x 5k tokens (42 GB)
// and its training activations for 5k tokens (47 GB) fit one at a time beside the weights, not together.
void *engine_phase_alloc(engine *e, size_t bytes, int training);
// Frees the training activations (engine.c; made again by the next forward).
void engine_acts_free(engine *e);
// Bytes the engine allocates, from the layouts it allocates with (engine_memory.c adds them up for a shape):
// the weights (matrices in wt, vectors fp32); one training batch of `tokens` packed tokens whose non-prefix
// sequences expand to expanded_rows key rows (0 without shared prefixes); one decode step of n tokens and nw
// wanted rows (its buffers and inputs; lora_rank 0 = no adapter).
size_t engine_weight_bytes(const hf_config *c, mg_dtype wt);
size_t engine_train_bytes(const hf_config *c, const lora_config *lc, int tokens, int expanded_rows);
size_t engine_step_bytes(const hf_config *c, mg_dtype wt, int lora_rank, int n, int nw);
// A device engine (model_use_backend) takes the model's current adapter (engine_device.c).
void engine_device_sync(engine *e, const model *m);
// The first position a query at position pos attends to: 0, or with a sliding window of W the last W positions up
// to its own (keys j with pos - j < W, as transformers masks them).
static inline int engine_window_from(const hf_config *c, int pos) {
    int w = c->sliding_window;
    return w > 0 && pos + 1 > w ? pos + 1 - w : 0;
}
