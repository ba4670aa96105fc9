// migrate inspect: what a checkpoint holds, verified, in a few lines; migrate export: its adapter in PEFT format.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "coordinator/archive.h"
#include "coordinator/checkpoint.h"
#include "model/peft.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

static const char *INSPECT_HELP =
    "usage: migrate inspect CHECKPOINT.h5 [--top K] [--config] [--digest]\n"
    "\n"
    "Reads a run checkpoint whole, verifies its checksums and digests, and summarises it: the model and config it\n"
    "belongs to, the task (for an external oracle, the command a resume would run once you confirm it), the\n"
    "search's counters, the best K archive entries, the adapter and the optimizer.\n"
    "\n"
    "  --top K    archive entries to list (default 5)\n"
    "  --config   print the stored configuration (YAML) instead\n"
    "  --digest   print only the digest of the search state (archive, adapter, moments, counters): two runs with\n"
    "             the same digest are in bit-identical states\n";

static const char *EXPORT_HELP =
    "usage: migrate export CHECKPOINT.h5 --out DIR\n"
    "\n"
    "Writes the checkpoint's LoRA adapter as a PEFT folder (adapter_config.json + adapter_model.safetensors):\n"
    "    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(BASE), DIR)\n"
    "A checkpoint of full training (lora.use_peft false) holds every weight: DIR becomes a model folder\n"
    "(config.json, model.safetensors in fp32, the tokenizer), read from the run's model folder for its shape.\n";

// The best k valid entries of a snapshot's archive: reward order, earlier entry first on ties (the archive's order).
static int top_entries(const checkpoint *c, int k, int64_t *out) {
    int n = 0;
    for (int64_t i = 0; i < c->n_entries; i++) {
        if (!c->valid[i] || c->dropped[i]) continue;
        int at = n < k ? n++ : k;
        while (at > 0 && c->reward[out[at - 1]] < c->reward[i]) {
            if (at < k) out[at] = out[at - 1];
            at--;
        }
        if (at < k) out[at] = i;
    }
    return n;
}

// The task, and for an external oracle the program a resume would run: a resume runs it only when the user passes
// it again (the run's config, or --set task.command), so this line is where to read it first.
static void print_task(const checkpoint *c, const char *path) {
    run_config cfg;
    mg_err e;
    char name[4200];
    snprintf(name, sizeof name, "%s:/config", path);
    if (run_config_parse(&cfg, c->config, strlen(c->config), name, NULL, 0, &e)) {
        printf("task       (the stored config does not parse: %s)\n", e.msg);
        return;
    }
    if (cfg.task == TASK_ORACLE)
        printf("task       external oracle; its command (task.command): %s\n", cfg.oracle_command);
    else if (cfg.task == TASK_SEMANTLE)
        printf("task       semantle, target '%s', vectors %s\n", cfg.target, cfg.vectors);
    else if (cfg.task == TASK_ARC)
        printf("task       arc, %s%s%s (executor %s)\n", cfg.arc_file, cfg.arc_id[0] ? " id " : "", cfg.arc_id,
               cfg.arc_executor);
    else
        printf("task       molecule, objective %.200s\n", cfg.objective);
    run_config_free(&cfg);
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    int top = 5, show_config = 0, digest_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return fputs(INSPECT_HELP, stdout), 0;
        if (!strcmp(argv[i], "--config")) show_config = 1;
        else if (!strcmp(argv[i], "--digest")) digest_only = 1;
        else if (!strcmp(argv[i], "--top") && i + 1 < argc) {
            if (cli_int("inspect", "--top", argv[++i], 0, 1000000, &top)) return 2;
        } else if (argv[i][0] != '-' && !path) path = argv[i];
        else return fprintf(stderr, "migrate inspect: unexpected argument '%s' (see --help)\n", argv[i]), 2;
    }
    if (!path) return fprintf(stderr, "migrate inspect: a checkpoint file is required (see --help)\n"), 2;
    checkpoint c;
    mg_err e;
    if (checkpoint_read(&c, path, NULL, &e)) return fprintf(stderr, "migrate inspect: %s\n", e.msg), 1;
    if (show_config) fputs(c.config, stdout);
    else if (digest_only) printf("%016llx\n", (unsigned long long)c.digest);
    else {
        long valid = 0, dropped = 0, per_origin[ORIGIN_COUNT] = {0};
        for (int64_t i = 0; i < c.n_entries; i++) {
            valid += c.valid[i], dropped += c.dropped[i];
            if (c.origin[i] < ORIGIN_COUNT) per_origin[c.origin[i]]++;
        }
        printf("checkpoint %s: format %d, written %s, verified (digest %016llx)\n", path, CHECKPOINT_FORMAT_VERSION,
               c.created, (unsigned long long)c.digest);
        printf("model      %s (config.json hash %016llx, %lld parameters)\n", c.model_path,
               (unsigned long long)c.model_hash, (long long)c.model_params);
        print_task(&c, path);
        printf("search     iteration %lld, %lld oracle calls, %lld repeats, %lld unparsable, %s; seed %llu\n",
               (long long)c.iteration, (long long)c.oracle_calls, (long long)c.repeats, (long long)c.unparsable,
               c.solved ? "SOLVED" : "not solved", (unsigned long long)c.seed);
        printf("time       %.1f s (sampling %.1f, scoring %.1f, training %.1f)\n", c.seconds[3], c.seconds[0],
               c.seconds[1], c.seconds[2]);
        printf("archive    %lld entries (%ld valid, %ld dropped by max_entries %lld); by origin:", (long long)c.n_entries,
               valid, dropped, (long long)c.archive_max_entries);
        for (int k = 0; k < ORIGIN_COUNT; k++) printf(" %s %ld", origin_names[k], per_origin[k]);
        printf("\n");
        int64_t *best = mallocCheck((size_t)(top ? top : 1) * sizeof(int64_t));
        int n = top_entries(&c, top, best);
        for (int j = 0; j < n && j < top; j++) {
            int64_t i = best[j], s = i ? c.canonical_end[i - 1] : 0;
            printf("  %2d. %.6f  %.*s  (iteration %d, %s)\n", j + 1, c.reward[i], (int)(c.canonical_end[i] - s),
                   c.canonical + s, c.entry_iteration[i], origin_names[c.origin[i] % ORIGIN_COUNT]);
        }
        free(best);
        if (c.has_adapter && c.lora_rank == 0)
            printf("weights    every weight trained (lora.use_peft false): %lld parameters in %lld tensors; AdamW "
                   "step %lld\n", (long long)c.n_adapter, (long long)c.n_tensors, (long long)c.opt_step);
        else if (c.has_adapter)
            printf("adapter    LoRA r %lld, alpha %g on %s: %lld parameters in %lld tensors; AdamW step %lld\n",
                   (long long)c.lora_rank, c.lora_alpha, c.lora_targets, (long long)c.n_adapter, (long long)c.n_tensors,
                   (long long)c.opt_step);
        else
            printf("adapter    none (the strategy does not train)\n");
    }
    checkpoint_free(&c);
    return 0;
}

// A checkpoint of full training (r = 0) holds every weight: written as a model folder, shaped and tokenized as the
// run's model (whose config.json and tokenizer must still be at the path the checkpoint names; its weights are not
// read, the model runs on the checkpoint's).
static int export_weights(const checkpoint *c, const char *out) {
    model m;
    mg_err e;
    int loaded = model_load_shape(&m, c->model_path, &e) == 0, rc = loaded ? 0 : -1;
    if (!rc && (int64_t)m.n_params != c->n_adapter)
        rc = mg_fail(&e, "%s has %zu parameters, the checkpoint's weights %lld", c->model_path, m.n_params,
                     (long long)c->n_adapter);
    if (!rc) {
        model_use_weights(&m, c->adapter);
        file_mkdir_p(out);
        rc = model_save_folder(&m, out, 0, c->model_path, &e);
    }
    if (loaded) model_free(&m);
    if (rc) fprintf(stderr, "migrate export: %s\n", e.msg);
    else printf("wrote %s: the trained weights as a model folder (%lld parameters)\n", out, (long long)c->n_adapter);
    return rc;
}

int cmd_export(int argc, char **argv) {
    const char *path = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return fputs(EXPORT_HELP, stdout), 0;
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else return fprintf(stderr, "migrate export: unexpected argument '%s' (see --help)\n", argv[i]), 2;
    }
    if (!path || !out) return fprintf(stderr, "migrate export: a checkpoint and --out DIR are required (see --help)\n"), 2;
    checkpoint c;
    mg_err e;
    if (checkpoint_read(&c, path, NULL, &e)) return fprintf(stderr, "migrate export: %s\n", e.msg), 1;
    int rc = 0;
    if (!c.has_adapter) {
        fprintf(stderr, "migrate export: %s: no adapter (the run's strategy does not train)\n", path);
        rc = 1;
    } else if (c.lora_rank == 0) {
        rc = export_weights(&c, out);
    } else {
        unsigned targets = 0;
        rc = lora_parse_targets(c.lora_targets, &targets, &e);
        if (!rc) {
            file_mkdir_p(out);
            rc = peft_save(out, c.model_path, (int)c.lora_rank, c.lora_alpha, targets, c.tensors, (int)c.n_tensors,
                           c.adapter, &e);
        }
        if (rc) fprintf(stderr, "migrate export: %s\n", e.msg);
        else printf("wrote %s/adapter_config.json and adapter_model.safetensors (%lld tensors)\n", out, (long long)c.n_tensors);
    }
    checkpoint_free(&c);
    return rc != 0;
}
