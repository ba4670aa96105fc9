// migrate generate: sample completions from a model folder, batched, with the engine's counter-based RNG.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "kernels/cpu/blas_setup.h"
#include "model/chat.h"
#include "model/sampler.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

static const char *HELP =
    "usage: migrate generate --model DIR (--prompt TEXT ... | --prompt-file FILE) [options]\n"
    "\n"
    "Samples completions from a Hugging Face model folder (config.json, *.safetensors, tokenizer.json).\n"
    "Sequence i of the run draws its randomness from (seed, i, position) only, so a completion does not depend\n"
    "on the batch size or on the other prompts.\n"
    "\n"
    "  --model DIR              model folder (required)\n"
    "  --adapter DIR            apply a PEFT LoRA adapter folder (e.g. from `migrate export`)\n"
    "  --prompt TEXT            a prompt; repeat for several\n"
    "  --prompt-file FILE       one prompt per line\n"
    "  --chat                   wrap each prompt as a user message in the model's chat format\n"
    "  --chat-format F          plain | llama3 | chatml (default: detected from the tokenizer)\n"
    "  --system TEXT            system message for --chat\n"
    "  -n, --num-return-sequences N   completions per prompt (default 1)\n"
    "  --temperature T          0 = greedy (default 1.0)\n"
    "  --top-k K                keep the K most likely tokens (default 0 = off)\n"
    "  --top-p P                nucleus sampling mass (default 1.0 = off)\n"
    "  --min-p P                drop tokens below P x the top probability (default 0 = off)\n"
    "  --max-new-tokens N       (default 64)\n"
    "  --stop STRING            stop when the completion contains STRING; repeat up to 8 times\n"
    "  --seed S                 (default 0)\n"
    "  --batch-size B           sequences decoded together (default 64)\n"
    "  --threads N              CPU threads (default: all)\n"
    "  --json                   one JSON object per completion: prompt, sample, text, ids, logp, finish\n";

#define MAX_PROMPTS 4096

static int read_prompt_file(const char *path, char **prompts, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "migrate generate: cannot open prompt file %s\n", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        if (*n >= MAX_PROMPTS) {
            fprintf(stderr, "migrate generate: %s: more than %d prompts\n", path, MAX_PROMPTS);
            break;
        }
        prompts[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    return 0;
}

static int rc_usage_check(const char *model_dir, int n_prompts) {
    if (model_dir && n_prompts > 0) return 0;
    fprintf(stderr, "migrate generate: --model and at least one --prompt or --prompt-file are required (see --help)\n");
    return -1;
}

int cmd_generate(int argc, char **argv) {
    const char *model_dir = NULL, *adapter_dir = NULL, *system = NULL, *chat_name = NULL;
    char *prompts[MAX_PROMPTS];
    int n_prompts = 0, per_prompt = 1, batch = 64, threads = 0, chat = 0, json = 0, n_stop = 0;
    sampling_params sp;
    sampling_params_default(&sp);
    int bad = 0;  // a usage error: stop parsing, free what was read, exit 2
    int step;  // argv entries the current option used: 2 for an option and its value
    for (int i = 1; i < argc && !bad; i += step) {
        step = 2;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            for (int p = 0; p < n_prompts; p++) free(prompts[p]);
            return fputs(HELP, stdout), 0;
        }
        else if (!strcmp(a, "--chat")) { chat = 1; step = 1; continue; }
        else if (!strcmp(a, "--json")) { json = 1; step = 1; continue; }
        else if (!v) {
            fprintf(stderr, "migrate generate: option %s needs a value (see --help)\n", a);
            bad = 1;
            break;
        }
        else if (!strcmp(a, "--model")) model_dir = v;
        else if (!strcmp(a, "--adapter")) adapter_dir = v;
        else if (!strcmp(a, "--prompt")) {
            if (n_prompts < MAX_PROMPTS) prompts[n_prompts++] = strdup(v);
        } else if (!strcmp(a, "--prompt-file")) rc = read_prompt_file(v, prompts, &n_prompts);
        else if (!strcmp(a, "--chat-format")) chat_name = v, chat = 1;
        else if (!strcmp(a, "--system")) system = v;
        else if (!strcmp(a, "-n") || !strcmp(a, "--num-return-sequences")) rc = cli_int("generate", a, v, 1, 100000, &per_prompt);
        else if (!strcmp(a, "--temperature")) rc = cli_float("generate", a, v, 0.0f, 100.0f, &sp.temperature);
        else if (!strcmp(a, "--top-k")) rc = cli_int("generate", a, v, 0, 1 << 30, &sp.top_k);
        else if (!strcmp(a, "--top-p")) rc = cli_float("generate", a, v, 1e-6f, 1.0f, &sp.top_p);
        else if (!strcmp(a, "--min-p")) rc = cli_float("generate", a, v, 0.0f, 1.0f, &sp.min_p);
        else if (!strcmp(a, "--max-new-tokens")) rc = cli_int("generate", a, v, 1, 1 << 20, &sp.max_new_tokens);
        else if (!strcmp(a, "--seed")) {
            int s;
            rc = cli_int("generate", a, v, 0, 2147483647, &s);
            sp.seed = (uint64_t)s;
        } else if (!strcmp(a, "--batch-size")) rc = cli_int("generate", a, v, 1, 1 << 16, &batch);
        else if (!strcmp(a, "--threads")) rc = cli_int("generate", a, v, 1, 1024, &threads);
        else if (!strcmp(a, "--stop")) {
            if (n_stop >= SAMPLER_MAX_STOPS) {
                fprintf(stderr, "migrate generate: at most %d --stop strings\n", SAMPLER_MAX_STOPS);
                bad = 1;
                break;
            }
            sp.stop[n_stop++] = v;
        } else {
            fprintf(stderr, "migrate generate: unknown option '%s' (see --help)\n", a);
            bad = 1;
            break;
        }
        bad = rc != 0;
    }
    if (bad || rc_usage_check(model_dir, n_prompts)) {
        for (int p = 0; p < n_prompts; p++) free(prompts[p]);
        return 2;
    }
    blas_set_threads(threads);
    chat_format fmt = CHAT_PLAIN;
    if (chat_name && chat_format_parse(chat_name, &fmt)) {
        fprintf(stderr, "migrate generate: --chat-format '%s' is not plain, llama3 or chatml\n", chat_name);
        for (int p = 0; p < n_prompts; p++) free(prompts[p]);
        return 2;
    }
    model m;
    tokenizer *tok;
    if (cli_load_model("generate", model_dir, &m, &tok)) {
        for (int p = 0; p < n_prompts; p++) free(prompts[p]);
        return 1;
    }
    if (cli_load_adapter("generate", &m, adapter_dir)) {
        for (int p = 0; p < n_prompts; p++) free(prompts[p]);
        tokenizer_free(tok);
        model_free(&m);
        return 1;
    }
    if (!chat_name) fmt = chat_format_detect(tok);

    // Encode each prompt once; the n samples of a prompt share its ids.
    int total = n_prompts * per_prompt;
    int **ids = calloc((size_t)n_prompts, sizeof(int *)), *lens = calloc((size_t)n_prompts, sizeof(int));
    const int **seq_prompts = malloc((size_t)total * sizeof(int *));
    int *seq_lens = malloc((size_t)total * sizeof(int));
    uint64_t *seq_ids = malloc((size_t)total * sizeof(uint64_t));
    int rc = 0;
    for (int p = 0; p < n_prompts && !rc; p++) {
        char *text = prompts[p];
        int special = 1;
        if (chat) {
            chat_message msgs[2];
            int k = 0;
            if (system) msgs[k++] = (chat_message){"system", system};
            msgs[k++] = (chat_message){"user", prompts[p]};
            text = chat_render(fmt, msgs, k, 1);
            special = 0;  // the rendered text spells its special tokens out
        }
        mg_err e;
        if (tokenizer_encode(tok, text, strlen(text), special, &ids[p], &lens[p], &e)) {
            fprintf(stderr, "migrate generate: prompt %d: %s\n", p + 1, e.msg);
            rc = 1;
        } else if (lens[p] >= m.cfg.max_position_embeddings) {
            fprintf(stderr, "migrate generate: prompt %d is %d tokens, longer than the model's context of %d (%s/config.json max_position_embeddings)\n",
                    p + 1, lens[p], m.cfg.max_position_embeddings, model_dir);
            rc = 1;
        }
        if (chat) free(text);
        for (int s = 0; s < per_prompt; s++) {
            int q = p * per_prompt + s;
            seq_prompts[q] = ids[p];
            seq_lens[q] = lens[p];
            seq_ids[q] = (uint64_t)q;
        }
    }
    completion *out = calloc((size_t)total, sizeof(completion));
    if (!rc) {
        mg_err e;
        double t0 = mg_seconds();
        if (generate(&m, tok, total, seq_prompts, seq_lens, seq_ids, &sp, batch, out, &e)) {
            fprintf(stderr, "migrate generate: %s\n", e.msg);
            rc = 1;
        } else {
            double dt = mg_seconds() - t0;
            long new_tokens = 0;
            for (int q = 0; q < total; q++) new_tokens += out[q].n;
            static const char *finish[] = {"length", "eos", "stop"};
            for (int q = 0; q < total; q++) {
                completion *c = &out[q];
                if (json) {
                    json_t *o = json_object(), *jids = json_array(), *jlp = json_array();
                    for (int t = 0; t < c->n; t++) json_array_append_new(jids, json_integer(c->ids[t]));
                    for (int t = 0; t < c->n; t++) json_array_append_new(jlp, json_real(c->logp[t]));
                    json_object_set_new(o, "prompt", json_integer(q / per_prompt));
                    json_object_set_new(o, "sample", json_integer(q % per_prompt));
                    json_object_set_new(o, "text", json_stringn(c->text, strlen(c->text)));
                    json_object_set_new(o, "ids", jids);
                    json_object_set_new(o, "logp", jlp);
                    json_object_set_new(o, "finish", json_string(finish[c->finish]));
                    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
                    puts(line);
                    free(line);
                    json_decref(o);
                } else {
                    double lp = 0;
                    for (int t = 0; t < c->n; t++) lp += c->logp[t];
                    printf("=== prompt %d, sample %d (%d tokens, finish: %s, mean logp %.3f)\n%s\n", q / per_prompt + 1,
                           q % per_prompt + 1, c->n, finish[c->finish], c->n ? lp / c->n : 0.0, c->text);
                }
            }
            fprintf(stderr, "migrate generate: %d completions, %ld new tokens in %.2f s (%.1f tokens/s)\n", total,
                    new_tokens, dt, new_tokens / (dt > 0 ? dt : 1e-9));
        }
    }
    for (int q = 0; q < total; q++) completion_free(&out[q]);
    for (int p = 0; p < n_prompts; p++) free(ids[p]), free(prompts[p]);
    free(out), free(ids), free(lens), free(seq_prompts), free(seq_lens), free(seq_ids);
    tokenizer_free(tok);
    model_free(&m);
    return rc;
}
