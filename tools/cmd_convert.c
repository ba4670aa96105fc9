// migrate convert: load an HF model folder and write it again (F32 or BF16) with the engine's own writer.
#include <stdio.h>
#include <string.h>

#include "tools/cli_common.h"
#include "tools/commands.h"

static const char *HELP =
    "usage: migrate convert --model DIR --out DIR [--dtype f32|bf16]\n"
    "\n"
    "Reads config.json + safetensors (F32/F16/BF16, single or sharded) and writes config.json,\n"
    "generation_config.json and one model.safetensors in DIR (default dtype f32). tokenizer files are not copied.\n";

int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *dtype = "f32";
    int step;  // argv entries the current option used: 2 for an option and its value
    for (int i = 1; i < argc; i += step) {
        step = 2;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(HELP, stdout), 0;
        if (!v) return fprintf(stderr, "migrate convert: option %s needs a value (see --help)\n", a), 2;
        if (!strcmp(a, "--model")) in = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--dtype")) dtype = v;
        else return fprintf(stderr, "migrate convert: unknown option '%s' (see --help)\n", a), 2;
    }
    if (!in || !out) return fprintf(stderr, "migrate convert: --model and --out are required (see --help)\n"), 2;
    int bf16 = !strcmp(dtype, "bf16");
    if (!bf16 && strcmp(dtype, "f32"))
        return fprintf(stderr, "migrate convert: --dtype '%s' is not f32 or bf16\n", dtype), 2;
    model m;
    mg_err e;
    if (model_load(&m, in, &e)) return fprintf(stderr, "migrate convert: %s\n", e.msg), 1;
    int rc = model_save(&m, out, bf16, &e);
    if (rc) fprintf(stderr, "migrate convert: %s\n", e.msg);
    else fprintf(stderr, "migrate convert: wrote %s (%zu parameters, %s)\n", out, m.n_params, dtype);
    model_free(&m);
    return rc ? 1 : 0;
}
