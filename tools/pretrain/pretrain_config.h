// Configuration of `migrate pretrain`: a YAML file read with the same schema engine as the run config.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "tools/pretrain/pretrainer.h"

typedef struct {
    char path[1024];            // the YAML file (for messages)
    char *text;                 // its text as read
    char model_config[1024];    // HF config.json giving the model's shape (architectures, sizes, token ids)
    char tokenizer[1024];       // folder with tokenizer.json (+ tokenizer_config.json); copied into output_dir
    char corpus[1024];          // JSON lines {"text": ...}
    char valid[1024];           // held-out JSON lines; "" = no validation
    char init_from[1024];       // HF model folder whose weights start the training; "" = random init (seed)
    char output_dir[1024];      // the HF model folder written (and rewritten every save_every steps)
    char save_dtype[8];         // "bf16" | "f32"
    uint64_t seed;              // weight init and document order
    int threads;                // 0 = all cores
    pretrain_params train;      // YAML group `training:` (steps, batch_tokens, learning_rate, min_learning_rate,
                                // warmup_steps, weight_decay, adam_beta1, adam_beta2, max_grad_norm,
                                // eval_every, save_every); train.seed mirrors seed
} pretrain_config;

void pretrain_config_defaults(pretrain_config *c);
// Same error contract as run_config_load: "FILE:LINE: ..." naming the key; --set overrides with dotted keys.
int pretrain_config_load(pretrain_config *c, const char *path, const char *const *overrides, int n_overrides,
                         mg_err *e);
int pretrain_config_parse(pretrain_config *c, const char *yaml, size_t len, const char *name,
                          const char *const *overrides, int n_overrides, mg_err *e);
void pretrain_config_free(pretrain_config *c);
void pretrain_config_dump(const pretrain_config *c, FILE *f);
