// migrate score: per-token log-probabilities of a completion given a prompt (the quantity GRPO's ratio uses).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/blas_setup.h"
#ifdef MIGRATE_HAVE_CUDA
#include "kernels/cuda/ops_cuda.h"  // cuda_describe, for `migrate version`
#endif
#include "tools/cli_common.h"
#include "tools/commands.h"

static const char *HELP =
    "usage: migrate score --model DIR [--adapter DIR] --prompt TEXT --completion TEXT [--temperature T] [--threads N]\n"
    "\n"
    "Prints, for each completion token, its id, text and log-probability under the model at temperature T\n"
    "(default 1), then the sum. The prompt is encoded with the tokenizer's special tokens (e.g. Llama-3's BOS);\n"
    "the completion without. --adapter applies a PEFT LoRA adapter folder (e.g. from `migrate export`).\n";

int cmd_score(int argc, char **argv) {
    const char *model_dir = NULL, *adapter_dir = NULL, *prompt = NULL, *completion_text = NULL;
    float temperature = 1.0f;
    int threads = 0;
    int step;  // argv entries the current option used: 2 for an option and its value
    for (int i = 1; i < argc; i += step) {
        step = 2;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(HELP, stdout), 0;
        if (!v) {
            fprintf(stderr, "migrate score: option %s needs a value (see --help)\n", a);
            return 2;
        }
        int rc = 0;
        if (!strcmp(a, "--model")) model_dir = v;
        else if (!strcmp(a, "--adapter")) adapter_dir = v;
        else if (!strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--completion")) completion_text = v;
        else if (!strcmp(a, "--temperature")) rc = cli_float("score", a, v, 1e-3f, 100.0f, &temperature);
        else if (!strcmp(a, "--threads")) rc = cli_int("score", a, v, 1, 1024, &threads);
        else {
            fprintf(stderr, "migrate score: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (rc) return 2;
    }
    if (!model_dir || !prompt || !completion_text) {
        fprintf(stderr, "migrate score: --model, --prompt and --completion are required (see --help)\n");
        return 2;
    }
    blas_set_threads(threads);
    model m;
    tokenizer *tok;
    if (cli_load_model("score", model_dir, &m, &tok)) return 1;
    if (cli_load_adapter("score", &m, adapter_dir)) {
        tokenizer_free(tok);
        model_free(&m);
        return 1;
    }
    int *pi = NULL, *ci = NULL, np = 0, nc = 0, rc = 0;
    mg_err e;
    if (tokenizer_encode(tok, prompt, strlen(prompt), 1, &pi, &np, &e) ||
        tokenizer_encode(tok, completion_text, strlen(completion_text), 0, &ci, &nc, &e)) {
        fprintf(stderr, "migrate score: %s\n", e.msg);
        rc = 1;
    } else if (np == 0 || nc == 0) {
        fprintf(stderr, "migrate score: prompt and completion must each encode to at least one token\n");
        rc = 1;
    } else if (np + nc > m.cfg.max_position_embeddings) {
        fprintf(stderr, "migrate score: prompt + completion is %d tokens, longer than the model's context of %d\n",
                np + nc, m.cfg.max_position_embeddings);
        rc = 1;
    } else {
        int n = np + nc, *all = malloc((size_t)n * sizeof(int));
        memcpy(all, pi, (size_t)np * sizeof(int));
        memcpy(all + np, ci, (size_t)nc * sizeof(int));
        packed_batch b;
        packed_batch_init(&b);
        packed_batch_add(&b, all, n, np - 1);
        float *logp = malloc((size_t)n * sizeof(float)), *ent = malloc((size_t)n * sizeof(float));
        double sum = model_forward(&m, &b, temperature, logp, ent);
        for (int t = 0; t < nc; t++) {
            char *piece = tokenizer_decode(tok, &ci[t], 1, 0);
            printf("%6d  %-20s  logp %9.4f  entropy %7.4f\n", ci[t], piece, logp[np - 1 + t], ent[np - 1 + t]);
            free(piece);
        }
        printf("sum logp %.6f over %d tokens (temperature %g)\n", sum, nc, temperature);
        free(all), free(logp), free(ent);
        packed_batch_free(&b);
    }
    free(pi), free(ci);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}

int cmd_version(int argc, char **argv) {
#ifdef MIGRATE_HAVE_CUDA
    char cuda[1024];
    cuda_describe(cuda, sizeof cuda);
    printf("migrate 0.1.0 (engines: cpu, cuda)\nCUDA: %s\n", cuda);
#else
    printf("migrate 0.1.0 (engines: cpu; built without CUDA)\n");
#endif
    printf("BLAS: %s (core %s)\n", openblas_get_config(), openblas_get_corename());
    return 0;
}
