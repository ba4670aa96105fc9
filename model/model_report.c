// What the engine will run for a model folder, in words (`migrate inspect-model`): the architecture as parsed,
// every key of config.json with what the engine made of it, the keys it ignores because they do not change the
// computation, the keys it does not read at all, the weights' files and types, the tokenizer and the chat format.
// So a user sees a mismatch before a search, not after.
#include "model/model_report.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "model/chat.h"
#include "model/engine.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "model/tokenizer.h"

// Keys the parser reads (model/hf_config.c), for every supported class.
static const char *const READ[] = {
    "architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
    "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings", "rms_norm_eps",
    "rope_theta", "rope_scaling", "rope_parameters", "tie_word_embeddings", "attention_bias", "mlp_bias",
    "sliding_window", "use_sliding_window", "max_window_layers", "layer_types", "bos_token_id", "eos_token_id",
    "pad_token_id", "hidden_act", "attention_dropout", "partial_rotary_factor", "quantization_config", NULL};

// Keys that do not change what the model computes (bookkeeping, training-time initialisation, output switches).
static const char *const IRRELEVANT[] = {
    "initializer_range", "use_cache", "torch_dtype", "dtype", "transformers_version", "_name_or_path",
    "pretraining_tp", "output_attentions", "output_hidden_states", "return_dict", "is_encoder_decoder",
    "tie_encoder_decoder", "is_decoder", "add_cross_attention", "chunk_size_feed_forward", "id2label", "label2id",
    "problem_type", "task_specific_params", "finetuning_task", "tokenizer_class", "prefix", "sep_token_id",
    "decoder_start_token_id", "use_return_dict", "torchscript", "pruned_heads", "cross_attention_hidden_size",
    "_attn_implementation_autoset", "_attn_implementation", NULL};

static int listed(const char *const *list, const char *key) {
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], key)) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

// config.json's keys in sorted order, each with its class: read, ignored, or not read.
static void report_keys(FILE *out, json_t *root) {
    size_t n = json_object_size(root), k = 0;
    const char **keys = mallocCheck((n ? n : 1) * sizeof *keys);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) keys[k++] = key;
    qsort(keys, n, sizeof *keys, cmp_str);
    const char *title[3] = {"read", "ignored (no effect on what the model computes)", "NOT READ by this engine"};
    for (int cls = 0; cls < 3; cls++) {
        int shown = 0;
        for (size_t i = 0; i < n; i++) {
            int c = listed(READ, keys[i]) ? 0 : listed(IRRELEVANT, keys[i]) ? 1 : 2;
            if (c != cls) continue;
            if (!shown++) fprintf(out, "config.json keys %s:\n", title[cls]);
            char *text = json_dumps(json_object_get(root, keys[i]), JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
            fprintf(out, "  %-28s %.80s%s\n", keys[i], text ? text : "?", text && strlen(text) > 80 ? "..." : "");
            free(text);
        }
    }
    free(keys);
}

static void report_config(FILE *out, const hf_config *c) {
    static const char *const arch_names[] = {"llama", "qwen2", "mistral"};
    fprintf(out, "architecture: %s (%s)\n", c->architecture, arch_names[c->arch]);
    fprintf(out, "  layers %d, hidden %d, MLP %d (SwiGLU), vocabulary %d, context %d positions\n",
            c->num_hidden_layers, c->hidden_size, c->intermediate_size, c->vocab_size, c->max_position_embeddings);
    fprintf(out, "  attention: %d query heads, %d KV heads (%d per group), head dim %d\n", c->num_attention_heads,
            c->num_key_value_heads, c->num_attention_heads / c->num_key_value_heads, c->head_dim);
    // k and v of every layer: fp32, or bf16 where the weights are bf16 (a GPU)
    double kv = (double)engine_kv_cache_bytes(c, MG_F32, 1, 1);
    const char *unit = kv >= 1024 ? "KiB" : "B";
    double scale = kv >= 1024 ? 1024 : 1;
    fprintf(out, "  KV cache per token: %g %s fp32, %g %s bf16 (bf16 weights on a GPU)\n", kv / scale, unit,
            kv / 2 / scale, unit);
    fprintf(out, "  RMSNorm eps %g; RoPE theta %g", (double)c->rms_norm_eps, c->rope_theta);
    if (c->rope_llama3)
        fprintf(out, ", llama3 scaling (factor %g, low %g, high %g, original context %d)", c->rope_factor,
                c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_max_position_embeddings);
    fprintf(out, "\n  biases: q/k/v %s, o_proj %s, MLP %s; embeddings %s\n", c->attention_bias ? "yes" : "no",
            c->o_proj_bias ? "yes" : "no", c->mlp_bias ? "yes" : "no",
            c->tie_word_embeddings ? "tied to the LM head" : "separate from the LM head");
    if (c->sliding_window)
        fprintf(out, "  sliding window %d on every layer: a token attends to the last %d positions (training, prefill "
                     "and decode; the KV cache keeps every position)\n", c->sliding_window, c->sliding_window);
    fprintf(out, "  special ids (-1: none): bos %d, pad %d, eos", c->bos_token_id, c->pad_token_id);
    for (int i = 0; i < c->n_eos; i++) fprintf(out, " %d", c->eos_token_ids[i]);
    fprintf(out, c->n_eos ? "\n" : " none\n");
}

static void report_weights(FILE *out, const char *dir) {
    st_file st;
    mg_err e;
    if (st_open(&st, dir, &e)) {
        fprintf(out, "weights: %s\n", e.msg);
        return;
    }
    int64_t by_type[ST_BOOL + 1] = {0}, total = 0;
    for (int i = 0; i < st.n_tensors; i++) by_type[st.tensors[i].dtype] += st.tensors[i].numel, total += st.tensors[i].numel;
    fprintf(out, "weights: %d tensors in %d file%s, %.3g M values (", st.n_tensors, st.n_shards,
            st.n_shards == 1 ? "" : "s", (double)total / 1e6);
    const char *sep = "";
    for (int t = 0; t <= ST_BOOL; t++)
        if (by_type[t]) fprintf(out, "%s%s", sep, st_dtype_name((st_dtype)t)), sep = ", ";
    fprintf(out, "; read as fp32 on the CPU, bf16 or fp32 on a GPU)\n");
    st_close(&st);
}

static void report_tokenizer(FILE *out, const char *dir) {
    tokenizer *tok;
    mg_err e;
    if (tokenizer_load(&tok, dir, &e)) {
        fprintf(out, "tokenizer: %s\n", e.msg);
        return;
    }
    fprintf(out, "tokenizer: %s (tokenizer.json), %d ids, bos %d, eos %d\n", tokenizer_kind(tok),
            tokenizer_vocab_size(tok), tokenizer_bos_id(tok), tokenizer_eos_id(tok));
    fprintf(out, "chat format: %s (from the special tokens: what a run config's chat_format auto picks)\n",
            chat_format_name(chat_format_detect(tok)));
    tokenizer_free(tok);
}

int model_report(const char *dir, FILE *out, mg_err *e) {
    hf_config c;
    if (hf_config_load(&c, dir, e)) return -1;
    size_t need = strlen(dir) + 16;
    char *path = mallocCheck(need);
    snprintf(path, need, "%s/config.json", dir);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    free(path);
    if (!root) return mg_fail(e, "%s/config.json: %s", dir, jerr.text);  // hf_config_load read it a moment ago
    fprintf(out, "model folder: %s\n", dir);
    report_config(out, &c);
    report_weights(out, dir);
    report_tokenizer(out, dir);
    report_keys(out, root);
    json_decref(root);
    return 0;
}
