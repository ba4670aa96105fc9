// PEFT adapter folders: what peft_save writes, peft_load reads back bit for bit (PEFT itself loads it:
// tests/parity/check_peft_export.py); adapters the engine cannot run faithfully are refused in one line.
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/rng.h"
#include "model/peft.h"
#include "testing.h"

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

int main(void) {
    model a, b;
    mg_err e;
    if (model_load(&a, "tests/parity/fixtures/llama3-tiny", &e) || model_load(&b, "tests/parity/fixtures/llama3-tiny", &e)) {
        CHECK(0, "%s", e.msg);
        return test_summary("test_peft");
    }
    lora_config lc = {.rank = 4, .alpha = 8, .targets = LORA_Q | LORA_V | LORA_DOWN};
    CHECK(model_lora_init(&a, &lc, 3, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < a.lora->n_params; i++) a.lora->params[i] = rng_normal(9, 0, i);
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "/tmp/migrate_test_peft_%d", (int)getpid());
    CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    int n = lora_tensors(&a, NULL);
    param_tensor *t = malloc((size_t)n * sizeof *t);
    lora_tensors(&a, t);
    CHECK(n == 2 * 3 * a.cfg.num_hidden_layers, "%d tensors", n);
    CHECK(!strcmp(t[0].name, "model.layers.0.self_attn.q_proj.lora_A.weight") &&
              !strcmp(t[5].name, "model.layers.0.mlp.down_proj.lora_B.weight"),
          "names %s, %s", t[0].name, t[5].name);
    CHECK(peft_save(dir, "base", 4, 8, lc.targets, t, n, a.lora->params, &e) == 0, "%s", e.msg);
    CHECK(peft_load(&b, dir, &e) == 0, "%s", e.msg);
    CHECK(b.lora && b.lora->n_params == a.lora->n_params && b.lora->cfg.targets == lc.targets && b.lora->scale == 2.0f &&
              !memcmp(a.lora->params, b.lora->params, a.lora->n_params * sizeof(float)),
          "round trip differs");

    // Refusals: each names the file and the problem on one line.
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    const char *bad[][2] = {
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"use_dora\": true}", "use_dora"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"use_rslora\": true}", "use_rslora"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"bias\": \"all\"}", "bias"},
        {"{\"peft_type\": \"IA3\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"]}", "peft_type"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"lm_head\"]}", "lm_head"},
        {"{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"]}", "shape"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"k_proj\"]}", "k_proj"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"rank_pattern\": {\"q\": 2}}", "rank_pattern"},
        {"{\"peft_type\": \"LORA\", \"r\": 4,", "adapter_config.json:1"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"modules_to_save\": [\"lm_head\"]}", "modules_to_save"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"layers_to_transform\": [0]}", "layers_to_transform"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"layers_pattern\": \"layers\"}", "layers_pattern"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"exclude_modules\": [\"k_proj\"]}", "exclude_modules"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"trainable_token_indices\": [5, 7]}", "trainable_token_indices"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"target_parameters\": [\"mlp.experts.gate_up_proj\"]}", "target_parameters"},
        {"{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"lora_bias\": true}", "lora_bias"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_text(path, bad[k][0]);
        int rc = peft_load(&b, dir, &e);
        int kept = b.lora && !memcmp(a.lora->params, b.lora->params, a.lora->n_params * sizeof(float));
        CHECK(rc == -1 && strstr(e.msg, bad[k][1]) && strstr(e.msg, dir) && !strchr(e.msg, '\n') && kept,
              "case %zu: rc %d, '%s'", k, rc, e.msg);
        if (rc) printf("  refused: %s\n", e.msg);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    free(t);
    model_free(&a);
    model_free(&b);
    return test_summary("test_peft");
}
