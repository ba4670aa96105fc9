#include "model/peft.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "model/model_internal.h"
#include "model/safetensors.h"

#define PEFT_PREFIX "base_model.model."

int peft_save(const char *dir, const char *base_model, int rank, double alpha, unsigned targets,
              const param_tensor *tensors, int n_tensors, const float *buf, mg_err *e) {
    char path[4200];
    st_write_entry *w = callocCheck((size_t)(n_tensors ? n_tensors : 1), sizeof(st_write_entry));
    char (*names)[128] = callocCheck((size_t)(n_tensors ? n_tensors : 1), sizeof *names);
    for (int i = 0; i < n_tensors; i++) {
        snprintf(names[i], sizeof names[i], PEFT_PREFIX "%s", tensors[i].name);
        w[i] = (st_write_entry){names[i], ST_F32, 2, {tensors[i].rows, tensors[i].cols}, buf + tensors[i].offset};
    }
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    const char *meta[] = {"format", "pt", NULL};
    int rc = st_write(path, w, n_tensors, meta, e);
    free(w), free(names);
    if (rc) return -1;

    json_t *cfg = json_object(), *modules = json_array();
    for (int k = 0; k < LORA_N_MODULES; k++)
        if (targets & (1u << k)) json_array_append_new(modules, json_string(lora_module_names[k]));
    json_object_set_new(cfg, "peft_type", json_string("LORA"));
    json_object_set_new(cfg, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(cfg, "base_model_name_or_path", json_string(base_model));
    json_object_set_new(cfg, "r", json_integer(rank));
    json_object_set_new(cfg, "lora_alpha", json_real(alpha));
    json_object_set_new(cfg, "lora_dropout", json_real(0.0));
    json_object_set_new(cfg, "target_modules", modules);
    json_object_set_new(cfg, "bias", json_string("none"));
    json_object_set_new(cfg, "fan_in_fan_out", json_false());
    json_object_set_new(cfg, "use_rslora", json_false());
    json_object_set_new(cfg, "use_dora", json_false());
    json_object_set_new(cfg, "inference_mode", json_true());
    json_object_set_new(cfg, "init_lora_weights", json_true());
    json_object_set_new(cfg, "modules_to_save", json_null());
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(cfg);
    mgCheck(text != NULL, "jansson could not serialize adapter_config.json");
    rc = file_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

// The keys of adapter_config.json that change what the adapter computes and that the engine cannot honour.
static int check_unsupported(const json_t *cfg, const char *path, mg_err *e) {
    static const char *const flags[] = {"use_rslora", "use_dora", "fan_in_fan_out", NULL};
    for (int i = 0; flags[i]; i++)
        if (json_is_true(json_object_get(cfg, flags[i]))) return mg_fail(e, "%s: %s adapters are not supported", path, flags[i]);
    const json_t *bias = json_object_get(cfg, "bias");
    if (bias && !(json_is_string(bias) && !strcmp(json_string_value(bias), "none")))
        return mg_fail(e, "%s: only bias \"none\" is supported", path);
    const json_t *peft_type = json_object_get(cfg, "peft_type");
    if (!json_is_string(peft_type) || strcmp(json_string_value(peft_type), "LORA"))
        return mg_fail(e, "%s: peft_type must be \"LORA\"", path);
    static const char *const maps[] = {"rank_pattern", "alpha_pattern", NULL};
    for (int i = 0; maps[i]; i++) {
        const json_t *v = json_object_get(cfg, maps[i]);
        if (v && !json_is_null(v) && !(json_is_object(v) && json_object_size(v) == 0))
            return mg_fail(e, "%s: per-module %s is not supported", path, maps[i]);
    }
    // Keys that add weights the engine would drop, or leave layers or modules out of the adapter: each refused by
    // name (a present but empty value means nothing).
    static const struct {
        const char *key, *why;
    } extra[] = {
        {"modules_to_save", "its fully trained copies of those modules would be dropped"},
        {"layers_to_transform", "an adapter here covers every layer"},
        {"layers_pattern", "an adapter here covers every layer"},
        {"exclude_modules", "an adapter here covers every listed module of every layer"},
        {"trainable_token_indices", "its trained embedding rows would be dropped"},
        {"target_parameters", "the engine adapts modules, not raw parameters"},
        {"megatron_config", "the engine has no Megatron-parallel LoRA"},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        const json_t *v = json_object_get(cfg, extra[i].key);
        int empty = !v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
                    (json_is_object(v) && json_object_size(v) == 0) || (json_is_string(v) && !*json_string_value(v));
        if (!empty) return mg_fail(e, "%s: %s is not supported (%s)", path, extra[i].key, extra[i].why);
    }
    if (json_is_true(json_object_get(cfg, "lora_bias")))
        return mg_fail(e, "%s: lora_bias adapters are not supported (their lora_B biases would be dropped)", path);
    return 0;
}

static int prefix_path(mg_err *e, const char *path) {
    char inner[MG_ERRLEN];
    snprintf(inner, sizeof inner, "%s", e->msg);
    return mg_fail(e, "%s: %s", path, inner);
}

int peft_load(model *m, const char *dir, mg_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg) return mg_fail(e, "%s:%d: %s", path, je.line, je.text);
    int rc = check_unsupported(cfg, path, e);
    const json_t *r = json_object_get(cfg, "r"), *alpha = json_object_get(cfg, "lora_alpha");
    const json_t *targets = json_object_get(cfg, "target_modules");
    lora_config lc = {0};
    if (!rc && (!json_is_integer(r) || !json_is_number(alpha)))
        rc = mg_fail(e, "%s: 'r' must be an integer and 'lora_alpha' a number", path);
    if (!rc) lc.rank = (int)json_integer_value(r), lc.alpha = (float)json_number_value(alpha);
    if (!rc && json_is_string(targets)) {
        if (lora_parse_targets(json_string_value(targets), &lc.targets, e)) rc = prefix_path(e, path);
    }
    else if (!rc && json_is_array(targets)) {
        size_t i;
        json_t *v;
        json_array_foreach(targets, i, v) {
            unsigned one = 0;
            if (!json_is_string(v)) rc = mg_fail(e, "%s: target_modules must hold strings", path);
            else if (lora_parse_targets(json_string_value(v), &one, e)) rc = prefix_path(e, path);
            if (rc) break;
            lc.targets |= one;
        }
    } else if (!rc) rc = mg_fail(e, "%s: target_modules must be a list or a string", path);
    json_decref(cfg);
    if (rc) return -1;
    lora_adapter *previous = m->lora;  // kept until the new adapter is whole: on failure m is unchanged
    m->lora = NULL;
    if (model_lora_init(m, &lc, 0, e)) {
        m->lora = previous;
        return -1;
    }

    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    st_file st;
    if (st_open(&st, path, e)) return -1;
    int n = lora_tensors(m, NULL);
    param_tensor *t = mallocCheck((size_t)n * sizeof(param_tensor));
    lora_tensors(m, t);
    for (int i = 0; i < n && !rc; i++) {
        char name[160];
        snprintf(name, sizeof name, PEFT_PREFIX "%s", t[i].name);
        int64_t shape[2] = {t[i].rows, t[i].cols};
        rc = st_read_f32(&st, name, m->lora->params + t[i].offset, 2, shape, e);
    }
    free(t);
    st_close(&st);
    if (!rc) lora_adapter_changed(m->lora);
    lora_adapter *drop = rc ? m->lora : previous;  // never a half-loaded adapter
    if (rc) m->lora = previous;
    if (drop) lora_free(drop);
    return rc;
}
