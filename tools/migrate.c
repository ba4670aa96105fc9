// migrate: the command-line front end. One binary, one subcommand per job.
#include <stdio.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu/blas_setup.h"
#include "tools/commands.h"

static const char *USAGE =
    "usage: migrate <command> [options]\n"
    "\n"
    "MiGrATe (mixed-policy GRPO for online test-time training) in C, for CPUs and GPU clusters.\n"
    "\n"
    "commands:\n"
    "  run        run a MiGrATe search (or a baseline) from a YAML config\n"
    "  inspect    summarise and verify a run checkpoint (HDF5)\n"
    "  inspect-model  what the engine makes of a Hugging Face model folder (keys read, ignored, not read)\n"
    "  export     write a checkpoint's LoRA adapter as a PEFT folder\n"
    "  ablate     strategies x seeds x targets of a search, into a CSV and a markdown table\n"
    "  pmo        the PMO molecule benchmark: tasks x strategies x seeds, AUC top-10 beside published values\n"
    "  sweep      one search per target/seed/strategy as a Slurm array job; --collect gathers the results\n"
    "  report     one HTML page of figures from runs, sweeps, ablations, PMO grids and checkpoints\n"
    "  pretrain   train a small model from scratch on a text corpus; writes a Hugging Face folder\n"
    "  generate   sample completions from a Hugging Face model folder (Llama-3.x, Qwen2/2.5, Mistral)\n"
    "  score      log-probabilities of given completions under a model (what GRPO's importance ratio uses)\n"
    "  arc-gen    synthetic ARC tasks from random grid-DSL programs, with the programs as the answer key\n"
    "  convert    re-save a model folder as F32 or BF16 safetensors with the engine's writer\n"
    "  version    print the version and the BLAS in use\n"
    "\n"
    "Run 'migrate <command> --help' for that command's options.\n";

int main(int argc, char **argv) {
    blas_reexec_for_cpu(argv);  // may exec this program again with OpenBLAS told its core: nothing before it
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
#ifdef MIGRATE_HAVE_CUDA
    mg_backend_register(mg_backend_cuda(), mg_backend_cuda_open);  // engine.backend: cuda
#endif
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect")) return cmd_inspect(argc - 1, argv + 1);
    if (!strcmp(cmd, "inspect-model")) return cmd_inspect_model(argc - 1, argv + 1);
    if (!strcmp(cmd, "export")) return cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "ablate")) return cmd_ablate(argc - 1, argv + 1);
    if (!strcmp(cmd, "pmo")) return cmd_pmo(argc - 1, argv + 1);
    if (!strcmp(cmd, "sweep")) return cmd_sweep(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "pretrain")) return cmd_pretrain(argc - 1, argv + 1);
    if (!strcmp(cmd, "generate")) return cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "score")) return cmd_score(argc - 1, argv + 1);
    if (!strcmp(cmd, "arc-gen")) return cmd_arc_gen(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert")) return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return cmd_version(argc - 1, argv + 1);
    fprintf(stderr, "migrate: unknown command '%s'\n\n%s", cmd, USAGE);
    return 2;
}
