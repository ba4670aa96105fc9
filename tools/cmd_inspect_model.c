// migrate inspect-model DIR: what the engine will run for a Hugging Face model folder (model/model_report.h), and
// with --memory what a search's shape costs in engine memory (model/engine_memory.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/engine_memory.h"
#include "model/model_report.h"
#include "tools/commands.h"

static const char *HELP =
    "usage: migrate inspect-model DIR\n"
    "       migrate inspect-model DIR --memory SxP+C [--members-per-shard M] [--lora-r R]\n"
    "                                 [--lora-targets LIST] [--dtype bf16|fp32]\n"
    "\n"
    "Reads a Hugging Face model folder (config.json, safetensors, tokenizer.json) as a run would and prints what\n"
    "the engine will run: the architecture as parsed (layers, heads, RoPE, biases, tying, special ids), the\n"
    "weights' files and types, the tokenizer and the chat format, and every key of config.json under one of\n"
    "three headings: read, ignored (no effect on what the model computes), or NOT READ by this engine. A value\n"
    "the engine does not implement (e.g. hidden_act gelu) is refused with the error a run would give (exit 1).\n"
    "\n"
    "--memory SxP+C: instead, the device memory of a search drawing S samples of C completion tokens after one\n"
    "prompt of P tokens (e.g. 16x4096+1024), from the engine's own buffer layouts and config.json alone (no\n"
    "weights read): weights, adapter and AdamW, kept shard gradients, the KV cache and largest step of sampling,\n"
    "one training shard's activations, and the peak, with the shared prompt off and on (sampling.share_prefix,\n"
    "training.share_prefix). Defaults as a run's: --members-per-shard 4, --lora-r 64, --lora-targets\n"
    "q_proj,k_proj,v_proj,o_proj (0 / none: no adapter), --dtype bf16 (engine.dtype).\n";

static int bad(const char *what, const char *value) {
    fprintf(stderr, "migrate inspect-model: %s '%s' (see --help)\n", what, value);
    return 2;
}

static int memory_report(const char *dir, int argc, char **argv) {
    memory_shape s = {0};
    s.members_per_shard = 4, s.wt = MG_BF16;
    s.lora.rank = 64, s.lora.alpha = 16.0f;
    mg_err e;
    if (lora_parse_targets("q_proj,k_proj,v_proj,o_proj", &s.lora.targets, &e)) return bad("internal", e.msg);
    int have_shape = 0;
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc) return bad("missing value after", argv[i]);
        const char *k = argv[i], *v = argv[i + 1];
        char *end = NULL;
        if (!strcmp(k, "--memory")) {
            char tail;
            if (sscanf(v, "%dx%d+%d%c", &s.samples, &s.prompt, &s.completion, &tail) != 3 || s.samples < 1 ||
                s.prompt < 2 || s.completion < 1)
                return bad("--memory wants SAMPLESxPROMPT+COMPLETION (e.g. 16x4096+1024, prompt >= 2), not", v);
            have_shape = 1;
        } else if (!strcmp(k, "--members-per-shard")) {
            long x = strtol(v, &end, 10);
            if (*end || x < 1 || x > 1 << 20) return bad("--members-per-shard wants a positive integer, not", v);
            s.members_per_shard = (int)x;
        } else if (!strcmp(k, "--lora-r")) {
            long x = strtol(v, &end, 10);
            if (*end || x < 0 || x > 4096) return bad("--lora-r wants an integer in [0, 4096], not", v);
            s.lora.rank = (int)x;
        } else if (!strcmp(k, "--lora-targets")) {
            if (!strcmp(v, "none")) s.lora.rank = 0;
            else if (lora_parse_targets(v, &s.lora.targets, &e)) return bad(e.msg, v);
        } else if (!strcmp(k, "--dtype")) {
            if (strcmp(v, "bf16") && strcmp(v, "fp32")) return bad("--dtype wants bf16 or fp32, not", v);
            s.wt = strcmp(v, "fp32") ? MG_BF16 : MG_F32;
        } else {
            return bad("unknown option", k);
        }
    }
    if (!have_shape) return bad("--memory is required with", argv[0]);
    hf_config c;
    if (hf_config_load(&c, dir, &e)) {
        fprintf(stderr, "migrate inspect-model: %s\n", e.msg);
        return 1;
    }
    engine_memory_print(stdout, &c, &s);
    return 0;
}

int cmd_inspect_model(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(HELP, stdout);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fputs(HELP, stderr);
        return 2;
    }
    if (argc > 2) return memory_report(argv[1], argc - 2, argv + 2);
    mg_err e;
    if (model_report(argv[1], stdout, &e)) {
        fprintf(stderr, "migrate inspect-model: %s\n", e.msg);
        return 1;
    }
    return 0;
}
