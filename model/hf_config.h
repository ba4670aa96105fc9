// Hugging Face model configuration: config.json (+ generation_config.json for EOS ids).
#pragma once
#include "common/error.h"

typedef enum { ARCH_LLAMA = 0, ARCH_QWEN2 = 1, ARCH_MISTRAL = 2 } model_arch;

#define HF_MAX_EOS 8

typedef struct {
    model_arch arch;
    char architecture[64];  // e.g. "LlamaForCausalLM", as written in config.json
    int vocab_size;
    int hidden_size;         // C
    int intermediate_size;   // F
    int num_hidden_layers;   // L
    int num_attention_heads; // Hq
    int num_key_value_heads; // Hkv (defaults to Hq)
    int head_dim;            // D (defaults to hidden_size / num_attention_heads)
    int max_position_embeddings;
    float rms_norm_eps;
    double rope_theta;
    // rope_scaling {"rope_type"|"type": "llama3", ...}; other types are refused at load time
    int rope_llama3;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_position_embeddings;
    int tie_word_embeddings;
    int attention_bias;  // q/k/v biases (Qwen2 always; Llama when attention_bias=true; o_proj too for Llama)
    int o_proj_bias;     // Llama's attention_bias also adds an o_proj bias; Qwen2 has none there
    int mlp_bias;        // Llama mlp_bias
    int sliding_window;  // 0 = none (Mistral/Qwen2 when enabled)
    int bos_token_id;    // -1 if absent
    int eos_token_ids[HF_MAX_EOS];
    int n_eos;
    int pad_token_id;    // -1 if absent
} hf_config;

// Reads <dir>/config.json and, when present, <dir>/generation_config.json (whose eos_token_id wins).
// Errors name the file and the key: "tests/x/config.json: key 'hidden_size' must be a positive integer".
int hf_config_load(hf_config *c, const char *dir, mg_err *e);
// Same, from JSON text in memory (name is used in messages). gen_json may be NULL.
int hf_config_parse(hf_config *c, const char *json, size_t len, const char *gen_json, size_t gen_len,
                    const char *name, mg_err *e);
// Writes <dir>/config.json (+ generation_config.json) in the form transformers reads back.
int hf_config_write(const hf_config *c, const char *dir, mg_err *e);
