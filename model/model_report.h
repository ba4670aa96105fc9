// `migrate inspect-model`: what the engine makes of a Hugging Face model folder, before any search runs.
#pragma once
#include <stdio.h>

#include "common/error.h"

// Prints the report to out. -1 with the loader's one-line error when the engine would refuse the folder (an
// unsupported architecture or value: the same error a run would give).
int model_report(const char *dir, FILE *out, mg_err *e);
