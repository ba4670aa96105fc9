// Shared between the model's .c files; not part of the public API.
#pragma once
#include "model/model.h"

// Per-module shapes (in, out) of the seven linear layers, indexed like lora_module_names.
void linear_shape(const hf_config *c, int module, int *in, int *out);
// The LoRA pieces of one module of one layer, or NULL A when the module is not adapted (or adapters are off).
int lora_active(const model *m, int module);
// One linear layer of layer l with its adapter when active: out (N, OC) = inp @ W^T + b (+ scale inp A^T B^T).
// h (N, R) receives inp @ A^T for the backward pass. batch_invariant selects the fixed-order GEMMs (inference).
void linear_forward(const model *m, int l, int module, float *out, float *h, const float *inp, const float *W,
                    const float *b, int N, int batch_invariant);
// Modules of layer l that read the same input (q, k, v; gate, up), for inference: the base products in one pass
// of the threads, then each adapter; every value equals linear_forward(..., batch_invariant = 1)'s.
void linear_forward_invariant_group(const model *m, int l, int n, const int *modules, float *const *outs,
                                    const float *const *W, const float *const *b, float *h, const float *inp, int N);
