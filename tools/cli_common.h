// Small pieces shared by subcommands: option parsing helpers, loading a model folder with its tokenizer, timing.
#pragma once
#include "model/model.h"
#include "model/tokenizer.h"

// Parses a number option value; on failure prints "migrate <cmd>: option --name: '...' is not a ..." and returns -1.
int cli_int(const char *cmd, const char *opt, const char *value, int lo, int hi, int *out);
int cli_float(const char *cmd, const char *opt, const char *value, float lo, float hi, float *out);
// Loads config, weights and tokenizer from an HF folder; prints the error and returns -1 on failure.
int cli_load_model(const char *cmd, const char *dir, model *m, tokenizer **tok);
// The same for `migrate run` on one rank: a rank that neither samples nor trains (a coordinator-only rank 0)
// loads the model's shape only, since it keeps adapters and their optimizer but never runs the model.
int cli_load_policy(const char *cmd, const char *dir, int weights, model *m, tokenizer **tok);
// Gives m the PEFT adapter in dir (NULL: none); prints the error and returns -1 on failure.
int cli_load_adapter(const char *cmd, model *m, const char *dir);
// Is c one of the characters that stay a plain word for bash (no quoting, expansion, globbing or word split) and
// for Slurm's own parser of #SBATCH lines: letters, digits and _./,:=@+-
int cli_plain_char(int c);
// s as one shell word (malloc'd): unchanged when it is plain and not empty, else in single quotes, each ' written
// as '\'' . For every string migrate writes into a script or prints as a command to paste.
char *cli_shell_word(const char *s);
