// Subcommands of the migrate program; each takes argv starting at its own name.
#pragma once

int cmd_generate(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ablate(int argc, char **argv);
int cmd_pmo(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_inspect_model(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_arc_gen(int argc, char **argv);
int cmd_report(int argc, char **argv);
