// migrate inspect-model DIR: what the engine will run for a Hugging Face model folder (model/model_report.h).
#include <stdio.h>
#include <string.h>

#include "model/model_report.h"
#include "tools/commands.h"

static const char *HELP =
    "usage: migrate inspect-model DIR\n"
    "\n"
    "Reads a Hugging Face model folder (config.json, safetensors, tokenizer.json) as a run would and prints what\n"
    "the engine will run: the architecture as parsed (layers, heads, RoPE, biases, tying, special ids), the\n"
    "weights' files and types, the tokenizer and the chat format, and every key of config.json under one of\n"
    "three headings: read, ignored (no effect on what the model computes), or NOT READ by this engine. A value\n"
    "the engine does not implement (e.g. hidden_act gelu) is refused with the error a run would give (exit 1).\n";

int cmd_inspect_model(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(HELP, stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fputs(HELP, stderr);
        return 2;
    }
    mg_err e;
    if (model_report(argv[1], stdout, &e)) {
        fprintf(stderr, "migrate inspect-model: %s\n", e.msg);
        return 1;
    }
    return 0;
}
