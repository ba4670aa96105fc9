// migrate pretrain: train a small Llama-architecture model from scratch (full-parameter) and write it in the
// Hugging Face format, with the tokenizer beside it.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "kernels/cpu/blas_setup.h"
#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/pretrain/pretrain_config.h"

static const char *HELP =
    "usage: migrate pretrain CONFIG.yaml [--set KEY=VALUE ...] [--print-config]\n"
    "\n"
    "Initialises the model that `model_config` (an HF config.json) describes with random weights (or those of\n"
    "the HF folder `init_from`, to train a saved model further), trains every\n"
    "weight on the JSON-lines `corpus` ({\"text\": ...} per line; each document ends with the tokenizer's EOS),\n"
    "prints the training and validation loss, and writes OUTPUT_DIR as a Hugging Face model folder\n"
    "(config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json) every\n"
    "`training.save_every` steps and at the end. See docs/config.md for every key.\n";

typedef struct {
    const pretrain_config *cfg;
    mg_err *e;
} save_ctx;

static int save_model(model *m, int step, void *ctx) {
    save_ctx *s = ctx;
    const pretrain_config *c = s->cfg;
    if (model_save_folder(m, c->output_dir, !strcmp(c->save_dtype, "bf16"), c->tokenizer, s->e)) {
        fprintf(stderr, "migrate pretrain: %s\n", s->e->msg);
        return -1;
    }
    fprintf(stderr, "migrate pretrain: step %d: wrote %s\n", step, c->output_dir);
    return 0;
}

// Random weights (seed), or those of init_from to train further: a new run from them, not a resume (the optimizer
// moments, the schedule and the document order start again). Its shape must be model_config's, so that the
// tokenizer and the corpus fit it.
static int init_model(model *m, const pretrain_config *c, const hf_config *hc, mg_err *e) {
    if (!c->init_from[0]) {
        model_init_random(m, hc, c->seed);
        return 0;
    }
    if (model_load(m, c->init_from, e)) return -1;
    const hf_config *g = &m->cfg;
    if (g->arch != hc->arch || g->vocab_size != hc->vocab_size || g->hidden_size != hc->hidden_size ||
        g->intermediate_size != hc->intermediate_size || g->num_hidden_layers != hc->num_hidden_layers ||
        g->num_attention_heads != hc->num_attention_heads || g->num_key_value_heads != hc->num_key_value_heads ||
        g->head_dim != hc->head_dim || g->tie_word_embeddings != hc->tie_word_embeddings ||
        g->max_position_embeddings != hc->max_position_embeddings) {
        model_free(m);
        return mg_fail(e, "init_from %s: its config.json is not the shape of model_config %s (architecture, sizes, "
                       "heads, positions and tying must be equal)", c->init_from, c->model_config);
    }
    return 0;
}

int cmd_pretrain(int argc, char **argv) {
    const char *config_path = NULL;
    const char **overrides = callocCheck((size_t)argc + 1, sizeof(char *));
    int n_over = 0, print_config = 0, step;
    for (int i = 1; i < argc; i += step) {
        step = 1;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return free(overrides), fputs(HELP, stdout), 0;
        else if (!strcmp(argv[i], "--print-config")) print_config = 1;
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) overrides[n_over++] = argv[i + 1], step = 2;
        else if (argv[i][0] != '-' && !config_path) config_path = argv[i];
        else {
            fprintf(stderr, "migrate pretrain: unexpected argument '%s' (see --help)\n", argv[i]);
            free(overrides);
            return 2;
        }
    }
    if (!config_path) {
        fprintf(stderr, "migrate pretrain: a CONFIG.yaml is required (see --help)\n");
        free(overrides);
        return 2;
    }
    pretrain_config cfg;
    mg_err e;
    e.msg[0] = '\0';
    int rc = pretrain_config_load(&cfg, config_path, overrides, n_over, &e);
    free(overrides);
    if (rc) {
        fprintf(stderr, "migrate pretrain: %s\n", e.msg);
        return 1;
    }
    if (print_config) {
        pretrain_config_dump(&cfg, stdout);
        pretrain_config_free(&cfg);
        return 0;
    }
    blas_set_threads(cfg.threads);
    // The model's shape comes from a config.json; read it through the same parser as any checkpoint.
    char shape_dir[1100];
    snprintf(shape_dir, sizeof shape_dir, "%s", cfg.model_config);
    char *slash = strrchr(shape_dir, '/');
    if (slash && !strcmp(slash + 1, "config.json")) *slash = '\0';
    hf_config hc;
    tokenizer *tok = NULL;
    corpus train, valid;
    memset(&train, 0, sizeof train), memset(&valid, 0, sizeof valid);
    rc = 1;
    if (hf_config_load(&hc, shape_dir, &e) || tokenizer_load(&tok, cfg.tokenizer, &e)) {
        fprintf(stderr, "migrate pretrain: %s\n", e.msg);
        goto done;
    }
    int eos = hc.n_eos ? hc.eos_token_ids[0] : tokenizer_eos_id(tok);
    if (eos < 0 || eos >= hc.vocab_size) {
        fprintf(stderr, "migrate pretrain: %s: no end-of-text id (eos_token_id) inside the vocabulary\n", cfg.model_config);
        goto done;
    }
    if (tokenizer_vocab_size(tok) > hc.vocab_size) {
        fprintf(stderr, "migrate pretrain: %s/tokenizer.json has %d tokens but %s has vocab_size %d\n", cfg.tokenizer,
                tokenizer_vocab_size(tok), cfg.model_config, hc.vocab_size);
        goto done;
    }
    if (corpus_load(&train, cfg.corpus, tok, eos, hc.max_position_embeddings, &e) ||
        (cfg.valid[0] && corpus_load(&valid, cfg.valid, tok, eos, hc.max_position_embeddings, &e))) {
        fprintf(stderr, "migrate pretrain: %s\n", e.msg);
        goto done;
    }
    file_mkdir_p(cfg.output_dir);
    model m;
    if (init_model(&m, &cfg, &hc, &e)) {
        fprintf(stderr, "migrate pretrain: %s\n", e.msg);
        goto done;
    }
    fprintf(stderr, "migrate pretrain: %zu parameters%s%s, %d documents (%ld tokens) to train on, %d to validate; %d steps of %d tokens\n",
            m.n_params, cfg.init_from[0] ? " from " : "", cfg.init_from, train.n_docs, train.tokens, valid.n_docs, cfg.train.steps, cfg.train.batch_tokens);
    save_ctx sc = {&cfg, &e};
    rc = pretrain_run(&m, &train, cfg.valid[0] ? &valid : NULL, &cfg.train, stderr, save_model, &sc, &e) ? 1 : 0;
    model_free(&m);
done:
    corpus_free(&train);
    corpus_free(&valid);
    tokenizer_free(tok);
    pretrain_config_free(&cfg);
    return rc;
}
