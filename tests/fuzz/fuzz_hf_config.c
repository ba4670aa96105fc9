// libFuzzer target: config.json text, optionally followed by a NUL byte and a generation_config.json text.
// Whatever hf_config_parse accepts must satisfy the invariants the model code relies on.
#include <stdint.h>
#include <string.h>

#include "model/hf_config.h"

#include "tests/fuzz/fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    const char *nul = memchr(text, 0, size);
    size_t len = nul ? (size_t)(nul - text) : size;
    const char *gen = nul ? nul + 1 : NULL;
    size_t gen_len = nul ? size - len - 1 : 0;
    hf_config c;
    mg_err e = {{0}};
    if (hf_config_parse(&c, text, len, gen, gen_len, "fuzz/config.json", &e) != 0) {
        require(e.msg[0] && strchr(e.msg, '\n') == NULL && strncmp(e.msg, "fuzz/", 5) == 0);
        return 0;
    }
    require(c.arch == ARCH_LLAMA || c.arch == ARCH_QWEN2 || c.arch == ARCH_MISTRAL);
    require(c.vocab_size > 0 && c.hidden_size > 0 && c.intermediate_size > 0 && c.num_hidden_layers > 0);
    require(c.num_attention_heads > 0 && c.num_key_value_heads > 0);
    require(c.num_attention_heads % c.num_key_value_heads == 0);
    require(c.head_dim > 0 && c.head_dim % 2 == 0 && c.max_position_embeddings > 0);
    require(c.rms_norm_eps > 0 && c.rope_theta > 0 && c.sliding_window >= 0);
    if (c.rope_llama3)
        require(c.rope_factor > 0 && c.rope_high_freq_factor > c.rope_low_freq_factor &&
                c.rope_original_max_position_embeddings > 0);
    require(c.n_eos >= 0 && c.n_eos <= HF_MAX_EOS);
    for (int i = 0; i < c.n_eos; i++) require(c.eos_token_ids[i] >= 0 && c.eos_token_ids[i] < c.vocab_size);
    require(c.bos_token_id >= -1 && c.bos_token_id < c.vocab_size && c.pad_token_id >= -1);
    require(memchr(c.architecture, 0, sizeof c.architecture) != NULL);
    return 0;
}
