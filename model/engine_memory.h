// What a search's shape costs in engine memory on a device, from the engine's own buffer layouts (weights, adapter
// and optimizer, kept shard gradients, the KV cache and step buffers of sampling, one shard's training
// activations): `migrate inspect-model DIR --memory ...` prints it, so a user sees whether a job fits a GPU
// before it runs. The CUDA context, cuBLAS workspaces and allocator slack come on top.
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "kernels/backend.h"
#include "model/hf_config.h"
#include "model/model.h"

typedef struct {
    int samples;            // completions drawn per iteration after one prompt (the group)
    int prompt, completion; // tokens
    int members_per_shard;  // training.members_per_shard
    lora_config lora;       // rank 0: no adapter
    mg_dtype wt;            // weights on the device
} memory_shape;

typedef struct {
    double weights, adapter, kept_grads;       // resident for the whole run
    double kv_cache, step_buffers;             // sampling (largest step: every prompt, or one when shared)
    double train_acts;                         // training: one shard
    int step_tokens, shard_tokens, shards;
    double peak;  // resident + the larger phase (sampling and training buffers alternate: engine_phase_alloc)
} memory_plan;

// sharing: prompts shared in sampling (sampling.share_prefix) and in training (training.share_prefix).
void engine_memory_plan(const hf_config *c, const memory_shape *s, int sharing, memory_plan *p);
// The two plans (sharing off, on) side by side.
void engine_memory_print(FILE *f, const hf_config *c, const memory_shape *s);
