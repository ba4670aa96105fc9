// config.json parsing: real-world shapes of Llama-3.x, Qwen2.5 and Mistral configs (4.x and 5.x styles),
// transformers' defaults, generation_config.json's eos ids, write -> load round trips, and every kind of bad key.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/hf_config.h"
#include "testing.h"

static const char *k_name = "models/x/config.json";

static int parse(hf_config *c, const char *json, const char *gen, mg_err *e) {
    return hf_config_parse(c, json, strlen(json), gen, gen ? strlen(gen) : 0, k_name, e);
}

// Must fail; the message must name the file and contain `what`.
static void expect_bad(const char *json, const char *gen, const char *what, const char *label) {
    hf_config c;
    mg_err e = {{0}};
    int rc = parse(&c, json, gen, &e);
    if (getenv("TEST_VERBOSE")) printf("  %-34s -> %s\n", label, e.msg);
    CHECK(rc == -1, "%s: accepted", label);
    CHECK(strstr(e.msg, gen ? "models/x/" : k_name) != NULL, "%s: message lacks the file: %s", label, e.msg);
    CHECK(strstr(e.msg, what) != NULL, "%s: message lacks '%s': %s", label, what, e.msg);
    CHECK(strchr(e.msg, '\n') == NULL, "%s: not one line", label);
}

// Llama-3.2-1B-Instruct's config.json, as published (transformers 4.x style).
static const char *k_llama32 =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0,"
    " \"bos_token_id\": 128000, \"eos_token_id\": [128001, 128008, 128009], \"head_dim\": 64,"
    " \"hidden_act\": \"silu\", \"hidden_size\": 2048, \"initializer_range\": 0.02, \"intermediate_size\": 8192,"
    " \"max_position_embeddings\": 131072, \"mlp_bias\": false, \"model_type\": \"llama\","
    " \"num_attention_heads\": 32, \"num_hidden_layers\": 16, \"num_key_value_heads\": 8, \"pretraining_tp\": 1,"
    " \"rms_norm_eps\": 1e-05, \"rope_scaling\": {\"factor\": 32.0, \"high_freq_factor\": 4.0,"
    " \"low_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"},"
    " \"rope_theta\": 500000.0, \"tie_word_embeddings\": true, \"torch_dtype\": \"bfloat16\","
    " \"transformers_version\": \"4.45.0.dev0\", \"use_cache\": true, \"vocab_size\": 128256}";

// Qwen2.5-0.5B-Instruct's config.json.
static const char *k_qwen25 =
    "{\"architectures\": [\"Qwen2ForCausalLM\"], \"attention_dropout\": 0.0, \"bos_token_id\": 151643,"
    " \"eos_token_id\": 151645, \"hidden_act\": \"silu\", \"hidden_size\": 896, \"initializer_range\": 0.02,"
    " \"intermediate_size\": 4864, \"max_position_embeddings\": 32768, \"max_window_layers\": 21,"
    " \"model_type\": \"qwen2\", \"num_attention_heads\": 14, \"num_hidden_layers\": 24, \"num_key_value_heads\": 2,"
    " \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"sliding_window\": 32768, \"tie_word_embeddings\": true,"
    " \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.43.1\", \"use_cache\": true,"
    " \"use_sliding_window\": false, \"vocab_size\": 151936}";

// Mistral-7B-v0.1's config.json.
static const char *k_mistral =
    "{\"architectures\": [\"MistralForCausalLM\"], \"bos_token_id\": 1, \"eos_token_id\": 2,"
    " \"hidden_act\": \"silu\", \"hidden_size\": 4096, \"initializer_range\": 0.02, \"intermediate_size\": 14336,"
    " \"max_position_embeddings\": 32768, \"model_type\": \"mistral\", \"num_attention_heads\": 32,"
    " \"num_hidden_layers\": 32, \"num_key_value_heads\": 8, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0,"
    " \"sliding_window\": 4096, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\","
    " \"use_cache\": true, \"vocab_size\": 32000}";

// `base` with `key`'s value replaced by `value`, added when absent, or the key dropped when value is NULL.
static const char *with(const char *base, const char *key, const char *value) {
    static char buf[4][4096];
    static int k;
    char *out = buf[k++ % 4], pat[128];  // base may be an earlier result: 4 buffers in rotation
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = strstr(base, pat);
    if (!at) {
        snprintf(out, 4096, "%.*s, \"%s\": %s}", (int)strlen(base) - 1, base, key, value);
        return out;
    }
    const char *end = at + strlen(pat);  // end of the value: the ',' or '}' at nesting depth 0
    for (int depth = 0; *end && (depth > 0 || (*end != ',' && *end != '}')); end++)
        depth += (*end == '{' || *end == '[') - (*end == '}' || *end == ']');
    if (value)
        snprintf(out, 4096, "%.*s%s%s%s", (int)(at - base), base, pat, value, end);
    else if (*end == ',')
        snprintf(out, 4096, "%.*s%s", (int)(at - base), base, end + 2);
    else  // last key: drop the ", " before it
        snprintf(out, 4096, "%.*s%s", (int)(at - base) - 2, base, end);
    return out;
}
static const char *llama_with(const char *key, const char *value) { return with(k_llama32, key, value); }

static void test_llama3(void) {
    hf_config c;
    mg_err e = {{0}};
    CHECK(parse(&c, k_llama32, NULL, &e) == 0, "llama3.2: %s", e.msg);
    CHECK(c.arch == ARCH_LLAMA && strcmp(c.architecture, "LlamaForCausalLM") == 0, "arch");
    CHECK(c.vocab_size == 128256 && c.hidden_size == 2048 && c.intermediate_size == 8192, "sizes");
    CHECK(c.num_hidden_layers == 16 && c.num_attention_heads == 32 && c.num_key_value_heads == 8, "heads");
    CHECK(c.head_dim == 64 && c.max_position_embeddings == 131072, "head_dim %d", c.head_dim);
    CHECK(c.rms_norm_eps == 1e-5f && c.rope_theta == 500000.0, "eps %g theta %g", c.rms_norm_eps, c.rope_theta);
    CHECK(c.rope_llama3 == 1 && c.rope_factor == 32.0 && c.rope_low_freq_factor == 1.0 &&
              c.rope_high_freq_factor == 4.0 && c.rope_original_max_position_embeddings == 8192,
          "llama3 rope");
    CHECK(c.tie_word_embeddings == 1 && c.attention_bias == 0 && c.o_proj_bias == 0 && c.mlp_bias == 0, "flags");
    CHECK(c.sliding_window == 0 && c.bos_token_id == 128000 && c.pad_token_id == -1, "ids");
    CHECK(c.n_eos == 3 && c.eos_token_ids[0] == 128001 && c.eos_token_ids[2] == 128009, "eos list");
    // generation_config.json's eos_token_id wins; a null one does not.
    CHECK(parse(&c, k_llama32, "{\"eos_token_id\": 128009, \"do_sample\": true}", &e) == 0, "gen: %s", e.msg);
    CHECK(c.n_eos == 1 && c.eos_token_ids[0] == 128009, "gen eos wins");
    CHECK(parse(&c, k_llama32, "{\"eos_token_id\": null}", &e) == 0 && c.n_eos == 3, "null gen eos ignored");
    CHECK(parse(&c, k_llama32, "{}", &e) == 0 && c.n_eos == 3, "gen without eos");

    // transformers 5.x writes rope_parameters (with rope_theta inside) instead of rope_theta + rope_scaling.
    const char *v5 = "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": 100,"
                     " \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
                     " \"num_attention_heads\": 4, \"bos_token_id\": null, \"max_position_embeddings\": 1024,"
                     " \"rope_parameters\": {\"rope_theta\": 500000.0, \"rope_type\": \"llama3\", \"factor\": 8,"
                     " \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0}}";
    CHECK(parse(&c, v5, NULL, &e) == 0, "v5 rope_parameters: %s", e.msg);
    CHECK(c.rope_theta == 500000.0 && c.rope_llama3 && c.rope_factor == 8.0, "v5 rope values");
    CHECK(c.rope_original_max_position_embeddings == 1024, "original_max_position_embeddings falls back");
    CHECK(c.bos_token_id == -1, "bos null -> -1");
    const char *v5_default = "{\"model_type\": \"llama\", \"vocab_size\": 100, \"hidden_size\": 64,"
                             " \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
                             " \"rope_scaling\": {\"type\": \"default\"}, \"rope_parameters\": {\"rope_theta\": 7.0,"
                             " \"rope_type\": \"default\"}, \"attention_bias\": true, \"mlp_bias\": true}";
    CHECK(parse(&c, v5_default, NULL, &e) == 0, "rope type default: %s", e.msg);
    CHECK(c.rope_llama3 == 0 && c.rope_theta == 10000.0, "rope_scaling wins over rope_parameters: %g", c.rope_theta);
    CHECK(c.attention_bias && c.o_proj_bias && c.mlp_bias, "Llama attention_bias covers o_proj too");
    CHECK(strcmp(c.architecture, "LlamaForCausalLM") == 0, "class from model_type");
}

static void test_defaults(void) {
    // A minimal Llama config: every default comes from LlamaConfig.
    const char *min = "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 32000, \"hidden_size\": 256,"
                      " \"intermediate_size\": 512, \"num_hidden_layers\": 2, \"num_attention_heads\": 8}";
    hf_config c;
    mg_err e = {{0}};
    CHECK(parse(&c, min, NULL, &e) == 0, "minimal: %s", e.msg);
    CHECK(c.num_key_value_heads == 8 && c.head_dim == 32 && c.max_position_embeddings == 2048, "size defaults");
    CHECK(c.rope_theta == 10000.0 && c.rms_norm_eps == 1e-6f && c.rope_llama3 == 0, "rope/eps defaults");
    CHECK(c.tie_word_embeddings == 0 && c.attention_bias == 0 && c.mlp_bias == 0 && c.sliding_window == 0, "flags");
    CHECK(c.bos_token_id == 1 && c.n_eos == 1 && c.eos_token_ids[0] == 2 && c.pad_token_id == -1, "LlamaConfig ids");
    // Default ids a tiny vocabulary cannot hold are dropped rather than handed to the sampler.
    const char *tiny = "{\"model_type\": \"llama\", \"vocab_size\": 2, \"hidden_size\": 8, \"intermediate_size\": 8,"
                       " \"num_hidden_layers\": 1, \"num_attention_heads\": 2}";
    CHECK(parse(&c, tiny, NULL, &e) == 0 && c.bos_token_id == 1 && c.n_eos == 0, "tiny vocab: %s", e.msg);
    // num_key_value_heads: null means "same as num_attention_heads".
    const char *nullkv = "{\"model_type\": \"mistral\", \"vocab_size\": 32000, \"hidden_size\": 256,"
                         " \"intermediate_size\": 512, \"num_hidden_layers\": 2, \"num_attention_heads\": 16,"
                         " \"num_key_value_heads\": null, \"head_dim\": null}";
    CHECK(parse(&c, nullkv, NULL, &e) == 0 && c.num_key_value_heads == 16 && c.head_dim == 16, "null kv: %s",
          e.msg);
    CHECK(c.sliding_window == 4096 && c.max_position_embeddings == 131072, "MistralConfig defaults");
}

static void test_qwen2(void) {
    hf_config c;
    mg_err e = {{0}};
    CHECK(parse(&c, k_qwen25, "{\"bos_token_id\": 151643, \"eos_token_id\": [151645, 151643]}", &e) == 0, "qwen: %s",
          e.msg);
    CHECK(c.arch == ARCH_QWEN2 && strcmp(c.architecture, "Qwen2ForCausalLM") == 0, "arch");
    CHECK(c.hidden_size == 896 && c.num_attention_heads == 14 && c.num_key_value_heads == 2 && c.head_dim == 64,
          "sizes");
    CHECK(c.rope_theta == 1e6 && c.rms_norm_eps == 1e-6f && c.rope_llama3 == 0, "rope");
    CHECK(c.attention_bias == 1 && c.o_proj_bias == 0 && c.mlp_bias == 0, "Qwen2 biases: qkv yes, o_proj no");
    CHECK(c.tie_word_embeddings == 1 && c.sliding_window == 0, "tied, no window (use_sliding_window false)");
    CHECK(c.bos_token_id == 151643 && c.n_eos == 2 && c.eos_token_ids[0] == 151645, "ids");

    // Sliding window: on every layer (max_window_layers 0 or layer_types) is supported; a mix is not.
    const char *on = with(k_qwen25, "use_sliding_window", "true");
    CHECK(parse(&c, with(on, "max_window_layers", "0"), NULL, &e) == 0 && c.sliding_window == 32768, "window: %s",
          e.msg);
    expect_bad(on, NULL, "3 of 24 layers", "qwen2 partial sliding window");
    CHECK(parse(&c, with(on, "max_window_layers", "24"), NULL, &e) == 0 && c.sliding_window == 0, "no layer: %s",
          e.msg);
    CHECK(parse(&c, with(with(on, "max_window_layers", "0"), "sliding_window", "null"), NULL, &e) == 0 &&
              c.sliding_window == 0,
          "null window: %s", e.msg);
    const char *lt = "{\"model_type\": \"qwen2\", \"vocab_size\": 100, \"hidden_size\": 64, \"intermediate_size\": 128,"
                     " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
                     " \"use_sliding_window\": true, \"layer_types\": [\"sliding_attention\", \"sliding_attention\"]}";
    CHECK(parse(&c, lt, NULL, &e) == 0 && c.sliding_window == 4096, "layer_types: %s", e.msg);
    CHECK(c.bos_token_id == -1 && c.n_eos == 0 && c.max_position_embeddings == 32768, "Qwen2Config id defaults");
    // Qwen2Config's num_key_value_heads default is 32, not num_attention_heads.
    const char *nokv = "{\"model_type\": \"qwen2\", \"vocab_size\": 100, \"hidden_size\": 2048,"
                       " \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 64}";
    CHECK(parse(&c, nokv, NULL, &e) == 0 && c.num_key_value_heads == 32, "qwen kv default: %s", e.msg);
}

static void test_mistral(void) {
    hf_config c;
    mg_err e = {{0}};
    CHECK(parse(&c, k_mistral, NULL, &e) == 0, "mistral: %s", e.msg);
    CHECK(c.arch == ARCH_MISTRAL && c.sliding_window == 4096 && c.num_key_value_heads == 8 && c.head_dim == 128,
          "mistral fields");
    CHECK(c.attention_bias == 0 && c.o_proj_bias == 0 && c.bos_token_id == 1 && c.eos_token_ids[0] == 2, "mistral");
    CHECK(parse(&c, with(k_mistral, "sliding_window", "null"), NULL, &e) == 0 && c.sliding_window == 0,
          "null window: %s", e.msg);
}

// Values the engine does not compute are refused by key, never run as something else; the values it does
// compute (and ones that do not change the model) pass.
static void test_refused_values(void) {
    expect_bad(llama_with("hidden_act", "\"gelu\""), NULL, "key 'hidden_act' is 'gelu': the engine's MLP is SwiGLU",
               "gelu activation");
    expect_bad(llama_with("hidden_act", "\"gelu_pytorch_tanh\""), NULL, "'gelu_pytorch_tanh'", "tanh gelu");
    expect_bad(llama_with("hidden_act", "3"), NULL, "key 'hidden_act' must be a string", "activation not a string");
    expect_bad(llama_with("attention_dropout", "0.1"), NULL, "key 'attention_dropout' is 0.1", "attention dropout");
    expect_bad(llama_with("attention_dropout", "\"0\""), NULL, "'attention_dropout' must be a number",
               "dropout string");
    expect_bad(llama_with("partial_rotary_factor", "0.5"), NULL, "key 'partial_rotary_factor'", "partial rotary");
    hf_config c;
    mg_err e = {{0}};
    const char *fine[][2] = {{"hidden_act", "\"swish\""}, {"hidden_act", "null"}, {"attention_dropout", "0.0"},
                             {"attention_dropout", "0"}, {"partial_rotary_factor", "1.0"}, {"pretraining_tp", "2"}};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        CHECK(parse(&c, llama_with(fine[i][0], fine[i][1]), NULL, &e) == 0, "%s: %s accepted: %s", fine[i][0],
              fine[i][1], e.msg);
}

static void test_bad(void) {
    expect_bad(llama_with("architectures", "[\"GPT2LMHeadModel\"]"), NULL,
               "unsupported architecture 'GPT2LMHeadModel' (supported: LlamaForCausalLM, Qwen2ForCausalLM, "
               "MistralForCausalLM)",
               "unknown architecture");
    expect_bad("{\"model_type\": \"gemma\", \"hidden_size\": 8}", NULL, "unsupported architecture 'gemma'",
               "unknown model_type");
    expect_bad(llama_with("model_type", "\"qwen2\""), NULL, "does not match", "architecture vs model_type");
    expect_bad("{\"hidden_size\": 8}", NULL, "neither", "no architecture at all");
    expect_bad(llama_with("hidden_size", NULL), NULL, "key 'hidden_size' is missing", "missing hidden_size");
    expect_bad(llama_with("vocab_size", NULL), NULL, "'vocab_size'", "missing vocab_size");
    expect_bad(llama_with("hidden_size", "\"2048\""), NULL, "key 'hidden_size' must be a positive integer",
               "hidden_size is a string");
    expect_bad(llama_with("hidden_size", "2048.5"), NULL, "'hidden_size'", "hidden_size is a real");
    expect_bad(llama_with("num_hidden_layers", "0"), NULL, "'num_hidden_layers' must be a positive", "zero layers");
    expect_bad(llama_with("intermediate_size", "-5"), NULL, "'intermediate_size'", "negative size");
    expect_bad(llama_with("vocab_size", "4294967296"), NULL, "'vocab_size'", "size beyond int");
    expect_bad(llama_with("num_key_value_heads", "7"), NULL, "not a multiple of num_key_value_heads (7)",
               "heads not dividing");
    expect_bad(llama_with("head_dim", "63"), NULL, "'head_dim' (63) must be even", "odd head_dim");
    expect_bad(llama_with("rms_norm_eps", "0"), NULL, "'rms_norm_eps' must be a positive", "zero eps");
    expect_bad(llama_with("rms_norm_eps", "\"1e-5\""), NULL, "'rms_norm_eps'", "eps string");
    expect_bad(llama_with("rope_theta", "-1"), NULL, "'rope_theta'", "negative theta");
    expect_bad(llama_with("tie_word_embeddings", "1"), NULL, "'tie_word_embeddings' must be true or false",
               "bool as int");
    expect_bad(llama_with("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4.0}"), NULL,
               "rope_scaling type 'yarn' is not supported", "unknown rope type");
    expect_bad(llama_with("rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}"), NULL, "type 'linear'",
               "linear rope (old 'type' key)");
    expect_bad(llama_with("rope_scaling", "{\"type\": \"dynamic\", \"factor\": 2.0}"), NULL, "'dynamic'",
               "dynamic rope");
    expect_bad(llama_with("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8.0}"), NULL,
               "'rope_scaling.low_freq_factor' is missing", "llama3 without its factors");
    expect_bad(llama_with("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 4,"
                                          " \"high_freq_factor\": 4}"),
               NULL, "high_freq_factor", "llama3 high == low");
    expect_bad(llama_with("rope_scaling", "[1]"), NULL, "'rope_scaling' must be an object", "rope_scaling list");
    expect_bad(llama_with("rope_scaling", "{\"rope_type\": 3}"), NULL, "rope_type", "rope_type not a string");
    expect_bad(llama_with("eos_token_id", "\"</s>\""), NULL, "'eos_token_id' must be an integer", "eos string");
    expect_bad(llama_with("eos_token_id", "[1, 2, 3, 4, 5, 6, 7, 8, 9]"), NULL, "at most 8", "eos list too long");
    expect_bad(llama_with("eos_token_id", "[128001, 999999]"), NULL, "outside the vocabulary", "eos beyond vocab");
    expect_bad(llama_with("bos_token_id", "-3"), NULL, "'bos_token_id'", "negative bos");
    expect_bad(llama_with("architectures", "\"LlamaForCausalLM\""), NULL, "'architectures' must be a list",
               "architectures not a list");
    expect_bad(llama_with("quantization_config", "{\"quant_method\": \"gptq\"}"), NULL, "quantized", "quantized");
    expect_bad(k_llama32, "{\"eos_token_id\": \"x\"}", "generation_config.json: key 'eos_token_id'",
               "bad generation_config eos");
    expect_bad(k_llama32, "{\"eos_token_id\": [1,", "generation_config.json: not valid JSON", "gen not JSON");
    expect_bad("{\"architectures\": [\"LlamaForCausalLM\"], ", NULL, "not valid JSON", "config not JSON");
    expect_bad("[1, 2]", NULL, "not a JSON object", "config is a list");
    expect_bad("", NULL, "not valid JSON", "empty config");
    expect_bad("{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 100, \"intermediate_size\": 8,"
               " \"num_hidden_layers\": 1, \"num_attention_heads\": 3}",
               NULL, "'hidden_size' (100) is not a multiple of num_attention_heads (3)", "hidden % heads");
}

static void test_load_write(void) {
    char dir[] = "/tmp/test_hf_config_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char path[256], gpath[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(gpath, sizeof gpath, "%s/generation_config.json", dir);
    hf_config c, back;
    mg_err e = {{0}};
    CHECK(hf_config_load(&c, dir, &e) == -1 && strstr(e.msg, path) && strstr(e.msg, "No such file"),
          "missing config.json: %s", e.msg);
    FILE *f = fopen(path, "w");
    fputs(k_llama32, f);
    fclose(f);
    CHECK(hf_config_load(&c, dir, &e) == 0 && c.n_eos == 3, "load without generation config: %s", e.msg);
    f = fopen(gpath, "w");
    fputs("{\"bos_token_id\": 128000, \"eos_token_id\": [128001, 128009]}", f);
    fclose(f);
    CHECK(hf_config_load(&c, dir, &e) == 0 && c.n_eos == 2 && c.eos_token_ids[1] == 128009, "load: %s", e.msg);
    f = fopen(gpath, "w");
    fputs("{\"eos_token_id\": [1", f);
    fclose(f);
    CHECK(hf_config_load(&c, dir, &e) == -1 && strstr(e.msg, gpath), "bad generation config: %s", e.msg);

    // write -> load gives back the same struct, for each architecture.
    const char *srcs[] = {k_llama32, k_qwen25, k_mistral};
    for (int i = 0; i < 3; i++) {
        CHECK(parse(&c, srcs[i], NULL, &e) == 0, "parse %d: %s", i, e.msg);
        if (i == 1) c.pad_token_id = 151643;
        CHECK(hf_config_write(&c, dir, &e) == 0, "write %d: %s", i, e.msg);
        CHECK(hf_config_load(&back, dir, &e) == 0, "reload %d: %s", i, e.msg);
        CHECK(memcmp(&c, &back, sizeof c) == 0, "round trip %d differs", i);
    }
    // An explicit all-layers window for Qwen2 survives too.
    CHECK(parse(&c, k_qwen25, NULL, &e) == 0, "qwen");
    c.sliding_window = 1024;
    CHECK(hf_config_write(&c, dir, &e) == 0 && hf_config_load(&back, dir, &e) == 0, "qwen window: %s", e.msg);
    CHECK(back.sliding_window == 1024, "qwen window round trip %d", back.sliding_window);
    CHECK(hf_config_write(&c, "/nonexistent/dir", &e) == -1 && strstr(e.msg, "/nonexistent/dir"), "bad dir: %s",
          e.msg);
    unlink(path);
    unlink(gpath);
    CHECK(rmdir(dir) == 0, "temp dir not empty");
}

int main(void) {
    test_llama3();
    test_defaults();
    test_qwen2();
    test_mistral();
    test_bad();
    test_refused_values();
    test_load_write();
    return test_summary("test_hf_config");
}
