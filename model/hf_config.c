// Hugging Face config.json (+ generation_config.json): read with the defaults transformers' config classes use
// (LlamaConfig, Qwen2Config, MistralConfig), validated so the model code can trust every size, and written back
// in the legacy form (top-level rope_theta, rope_scaling) that both transformers 4.x and 5.x read.
#include "model/hf_config.h"

#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HF_MAX_FILE ((size_t)16 * 1000 * 1000)

// Per-architecture facts and class defaults for keys config.json may leave out.
typedef struct {
    const char *cls, *model_type;
    model_arch arch;
    int kv_heads_default;  // 0 = num_attention_heads
    int max_pos_default;
    int bos_default, eos_default;  // -1 = None
} arch_info;

static const arch_info archs[] = {
    {"LlamaForCausalLM", "llama", ARCH_LLAMA, 0, 2048, 1, 2},
    {"Qwen2ForCausalLM", "qwen2", ARCH_QWEN2, 32, 32768, -1, -1},  // Qwen2Config: num_key_value_heads=32
    {"MistralForCausalLM", "mistral", ARCH_MISTRAL, 8, 4096 * 32, 1, 2},
};
#define N_ARCHS ((int)(sizeof archs / sizeof archs[0]))

// Absent and null both mean "use the default" for optional keys, as in Python.
static json_t *get(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_null(v) ? NULL : v;
}

// Integer key >= min. required=0: absent -> *out = dflt.
static int get_int(json_t *o, const char *key, int required, int dflt, int min, int *out, const char *name,
                   mg_err *e) {
    json_t *v = get(o, key);
    if (!v) {
        if (required) return mg_fail(e, "%s: key '%s' is missing", name, key);
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > INT_MAX) {
        if (min == 1) return mg_fail(e, "%s: key '%s' must be a positive integer", name, key);
        return mg_fail(e, "%s: key '%s' must be an integer >= %d", name, key, min);
    }
    *out = (int)json_integer_value(v);
    return 0;
}

// Finite number > 0 (int or real). required=0: absent -> dflt.
static int get_pos_num(json_t *o, const char *key, const char *shown, int required, double dflt, double *out,
                       const char *name, mg_err *e) {
    json_t *v = get(o, key);
    if (!v) {
        if (required) return mg_fail(e, "%s: key '%s' is missing", name, shown);
        *out = dflt;
        return 0;
    }
    double x = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(x > 0) || !isfinite(x)) return mg_fail(e, "%s: key '%s' must be a positive number", name, shown);
    *out = x;
    return 0;
}

static int get_bool(json_t *o, const char *key, int dflt, int *out, const char *name, mg_err *e) {
    json_t *v = get(o, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v)) return mg_fail(e, "%s: key '%s' must be true or false", name, key);
    *out = json_is_true(v);
    return 0;
}

// eos_token_id: an int or a list of ints (Llama-3.1 lists several). Ids must index the vocabulary.
static int get_eos(json_t *v, int vocab, hf_config *c, const char *name, mg_err *e) {
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_array(v) && !json_is_integer(v))
        return mg_fail(e, "%s: key 'eos_token_id' must be an integer or a list of integers", name);
    if (n > HF_MAX_EOS) return mg_fail(e, "%s: key 'eos_token_id' lists %zu ids (at most %d)", name, n, HF_MAX_EOS);
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_integer(x))
            return mg_fail(e, "%s: key 'eos_token_id' must be an integer or a list of integers", name);
        json_int_t id = json_integer_value(x);
        if (id < 0 || id >= vocab)
            return mg_fail(e, "%s: key 'eos_token_id' value %lld is outside the vocabulary (vocab_size %d)", name,
                            (long long)id, vocab);
        c->eos_token_ids[i] = (int)id;
    }
    c->n_eos = (int)n;
    return 0;
}

// "architectures"[0] and "model_type" must agree on one of the supported models.
static int pick_arch(json_t *root, hf_config *c, const char *name, mg_err *e) {
    json_t *list = get(root, "architectures"), *mt = get(root, "model_type");
    const char *cls = NULL, *type = NULL;
    if (list) {
        if (!json_is_array(list)) return mg_fail(e, "%s: key 'architectures' must be a list of strings", name);
        if (json_array_size(list) > 0) {
            if (!json_is_string(json_array_get(list, 0)))
                return mg_fail(e, "%s: key 'architectures' must be a list of strings", name);
            cls = json_string_value(json_array_get(list, 0));
        }
    }
    if (mt) {
        if (!json_is_string(mt)) return mg_fail(e, "%s: key 'model_type' must be a string", name);
        type = json_string_value(mt);
    }
    if (!cls && !type) return mg_fail(e, "%s: neither 'architectures' nor 'model_type' names the model", name);
    const arch_info *a = NULL;
    for (int i = 0; i < N_ARCHS; i++)
        if (cls ? strcmp(cls, archs[i].cls) == 0 : strcmp(type, archs[i].model_type) == 0) a = &archs[i];
    if (!a)
        return mg_fail(e, "%s: unsupported architecture '%s' (supported: LlamaForCausalLM, Qwen2ForCausalLM, "
                           "MistralForCausalLM)", name, cls ? cls : type);
    if (cls && type && strcmp(type, a->model_type) != 0)
        return mg_fail(e, "%s: architectures[0] '%s' does not match model_type '%s'", name, cls, type);
    c->arch = a->arch;
    snprintf(c->architecture, sizeof c->architecture, "%s", a->cls);
    return 0;
}

// RoPE: transformers 4.x writes top-level "rope_theta" + "rope_scaling"; 5.x writes "rope_parameters" holding
// rope_theta and rope_type. rope_scaling wins when both are set, as in transformers.
static int parse_rope(json_t *root, hf_config *c, const char *name, mg_err *e) {
    json_t *rope = NULL;
    const char *key = "rope_scaling";
    json_t *rs = get(root, "rope_scaling"), *rp = get(root, "rope_parameters");
    if (rs && !json_is_object(rs)) return mg_fail(e, "%s: key 'rope_scaling' must be an object or null", name);
    if (rp && !json_is_object(rp)) return mg_fail(e, "%s: key 'rope_parameters' must be an object or null", name);
    if (rs && json_object_size(rs) > 0) {
        rope = rs;
    } else if (rp) {
        rope = rp;
        key = "rope_parameters";
    }
    if (rope && (json_is_object(json_object_get(rope, "full_attention")) ||
                 json_is_object(json_object_get(rope, "sliding_attention"))))
        return mg_fail(e, "%s: per-layer-type '%s' are not supported", name, key);

    c->rope_theta = 10000.0;  // RotaryEmbeddingConfigMixin.default_theta
    if (get_pos_num(root, "rope_theta", "rope_theta", 0, c->rope_theta, &c->rope_theta, name, e)) return -1;
    char shown[64];
    snprintf(shown, sizeof shown, "%s.rope_theta", key);
    if (rope && get_pos_num(rope, "rope_theta", shown, 0, c->rope_theta, &c->rope_theta, name, e)) return -1;
    if (!rope) return 0;

    json_t *jt = get(rope, "rope_type");
    if (!jt) jt = get(rope, "type");
    if (jt && !json_is_string(jt)) return mg_fail(e, "%s: key '%s.rope_type' must be a string", name, key);
    const char *type = jt ? json_string_value(jt) : "default";
    if (strcmp(type, "default") == 0) return 0;
    if (strcmp(type, "llama3") != 0)
        return mg_fail(e, "%s: %s type '%s' is not supported (supported: llama3, or none)", name, key, type);
    c->rope_llama3 = 1;
    snprintf(shown, sizeof shown, "%s.factor", key);
    if (get_pos_num(rope, "factor", shown, 1, 0, &c->rope_factor, name, e)) return -1;
    snprintf(shown, sizeof shown, "%s.low_freq_factor", key);
    if (get_pos_num(rope, "low_freq_factor", shown, 1, 0, &c->rope_low_freq_factor, name, e)) return -1;
    snprintf(shown, sizeof shown, "%s.high_freq_factor", key);
    if (get_pos_num(rope, "high_freq_factor", shown, 1, 0, &c->rope_high_freq_factor, name, e)) return -1;
    // The llama3 formula divides by (high - low).
    if (!(c->rope_high_freq_factor > c->rope_low_freq_factor))
        return mg_fail(e, "%s: key '%s.high_freq_factor' must be greater than low_freq_factor", name, key);
    json_t *om = get(rope, "original_max_position_embeddings");
    c->rope_original_max_position_embeddings = c->max_position_embeddings;  // transformers' fallback
    if (om && (!json_is_integer(om) || json_integer_value(om) < 1 || json_integer_value(om) > INT_MAX))
        return mg_fail(e, "%s: key '%s.original_max_position_embeddings' must be a positive integer", name, key);
    if (om) c->rope_original_max_position_embeddings = (int)json_integer_value(om);
    return 0;
}

// Qwen2: the window applies when use_sliding_window is true, on the layers layer_types marks "sliding_attention"
// (default: layer index >= max_window_layers). hf_config has one window for all layers, so a mix is refused.
static int parse_qwen2_window(json_t *root, hf_config *c, const char *name, mg_err *e) {
    int use = 0, window = 0, max_window_layers = 0;  // set by the getters; initialised for -Wmaybe-uninitialized
    if (get_bool(root, "use_sliding_window", 0, &use, name, e)) return -1;
    // sliding_window: absent -> 4096 (Qwen2Config default); an explicit null means no window at all
    if (!use || json_is_null(json_object_get(root, "sliding_window"))) return 0;
    if (get_int(root, "sliding_window", 0, 4096, 1, &window, name, e)) return -1;
    json_t *lt = get(root, "layer_types");
    int n_sliding = 0, L = c->num_hidden_layers;
    if (lt) {
        if (!json_is_array(lt) || json_array_size(lt) != (size_t)L)
            return mg_fail(e, "%s: key 'layer_types' must list one type per layer (%d)", name, L);
        for (int i = 0; i < L; i++) {
            const char *t = json_string_value(json_array_get(lt, (size_t)i));
            if (!t || (strcmp(t, "sliding_attention") != 0 && strcmp(t, "full_attention") != 0))
                return mg_fail(e, "%s: key 'layer_types' entry %d must be full_attention or sliding_attention",
                                name, i);
            n_sliding += strcmp(t, "sliding_attention") == 0;
        }
    } else {
        if (get_int(root, "max_window_layers", 0, 28, 0, &max_window_layers, name, e)) return -1;
        n_sliding = max_window_layers >= L ? 0 : L - max_window_layers;
    }
    if (n_sliding != 0 && n_sliding != L)
        return mg_fail(e, "%s: sliding window on %d of %d layers is not supported (all or none)", name, n_sliding,
                        L);
    c->sliding_window = n_sliding ? window : 0;
    return 0;
}

static int parse_gen(const char *gen_json, size_t gen_len, hf_config *c, const char *gen_name, mg_err *e) {
    json_error_t jerr;
    json_t *g = json_loadb(gen_json, gen_len, 0, &jerr);
    if (!g) return mg_fail(e, "%s: not valid JSON (%s at line %d)", gen_name, jerr.text, jerr.line);
    int rc = 0;
    json_t *eos = get(g, "eos_token_id");
    if (!json_is_object(g)) rc = mg_fail(e, "%s: not a JSON object", gen_name);
    else if (eos) rc = get_eos(eos, c->vocab_size, c, gen_name, e);
    json_decref(g);
    return rc;
}

// generation_config.json sits next to config.json; messages about it name it.
static void gen_name_for(char *buf, size_t cap, const char *name) {
    const char *slash = strrchr(name, '/');
    if (strcmp(slash ? slash + 1 : name, "config.json") == 0)
        snprintf(buf, cap, "%.*sgeneration_config.json", slash ? (int)(slash - name + 1) : 0, name);
    else
        snprintf(buf, cap, "%s (generation config)", name);
}

// Keys whose values change what the model computes in ways the engine does not compute: refused, never run as
// something else. (pretraining_tp > 1 only slices the same products in transformers: the same model.)
static int refuse_unsupported_values(json_t *root, const char *name, mg_err *e) {
    json_t *act = get(root, "hidden_act");
    if (act && !json_is_string(act)) return mg_fail(e, "%s: key 'hidden_act' must be a string", name);
    const char *a = act ? json_string_value(act) : "silu";  // every supported class defaults to silu
    if (strcmp(a, "silu") != 0 && strcmp(a, "swish") != 0)
        return mg_fail(e, "%s: key 'hidden_act' is '%s': the engine's MLP is SwiGLU (silu) only", name, a);
    json_t *drop = get(root, "attention_dropout");
    if (drop && !json_is_number(drop)) return mg_fail(e, "%s: key 'attention_dropout' must be a number", name);
    if (drop && json_number_value(drop) != 0.0)
        return mg_fail(e, "%s: key 'attention_dropout' is %g: the engine has no attention dropout (training would "
                          "differ from transformers'); set it to 0.0", name, json_number_value(drop));
    json_t *prf = get(root, "partial_rotary_factor");
    if (prf && !(json_is_number(prf) && json_number_value(prf) == 1.0))
        return mg_fail(e, "%s: key 'partial_rotary_factor': the engine rotates whole heads only (1.0), not part of "
                          "each head", name);
    return 0;
}

static int parse_root(hf_config *c, json_t *root, const char *gen_json, size_t gen_len, const char *name,
                      mg_err *e) {
    if (!json_is_object(root)) return mg_fail(e, "%s: not a JSON object", name);
    if (get(root, "quantization_config"))
        return mg_fail(e, "%s: quantized checkpoints (quantization_config) are not supported", name);
    if (pick_arch(root, c, name, e) || refuse_unsupported_values(root, name, e)) return -1;
    const arch_info *a = &archs[c->arch];
    if (get_int(root, "vocab_size", 1, 0, 1, &c->vocab_size, name, e) ||
        get_int(root, "hidden_size", 1, 0, 1, &c->hidden_size, name, e) ||
        get_int(root, "intermediate_size", 1, 0, 1, &c->intermediate_size, name, e) ||
        get_int(root, "num_hidden_layers", 1, 0, 1, &c->num_hidden_layers, name, e) ||
        get_int(root, "num_attention_heads", 1, 0, 1, &c->num_attention_heads, name, e) ||
        get_int(root, "max_position_embeddings", 0, a->max_pos_default, 1, &c->max_position_embeddings, name, e))
        return -1;
    // num_key_value_heads: absent -> the class default; null -> num_attention_heads (the classes' __post_init__)
    int hkv_default = json_is_null(json_object_get(root, "num_key_value_heads")) || !a->kv_heads_default
                          ? c->num_attention_heads
                          : a->kv_heads_default;
    if (get_int(root, "num_key_value_heads", 0, hkv_default, 1, &c->num_key_value_heads, name, e)) return -1;
    if (!get(root, "head_dim") && c->hidden_size % c->num_attention_heads != 0)
        return mg_fail(e, "%s: key 'hidden_size' (%d) is not a multiple of num_attention_heads (%d)", name,
                        c->hidden_size, c->num_attention_heads);
    if (get_int(root, "head_dim", 0, c->hidden_size / c->num_attention_heads, 1, &c->head_dim, name, e)) return -1;
    if (c->num_attention_heads % c->num_key_value_heads != 0)
        return mg_fail(e, "%s: key 'num_attention_heads' (%d) is not a multiple of num_key_value_heads (%d)", name,
                        c->num_attention_heads, c->num_key_value_heads);
    if (c->head_dim % 2 != 0)
        return mg_fail(e, "%s: key 'head_dim' (%d) must be even (rotary embedding rotates pairs)", name, c->head_dim);
    if ((int64_t)c->num_attention_heads * c->head_dim > INT_MAX)
        return mg_fail(e, "%s: num_attention_heads * head_dim overflows", name);

    double eps = 0.0;
    if (get_pos_num(root, "rms_norm_eps", "rms_norm_eps", 0, 1e-6, &eps, name, e)) return -1;
    c->rms_norm_eps = (float)eps;
    if (!(c->rms_norm_eps > 0)) return mg_fail(e, "%s: key 'rms_norm_eps' underflows fp32", name);
    if (parse_rope(root, c, name, e)) return -1;
    if (get_bool(root, "tie_word_embeddings", 0, &c->tie_word_embeddings, name, e)) return -1;

    switch (c->arch) {
    case ARCH_LLAMA:  // attention_bias puts a bias on q, k, v AND o_proj; mlp_bias on gate/up/down
        if (get_bool(root, "attention_bias", 0, &c->attention_bias, name, e) ||
            get_bool(root, "mlp_bias", 0, &c->mlp_bias, name, e))
            return -1;
        c->o_proj_bias = c->attention_bias;
        break;
    case ARCH_QWEN2:  // q/k/v always biased, o_proj never
        c->attention_bias = 1;
        if (parse_qwen2_window(root, c, name, e)) return -1;
        break;
    case ARCH_MISTRAL:  // MistralConfig.sliding_window defaults to 4096; null means none
        if (get_int(root, "sliding_window", 0, json_object_get(root, "sliding_window") ? 0 : 4096, 1,
                    &c->sliding_window, name, e))
            return -1;
        break;
    }

    // Token ids: absent -> the class default (dropped if a tiny vocabulary has no such id), null -> none.
    int bos_default = json_object_get(root, "bos_token_id") || a->bos_default >= c->vocab_size ? -1 : a->bos_default;
    if (get_int(root, "bos_token_id", 0, bos_default, 0, &c->bos_token_id, name, e)) return -1;
    if (c->bos_token_id >= c->vocab_size)
        return mg_fail(e, "%s: key 'bos_token_id' (%d) is outside the vocabulary (vocab_size %d)", name,
                        c->bos_token_id, c->vocab_size);
    if (get_int(root, "pad_token_id", 0, -1, 0, &c->pad_token_id, name, e)) return -1;
    json_t *eos = json_object_get(root, "eos_token_id");
    if (!eos && a->eos_default >= 0 && a->eos_default < c->vocab_size) c->eos_token_ids[c->n_eos++] = a->eos_default;
    if (get(root, "eos_token_id") && get_eos(eos, c->vocab_size, c, name, e)) return -1;
    if (gen_json) {
        char gen_name[1100];
        gen_name_for(gen_name, sizeof gen_name, name);
        if (parse_gen(gen_json, gen_len, c, gen_name, e)) return -1;
    }
    return 0;
}

int hf_config_parse(hf_config *c, const char *json, size_t len, const char *gen_json, size_t gen_len,
                    const char *name, mg_err *e) {
    memset(c, 0, sizeof *c);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) return mg_fail(e, "%s: not valid JSON (%s at line %d)", name, jerr.text, jerr.line);
    int rc = parse_root(c, root, gen_json, gen_len, name, e);
    json_decref(root);
    if (rc != 0) memset(c, 0, sizeof *c);
    return rc;
}

int hf_config_load(hf_config *c, const char *dir, mg_err *e) {
    memset(c, 0, sizeof *c);
    size_t need = strlen(dir) + 32, len = 0, gen_len = 0;
    char *path = mallocCheck(need), *gen_path = mallocCheck(need);
    snprintf(path, need, "%s/config.json", dir);
    snprintf(gen_path, need, "%s/generation_config.json", dir);
    int missing = 0, rc = -1;
    char *json = read_small_file(path, HF_MAX_FILE, &len, 0, &missing, e), *gen = NULL;
    if (json) {
        gen = read_small_file(gen_path, HF_MAX_FILE, &gen_len, 1, &missing, e);
        if (gen || missing) rc = hf_config_parse(c, json, len, gen, gen_len, path, e);
    }
    free(json);
    free(gen);
    free(path);
    free(gen_path);
    return rc;
}

// ---------------------------------------------------------------------------------------------------------
// Writing

// The shortest decimal that reads back as the same float, so 1e-6f is written "1e-06", not 9.9999999747e-07.
static json_t *json_float(float x) {
    char buf[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)x);
        if (strtof(buf, NULL) == x) break;
    }
    return json_real(strtod(buf, NULL));
}

static json_t *id_or_null(int id) { return id >= 0 ? json_integer(id) : json_null(); }

static json_t *eos_json(const hf_config *c) {
    if (c->n_eos == 0) return json_null();
    if (c->n_eos == 1) return json_integer(c->eos_token_ids[0]);
    json_t *a = json_array();
    for (int i = 0; i < c->n_eos && i < HF_MAX_EOS; i++) json_array_append_new(a, json_integer(c->eos_token_ids[i]));
    return a;
}

// JSON text to <dir>/<file> via a temp file + rename, so a reader never sees half a config.
static int write_json(json_t *root, const char *dir, const char *file, mg_err *e) {
    char path[4224];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) return mg_fail(e, "%s: path too long", dir);
    char *text = json_dumps(root, JSON_INDENT(2));
    mgCheck(text != NULL, "jansson could not serialize a config");
    size_t n = strlen(text);
    text[n] = '\n';  // json_dumps's NUL becomes the final newline; the length says where it ends
    int rc = file_write_atomic(path, text, n + 1, e);
    free(text);
    return rc;
}

int hf_config_write(const hf_config *c, const char *dir, mg_err *e) {
    if ((int)c->arch < 0 || (int)c->arch >= N_ARCHS) return mg_fail(e, "%s: config has an unknown arch", dir);
    const arch_info *a = &archs[c->arch];
    json_t *r = json_object();
    json_object_set_new(r, "architectures", json_pack("[s]", a->cls));
    json_object_set_new(r, "model_type", json_string(a->model_type));
    json_object_set_new(r, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(r, "hidden_size", json_integer(c->hidden_size));
    json_object_set_new(r, "intermediate_size", json_integer(c->intermediate_size));
    json_object_set_new(r, "num_hidden_layers", json_integer(c->num_hidden_layers));
    json_object_set_new(r, "num_attention_heads", json_integer(c->num_attention_heads));
    json_object_set_new(r, "num_key_value_heads", json_integer(c->num_key_value_heads));
    json_object_set_new(r, "head_dim", json_integer(c->head_dim));
    json_object_set_new(r, "max_position_embeddings", json_integer(c->max_position_embeddings));
    json_object_set_new(r, "rms_norm_eps", json_float(c->rms_norm_eps));
    json_object_set_new(r, "rope_theta", json_real(c->rope_theta));
    if (c->rope_llama3)
        json_object_set_new(r, "rope_scaling",
                            json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3", "factor", c->rope_factor,
                                      "low_freq_factor", c->rope_low_freq_factor, "high_freq_factor",
                                      c->rope_high_freq_factor, "original_max_position_embeddings",
                                      c->rope_original_max_position_embeddings));
    else
        json_object_set_new(r, "rope_scaling", json_null());
    json_object_set_new(r, "tie_word_embeddings", json_boolean(c->tie_word_embeddings));
    json_object_set_new(r, "hidden_act", json_string("silu"));
    switch (c->arch) {
    case ARCH_LLAMA:
        json_object_set_new(r, "attention_bias", json_boolean(c->attention_bias));
        json_object_set_new(r, "mlp_bias", json_boolean(c->mlp_bias));
        break;
    case ARCH_QWEN2:  // max_window_layers 0: the window (when on) covers every layer, as hf_config means it
        json_object_set_new(r, "use_sliding_window", json_boolean(c->sliding_window > 0));
        json_object_set_new(r, "sliding_window", c->sliding_window > 0 ? json_integer(c->sliding_window) : json_null());
        json_object_set_new(r, "max_window_layers", json_integer(c->sliding_window > 0 ? 0 : c->num_hidden_layers));
        break;
    case ARCH_MISTRAL:
        json_object_set_new(r, "sliding_window", c->sliding_window > 0 ? json_integer(c->sliding_window) : json_null());
        break;
    }
    json_object_set_new(r, "bos_token_id", id_or_null(c->bos_token_id));
    json_object_set_new(r, "eos_token_id", eos_json(c));
    json_object_set_new(r, "pad_token_id", id_or_null(c->pad_token_id));
    json_object_set_new(r, "torch_dtype", json_string("float32"));
    int rc = write_json(r, dir, "config.json", e);
    json_decref(r);
    if (rc != 0) return rc;

    json_t *g = json_object();
    json_object_set_new(g, "bos_token_id", id_or_null(c->bos_token_id));
    json_object_set_new(g, "eos_token_id", eos_json(c));
    if (c->pad_token_id >= 0) json_object_set_new(g, "pad_token_id", json_integer(c->pad_token_id));
    rc = write_json(g, dir, "generation_config.json", e);
    json_decref(g);
    return rc;
}
